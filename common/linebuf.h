#ifndef DEVSUP_LINEBUF_H
#define DEVSUP_LINEBUF_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Splits a byte stream into '\n'-terminated lines without ever holding more than `max` bytes
 * of one line. A longer line is delivered once, cut to its first `max` bytes with
 * `overlong` set; the rest of it, up to its '\n', is discarded.
 */
typedef void (*linebuf_cb)(void *ctx, const char *line, size_t len, bool overlong);

typedef struct {
	char *buf;
	size_t len;
	size_t cap;
	size_t max;
	bool skipping; /* inside the discarded tail of an overlong line */
} linebuf_t;

void linebuf_init(linebuf_t *lb, size_t max);
void linebuf_free(linebuf_t *lb);
/* Feeds n bytes; calls cb for every complete line (without its '\n'). */
void linebuf_feed(linebuf_t *lb, const char *data, size_t n, linebuf_cb cb, void *ctx);
/* At end of stream: delivers a final line that had no '\n', if any. */
void linebuf_finish(linebuf_t *lb, linebuf_cb cb, void *ctx);
/* Bytes of an unfinished line currently held. */
size_t linebuf_pending(const linebuf_t *lb);

#endif
