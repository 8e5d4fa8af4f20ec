#ifndef DEVSUP_STORE_H
#define DEVSUP_STORE_H

#include <ev.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "supervisor/store_claim.h"

/*
 * Persistence of SPEC §7: every transition goes into an in-memory outbox, in order, and is
 * written to Postgres from the loop without ever blocking it (non-blocking libpq, pipeline
 * mode, idempotent statements). A batch counts as written only when its sync point succeeds;
 * on any failure the connection is rebuilt with backoff and the unwritten rest is sent again.
 */

typedef struct {
	const char *project_id;
	const char *runner_id;       /* NULL: this runner (another: closing a lost runner's run) */
	uint64_t seq;
	const char *from;
	const char *to;
	const char *reason;          /* NULL for none */
	uint64_t at_ms;              /* wall clock */
	int port, pid, pgid;         /* 0 for NULL */
	const char *framework;       /* NULL for none */
	const char *tunnel_url;      /* NULL for none */
	const char *failure_reason;  /* set on failed */
	const char *failure_message;
} store_transition_t;

/* A row of this runner that a previous devsup left live: for recovery. */
typedef void (*store_rows_cb)(json_t *rows); /* [{projectId, status, seq}], borrowed */

typedef struct {
	const char *url;       /* NULL: persistence disabled */
	const char *runner_id;
	int port_lo, port_hi;  /* for devsup_runners */
	size_t queue_max;      /* outbox bound (--db-queue-max); 0 for the default */
	store_rows_cb on_leftover_rows;
	/* At each connection: the highest seq in the database. Every seq handed out afterwards
	 * must be above it (a wall clock stepped back must not make rows go back). */
	void (*on_seq_floor)(uint64_t floor);
	/* A write or a hold of this runner was refused: another alive runner holds the project
	 * (delivered once the batch committed). */
	store_lost_cb on_lost;
	/* The writer is ready on a new connection (after each reconnection too). */
	void (*on_connected)(void);
} store_config_t;

/* Starts the writer (connecting in the background; host names are resolved off the loop). */
void store_init(struct ev_loop *loop, const store_config_t *cfg);
/* Only migrations: connect, apply, then done(ok). For devsup --migrate. */
void store_migrate_only(struct ev_loop *loop, const char *url, void (*done)(bool ok));
/* Queues one transition (copied). */
void store_transition(const store_transition_t *t);
/* Asks the database who runs project_id (SPEC §10, one round trip); cb gets the verdict from
 * the loop later. False when not connected: then there is nobody to ask, go ahead. */
bool store_claim(const char *project_id, store_claim_cb cb, void *ctx);
/* Asks, through the outbox, whether another alive runner holds project_id, which is live here
 * at seq; a yes comes to on_lost. */
void store_hold(const char *project_id, uint64_t seq);
/* The tunnel URL of the row at seq changed (reopened, closed): url NULL for none. */
void store_tunnel_url(const char *project_id, uint64_t seq, const char *url);
/* {enabled, connected, queued, oldestQueuedMs, written, queueMax, shed, refused,
 * commitLatencyMs, problem} as a new object. */
json_t *store_status_json(void);
/* Transitions queued and not yet committed (0 when persistence is off). The master's exit
 * check waits, bounded, for this to reach 0; there is no "flushed" callback. */
size_t store_unwritten(void);
/* A clean exit's last step begins: the runner's stop time (devsup_runners.stopped_at) is
 * queued when connected, so store_unwritten() covers it too. */
void store_closing(void);
void store_free(void);

#endif
