#ifndef DEVSUP_TTY_H
#define DEVSUP_TTY_H

#include <ev.h>
#include <stdbool.h>

/*
 * The interactive front end (devsup run by hand in a terminal): libedit line editing with
 * history (tty_history.c) and completion, driven by the loop through an ev_io on stdin, so
 * events keep printing above the line being typed, fitted to the terminal's width. Typed
 * commands become the protocol's commands (tty_commands.c), events are printed as readable
 * lines (tty_format.c, tty_table.c); `up` starts a project file (tty_up.c). With stdout not a
 * terminal, the line is edited on the terminal and events go to stdout as plain lines.
 */

/* Takes over stdin and the events (output_set_sink) and the master's log lines; shows the
 * prompt. on_quit runs for Ctrl-D on an empty line and `quit` once confirmed when projects
 * are live, or `quit!` (a second call means "force"); on_eof when the terminal goes away. */
void tty_init(struct ev_loop *loop, void (*on_quit)(void), void (*on_eof)(void));
/* SIGINT (Ctrl-C): clears the line being typed and ends `logs -f`; never shuts down. */
void tty_interrupt(void);
/* The write end of a pipe whose lines are printed like devsup's own log lines: the reapers'
 * stderr, so their messages do not land in the middle of the prompt. -1 if none. */
int tty_log_fd(void);
/* At exit: gives the terminal its modes back, stops taking events (the history is saved
 * line by line as it is typed). */
void tty_stop(void);

#endif
