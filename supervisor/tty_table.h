#ifndef DEVSUP_TTY_TABLE_H
#define DEVSUP_TTY_TABLE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* The `status` table of projects ([{projectId, state, port, pid, url, tunnelUrl, startedAt,
 * and when present restarts, usage {cpuPercent, rssBytes}, lastFailure}]), each row on one
 * line of cols columns (0: no limit): columns dropped, then cells cut with an ellipsis. */
char *tty_format_status(const json_t *projects, bool color, uint64_t now_ms, int cols);

#endif
