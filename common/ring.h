#ifndef DEVSUP_RING_H
#define DEVSUP_RING_H

#include <stddef.h>
#include <stdint.h>

/* The last `cap` lines of a project's output, oldest dropped first. */
typedef enum { RING_STDOUT, RING_STDERR } ring_stream_t;

typedef struct {
	char *text;
	ring_stream_t stream;
	uint64_t at_ms; /* wall clock, for the `logs` timestamps */
} ring_line_t;

typedef struct {
	ring_line_t *lines;
	size_t cap;   /* the most lines kept */
	size_t alloc; /* slots allocated: grows to cap as lines come (most servers print few) */
	size_t head; /* index of the oldest line */
	size_t count;
	uint64_t total; /* lines ever pushed */
} ring_t;

/* An empty ring keeping at most cap lines; no slot is allocated before the first line. */
void ring_init(ring_t *r, size_t cap);
void ring_free(ring_t *r);
/* Stores a copy of text (len bytes). */
void ring_push(ring_t *r, ring_stream_t stream, const char *text, size_t len, uint64_t at_ms);
/* The i-th line counting from the oldest kept (0 <= i < count). */
const ring_line_t *ring_at(const ring_t *r, size_t i);
const char *ring_stream_name(ring_stream_t s);

#endif
