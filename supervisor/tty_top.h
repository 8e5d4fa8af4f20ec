#ifndef DEVSUP_TTY_TOP_H
#define DEVSUP_TTY_TOP_H

#include <ev.h>
#include <jansson.h>
#include <stdbool.h>

/*
 * The front end's live `top` view (in the spirit of pm2 monit): every live project's CPU and
 * memory on the terminal's alternate screen, redrawn every second while it is open and never
 * after. Keys: c sorts by CPU, m by memory, q leaves (Ctrl-C too). The line editor is out
 * while it is open: tty.c hands the terminal over and takes it back in `closed`.
 */
typedef enum { TTY_TOP_BY_CPU, TTY_TOP_BY_MEMORY } tty_top_sort_t;

/* Takes the terminal (keys without Enter, the alternate screen) and draws at once. */
void tty_top_open(struct ev_loop *loop, bool color, void (*closed)(void));
bool tty_top_active(void);
/* Gives the terminal back as it was and calls `closed`. Does nothing when not open. */
void tty_top_close(void);
/* After Ctrl-Z and fg (the shell set its own modes) or a resize: modes back, redraw. */
void tty_top_resume(void);
/* The screen for `projects` (status-like objects: projectId, state, port, usage), sorted,
 * within cols x rows (malloc'd, lines ending in "\r\n" after a clear to end of line). */
char *tty_top_render(const json_t *projects, tty_top_sort_t sort, int cols, int rows,
		     bool color, const char *clock);

#endif
