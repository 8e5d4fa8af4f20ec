/* `up` and `down` of the terminal front end: a project file's starts, in dependsOn order. */
#include "supervisor/tty_up.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "common/state.h"
#include "supervisor/project.h"
#include "supervisor/tty_file.h"

static struct {
	tty_plan_t *plan; /* an `up` in progress */
	const tty_up_io_t *io;
	unsigned long next_id;
	bool stepping; /* inside plan_step: an answer is taken by its next round */
	bool again;
} up;

static void __attribute__((format(printf, 3, 4)))
sayf(const tty_up_io_t *io, const char *sgr, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	io->say(sgr, buf);
}

/* Sends the starts of the plan that may go now, says which ones cannot; at the end, says so
 * and forgets the plan. An answer that comes while a start is sent (a refused one) is marked
 * and taken by the next round here, never by a nested step. */
static void plan_step(void)
{
	json_t *starts = json_array(), *failed = json_array(), *v;
	size_t i;
	up.stepping = true;
	do {
		up.again = false;
		json_array_clear(starts);
		json_array_clear(failed);
		tty_plan_step(up.plan, starts, failed);
		json_array_foreach(failed, i, v)
			sayf(up.io, "31", "✗ %s\n",
			     json_string_value(json_object_get(v, "message")));
		json_array_foreach(starts, i, v)
		{
			char cid[32];
			snprintf(cid, sizeof(cid), "tty-up-%lu", ++up.next_id);
			/* known before it is sent: the answer may come at once */
			const char *pid = json_string_value(json_object_get(v, "projectId"));
			tty_plan_sent(up.plan, pid, cid);
			json_object_set_new(v, "id", json_string(cid));
			json_decref(up.io->send(v));
		}
	} while (up.again);
	up.stepping = false;
	json_decref(starts);
	json_decref(failed);
	if (tty_plan_done(up.plan)) {
		up.io->say(NULL, "up: every project of the file is running or failed (status shows "
				 "which)\n");
		tty_plan_free(up.plan);
		up.plan = NULL;
	}
}

void tty_up_run(const char *file, const tty_up_io_t *io)
{
	char err[600];
	if (up.plan) {
		io->say("31", "an up is still starting its projects: wait for it (status)\n");
		return;
	}
	tty_plan_t *plan = tty_plan_load(file, err, sizeof(err));
	if (!plan) {
		sayf(io, "31", "up: %s\n", err);
		return;
	}
	for (size_t i = 0; i < tty_plan_count(plan); i++) {
		project_t *p = project_find(tty_plan_id(plan, i));
		if (p && state_is_live(p->state)) {
			sayf(io, NULL, "%s is %s already: left as it is\n", p->id,
			     state_name(p->state));
			tty_plan_mark_running(plan, p->id);
		}
	}
	up.plan = plan;
	up.io = io;
	plan_step();
}

void tty_up_down(const char *file, const tty_up_io_t *io)
{
	char err[600];
	tty_plan_t *plan = tty_plan_load(file, err, sizeof(err));
	unsigned stopped = 0;
	if (!plan) {
		sayf(io, "31", "down: %s\n", err);
		return;
	}
	for (size_t i = tty_plan_count(plan); i-- > 0;) {
		project_t *p = project_find(tty_plan_id(plan, i));
		if (!p || !state_is_live(p->state))
			continue;
		json_t *cmd = json_pack("{s:s, s:s}", "type", "stop-dev-server", "projectId", p->id);
		json_decref(io->send(cmd));
		json_decref(cmd);
		stopped++;
	}
	if (!stopped)
		io->say(NULL, "down: no project of the file is running\n");
	tty_plan_free(plan);
}

void tty_up_answered(const char *type, const char *cid)
{
	if (up.plan && cid &&
	    (strcmp(type, "dev-server-started") == 0 || strcmp(type, "error") == 0) &&
	    tty_plan_answer(up.plan, cid, strcmp(type, "error") != 0)) {
		if (up.stepping)
			up.again = true;
		else
			plan_step();
	}
}

void tty_up_stop(void)
{
	tty_plan_free(up.plan);
	up.plan = NULL;
}
