#ifndef DEVSUP_TTY_HISTORY_H
#define DEVSUP_TTY_HISTORY_H

#include <stdbool.h>
#include <stddef.h>

/*
 * The terminal front end's history file (~/.devsup_history), shared by every devsup a person
 * runs: each line typed is appended at once (as bash's histappend), never the whole list at
 * exit, so two devsups in two terminals keep each other's lines. Past TTY_HISTORY_MAX lines
 * (plus slack, so the rewrite is rare) the file is cut to the newest TTY_HISTORY_MAX by a
 * rewrite to `<file>.new` and a rename, under an flock every writer takes.
 */
#define TTY_HISTORY_MAX 1000

/* Loads path's lines into libedit's history (plain lines, or libedit's own encoded format of
 * older devsups); path NULL: no history file. */
void tty_history_open(const char *path);
/* Adds line to the history in memory and appends it to the file; false with errno when the
 * file cannot be written (the line stays in memory). */
bool tty_history_add(const char *line) __attribute__((warn_unused_result));
/* The lines of text (one per '\n') to keep: the last max (decoded, clean) ones, as one
 * malloc'd text; *kept says how many. For the trim and the unit tests. */
char *tty_history_tail(const char *text, size_t max, size_t *kept);

#endif
