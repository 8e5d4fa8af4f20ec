#include "common/ring.h"

#include <stdlib.h>

#include "common/util.h"

void ring_init(ring_t *r, size_t cap)
{
	r->cap = cap ? cap : 1;
	r->lines = NULL;
	r->alloc = 0;
	r->head = r->count = 0;
	r->total = 0;
}

void ring_free(ring_t *r)
{
	for (size_t i = 0; i < r->count; i++)
		free(r->lines[(r->head + i) % r->alloc].text);
	free(r->lines);
	r->lines = NULL;
	r->alloc = r->count = 0;
}

void ring_push(ring_t *r, ring_stream_t stream, const char *text, size_t len, uint64_t at_ms)
{
	ring_line_t *slot;
	if (r->count == r->alloc && r->alloc < r->cap) {
		/* Nothing was dropped yet (head is 0): the slots grow in place. A reaper is one
		 * process per project, and a preallocated 500-line ring was 12 KiB dirtied up
		 * front. */
		size_t grow = r->alloc ? r->alloc * 2 : 16;
		r->alloc = grow < r->cap ? grow : r->cap;
		r->lines = xrealloc(r->lines, r->alloc * sizeof(*r->lines));
	}
	if (r->count == r->cap) {
		slot = &r->lines[r->head];
		free(slot->text);
		r->head = (r->head + 1) % r->cap;
	} else {
		slot = &r->lines[(r->head + r->count) % r->alloc];
		r->count++;
	}
	slot->text = xstrndup(text, len);
	slot->stream = stream;
	slot->at_ms = at_ms;
	r->total++;
}

const ring_line_t *ring_at(const ring_t *r, size_t i)
{
	return i < r->count ? &r->lines[(r->head + i) % r->alloc] : NULL;
}

const char *ring_stream_name(ring_stream_t s)
{
	return s == RING_STDERR ? "stderr" : "stdout";
}
