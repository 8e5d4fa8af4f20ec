#include "reaper/framework.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"

/* A package.json larger than this is not a project's manifest: not read. */
#define PACKAGE_JSON_MAX (4 * 1024 * 1024)

const char *framework_name(framework_t f)
{
	return f == FRAMEWORK_NEXT ? "next" : f == FRAMEWORK_VITE ? "vite" : "other";
}

uint64_t framework_health_timeout_ms(framework_t f)
{
	return f == FRAMEWORK_NEXT ? 15000 : f == FRAMEWORK_VITE ? 5000 : 10000;
}

#define MAX_WORDS 64

typedef struct {
	char *words[MAX_WORDS];
	size_t n;
} words_t;

static void words_add_split(words_t *w, const char *s)
{
	while (*s && w->n < MAX_WORDS) {
		s += strspn(s, " \t\n;&|()'\"");
		size_t len = strcspn(s, " \t\n;&|()'\"");
		if (len)
			w->words[w->n++] = xstrndup(s, len);
		s += len;
	}
}

static void words_free(words_t *w)
{
	for (size_t i = 0; i < w->n; i++)
		free(w->words[i]);
	w->n = 0;
}

/* The framework a word names: its last path component, e.g. node_modules/.bin/next. */
static framework_t word_framework(const char *word)
{
	const char *base = strrchr(word, '/');
	base = base ? base + 1 : word;
	if (strcmp(base, "next") == 0)
		return FRAMEWORK_NEXT;
	if (strcmp(base, "vite") == 0)
		return FRAMEWORK_VITE;
	return FRAMEWORK_OTHER;
}

static framework_t words_framework(const words_t *w)
{
	for (size_t i = 0; i < w->n; i++) {
		framework_t f = word_framework(w->words[i]);
		if (f != FRAMEWORK_OTHER)
			return f;
	}
	return FRAMEWORK_OTHER;
}

/* "npm run dev", "pnpm dev", "yarn dev", "bun run dev": the script's name, or NULL. */
static const char *script_name(const words_t *w)
{
	static const char *const managers[] = {"npm", "pnpm", "yarn", "bun"};
	for (size_t i = 0; i + 1 < w->n; i++) {
		const char *base = strrchr(w->words[i], '/');
		base = base ? base + 1 : w->words[i];
		bool manager = false;
		for (size_t k = 0; k < ARRAY_LEN(managers); k++)
			manager = manager || strcmp(base, managers[k]) == 0;
		if (!manager)
			continue;
		const char *next = w->words[i + 1];
		if (strcmp(next, "run") == 0 || strcmp(next, "run-script") == 0)
			return i + 2 < w->n ? w->words[i + 2] : NULL;
		if (strcmp(base, "npm") == 0)
			return strcmp(next, "start") == 0 ? "start" : NULL;
		return next[0] != '-' ? next : NULL;
	}
	return NULL;
}

/* cwd/package.json, or NULL. Read once before the spawn, while nothing else waits, so it must
 * not block: a FIFO (or a device) by that name would hang the reaper in open() or read(),
 * hence O_NONBLOCK and a regular file of bounded size only. */
static json_t *package_json_load(const char *cwd)
{
	char path[4096];
	struct stat st;
	snprintf(path, sizeof(path), "%s/package.json", cwd);
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return NULL;
	json_t *pkg = NULL;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size <= PACKAGE_JSON_MAX) {
		size_t cap = (size_t)st.st_size + 1, len = 0;
		char *buf = xmalloc(cap);
		ssize_t r;
		while (len < cap && (r = fd_read(fd, buf + len, cap - len)) > 0)
			len += (size_t)r;
		if (len < cap) /* not if it grew since fstat */
			pkg = json_loadb(buf, len, 0, NULL);
		free(buf);
	} else {
		log_warn("%s is not a regular file of at most %d bytes: not read", path,
			 PACKAGE_JSON_MAX);
	}
	close(fd);
	return pkg;
}

static framework_t package_framework(const char *cwd, const char *script)
{
	json_t *pkg = package_json_load(cwd);
	if (!pkg)
		return FRAMEWORK_OTHER;
	framework_t f = FRAMEWORK_OTHER;
	const char *body = json_string_value(json_object_get(json_object_get(pkg, "scripts"), script));
	if (body) {
		words_t w = {0};
		words_add_split(&w, body);
		f = words_framework(&w);
		words_free(&w);
	}
	const char *const sections[] = {"dependencies", "devDependencies"};
	for (size_t i = 0; i < ARRAY_LEN(sections) && f == FRAMEWORK_OTHER; i++) {
		json_t *deps = json_object_get(pkg, sections[i]);
		if (json_object_get(deps, "next"))
			f = FRAMEWORK_NEXT;
		else if (json_object_get(deps, "vite"))
			f = FRAMEWORK_VITE;
	}
	json_decref(pkg);
	return f;
}

framework_t framework_detect(const char *requested, const json_t *command, const char *cwd)
{
	if (requested && strcmp(requested, "next") == 0)
		return FRAMEWORK_NEXT;
	if (requested && strcmp(requested, "vite") == 0)
		return FRAMEWORK_VITE;
	if (requested && strcmp(requested, "other") == 0)
		return FRAMEWORK_OTHER;
	words_t w = {0};
	if (json_is_string(command)) {
		words_add_split(&w, json_string_value(command));
	} else {
		size_t i;
		json_t *e;
		json_array_foreach(command, i, e)
		{
			if (json_is_string(e) && w.n < MAX_WORDS)
				w.words[w.n++] = xstrdup(json_string_value(e));
		}
	}
	framework_t f = words_framework(&w);
	const char *script = f == FRAMEWORK_OTHER && cwd ? script_name(&w) : NULL;
	if (script)
		f = package_framework(cwd, script);
	words_free(&w);
	return f;
}
