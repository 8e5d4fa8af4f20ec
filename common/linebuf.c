#include "common/linebuf.h"

#include <stdlib.h>
#include <string.h>

#include "common/util.h"

void linebuf_init(linebuf_t *lb, size_t max)
{
	memset(lb, 0, sizeof(*lb));
	lb->max = max ? max : 1;
}

void linebuf_free(linebuf_t *lb)
{
	free(lb->buf);
	lb->buf = NULL;
	lb->len = lb->cap = 0;
}

static void linebuf_append(linebuf_t *lb, const char *data, size_t n)
{
	if (lb->len + n > lb->cap) {
		size_t cap = lb->cap ? lb->cap : 256;
		while (cap < lb->len + n)
			cap *= 2;
		if (cap > lb->max)
			cap = lb->max;
		lb->buf = xrealloc(lb->buf, cap);
		lb->cap = cap;
	}
	memcpy(lb->buf + lb->len, data, n);
	lb->len += n;
}

/* Adds n bytes of a line not yet ended; cuts and starts skipping once it passes max. */
static void linebuf_take_partial(linebuf_t *lb, const char *data, size_t n, linebuf_cb cb,
				 void *ctx)
{
	size_t room = lb->max - lb->len;
	if (n <= room) {
		linebuf_append(lb, data, n);
		return;
	}
	linebuf_append(lb, data, room);
	cb(ctx, lb->buf, lb->len, true);
	lb->len = 0;
	lb->skipping = true;
}

void linebuf_feed(linebuf_t *lb, const char *data, size_t n, linebuf_cb cb, void *ctx)
{
	while (n > 0) {
		const char *nl = memchr(data, '\n', n);
		size_t part = nl ? (size_t)(nl - data) : n;
		if (lb->skipping) {
			if (nl)
				lb->skipping = false;
		} else if (!nl) {
			linebuf_take_partial(lb, data, part, cb, ctx);
		} else if (lb->len == 0 && part <= lb->max) {
			cb(ctx, data, part, false); /* whole line in the input: no copy */
		} else if (lb->len + part <= lb->max) {
			linebuf_append(lb, data, part);
			cb(ctx, lb->buf, lb->len, false);
			lb->len = 0;
		} else {
			linebuf_take_partial(lb, data, part, cb, ctx);
			lb->skipping = false; /* this line's '\n' is here */
		}
		if (!nl)
			return;
		n -= part + 1;
		data = nl + 1;
	}
}

void linebuf_finish(linebuf_t *lb, linebuf_cb cb, void *ctx)
{
	if (lb->len > 0)
		cb(ctx, lb->buf, lb->len, false);
	lb->len = 0;
	lb->skipping = false;
}

size_t linebuf_pending(const linebuf_t *lb)
{
	return lb->len;
}
