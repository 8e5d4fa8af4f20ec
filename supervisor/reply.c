#include "supervisor/reply.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "common/sanitize.h"
#include "supervisor/output.h"

void reply_error_with(const char *project_id, json_t *command_id, reason_t reason,
		      const char *message, const char *suggestion, json_t *extra)
{
	json_t *ev = event_new("error", project_id, command_id);
	/* a message cut by snprintf may end in half a character: keep the JSON valid */
	char clean[1100];
	sanitize_line(message, strlen(message), clean, sizeof(clean));
	json_object_set_new(ev, "error", json_string(clean));
	log_debug("answered with error %s%s%s: %s", reason_name(reason),
		  project_id ? " for project " : "", project_id ? project_id : "", clean);
	json_object_set_new(ev, "reason", json_string(reason_name(reason)));
	json_object_set_new(ev, "suggestion",
			    json_string(suggestion ? suggestion : reason_suggestion(reason)));
	if (extra)
		json_object_update_missing(ev, extra);
	json_decref(extra);
	output_event(ev);
}

void reply_error(const char *project_id, json_t *command_id, reason_t reason,
		 const char *suggestion, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	reply_error_with(project_id, command_id, reason, msg, suggestion, NULL);
}
