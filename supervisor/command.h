#ifndef DEVSUP_COMMAND_H
#define DEVSUP_COMMAND_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "supervisor/options.h"

/* Parses, validates and runs one input line (without its '\n'). Every line gets exactly one
 * answer: the command's success event, or an `error` event. */
void command_handle_line(const char *line, size_t len);
/* The same for a command already parsed (the terminal front end builds them); borrows cmd. */
void command_handle_json(json_t *cmd);
/* Answers a line longer than --max-line; start/len: its first bytes, searched for its id. */
void command_line_too_long(const char *start, size_t len, size_t max);
/* The entry of known (NULL-terminated) closest to name, for "did you mean" messages. */
const char *command_closest_field(const char *name, const char *const *known);
void command_init(const options_t *opts);
/* Validates the fields of a start (or of a restart merged onto the last start) and returns
 * the start message for the reaper (new reference), or NULL with err naming the field. */
json_t *command_validate_start(const json_t *req, char *err, size_t errlen);
/* Called for `shutdown`: set by main. */
void command_on_shutdown(void (*cb)(json_t *id, json_t *timeout_ms, bool detach));

#endif
