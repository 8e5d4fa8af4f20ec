/* The Postgres writer: outbox -> pipelined idempotent upserts, never blocking the loop. */
#include "supervisor/store.h"

#include <errno.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "supervisor/migrations.h"
#include "supervisor/store_claim.h"
#include "supervisor/store_conn.h"
#include "supervisor/store_outbox.h"
#include "supervisor/store_sql.h"

#define BACKOFF_MIN_S 0.1
#define BACKOFF_MAX_S 5.0
#define CONNECT_TIMEOUT_S 10.0 /* resolving and connecting, together */
#define BATCH_MAX 256

#define UPSERT_PARAMS OUTBOX_PARAMS

typedef outbox_rec_t rec_t;

typedef enum {
	ST_OFF,         /* persistence disabled */
	ST_BACKOFF,     /* waiting to reconnect */
	ST_RESOLVING,   /* host names looked up on a thread */
	ST_CONNECTING,  /* PQconnectPoll */
	ST_LIST,        /* reading the applied migrations, read-only */
	ST_LOCK_LIST,   /* behind: under the migration lock, creating the table, reading again */
	ST_APPLY,       /* applying migrations[next] */
	ST_FLOOR,       /* reading the highest seq in the database */
	ST_LEFTOVERS,   /* reading rows a previous devsup left live */
	ST_RUNNER,      /* upserting devsup_runners, taking the liveness lock */
	ST_PREPARE,     /* pipeline entered, statements being prepared */
	ST_READY,       /* writing batches */
} store_state_t;

static struct {
	struct ev_loop *loop;
	char *url;
	char *runner_id;
	char *runner_params[7]; /* store_sql_runner's parameters */
	conn_params_t params; /* of the attempt in progress */
	char problem[512];    /* why the writer cannot write, for status; "" when none */
	PGconn *conn;
	store_state_t state;
	ev_io io;
	ev_timer timer; /* backoff, connect timeout, flush timeout */
	double backoff;
	size_t inflight; /* records at the head sent in the batch awaiting its sync */
	size_t answered; /* results of the batch seen so far */
	rec_t *answering; /* the record whose result comes next */
	bool batch_error;
	bool unnamed;    /* prepared statements do not survive here: PQsendQueryParams */
	long poison;     /* index in the batch of a record the database refuses, or -1 */
	bool *applied; /* per migration */
	size_t next_migration;
	json_t *result_rows; /* rows of the step in progress */
	bool leftovers_done; /* looked once per devsup, at the first connection */
	store_rows_cb on_rows;
	void (*on_seq_floor)(uint64_t floor);
	store_lost_cb on_lost;
	void (*on_connected)(void);
	bool migrate_only;
	void (*migrated)(bool ok);
} st;

static void store_io_cb(struct ev_loop *loop, ev_io *w, int revents);
static void store_timer_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void store_connect(void);
static void store_send_batch(void);
static void store_pump(void);

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

/* Drops the connection and schedules a new one; everything unwritten is sent again then.
 * detail: what went wrong when there is no connection to ask. */
static void store_fail_because(const char *what, const char *detail)
{
	const char *err = st.conn ? PQerrorMessage(st.conn) : NULL;
	if (!err || !*err)
		err = detail ? detail : "connection lost";
	log_warn("postgres: %s: %s; reconnecting in %.1f s (%zu transitions queued)", what, err,
		 st.backoff, outbox_len());
	/* stop watching before libpq closes the fd (libev's rule) */
	ev_io_stop(st.loop, &st.io);
	if (st.conn)
		PQfinish(st.conn);
	st.conn = NULL;
	conn_resolve_cancel();
	st.inflight = 0;
	st.answering = NULL;
	st.batch_error = false;
	claim_drop_refusals(); /* that batch is sent again, and asked again */
	json_decref(st.result_rows);
	st.result_rows = NULL;
	claim_fail_all(); /* unreachable: those starts go ahead as without a database */
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

static void store_fail(const char *what)
{
	store_fail_because(what, NULL);
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

static void store_send_params(const char *sql, int n, const char *const *params)
{
	if (!PQsendQueryParams(st.conn, sql, n, NULL, params, NULL, NULL, 0)) {
		store_fail("query");
		return;
	}
	store_flush_out();
}

static size_t applied_count(void)
{
	size_t n = 0;
	for (size_t k = 0; k < migrations_count; k++)
		n += st.applied[k];
	return n;
}

/* Behind: take the migration lock (serialising several runners starting together), make sure
 * the migrations table exists, and read it again under the lock. */
static void store_lock_and_list(void)
{
	st.state = ST_LOCK_LIST;
	store_send_query(store_sql_lock_list);
}

static void store_after_schema(void);

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
		store_after_schema();
		return;
	}
	const migration_t *m = &migrations[st.next_migration];
	/* The file, the lock and the record in one implicit transaction: a failing file leaves
	 * neither its tables nor its row. ON CONFLICT: another runner may have been first. */
	size_t n = strlen(m->sql) + strlen(m->name) + 256;
	char *q = xmalloc(n);
	snprintf(q, n,
		 "SELECT pg_advisory_xact_lock(" STORE_SQL_MIGRATION_LOCK ");\n%s;\n"
		 "INSERT INTO devsup_schema_migrations (version, name) VALUES (%d, '%s')"
		 " ON CONFLICT (version) DO NOTHING",
		 m->sql, m->version, m->name);
	st.state = ST_APPLY;
	log_info("postgres: applying migration %s", m->name);
	store_send_query(q);
	free(q);
}

/* The schema is current: learn the seq floor, then (once per devsup) the leftover rows, then
 * write. No DDL and no lock on this path. */
static void store_after_schema(void)
{
	st.state = ST_FLOOR;
	store_send_query(store_sql_floor);
}

/* The statements of the outbox's records, by kind. */
static const struct {
	const char *name, *sql;
	int n;
} stmts[] = {
	[OUTBOX_TRANSITION] = {"upsert", store_sql_upsert, UPSERT_PARAMS},
	[OUTBOX_TUNNEL] = {"tunnel", store_sql_tunnel, 3},
	[OUTBOX_RUNNER_STOPPED] = {"runner_stopped", store_sql_runner_stopped, 1},
	[OUTBOX_HOLD] = {"hold", store_sql_hold, 2},
};

static void store_ready(void)
{
	st.state = ST_READY;
	st.backoff = BACKOFF_MIN_S;
	st.problem[0] = '\0';
	log_info("postgres: ready (%zu transitions queued)", outbox_len());
	if (st.on_connected)
		st.on_connected(); /* queues its holds behind what is queued */
	store_pump();
}

/* Pipeline mode, and the statements prepared once per session (parsing the upsert for every
 * transition cost about half the writer's throughput). Behind a pooler that does not keep a
 * session (PgBouncer in transaction mode) a prepared statement vanishes: SQLSTATE 26000 turns
 * on unnamed statements for good (store_pipeline_results). */
static void store_pipeline(void)
{
	if (!PQenterPipelineMode(st.conn)) {
		store_fail("pipeline mode");
		return;
	}
	if (st.unnamed) {
		store_watch(EV_READ);
		store_ready();
		return;
	}
	st.state = ST_PREPARE;
	for (size_t k = 0; k < ARRAY_LEN(stmts); k++) {
		if (!PQsendPrepare(st.conn, stmts[k].name, stmts[k].sql, stmts[k].n, NULL)) {
			store_fail("prepare");
			return;
		}
	}
	if (!PQsendPrepare(st.conn, "claim", store_sql_claim, 1, NULL)) {
		store_fail("prepare");
		return;
	}
	if (!PQpipelineSync(st.conn)) {
		store_fail("prepare");
		return;
	}
	store_flush_out();
}

static void store_register_runner(void)
{
	st.state = ST_RUNNER;
	store_send_params(store_sql_runner, 7, (const char *const *)st.runner_params);
}

static void store_read_leftovers(void)
{
	if (st.leftovers_done || !st.on_rows) {
		st.leftovers_done = true;
		store_register_runner();
		return;
	}
	st.state = ST_LEFTOVERS;
	const char *params[1] = {st.runner_id};
	store_send_params(store_sql_leftover, 1, params);
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
	st.state = ST_LIST;
	store_send_query(store_sql_list);
}

/* PQconnectStartParams with the parameters of this attempt: no name left to resolve. */
static void store_connect_now(void)
{
	st.conn = PQconnectStartParams((const char *const *)st.params.keys,
				       (const char *const *)st.params.vals, 0);
	if (!st.conn || PQstatus(st.conn) == CONNECTION_BAD) {
		store_fail("connect");
		return;
	}
	PQsetNoticeReceiver(st.conn, notice_cb, NULL);
	st.state = ST_CONNECTING;
	store_watch(EV_WRITE); /* as if PGRES_POLLING_WRITING came first */
}

static void store_resolved(bool ok, const char *err)
{
	if (st.state != ST_RESOLVING)
		return;
	if (!ok) {
		snprintf(st.problem, sizeof(st.problem), "%s", err);
		store_fail_because("resolve", err);
		return;
	}
	store_connect_now();
}

static void store_connect(void)
{
	char err[256];
	conn_params_free(&st.params);
	if (!conn_params_build(&st.params, st.url, err, sizeof(err))) {
		snprintf(st.problem, sizeof(st.problem), "the database URL is not valid: %s", err);
		store_fail_because("database URL", err);
		return;
	}
	/* libpq's connect_timeout is not applied in this mode: our own timer, which also bounds
	 * the look-up */
	ev_timer_stop(st.loop, &st.timer);
	ev_timer_set(&st.timer, CONNECT_TIMEOUT_S, 0.);
	ev_timer_start(st.loop, &st.timer);
	if (!conn_needs_resolution(&st.params)) {
		store_connect_now();
		return;
	}
	/* PQconnectStartParams would call getaddrinfo here and block the loop */
	st.state = ST_RESOLVING;
	if (!conn_resolve_start(st.loop, &st.params, store_resolved))
		store_fail_because("resolve", strerror(errno));
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

static const char *sqlstate(const PGresult *res)
{
	const char *s = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	return s ? s : "";
}

/* The schema is behind and this connection could not bring it forward: say why in the log and
 * in status, with what a person can do. */
static void store_schema_problem(const PGresult *res)
{
	const char *msg = PQresultErrorMessage(res);
	size_t len = strcspn(msg, "\n");
	snprintf(st.problem, sizeof(st.problem),
		 "the database schema is behind (%zu of %zu migrations applied) and role \"%s\" "
		 "could not bring it forward: %.*s (SQLSTATE %s). Run `devsup --migrate --db URL` "
		 "once as the role that owns the schema; this devsup keeps retrying",
		 applied_count(), migrations_count, PQuser(st.conn), (int)len, msg, sqlstate(res));
	log_error("postgres: %s", st.problem);
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
	if (st.state == ST_LIST && strcmp(sqlstate(res), "42P01") == 0) {
		/* no migrations table yet: nothing applied */
		json_decref(st.result_rows);
		st.result_rows = json_array();
		return true;
	}
	if (st.state == ST_LOCK_LIST || st.state == ST_APPLY)
		store_schema_problem(res);
	else
		log_error("postgres: %s", PQresultErrorMessage(res));
	return false;
}

static void mark_applied(json_t *rows)
{
	size_t i;
	json_t *row;
	json_array_foreach(rows, i, row)
	{
		int v = atoi(json_string_value(json_array_get(row, 0)));
		for (size_t k = 0; k < migrations_count; k++)
			if (migrations[k].version == v)
				st.applied[k] = true;
	}
}

static void leftovers_done(json_t *rows)
{
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
}

/* The step's results are all in: move on. */
static void store_step_done(void)
{
	json_t *rows = st.result_rows;
	st.result_rows = NULL;
	switch (st.state) {
	case ST_LIST:
		mark_applied(rows);
		if (applied_count() == migrations_count && !st.migrate_only)
			store_after_schema();
		else
			store_lock_and_list();
		break;
	case ST_LOCK_LIST:
		mark_applied(rows);
		store_apply_next();
		break;
	case ST_APPLY:
		st.applied[st.next_migration] = true;
		store_apply_next();
		break;
	case ST_FLOOR: {
		const char *v = json_string_value(json_array_get(json_array_get(rows, 0), 0));
		if (v && st.on_seq_floor)
			st.on_seq_floor(strtoull(v, NULL, 10));
		store_read_leftovers();
		break;
	}
	case ST_LEFTOVERS:
		leftovers_done(rows);
		store_register_runner();
		break;
	case ST_RUNNER: {
		const char *v = json_string_value(json_array_get(json_array_get(rows, 0), 0));
		if (!v || strcmp(v, "t") != 0)
			log_error("postgres: runner id %s is held by another connected devsup: "
				  "devsup_runner_status shows one of them alive; give each devsup its own "
				  "--runner-id",
				  st.runner_id);
		store_pipeline();
		break;
	}
	default:
		break;
	}
	json_decref(rows);
}

/* An error that no retry can fix: the data itself (22: data exception, 23: a constraint). A
 * lost connection, a server going down, a privilege revoked for a moment or a table being
 * rebuilt (class 42: 42501, 42P01) are fixed by resending later, so those are retried. */
static bool is_data_error(const PGresult *res)
{
	const char *state = sqlstate(res);
	return strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0;
}

/* A batch's sync point arrived. */
static void store_batch_synced(void)
{
	if (st.batch_error && st.poison >= 0 && PQstatus(st.conn) == CONNECTION_OK) {
		/* the database refuses that record for good, and keeping it would block every
		 * transition behind it: dropped (loudly), the rest sent again */
		outbox_drop((size_t)st.poison);
		st.inflight = 0;
		st.answering = NULL;
		st.batch_error = false;
		claim_drop_refusals();
		store_send_batch();
		return;
	}
	if (st.batch_error) {
		store_fail("batch");
		return;
	}
	if (st.state == ST_PREPARE) {
		store_ready();
		return;
	}
	/* the batch is durable: only now does it leave the outbox, and only now is a refusal in it
	 * a fact (the loser stops: its stop is queued behind) */
	outbox_commit(st.inflight);
	st.inflight = 0;
	st.answering = NULL;
	claim_deliver_refusals(st.on_lost);
	store_pump();
}

/* Pipeline results: each statement's result, then PGRES_PIPELINE_SYNC for the batch. */
static void store_pipeline_results(void)
{
	while (st.conn && !PQisBusy(st.conn)) {
		PGresult *res = PQgetResult(st.conn);
		if (!res) {
			/* between two statements' results; stop when nothing more is expected */
			if (st.state == ST_READY && st.inflight == 0 && !claim_in_flight())
				return;
			continue;
		}
		ExecStatusType s = PQresultStatus(res);
		if (st.state == ST_READY && claim_in_flight()) {
			/* an ownership check's answer (never mixed with a batch) */
			if (s == PGRES_PIPELINE_SYNC)
				claim_synced();
			else
				claim_result(res);
			PQclear(res);
			if (s == PGRES_PIPELINE_SYNC)
				store_pump();
			continue;
		}
		if (s == PGRES_PIPELINE_SYNC) {
			PQclear(res);
			store_batch_synced();
			return;
		}
		if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK && s != PGRES_PIPELINE_ABORTED &&
		    !st.batch_error) {
			st.batch_error = true;
			st.poison = is_data_error(res) && st.state == ST_READY ? (long)st.answered : -1;
			if (strcmp(sqlstate(res), "26000") == 0 && !st.unnamed) {
				log_warn("postgres: a prepared statement vanished from the session (a "
					 "pooler in transaction mode?): sending unnamed statements from "
					 "now on");
				st.unnamed = true;
			}
			log_error("postgres: %s(SQLSTATE %s)%s", PQresultErrorMessage(res),
				  *sqlstate(res) ? sqlstate(res) : "none",
				  st.poison < 0 ? "; retrying with backoff" : "");
		}
		/* a batch's records are answered in order (prepares and steps are no records) */
		rec_t *rec = st.state == ST_READY && st.answered < st.inflight ? st.answering : NULL;
		if (rec) {
			st.answering = rec->next;
			if (rec->kind == OUTBOX_TRANSITION || rec->kind == OUTBOX_HOLD)
				claim_note_refusal(res, rec->v[0], rec->v[2]);
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
	if (st.state == ST_RESOLVING) {
		snprintf(st.problem, sizeof(st.problem),
			 "resolving the database host took longer than %.0f s", CONNECT_TIMEOUT_S);
		store_fail_because("resolve", "timed out");
		return;
	}
	if (st.state == ST_CONNECTING) {
		store_fail("connect timed out");
		return;
	}
	if (st.state == ST_BACKOFF)
		store_connect();
}

/* What the pipeline carries next: the ownership checks first (a start waits on each), then a
 * batch once they are answered. */
static void store_pump(void)
{
	if (st.state != ST_READY || st.inflight > 0)
		return;
	if (!claim_send(st.conn, st.unnamed)) {
		store_fail("send");
		return;
	}
	if (claim_in_flight()) {
		store_flush_out();
		return;
	}
	store_send_batch();
}

bool store_claim(const char *project_id, store_claim_cb cb, void *ctx)
{
	if (st.state != ST_READY)
		return false;
	claim_add(project_id, cb, ctx);
	store_pump();
	return true;
}

static void store_send_batch(void)
{
	if (st.state != ST_READY || st.inflight > 0 || claim_in_flight() || outbox_len() == 0)
		return;
	size_t n = 0;
	for (rec_t *r = outbox_head(); r && n < BATCH_MAX; r = r->next, n++) {
		int ok = st.unnamed ? PQsendQueryParams(st.conn, stmts[r->kind].sql, stmts[r->kind].n,
							NULL, (const char *const *)r->v, NULL, NULL, 0)
				    : PQsendQueryPrepared(st.conn, stmts[r->kind].name, stmts[r->kind].n,
							  (const char *const *)r->v, NULL, NULL, 0);
		if (!ok) {
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
	st.answering = outbox_head();
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
	outbox_push(r, st.inflight);
	store_pump();
}

void store_transition(const store_transition_t *t)
{
	if (st.state == ST_OFF)
		return;
	rec_t *r = xcalloc(1, sizeof(*r));
	char buf[32];
	r->v[0] = xstrdup(t->project_id);
	r->v[1] = xstrdup(t->runner_id ? t->runner_id : st.runner_id);
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

void store_hold(const char *project_id, uint64_t seq)
{
	if (st.state == ST_OFF)
		return;
	rec_t *r = xcalloc(1, sizeof(*r));
	char buf[32];
	r->kind = OUTBOX_HOLD;
	r->v[0] = xstrdup(project_id);
	r->v[1] = xstrdup(st.runner_id);
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)seq);
	r->v[2] = xstrdup(buf);
	store_enqueue(r);
}

void store_tunnel_url(const char *project_id, uint64_t seq, const char *url)
{
	if (st.state == ST_OFF)
		return;
	rec_t *r = xcalloc(1, sizeof(*r));
	char buf[32];
	r->kind = OUTBOX_TUNNEL;
	r->v[0] = xstrdup(project_id);
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)seq);
	r->v[1] = xstrdup(buf);
	r->v[2] = opt_str(url);
	store_enqueue(r);
}

json_t *store_status_json(void)
{
	json_t *o = json_pack("{s:b, s:b}", "enabled", st.state != ST_OFF, "connected",
			      st.state == ST_READY);
	outbox_status(o);
	if (st.problem[0])
		json_object_set_new(o, "problem", json_string(st.problem));
	return o;
}

size_t store_unwritten(void)
{
	return st.state == ST_OFF ? 0 : outbox_len();
}

void store_closing(void)
{
	/* a shutdown: starts still waiting for the database are answered now, while the output
	 * is still being written (they are refused: devsup accepts no start any more) */
	claim_fail_all();
	if (st.state == ST_READY && !st.migrate_only) {
		/* a clean exit: the runner's stop time, last (only when connected: a database that
		 * is away must not make the exit wait; alive is false then anyway) */
		rec_t *r = xcalloc(1, sizeof(*r));
		r->kind = OUTBOX_RUNNER_STOPPED;
		r->v[0] = xstrdup(st.runner_id);
		store_enqueue(r);
	}
}

static void store_setup(struct ev_loop *loop, const char *url, const char *runner_id,
			size_t queue_max)
{
	memset(&st, 0, sizeof(st));
	st.loop = loop;
	st.url = xstrdup(url);
	st.runner_id = xstrdup(runner_id ? runner_id : "");
	st.backoff = BACKOFF_MIN_S;
	outbox_init(queue_max);
	ev_init(&st.io, store_io_cb);
	ev_init(&st.timer, store_timer_cb);
}

static void store_runner_params(const store_config_t *cfg)
{
	char buf[256];
	st.runner_params[0] = xstrdup(st.runner_id);
	if (gethostname(buf, sizeof(buf) - 1) < 0)
		snprintf(buf, sizeof(buf), "unknown");
	buf[sizeof(buf) - 1] = '\0';
	st.runner_params[1] = xstrdup(buf);
	snprintf(buf, sizeof(buf), "%d", (int)getpid());
	st.runner_params[2] = xstrdup(buf);
	st.runner_params[3] = xstrdup(DEVSUP_VERSION);
	time_iso8601(wall_ms(), buf, sizeof(buf));
	st.runner_params[4] = xstrdup(buf);
	snprintf(buf, sizeof(buf), "%d", cfg->port_lo);
	st.runner_params[5] = xstrdup(buf);
	snprintf(buf, sizeof(buf), "%d", cfg->port_hi);
	st.runner_params[6] = xstrdup(buf);
}

void store_init(struct ev_loop *loop, const store_config_t *cfg)
{
	if (!cfg->url) {
		memset(&st, 0, sizeof(st));
		st.state = ST_OFF;
		return;
	}
	store_setup(loop, cfg->url, cfg->runner_id, cfg->queue_max);
	store_runner_params(cfg);
	st.on_rows = cfg->on_leftover_rows;
	st.on_seq_floor = cfg->on_seq_floor;
	st.on_lost = cfg->on_lost;
	st.on_connected = cfg->on_connected;
	store_connect();
}

void store_migrate_only(struct ev_loop *loop, const char *url, void (*done)(bool ok))
{
	store_setup(loop, url, NULL, 0);
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
	claim_fail_all();
	claim_drop_refusals();
	conn_resolve_free();
	conn_params_free(&st.params);
	outbox_free();
	json_decref(st.result_rows);
	free(st.applied);
	free(st.url);
	free(st.runner_id);
	for (size_t i = 0; i < ARRAY_LEN(st.runner_params); i++)
		free(st.runner_params[i]);
	memset(&st, 0, sizeof(st));
}
