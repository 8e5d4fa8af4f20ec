#ifndef DEVSUP_CAPTURE_H
#define DEVSUP_CAPTURE_H

#include <ev.h>
#include <stdbool.h>

#include "common/linebuf.h"
#include "common/ring.h"

/* Longest line kept, in bytes of raw output; longer lines are cut and marked. */
#define CAPTURE_LINE_MAX 2048

typedef void (*capture_line_cb)(void *ctx, ring_stream_t stream, const char *line, size_t len);

/* One output pipe of the dev server, read without blocking and split into sanitized lines. */
typedef struct {
	ev_io io;
	int fd; /* read end, -1 once closed */
	linebuf_t lb;
	ring_stream_t stream;
	capture_line_cb cb;
	void *ctx;
} capture_t;

/* Creates the pipe; *child_fd is the write end for the child (close-on-exec; the child dups
 * it), to be closed by the caller after the fork. 0, or -1 with errno. */
int capture_open(capture_t *c, struct ev_loop *loop, ring_stream_t stream, capture_line_cb cb,
		 void *ctx, int *child_fd) __attribute__((warn_unused_result));
/* Reads whatever the pipe holds now (up to EAGAIN or EOF) and delivers its lines: used when
 * the server has exited, so its last words are seen before its exit is judged. */
void capture_drain(capture_t *c, struct ev_loop *loop);
/* Stops reading and closes the pipe, delivering a last unfinished line. */
void capture_close(capture_t *c, struct ev_loop *loop);

#endif
