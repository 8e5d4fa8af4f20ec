#ifndef DEVSUP_TTY_UP_H
#define DEVSUP_TTY_UP_H

#include <jansson.h>

/*
 * `up` and `down` of the terminal front end: the projects of a project file (tty_file.c)
 * started in dependsOn order as their dependencies' answers come, or stopped.
 */

typedef struct {
	/* sends a command (one without an id is given one); returns its id (a new reference) */
	json_t *(*send)(json_t *cmd);
	/* shows text for a person (sgr: a colour, or NULL) */
	void (*say)(const char *sgr, const char *text);
} tty_up_io_t;

/* Starts the projects of file that may start now (the others as answers come); projects
 * already live are left as they are. One up at a time. io must outlive it. */
void tty_up_run(const char *file, const tty_up_io_t *io);
/* Stops the live projects of file. */
void tty_up_down(const char *file, const tty_up_io_t *io);
/* An event of type answering command cid has been shown: the starts it allows go. */
void tty_up_answered(const char *type, const char *cid);
/* At exit: forgets an up in progress. */
void tty_up_stop(void);

#endif
