#ifndef DEVSUP_INPUT_H
#define DEVSUP_INPUT_H

#include <ev.h>
#include <stddef.h>

/* stdin: read without blocking, split into lines (at most max_line bytes each), each handed
 * to the command layer; on EOF the final unterminated line is handled too, then on_eof. */
void input_init(struct ev_loop *loop, int fd, size_t max_line, void (*on_eof)(void));
void input_stop(void);

#endif
