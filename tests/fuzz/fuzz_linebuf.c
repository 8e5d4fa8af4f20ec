/* libFuzzer: the line splitter (common/linebuf.c) against a plain reference split. The first
 * byte sets the line limit, the second the size of the pieces the rest is fed in. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/linebuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
	const char *in; /* the whole input, for the reference */
	size_t n, pos;  /* reference position */
	size_t max;
} ref_t;

/* The next line the reference expects: the segment up to '\n' (or the end), cut to max. */
static void check_line(void *ctx, const char *line, size_t len, bool overlong)
{
	ref_t *r = ctx;
	const char *nl = memchr(r->in + r->pos, '\n', r->n - r->pos);
	size_t seg = nl ? (size_t)(nl - (r->in + r->pos)) : r->n - r->pos;
	assert(overlong == (seg > r->max));
	assert(len == (seg > r->max ? r->max : seg));
	assert(memcmp(line, r->in + r->pos, len) == 0);
	r->pos += seg + (nl ? 1 : 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	ref_t r = {.in = (const char *)data + 2, .n = size - 2, .max = (size_t)data[0] % 64 + 1};
	size_t piece = (size_t)data[1] % 17 + 1;
	linebuf_t lb;
	linebuf_init(&lb, r.max);
	for (size_t off = 0; off < r.n; off += piece)
		linebuf_feed(&lb, r.in + off, off + piece > r.n ? r.n - off : piece, check_line, &r);
	linebuf_finish(&lb, check_line, &r);
	assert(r.pos == r.n); /* every byte accounted for */
	linebuf_free(&lb);
	return 0;
}
