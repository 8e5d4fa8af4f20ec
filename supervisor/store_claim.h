#ifndef DEVSUP_STORE_CLAIM_H
#define DEVSUP_STORE_CLAIM_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

/*
 * One live run per project across a fleet (SPEC §10): before a start, one round trip asks the
 * database who has the project's row and whether that runner is alive. The checks ride the
 * writer's pipeline (store.c), each with its own sync point, never mixed with a batch.
 */

typedef struct {
	bool known;         /* the database answered; false: unreachable, proceed as without one */
	bool found;         /* the project has a row */
	char runner_id[129];
	char host[256];
	char status[16];
	uint64_t seq;
	bool alive;         /* that runner holds its liveness lock now */
} store_claim_t;

typedef void (*store_claim_cb)(void *ctx, const store_claim_t *verdict);

/* Queues a check of project_id; cb is called once, from the loop, later. */
void claim_add(const char *project_id, store_claim_cb cb, void *ctx);
/* Sends every queued check into the pipeline (named statement "claim" unless unnamed). False
 * when libpq refused (the connection is lost). */
bool claim_send(PGconn *conn, bool unnamed);
/* Checks sent and not yet answered: their results come before anything sent later. */
bool claim_in_flight(void);
/* A result of the first check in flight (not its sync). */
void claim_result(const PGresult *res);
/* The sync of the first check in flight: its verdict is delivered. */
void claim_synced(void);
/* The connection is gone (or devsup exits): every check gets "unknown" (known = false). */
void claim_fail_all(void);

/*
 * The other half of the rule: a write of this runner that the database refused because another
 * alive runner holds the project (sql/003_owner.sql). Noted per result of a batch, delivered
 * only once the batch has committed (an aborted batch is sent again and asked again).
 */
typedef struct {
	char project_id[129];
	uint64_t seq;        /* of the refused write (or of the project when the hold was asked) */
	char runner_id[129]; /* the holder */
	char host[256];
	char status[16];     /* the holder's state in the row */
	uint64_t top;        /* the project's highest seq in the database */
} store_lost_t;

typedef void (*store_lost_cb)(const store_lost_t *v);

/* A batch result of the write of (project_id, seq): a row in it names the holder. */
void claim_note_refusal(const PGresult *res, const char *project_id, const char *seq);
/* The batch committed: each noted refusal goes to cb, in batch order, then is forgotten. */
void claim_deliver_refusals(store_lost_cb cb);
/* The batch did not commit: its refusals are forgotten (the resend asks again). */
void claim_drop_refusals(void);

#endif
