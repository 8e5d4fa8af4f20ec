/* The project file of the terminal front end: read, checked, and the order of an `up`. */
#include "supervisor/tty_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/utf8.h"

typedef enum { ENTRY_PENDING, ENTRY_SENT, ENTRY_RUNNING, ENTRY_FAILED } entry_state_t;

typedef struct {
	char *id;
	json_t *start;    /* the start command, without dependsOn */
	size_t *deps;     /* indexes of its dependencies */
	size_t ndeps;
	entry_state_t state;
	char cid[32];     /* the id its start went out with */
} entry_t;

struct tty_plan {
	entry_t *e;
	size_t n;
};

void tty_plan_free(tty_plan_t *plan)
{
	if (!plan)
		return;
	for (size_t i = 0; i < plan->n; i++) {
		free(plan->e[i].id);
		json_decref(plan->e[i].start);
		free(plan->e[i].deps);
	}
	free(plan->e);
	free(plan);
}

static ssize_t find(const tty_plan_t *plan, const char *id)
{
	for (size_t i = 0; i < plan->n; i++)
		if (strcmp(plan->e[i].id, id) == 0)
			return (ssize_t)i;
	return -1;
}

/* A relative cwd below dir, a missing one dir itself. */
static void set_cwd(json_t *start, const char *dir)
{
	const char *cwd = json_string_value(json_object_get(start, "cwd"));
	char buf[4096];
	if (cwd && cwd[0] == '/')
		return;
	if (!cwd || strcmp(cwd, ".") == 0)
		snprintf(buf, sizeof(buf), "%s", dir);
	else
		snprintf(buf, sizeof(buf), "%s/%s", dir, strncmp(cwd, "./", 2) == 0 ? cwd + 2 : cwd);
	json_object_set_new(start, "cwd", json_string(buf));
}

/* The dependencies of entry i, as indexes; false with err for an unknown one. */
static bool read_deps(tty_plan_t *plan, size_t i, json_t *deps, char *err, size_t errlen)
{
	entry_t *e = &plan->e[i];
	if (!deps)
		return true;
	if (!json_is_array(deps)) {
		snprintf(err, errlen, "project %s: dependsOn must be an array of project ids", e->id);
		return false;
	}
	e->deps = xcalloc(json_array_size(deps) + 1, sizeof(*e->deps));
	size_t k;
	json_t *d;
	json_array_foreach(deps, k, d)
	{
		const char *name = json_string_value(d);
		ssize_t j = name ? find(plan, name) : -1;
		if (j < 0) {
			const char *q = name ? "'" : "", *shown = name ? name : "a non-string";
			/* at most 64 bytes of it, cut between characters */
			snprintf(err, errlen, "project %s depends on %s%.*s%s, which the file does "
					      "not list",
				 e->id, q, (int)utf8_cut(shown, strlen(shown), 64), shown, q);
			return false;
		}
		e->deps[e->ndeps++] = (size_t)j;
	}
	return true;
}

/* Depth-first search for a cycle from i; path holds the indexes on the way down, so the
 * message names the cycle itself ("a → b → a"), not how the search got there. */
static bool cycle_from(const tty_plan_t *plan, size_t i, unsigned char *mark, size_t *path,
		       size_t depth, char *err, size_t errlen)
{
	mark[i] = 1;
	path[depth] = i;
	for (size_t k = 0; k < plan->e[i].ndeps; k++) {
		size_t j = plan->e[i].deps[k];
		if (mark[j] == 1) {
			size_t from = 0, n;
			while (path[from] != j)
				from++;
			n = (size_t)snprintf(err, errlen, "dependsOn has a cycle: ");
			for (size_t d = from; d <= depth && n < errlen; d++)
				n += (size_t)snprintf(err + n, errlen - n, "%s → ",
						      plan->e[path[d]].id);
			if (n < errlen)
				snprintf(err + n, errlen - n, "%s", plan->e[j].id);
			return true;
		}
		if (mark[j] == 0 && cycle_from(plan, j, mark, path, depth + 1, err, errlen))
			return true;
	}
	mark[i] = 2;
	return false;
}

tty_plan_t *tty_plan_parse(const char *text, const char *dir, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr), *projects, *v;
	tty_plan_t *plan = xcalloc(1, sizeof(*plan));
	const char *id;
	if (!root) {
		snprintf(err, errlen, "line %d: %s", jerr.line, jerr.text);
		goto bad;
	}
	projects = json_object_get(root, "projects");
	if (!json_is_object(projects) || json_object_size(projects) == 0) {
		snprintf(err, errlen, "expected {\"projects\": {\"ID\": {\"command\": ...}, ...}}");
		goto bad;
	}
	plan->e = xcalloc(json_object_size(projects), sizeof(*plan->e));
	json_object_foreach(projects, id, v)
	{
		if (!json_is_object(v)) {
			snprintf(err, errlen, "project %s: expected an object of start fields", id);
			goto bad;
		}
		entry_t *e = &plan->e[plan->n++];
		e->id = xstrdup(id);
		e->start = json_deep_copy(v);
		json_object_del(e->start, "dependsOn");
		json_object_set_new(e->start, "type", json_string("start-dev-server"));
		json_object_set_new(e->start, "projectId", json_string(id));
		set_cwd(e->start, dir);
	}
	size_t i = 0;
	json_object_foreach(projects, id, v)
	{
		if (!read_deps(plan, i++, json_object_get(v, "dependsOn"), err, errlen))
			goto bad;
	}
	unsigned char *mark = xcalloc(plan->n, 1);
	size_t *path = xcalloc(plan->n, sizeof(*path));
	bool cycle = false;
	for (i = 0; i < plan->n && !cycle; i++)
		cycle = mark[i] == 0 && cycle_from(plan, i, mark, path, 0, err, errlen);
	free(mark);
	free(path);
	if (cycle)
		goto bad;
	json_decref(root);
	return plan;
bad:
	json_decref(root);
	tty_plan_free(plan);
	return NULL;
}

tty_plan_t *tty_plan_load(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	char inner[400];
	if (!f) {
		snprintf(err, errlen, "%s: %s%s", path, strerror(errno),
			 errno == ENOENT ? " (write one, or name it with --file PATH; help up)" : "");
		return NULL;
	}
	size_t cap = 4096, len = 0;
	char *text = xmalloc(cap);
	size_t r;
	while ((r = fread(text + len, 1, cap - len - 1, f)) > 0) {
		len += r;
		if (len + 1 == cap)
			text = xrealloc(text, cap *= 2);
	}
	fclose(f);
	text[len] = '\0';
	char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');
	if (slash)
		*(slash == dir ? slash + 1 : slash) = '\0';
	tty_plan_t *plan = tty_plan_parse(text, dir, inner, sizeof(inner));
	if (!plan)
		snprintf(err, errlen, "%s: %s", path, inner);
	free(dir);
	free(text);
	return plan;
}

size_t tty_plan_count(const tty_plan_t *plan)
{
	return plan->n;
}

const char *tty_plan_id(const tty_plan_t *plan, size_t i)
{
	return i < plan->n ? plan->e[i].id : NULL;
}

void tty_plan_mark_running(tty_plan_t *plan, const char *id)
{
	ssize_t i = find(plan, id);
	if (i >= 0)
		plan->e[i].state = ENTRY_RUNNING;
}

void tty_plan_step(tty_plan_t *plan, json_t *starts, json_t *failed)
{
	bool changed = true;
	/* a failure travels down the dependencies: repeat until nothing changes */
	while (changed) {
		changed = false;
		for (size_t i = 0; i < plan->n; i++) {
			entry_t *e = &plan->e[i];
			if (e->state != ENTRY_PENDING)
				continue;
			const char *failed_dep = NULL;
			bool ready = true;
			for (size_t k = 0; k < e->ndeps; k++) {
				entry_state_t s = plan->e[e->deps[k]].state;
				if (s == ENTRY_FAILED && !failed_dep)
					failed_dep = plan->e[e->deps[k]].id;
				ready = ready && s == ENTRY_RUNNING;
			}
			if (failed_dep) {
				char msg[512];
				snprintf(msg, sizeof(msg), "%s not started: it depends on %s, which "
							   "failed",
					 e->id, failed_dep);
				json_array_append_new(failed, json_pack("{s:s, s:s}", "projectId",
									e->id, "message", msg));
				e->state = ENTRY_FAILED;
				changed = true;
			} else if (ready) {
				json_array_append_new(starts, json_deep_copy(e->start));
				e->state = ENTRY_SENT;
			}
		}
	}
}

void tty_plan_sent(tty_plan_t *plan, const char *id, const char *cid)
{
	ssize_t i = find(plan, id);
	if (i >= 0)
		snprintf(plan->e[i].cid, sizeof(plan->e[i].cid), "%s", cid);
}

bool tty_plan_answer(tty_plan_t *plan, const char *cid, bool ok)
{
	for (size_t i = 0; i < plan->n; i++) {
		entry_t *e = &plan->e[i];
		if (e->state == ENTRY_SENT && e->cid[0] && strcmp(e->cid, cid) == 0) {
			e->state = ok ? ENTRY_RUNNING : ENTRY_FAILED;
			return true;
		}
	}
	return false;
}

bool tty_plan_done(const tty_plan_t *plan)
{
	for (size_t i = 0; i < plan->n; i++)
		if (plan->e[i].state == ENTRY_PENDING || plan->e[i].state == ENTRY_SENT)
			return false;
	return true;
}
