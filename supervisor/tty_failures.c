/* The last failure of each project as the front end saw its events, for the status table. */
#include "supervisor/tty_failures.h"

#include <string.h>

#include "common/util.h"
#include "supervisor/project.h"

static json_t *failures; /* project id -> {reason, exitCode | signal} */

void tty_failures_init(void)
{
	failures = json_object();
}

void tty_failures_free(void)
{
	json_decref(failures);
	failures = NULL;
}

/* The last failure of each project as its events told it ({reason, exitCode | signal}), for
 * a status from an engine that does not report lastFailure itself. */
void tty_failures_note(const json_t *ev, const char *type)
{
	const char *pid = json_string_value(json_object_get(ev, "projectId"));
	const char *reason = json_string_value(json_object_get(ev, "reason"));
	/* an error that failed the project (a start's), not one that refused a command */
	static const char *const refusals[] = {
		"already_running", "not_running", "invalid_json",  "invalid_command",
		"unknown_command", "line_too_long", "capacity",    "shutting_down",
		"owned_by_other_runner"};
	project_t *p = pid ? project_find(pid) : NULL;
	if (!p || !reason || (strcmp(type, "dev-server-exited") != 0 &&
			      !(strcmp(type, "error") == 0 && p->state == STATE_FAILED)))
		return;
	for (size_t i = 0; i < ARRAY_LEN(refusals); i++)
		if (strcmp(reason, refusals[i]) == 0)
			return;
	json_t *f = json_pack("{s:s}", "reason", reason);
	json_t *code = json_object_get(ev, "exitCode"), *sig = json_object_get(ev, "signal");
	if (json_is_integer(code))
		json_object_set(f, "exitCode", code);
	if (json_is_string(sig))
		json_object_set(f, "signal", sig);
	json_object_set_new(failures, pid, f);
}

void tty_failures_fill(json_t *status)
{
	size_t i;
	json_t *p;
	json_array_foreach(json_object_get(status, "projects"), i, p)
	{
		const char *pid = json_string_value(json_object_get(p, "projectId"));
		json_t *f = pid ? json_object_get(failures, pid) : NULL;
		if (f && !json_is_object(json_object_get(p, "lastFailure")))
			json_object_set(p, "lastFailure", f);
	}
}
