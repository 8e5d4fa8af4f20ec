/* Start-time ownership checks of a fleet, answered through the writer's pipeline. */
#include "supervisor/store_claim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "supervisor/store_sql.h"

typedef struct claim {
	struct claim *next;
	char *project_id;
	store_claim_cb cb;
	void *ctx;
	bool sent;
	store_claim_t v;
} claim_t;

typedef struct refusal {
	struct refusal *next;
	store_lost_t v;
} refusal_t;

static struct {
	claim_t *head, *tail; /* in send order: the sent ones first */
	refusal_t *refused, *refused_tail; /* of the batch in flight, in batch order */
} cl;

void claim_add(const char *project_id, store_claim_cb cb, void *ctx)
{
	claim_t *c = xcalloc(1, sizeof(*c));
	c->project_id = xstrdup(project_id);
	c->cb = cb;
	c->ctx = ctx;
	if (cl.tail)
		cl.tail->next = c;
	else
		cl.head = c;
	cl.tail = c;
}

bool claim_send(PGconn *conn, bool unnamed)
{
	for (claim_t *c = cl.head; c; c = c->next) {
		if (c->sent)
			continue;
		const char *params[1] = {c->project_id};
		int ok = unnamed ? PQsendQueryParams(conn, store_sql_claim, 1, NULL, params, NULL,
						     NULL, 0)
				 : PQsendQueryPrepared(conn, "claim", 1, params, NULL, NULL, 0);
		if (!ok || !PQpipelineSync(conn))
			return false;
		c->sent = true;
	}
	return true;
}

bool claim_in_flight(void)
{
	return cl.head && cl.head->sent;
}

static void copy(char *dst, size_t n, const PGresult *res, int col)
{
	snprintf(dst, n, "%s", PQgetisnull(res, 0, col) ? "" : PQgetvalue(res, 0, col));
}

void claim_result(const PGresult *res)
{
	claim_t *c = cl.head;
	if (!c)
		return;
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		log_warn("postgres: checking who runs %s: %s", c->project_id,
			 PQresultErrorMessage(res));
		c->v.known = false;
		return;
	}
	c->v.known = true;
	c->v.found = PQntuples(res) > 0;
	if (!c->v.found)
		return;
	copy(c->v.runner_id, sizeof(c->v.runner_id), res, 0);
	copy(c->v.status, sizeof(c->v.status), res, 1);
	c->v.seq = strtoull(PQgetvalue(res, 0, 2), NULL, 10);
	copy(c->v.host, sizeof(c->v.host), res, 3);
	c->v.alive = strcmp(PQgetvalue(res, 0, 4), "t") == 0;
}

static void deliver(claim_t *c)
{
	c->cb(c->ctx, &c->v);
	free(c->project_id);
	free(c);
}

void claim_synced(void)
{
	claim_t *c = cl.head;
	if (!c || !c->sent)
		return;
	cl.head = c->next;
	if (!cl.head)
		cl.tail = NULL;
	deliver(c);
}

void claim_fail_all(void)
{
	/* detached first: a callback may queue a new check */
	claim_t *c = cl.head;
	cl.head = cl.tail = NULL;
	while (c) {
		claim_t *next = c->next;
		memset(&c->v, 0, sizeof(c->v));
		deliver(c);
		c = next;
	}
}

void claim_note_refusal(const PGresult *res, const char *project_id, const char *seq)
{
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) < 1 || PQgetisnull(res, 0, 0))
		return;
	refusal_t *r = xcalloc(1, sizeof(*r));
	snprintf(r->v.project_id, sizeof(r->v.project_id), "%s", project_id);
	r->v.seq = strtoull(seq, NULL, 10);
	copy(r->v.runner_id, sizeof(r->v.runner_id), res, 0);
	copy(r->v.host, sizeof(r->v.host), res, 1);
	copy(r->v.status, sizeof(r->v.status), res, 2);
	r->v.top = PQgetisnull(res, 0, 3) ? 0 : strtoull(PQgetvalue(res, 0, 3), NULL, 10);
	if (cl.refused_tail)
		cl.refused_tail->next = r;
	else
		cl.refused = r;
	cl.refused_tail = r;
}

void claim_deliver_refusals(store_lost_cb cb)
{
	/* detached first: a callback may queue writes (the loser's stop) */
	refusal_t *r = cl.refused;
	cl.refused = cl.refused_tail = NULL;
	while (r) {
		refusal_t *next = r->next;
		if (cb)
			cb(&r->v);
		free(r);
		r = next;
	}
}

void claim_drop_refusals(void)
{
	claim_deliver_refusals(NULL);
}
