#ifndef DEVSUP_TTY_FAILURES_H
#define DEVSUP_TTY_FAILURES_H

#include <jansson.h>

/*
 * The last failure of each project ({reason, exitCode | signal}) as its events told the front
 * end, so `status` shows it even from an engine whose status does not report lastFailure.
 */

void tty_failures_init(void);
void tty_failures_free(void);
/* Keeps ev's failure if it is one that failed its project (an exit, a start's error), not an
 * error that refused a command. */
void tty_failures_note(const json_t *ev, const char *type);
/* Adds lastFailure to each project of a status answer that lacks one and has failed. */
void tty_failures_fill(json_t *status);

#endif
