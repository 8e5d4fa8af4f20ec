#ifndef DEVSUP_REPLY_H
#define DEVSUP_REPLY_H

#include <jansson.h>

#include "common/reason.h"

/* Emits an `error` event: reason, a message naming the concrete thing, and a suggestion
 * (NULL: the reason's default). Returns nothing: every command gets exactly one answer, and
 * this is it. */
void reply_error(const char *project_id, json_t *command_id, reason_t reason,
		 const char *suggestion, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* The same, adding the fields of extra (exitCode, signal, logTail...); steals extra. */
void reply_error_with(const char *project_id, json_t *command_id, reason_t reason,
		      const char *message, const char *suggestion, json_t *extra);

#endif
