#ifndef DEVSUP_STORE_OUTBOX_H
#define DEVSUP_STORE_OUTBOX_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The Postgres writer's outbox: transitions in the order they happened, waiting to be
 * committed. Bounded: when full, the oldest record not in flight is shed (loudly, counted), so
 * a database that stays away costs a fixed amount of memory (docs/operations.md says what
 * shedding loses).
 */

#define OUTBOX_PARAMS 14
#define OUTBOX_DEFAULT_MAX 100000

typedef enum {
	OUTBOX_TRANSITION,     /* history row + current row + NOTIFY (14 parameters) */
	OUTBOX_TUNNEL,         /* a tunnel URL update (3 parameters) */
	OUTBOX_RUNNER_STOPPED, /* devsup_runners.stopped_at on a clean exit (1 parameter) */
	OUTBOX_HOLD,           /* does another runner hold a live project of ours? (2 parameters;
				* v[2]: the project's seq when asked, for the verdict) */
} outbox_kind_t;

typedef struct outbox_rec {
	struct outbox_rec *next;
	outbox_kind_t kind;
	char *v[OUTBOX_PARAMS];    /* the statement's parameters as text (NULL for SQL NULL) */
	uint64_t queued_ms;
} outbox_rec_t;

/* max 0: OUTBOX_DEFAULT_MAX. */
void outbox_init(size_t max);
/* Appends r (taking it). When the outbox is full, first sheds the oldest record after the
 * `inflight` ones at the head (those are on the wire and are settled by their batch). */
void outbox_push(outbox_rec_t *r, size_t inflight);
outbox_rec_t *outbox_head(void);
size_t outbox_len(void);
/* The first n records are committed: removed, counted, their delay measured. */
void outbox_commit(size_t n);
/* Removes the index-th record: the database refuses it for good. Logged as lost. */
void outbox_drop(size_t index);
/* Adds queued, oldestQueuedMs, written, shed, queueMax, commitLatencyMs to o. */
void outbox_status(json_t *o);
void outbox_free(void);

#endif
