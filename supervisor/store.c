/* The Postgres writer: outbox -> pipelined idempotent upserts, never blocking the loop. */
#include "supervisor/store.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "supervisor/migrations.h"

#define BACKOFF_MIN_S 0.1
#define BACKOFF_MAX_S 5.0
#define CONNECT_TIMEOUT_S 10.0
#define BATCH_MAX 256
#define MIGRATION_LOCK "7435123901" /* pg_advisory_xact_lock key: "devsup" */
#define LATENCY_WINDOW 4096

/* One statement per transition: the history row (a re-send is a no-op thanks to
 * UNIQUE (project_id, seq)) and the current row ("latest wins": never back to an older seq). */
static const char upsert_sql[] =
	"WITH t AS ("
	" INSERT INTO devsup_transitions (project_id, runner_id, seq, from_state, to_state, reason, at)"
	" VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (project_id, seq) DO NOTHING) "
	"INSERT INTO devsup_dev_servers AS c (project_id, runner_id, status, port, pid, pgid,"
	" tunnel_url, framework, failure_reason, failure_message, seq, updated_at)"
	" VALUES ($1, $2, $5, $8, $9, $10, $14, $11, $12, $13, $3, $7)"
	" ON CONFLICT (project_id) DO UPDATE SET runner_id = EXCLUDED.runner_id,"
	" status = EXCLUDED.status, port = EXCLUDED.port, pid = EXCLUDED.pid, pgid = EXCLUDED.pgid,"
	" tunnel_url = EXCLUDED.tunnel_url, framework = EXCLUDED.framework,"
	" failure_reason = EXCLUDED.failure_reason, failure_message = EXCLUDED.failure_message,"
	" seq = EXCLUDED.seq, updated_at = EXCLUDED.updated_at"
	" WHERE c.seq < EXCLUDED.seq";

/* A tunnel reopened with a new URL (or closed) while the row's state stays the same. */
static const char tunnel_sql[] =
	"UPDATE devsup_dev_servers SET tunnel_url = $3 WHERE project_id = $1 AND seq = $2";

static const char leftover_sql[] =
	"SELECT project_id, status, seq FROM devsup_dev_servers"
	" WHERE runner_id = $1 AND status IN ('starting', 'running', 'stopping')"
	" ORDER BY project_id";

#define UPSERT_PARAMS 14

typedef struct rec {
	struct rec *next;
	bool tunnel; /* tunnel_sql (3 parameters) rather than upsert_sql */
	char *v[UPSERT_PARAMS]; /* the statement's parameters, as text (NULL for SQL NULL) */
	uint64_t queued_ms;
} rec_t;

typedef enum {
	ST_OFF,         /* persistence disabled */
	ST_BACKOFF,     /* waiting to reconnect */
	ST_CONNECTING,  /* PQconnectPoll */
	ST_LIST,        /* reading the applied migrations */
	ST_APPLY,       /* applying migrations[next] */
	ST_LEFTOVERS,   /* reading rows a previous devsup left live */
	ST_PREPARE,     /* pipeline entered, statement being prepared */
	ST_READY,       /* writing batches */
} store_state_t;

static struct {
	struct ev_loop *loop;
	char *url;
	char *runner_id;
	PGconn *conn;
	store_state_t state;
	ev_io io;
	ev_timer timer; /* backoff, connect timeout, flush timeout */
	double backoff;
	rec_t *head, *tail;
	size_t queued;
	size_t inflight; /* records at the head sent in the batch awaiting its sync */
	size_t answered; /* results of the batch seen so far */
	bool batch_error;
	long poison;     /* index in the batch of a record the database refuses, or -1 */
	bool *applied; /* per migration */
	size_t next_migration;
	json_t *result_rows; /* rows of the step in progress */
	bool leftovers_done; /* looked once per devsup, at the first connection */
	store_rows_cb on_rows;
	bool migrate_only;
	void (*migrated)(bool ok);
	uint64_t written; /* transitions committed since start */
	uint32_t latency_ms[LATENCY_WINDOW]; /* queue -> commit, the last LATENCY_WINDOW */
	uint64_t nlatency;
} st;

static void store_io_cb(struct ev_loop *loop, ev_io *w, int revents);
static void store_timer_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void store_connect(void);
static void store_send_batch(void);

static void notice_cb(void *arg, const PGresult *res)
{
	(void)arg;
	log_debug("postgres: %s", PQresultErrorMessage(res));
}

/* Watch the connection's socket; libpq may have replaced it, so set it anew every time. */
static void store_watch(int events)
{
	ev_io_stop(st.loop, &st.io);
	int fd = st.conn ? PQsocket(st.conn) : -1;
	if (fd < 0)
		return;
	ev_io_set(&st.io, fd, events);
	ev_io_start(st.loop, &st.io);
}

/* Drops the connection and schedules a new one; everything unwritten is sent again then. */
static void store_fail(const char *what)
{
	const char *err = st.conn ? PQerrorMessage(st.conn) : "";
	log_warn("postgres: %s: %s; reconnecting in %.1f s (%zu transitions queued)", what,
		 err && *err ? err : "connection lost", st.backoff, st.queued);
	/* stop watching before libpq closes the fd (libev's rule) */
	ev_io_stop(st.loop, &st.io);
	if (st.conn)
		PQfinish(st.conn);
	st.conn = NULL;
	st.inflight = 0;
	st.batch_error = false;
	json_decref(st.result_rows);
	st.result_rows = NULL;
	if (st.migrate_only) {
		st.state = ST_OFF;
		st.migrated(false);
		return;
	}
	st.state = ST_BACKOFF;
	ev_timer_stop(st.loop, &st.timer);
	ev_timer_set(&st.timer, st.backoff, 0.);
	ev_timer_start(st.loop, &st.timer);
	st.backoff = st.backoff * 2 > BACKOFF_MAX_S ? BACKOFF_MAX_S : st.backoff * 2;
}

/* After a PQsend*: push it out, and wait for the answer (and for writability if not all of
 * it left). */
static void store_flush_out(void)
{
	int r = PQflush(st.conn);
	if (r < 0) {
		store_fail("send");
		return;
	}
	store_watch(r == 1 ? EV_READ | EV_WRITE : EV_READ);
}

static void store_send_query(const char *sql)
{
	if (!PQsendQuery(st.conn, sql)) {
		store_fail("query");
		return;
	}
	store_flush_out();
}

static void store_list_migrations(void)
{
	st.state = ST_LIST;
	/* One implicit transaction: the lock serialises several runners starting together. */
	store_send_query("SELECT pg_advisory_xact_lock(" MIGRATION_LOCK ");"
			 " CREATE TABLE IF NOT EXISTS devsup_schema_migrations ("
			 "  version integer PRIMARY KEY, name text NOT NULL,"
			 "  applied_at timestamptz NOT NULL DEFAULT now());"
			 " SELECT version FROM devsup_schema_migrations ORDER BY version");
}

static void store_read_leftovers(void);

static void store_apply_next(void)
{
	while (st.next_migration < migrations_count && st.applied[st.next_migration])
		st.next_migration++;
	if (st.next_migration == migrations_count) {
		if (st.migrate_only) {
			log_info("postgres: schema is up to date (%zu migrations)", migrations_count);
			ev_io_stop(st.loop, &st.io);
			PQfinish(st.conn);
			st.conn = NULL;
			st.state = ST_OFF;
			st.migrated(true);
			return;
		}
		store_read_leftovers();
		return;
	}
	const migration_t *m = &migrations[st.next_migration];
	/* The file, the lock and the record in one implicit transaction: a failing file leaves
	 * neither its tables nor its row. ON CONFLICT: another runner may have been first. */
	size_t n = strlen(m->sql) + strlen(m->name) + 256;
	char *q = xmalloc(n);
	snprintf(q, n,
		 "SELECT pg_advisory_xact_lock(" MIGRATION_LOCK ");\n%s;\n"
		 "INSERT INTO devsup_schema_migrations (version, name) VALUES (%d, '%s')"
		 " ON CONFLICT (version) DO NOTHING",
		 m->sql, m->version, m->name);
	st.state = ST_APPLY;
	log_info("postgres: applying migration %s", m->name);
	store_send_query(q);
	free(q);
}

static void store_read_leftovers(void)
{
	if (st.leftovers_done || !st.on_rows) {
		st.leftovers_done = true;
		goto prepare;
	}
	st.state = ST_LEFTOVERS;
	const char *params[1] = {st.runner_id};
	if (!PQsendQueryParams(st.conn, leftover_sql, 1, NULL, params, NULL, NULL, 0)) {
		store_fail("query");
		return;
	}
	store_flush_out();
	return;
prepare:
	st.state = ST_PREPARE;
	if (!PQenterPipelineMode(st.conn) ||
	    !PQsendPrepare(st.conn, "upsert", upsert_sql, UPSERT_PARAMS, NULL) ||
	    !PQsendPrepare(st.conn, "tunnel", tunnel_sql, 3, NULL) || !PQpipelineSync(st.conn)) {
		store_fail("prepare");
		return;
	}
	store_flush_out();
}

static void store_connected(void)
{
	ev_timer_stop(st.loop, &st.timer);
	if (PQsetnonblocking(st.conn, 1) != 0) {
		store_fail("non-blocking mode");
		return;
	}
	log_info("postgres: connected");
	free(st.applied);
	st.applied = xcalloc(migrations_count ? migrations_count : 1, sizeof(bool));
	st.next_migration = 0;
	store_list_migrations();
}

static void store_connect(void)
{
	const char *keys[] = {"dbname", "application_name", "options", "keepalives",
			      "keepalives_idle", "keepalives_interval", "keepalives_count",
			      "tcp_user_timeout", NULL};
	/* synchronous_commit=on: a batch acknowledged by its sync point survives a crash */
	const char *vals[] = {st.url, "devsup", "-c synchronous_commit=on", "1", "10", "5", "3",
			      "20000", NULL};
	st.conn = PQconnectStartParams(keys, vals, 1);
	if (!st.conn || PQstatus(st.conn) == CONNECTION_BAD) {
		store_fail("connect");
		return;
	}
	PQsetNoticeReceiver(st.conn, notice_cb, NULL);
	st.state = ST_CONNECTING;
	/* libpq's connect_timeout is not applied in this mode: our own timer */
	ev_timer_stop(st.loop, &st.timer);
	ev_timer_set(&st.timer, CONNECT_TIMEOUT_S, 0.);
	ev_timer_start(st.loop, &st.timer);
	store_watch(EV_WRITE); /* as if PGRES_POLLING_WRITING came first */
}

static void store_connect_poll(void)
{
	switch (PQconnectPoll(st.conn)) {
	case PGRES_POLLING_READING:
		store_watch(EV_READ);
		break;
	case PGRES_POLLING_WRITING:
		store_watch(EV_WRITE);
		break;
	case PGRES_POLLING_OK:
		store_connected();
		break;
	default:
		store_fail("connect");
	}
}

static rec_t *store_pop(void)
{
	rec_t *r = st.head;
	st.head = r->next;
	if (!st.head)
		st.tail = NULL;
	st.queued--;
	return r;
}

static void rec_free(rec_t *r)
{
	for (size_t i = 0; i < ARRAY_LEN(r->v); i++)
		free(r->v[i]);
	free(r);
}

/* A step's result outside pipeline mode. False when it failed (and the connection is gone). */
static bool store_step_result(PGresult *res)
{
	ExecStatusType s = PQresultStatus(res);
	if (s == PGRES_TUPLES_OK) {
		json_decref(st.result_rows);
		st.result_rows = json_array();
		for (int i = 0; i < PQntuples(res); i++) {
			json_t *row = json_array();
			for (int c = 0; c < PQnfields(res); c++)
				json_array_append_new(row, json_string(PQgetvalue(res, i, c)));
			json_array_append_new(st.result_rows, row);
		}
		return true;
	}
	if (s == PGRES_COMMAND_OK)
		return true;
	log_error("postgres: %s", PQresultErrorMessage(res));
	return false;
}

/* The step's results are all in: move on. */
static void store_step_done(void)
{
	json_t *rows = st.result_rows;
	st.result_rows = NULL;
	switch (st.state) {
	case ST_LIST: {
		size_t i;
		json_t *row;
		json_array_foreach(rows, i, row)
		{
			int v = atoi(json_string_value(json_array_get(row, 0)));
			for (size_t k = 0; k < migrations_count; k++)
				if (migrations[k].version == v)
					st.applied[k] = true;
		}
		store_apply_next();
		break;
	}
	case ST_APPLY:
		st.applied[st.next_migration] = true;
		store_apply_next();
		break;
	case ST_LEFTOVERS: {
		json_t *list = json_array();
		size_t i;
		json_t *row;
		json_array_foreach(rows, i, row)
		{
			json_array_append_new(
				list, json_pack("{s:O, s:O, s:I}", "projectId", json_array_get(row, 0),
						"status", json_array_get(row, 1), "seq",
						(json_int_t)strtoll(json_string_value(json_array_get(row, 2)),
								    NULL, 10)));
		}
		st.leftovers_done = true;
		st.on_rows(list);
		json_decref(list);
		store_read_leftovers(); /* now prepares */
		break;
	}
	default:
		break;
	}
	json_decref(rows);
}

/* An error that no retry can fix (bad data, a constraint, a schema mismatch), as opposed to a
 * lost connection or a server going down, which resending fixes. */
static bool is_data_error(const PGresult *res)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	/* 22: data exception, 23: integrity constraint, 42: syntax or access rule */
	return state && (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0 ||
			 strncmp(state, "42", 2) == 0);
}

/* Removes the index-th queued record: the database refuses it for good, and keeping it would
 * block every transition behind it. Loudly, since a transition is lost. */
static void drop_poison(size_t index)
{
	rec_t **pp = &st.head, *prev = NULL;
	for (size_t i = 0; i < index && *pp; i++) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	rec_t *r = *pp;
	if (!r)
		return;
	if (r->tunnel)
		log_error("postgres: dropping the tunnel URL update of %s that the database refuses",
			  r->v[0]);
	else
		log_error("postgres: dropping transition %s seq %s (%s -> %s) that the database "
			  "refuses",
			  r->v[0], r->v[2], r->v[3], r->v[4]);
	*pp = r->next;
	if (st.tail == r)
		st.tail = prev;
	st.queued--;
	rec_free(r);
}

/* Pipeline results: each statement's result, then PGRES_PIPELINE_SYNC for the batch. */
static void store_pipeline_results(void)
{
	while (st.conn && !PQisBusy(st.conn)) {
		PGresult *res = PQgetResult(st.conn);
		if (!res) {
			/* between two statements' results; stop when nothing more is expected */
			if (st.state == ST_READY && st.inflight == 0)
				return;
			continue;
		}
		ExecStatusType s = PQresultStatus(res);
		if (s == PGRES_PIPELINE_SYNC) {
			PQclear(res);
			if (st.batch_error && st.poison >= 0 && PQstatus(st.conn) == CONNECTION_OK) {
				drop_poison((size_t)st.poison);
				st.inflight = 0;
				st.batch_error = false;
				store_send_batch(); /* the rest again, on the same connection */
				return;
			}
			if (st.batch_error) {
				store_fail("batch");
				return;
			}
			if (st.state == ST_PREPARE) {
				st.state = ST_READY;
				st.backoff = BACKOFF_MIN_S;
				log_info("postgres: ready (%zu transitions queued)", st.queued);
			} else {
				/* the batch is durable: only now does it leave the outbox */
				uint64_t now = clock_ms();
				for (; st.inflight > 0; st.inflight--) {
					rec_t *r = store_pop();
					st.latency_ms[st.nlatency++ % LATENCY_WINDOW] =
						(uint32_t)(now - r->queued_ms);
					st.written++;
					rec_free(r);
				}
			}
			store_send_batch();
			return;
		}
		if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK && s != PGRES_PIPELINE_ABORTED &&
		    !st.batch_error) {
			st.batch_error = true;
			st.poison = is_data_error(res) && st.state == ST_READY ? (long)st.answered : -1;
			const char *code = PQresultErrorField(res, PG_DIAG_SQLSTATE);
			log_error("postgres: %s(SQLSTATE %s)", PQresultErrorMessage(res),
				  code ? code : "none");
		}
		st.answered++;
		PQclear(res);
	}
}

static void store_read(void)
{
	if (!PQconsumeInput(st.conn)) {
		store_fail("read");
		return;
	}
	if (st.state == ST_PREPARE || st.state == ST_READY) {
		store_pipeline_results();
		return;
	}
	while (st.conn && !PQisBusy(st.conn)) {
		PGresult *res = PQgetResult(st.conn);
		if (!res) {
			store_step_done();
			return;
		}
		bool ok = store_step_result(res);
		PQclear(res);
		if (!ok) {
			/* drain this step's results, then give up on this connection */
			store_fail("schema");
			return;
		}
	}
}

static void store_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)w;
	if (st.state == ST_CONNECTING) {
		store_connect_poll();
		return;
	}
	if (revents & EV_WRITE) {
		int r = PQflush(st.conn);
		if (r < 0) {
			store_fail("send");
			return;
		}
		store_watch(r == 1 ? EV_READ | EV_WRITE : EV_READ);
	}
	if (st.conn && (revents & EV_READ))
		store_read();
}

static void store_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	if (st.state == ST_CONNECTING) {
		store_fail("connect timed out");
		return;
	}
	if (st.state == ST_BACKOFF)
		store_connect();
}

static void store_send_batch(void)
{
	if (st.state != ST_READY || st.inflight > 0 || st.queued == 0)
		return;
	size_t n = 0;
	for (rec_t *r = st.head; r && n < BATCH_MAX; r = r->next, n++) {
		if (!PQsendQueryPrepared(st.conn, r->tunnel ? "tunnel" : "upsert",
					 r->tunnel ? 3 : UPSERT_PARAMS, (const char *const *)r->v, NULL,
					 NULL, 0)) {
			store_fail("send");
			return;
		}
	}
	if (!PQpipelineSync(st.conn)) {
		store_fail("sync");
		return;
	}
	st.inflight = n;
	st.answered = 0;
	st.batch_error = false;
	st.poison = -1;
	store_flush_out();
}

static char *opt_int(int v)
{
	char buf[16];
	if (v <= 0)
		return NULL;
	snprintf(buf, sizeof(buf), "%d", v);
	return xstrdup(buf);
}

static char *opt_str(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static void store_enqueue(rec_t *r)
{
	r->queued_ms = clock_ms();
	if (st.tail)
		st.tail->next = r;
	else
		st.head = r;
	st.tail = r;
	st.queued++;
	store_send_batch();
}

void store_transition(const store_transition_t *t)
{
	if (st.state == ST_OFF)
		return;
	rec_t *r = xcalloc(1, sizeof(*r));
	char buf[32];
	r->v[0] = xstrdup(t->project_id);
	r->v[1] = xstrdup(st.runner_id);
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)t->seq);
	r->v[2] = xstrdup(buf);
	r->v[3] = xstrdup(t->from);
	r->v[4] = xstrdup(t->to);
	r->v[5] = opt_str(t->reason);
	time_iso8601(t->at_ms, buf, sizeof(buf));
	r->v[6] = xstrdup(buf);
	r->v[7] = opt_int(t->port);
	r->v[8] = opt_int(t->pid);
	r->v[9] = opt_int(t->pgid);
	r->v[10] = opt_str(t->framework);
	r->v[11] = opt_str(t->failure_reason);
	r->v[12] = opt_str(t->failure_message);
	r->v[13] = opt_str(t->tunnel_url);
	store_enqueue(r);
}

void store_tunnel_url(const char *project_id, uint64_t seq, const char *url)
{
	if (st.state == ST_OFF)
		return;
	rec_t *r = xcalloc(1, sizeof(*r));
	char buf[32];
	r->tunnel = true;
	r->v[0] = xstrdup(project_id);
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)seq);
	r->v[1] = xstrdup(buf);
	r->v[2] = opt_str(url);
	store_enqueue(r);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

json_t *store_status_json(void)
{
	uint64_t oldest = st.head ? clock_ms() - st.head->queued_ms : 0;
	json_t *o = json_pack("{s:b, s:b, s:I, s:I, s:I}", "enabled", st.state != ST_OFF,
			      "connected", st.state == ST_READY, "queued", (json_int_t)st.queued,
			      "oldestQueuedMs", (json_int_t)oldest, "written", (json_int_t)st.written);
	size_t n = st.nlatency < LATENCY_WINDOW ? st.nlatency : LATENCY_WINDOW;
	if (n > 0) {
		/* delay from a transition to its commit, over the last n */
		uint32_t *sorted = xmalloc(n * sizeof(*sorted));
		memcpy(sorted, st.latency_ms, n * sizeof(*sorted));
		qsort(sorted, n, sizeof(*sorted), cmp_u32);
		json_object_set_new(o, "commitLatencyMs",
				    json_pack("{s:I, s:I, s:I, s:I}", "count", (json_int_t)n, "p50",
					      (json_int_t)sorted[(n - 1) / 2], "p99",
					      (json_int_t)sorted[(n * 99 + 99) / 100 - 1], "max",
					      (json_int_t)sorted[n - 1]));
		free(sorted);
	}
	return o;
}

size_t store_unwritten(void)
{
	return st.state == ST_OFF ? 0 : st.queued;
}

static void store_setup(struct ev_loop *loop, const char *url, const char *runner_id)
{
	memset(&st, 0, sizeof(st));
	st.loop = loop;
	st.url = xstrdup(url);
	st.runner_id = xstrdup(runner_id ? runner_id : "");
	st.backoff = BACKOFF_MIN_S;
	ev_init(&st.io, store_io_cb);
	ev_init(&st.timer, store_timer_cb);
}

void store_init(struct ev_loop *loop, const char *url, const char *runner_id,
		store_rows_cb on_leftover_rows)
{
	if (!url) {
		memset(&st, 0, sizeof(st));
		st.state = ST_OFF;
		return;
	}
	store_setup(loop, url, runner_id);
	st.on_rows = on_leftover_rows;
	store_connect();
}

void store_migrate_only(struct ev_loop *loop, const char *url, void (*done)(bool ok))
{
	store_setup(loop, url, NULL);
	st.migrate_only = true;
	st.migrated = done;
	store_connect();
}

void store_free(void)
{
	if (st.loop) {
		ev_io_stop(st.loop, &st.io);
		ev_timer_stop(st.loop, &st.timer);
	}
	if (st.conn)
		PQfinish(st.conn);
	st.conn = NULL;
	while (st.head)
		rec_free(store_pop());
	json_decref(st.result_rows);
	free(st.applied);
	free(st.url);
	free(st.runner_id);
	memset(&st, 0, sizeof(st));
}
