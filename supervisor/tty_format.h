#ifndef DEVSUP_TTY_FORMAT_H
#define DEVSUP_TTY_FORMAT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "supervisor/tty_table.h"
#include "supervisor/tty_text.h"

/*
 * Events as a person reads them: one line each (`12:00:03 web  starting → running
 * http://localhost:3000  in 412 ms`), errors with their reason, suggestion and last output
 * lines, `status` as a table. ANSI colours only when asked (a terminal without NO_COLOR).
 * Pure: the caller supplies the time, so the unit tests pin the text down.
 */

/* The text for ev (lines ending in '\n', malloc'd), or NULL for an event that says nothing new
 * (a state change that the next event reports with more detail). now_ms: wall clock, for
 * uptimes; cols: the terminal's width, every line fits it (0: no limit). */
char *tty_format_event(const json_t *ev, bool color, uint64_t now_ms, int cols);
/* Several `logs` answers as one list by time, each line after its project's name. */
char *tty_format_merged_logs(const json_t *answers, bool color);
/* The colour (SGR) of a project's name: the same for a project every time. */
const char *tty_project_color(const char *id);
/* The engine's message or suggestion with protocol words (restart-dev-server, strictPort,
 * logTail, healthCheck.timeoutMs, field 'x') put as a person types them here (malloc'd). */
char *tty_humanize(const char *text);
/* The lines of a logTail worth showing: [*first, return) around the first line naming the
 * error (Error, ERR!, failed), else the last non-blank ones. */
size_t tty_tail_window(const json_t *tail, size_t *first);
/* "45s", "3m12s", "2h05m", "3d04h". */
void tty_format_uptime(uint64_t ms, char *buf, size_t n);
/* An ISO 8601 UTC timestamp as local "HH:MM:SS"; false (buf "--:--:--") if unreadable. */
bool tty_format_clock(const char *iso, char *buf, size_t n);
/* An ISO 8601 UTC timestamp as milliseconds since the epoch; 0 if unreadable. */
uint64_t tty_parse_iso(const char *iso);

#endif
