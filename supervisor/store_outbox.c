/* The writer's bounded outbox and its numbers (queued, written, shed, commit delay). */
#include "supervisor/store_outbox.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"

#define LATENCY_WINDOW 4096

static struct {
	outbox_rec_t *head, *tail;
	size_t len;
	size_t max;
	uint64_t written; /* committed since start */
	uint64_t shed;    /* dropped because the outbox was full */
	uint64_t dropped; /* refused by the database for good */
	uint32_t latency_ms[LATENCY_WINDOW]; /* queue -> commit, the last LATENCY_WINDOW */
	uint64_t nlatency;
} ob;

void outbox_init(size_t max)
{
	outbox_free();
	ob.max = max ? max : OUTBOX_DEFAULT_MAX;
}

static void rec_free(outbox_rec_t *r)
{
	for (size_t i = 0; i < OUTBOX_PARAMS; i++)
		free(r->v[i]);
	free(r);
}

/* Unlinks and returns the index-th record (NULL past the end). */
static outbox_rec_t *unlink_at(size_t index)
{
	outbox_rec_t **pp = &ob.head, *prev = NULL;
	for (size_t i = 0; i < index && *pp; i++) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	outbox_rec_t *r = *pp;
	if (!r)
		return NULL;
	*pp = r->next;
	if (ob.tail == r)
		ob.tail = prev;
	ob.len--;
	return r;
}

static void describe(const outbox_rec_t *r, char *buf, size_t n)
{
	if (r->kind == OUTBOX_TUNNEL)
		snprintf(buf, n, "the tunnel URL update of %s", r->v[0]);
	else if (r->kind == OUTBOX_RUNNER_STOPPED)
		snprintf(buf, n, "the stop time of runner %s", r->v[0]);
	else if (r->kind == OUTBOX_HOLD)
		snprintf(buf, n, "the ownership check of %s", r->v[0]);
	else
		snprintf(buf, n, "transition %s seq %s (%s -> %s)", r->v[0], r->v[2], r->v[3], r->v[4]);
}

/* Full: the oldest waiting record goes. Logged at the 1st, 10th, 100th... so a long outage
 * says so without flooding the log. */
static void shed_one(size_t inflight)
{
	outbox_rec_t *r = unlink_at(inflight);
	if (!r)
		return;
	ob.shed++;
	uint64_t p = 1;
	while (p * 10 <= ob.shed)
		p *= 10;
	if (ob.shed == p) {
		char what[300];
		describe(r, what, sizeof(what));
		log_error("postgres: the outbox is full (%zu, --db-queue-max): shedding %s; %llu "
			  "shed so far. The database stays behind until it is reachable again",
			  ob.max, what, (unsigned long long)ob.shed);
	}
	rec_free(r);
}

void outbox_push(outbox_rec_t *r, size_t inflight)
{
	if (ob.max == 0)
		ob.max = OUTBOX_DEFAULT_MAX;
	while (ob.len >= ob.max && ob.len > inflight)
		shed_one(inflight);
	r->next = NULL;
	r->queued_ms = clock_ms();
	if (ob.tail)
		ob.tail->next = r;
	else
		ob.head = r;
	ob.tail = r;
	ob.len++;
}

outbox_rec_t *outbox_head(void)
{
	return ob.head;
}

size_t outbox_len(void)
{
	return ob.len;
}

void outbox_commit(size_t n)
{
	uint64_t now = clock_ms();
	for (; n > 0 && ob.head; n--) {
		outbox_rec_t *r = unlink_at(0);
		ob.latency_ms[ob.nlatency++ % LATENCY_WINDOW] = (uint32_t)(now - r->queued_ms);
		ob.written++;
		rec_free(r);
	}
}

void outbox_drop(size_t index)
{
	outbox_rec_t *r = unlink_at(index);
	if (!r)
		return;
	char what[300];
	describe(r, what, sizeof(what));
	log_error("postgres: dropping %s that the database refuses", what);
	ob.dropped++;
	rec_free(r);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

void outbox_status(json_t *o)
{
	uint64_t oldest = ob.head ? clock_ms() - ob.head->queued_ms : 0;
	json_object_set_new(o, "queued", json_integer((json_int_t)ob.len));
	json_object_set_new(o, "oldestQueuedMs", json_integer((json_int_t)oldest));
	json_object_set_new(o, "written", json_integer((json_int_t)ob.written));
	json_object_set_new(o, "queueMax", json_integer((json_int_t)(ob.max ? ob.max : OUTBOX_DEFAULT_MAX)));
	json_object_set_new(o, "shed", json_integer((json_int_t)ob.shed));
	json_object_set_new(o, "refused", json_integer((json_int_t)ob.dropped));
	size_t n = ob.nlatency < LATENCY_WINDOW ? ob.nlatency : LATENCY_WINDOW;
	if (n == 0)
		return;
	/* delay from a transition to its commit, over the last n */
	uint32_t *sorted = xmalloc(n * sizeof(*sorted));
	memcpy(sorted, ob.latency_ms, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), cmp_u32);
	json_object_set_new(o, "commitLatencyMs",
			    json_pack("{s:I, s:I, s:I, s:I}", "count", (json_int_t)n, "p50",
				      (json_int_t)sorted[(n - 1) / 2], "p99",
				      (json_int_t)sorted[(n * 99 + 99) / 100 - 1], "max",
				      (json_int_t)sorted[n - 1]));
	free(sorted);
}

void outbox_free(void)
{
	while (ob.head)
		rec_free(unlink_at(0));
	memset(&ob, 0, sizeof(ob));
}
