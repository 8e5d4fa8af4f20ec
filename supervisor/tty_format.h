#ifndef DEVSUP_TTY_FORMAT_H
#define DEVSUP_TTY_FORMAT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Events as a person reads them: one line each (`12:00:03 web  starting → running
 * http://localhost:3000  in 412 ms`), errors with their reason, suggestion and last output
 * lines, `status` as a table. ANSI colours only when asked (a terminal without NO_COLOR).
 * Pure: the caller supplies the time, so the unit tests pin the text down.
 */

/* The text for ev (lines ending in '\n', malloc'd), or NULL for an event that says nothing new
 * (a state change that the next event reports with more detail). now_ms: wall clock, for
 * uptimes. */
char *tty_format_event(const json_t *ev, bool color, uint64_t now_ms);
/* The `status` table of projects ([{projectId, state, port, pid, url, tunnelUrl, startedAt}]). */
char *tty_format_status(const json_t *projects, bool color, uint64_t now_ms);
/* "45s", "3m12s", "2h05m", "3d04h". */
void tty_format_uptime(uint64_t ms, char *buf, size_t n);
/* An ISO 8601 UTC timestamp as local "HH:MM:SS"; false (buf "--:--:--") if unreadable. */
bool tty_format_clock(const char *iso, char *buf, size_t n);
/* An ISO 8601 UTC timestamp as milliseconds since the epoch; 0 if unreadable. */
uint64_t tty_parse_iso(const char *iso);

#endif
