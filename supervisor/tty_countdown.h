#ifndef DEVSUP_TTY_COUNTDOWN_H
#define DEVSUP_TTY_COUNTDOWN_H

#include <ev.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The prompt's countdown while a stop waits for its grace ("stopping web... SIGKILL in 7 s"):
 * the SIGKILL deadline of each project stopping, and a one-second timer that runs only while
 * one is pending and only on a terminal, so nothing wakes devsup up otherwise.
 */

/* on: the prompt is on a terminal (else no timer runs); redraw puts the prompt back on
 * screen with tty_countdown_text in it. */
void tty_countdown_init(struct ev_loop *loop, bool on, void (*redraw)(void));
/* A stop of id was typed with this timeout: its deadline when it begins to stop. */
void tty_countdown_expect(const char *id, uint64_t timeout_ms);
/* id went to stopping: its deadline is the typed timeout, else its start's stopTimeoutMs,
 * else 10 s (force: now, the second Ctrl-D). */
void tty_countdown_began(const char *id, bool force);
/* id left stopping; with no stop left the timer stops and the prompt is redrawn. */
void tty_countdown_ended(const char *id);
/* The countdown for the prompt into buf (ASCII), or 0 when there is none to show. */
size_t tty_countdown_text(char *buf, size_t n);
/* At exit. */
void tty_countdown_stop(void);

#endif
