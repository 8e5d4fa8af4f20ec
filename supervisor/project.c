/* The registry of projects, their state machine, and the commands that act on them. */
#include "supervisor/project.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "supervisor/adopt.h"
#include "supervisor/command.h"
#include "supervisor/metrics.h"
#include "supervisor/output.h"
#include "supervisor/ports.h"
#include "supervisor/reaper_link.h"
#include "supervisor/recover.h"
#include "supervisor/reply.h"
#include "supervisor/resources.h"
#include "supervisor/store.h"

#define DEFAULT_STOP_TIMEOUT_MS 10000
/* What ended projects may cost: the output archives of the last KEEP_ARCHIVES to end, and the
 * records (state, seq) of the last KEEP_ENDED; older ones are forgotten (status: idle, as if
 * never started). Each archive holds up to ARCHIVE_LINES lines. */
#define KEEP_ARCHIVES 64
#define KEEP_ENDED 1024
#define ARCHIVE_LINES 500

/* How long a start waits for the database's word on who owns the project (SPEC §10). */
#define CLAIM_DEADLINE_MS 2000

/* A start waiting for that word (one round trip): listed so that a stop can cancel it and the
 * exit check waits for it. */
typedef struct pending_start {
	struct pending_start *next;
	json_t *request, *spec, *id;
	json_t *joined; /* ids of retries of this start (same fields) that arrived meanwhile */
	ev_timer deadline;
	bool settled;    /* its answer is decided: started, refused or cancelled */
	bool store_done; /* the store has called back and holds no pointer to it any more */
} pending_start_t;

static struct {
	struct ev_loop *loop;
	const options_t *opts;
	project_t *head;
	pending_start_t *pending;
	bool accepting;
	/* A project's first seq in this run: the start time in ms, so seq keeps increasing
	 * across restarts of devsup even without a database. */
	uint64_t seq_base;
	/* The highest seq of a forgotten project: a project created later starts above it, so a
	 * project forgotten and started again never sees its seq go back. */
	uint64_t forgotten_seq;
	uint64_t ended; /* projects that became stopped/failed so far: their order */
	json_t *leftover_rows; /* waiting for recovery to finish */
} reg = {.accepting = true};

void projects_init(struct ev_loop *loop, const options_t *opts)
{
	reg.loop = loop;
	reg.opts = opts;
	reg.seq_base = wall_ms();
	ports_init(opts->port_lo, opts->port_hi);
	reaper_link_init(loop, opts);
}

void projects_seq_floor(uint64_t floor)
{
	/* Transitions already emitted keep their seq (they are on stdout); every later one is
	 * above the database's highest, whatever the wall clock did (docs/architecture.md). */
	if (floor >= reg.seq_base)
		reg.seq_base = floor + 1;
}

void projects_set_accepting(bool accepting)
{
	reg.accepting = accepting;
}

project_t *project_find(const char *id)
{
	for (project_t *p = reg.head; p; p = p->next)
		if (strcmp(p->id, id) == 0)
			return p;
	return NULL;
}

project_t *project_first(void)
{
	return reg.head;
}

static void project_free(project_t *p);

/* Ended (or never got going: its reaper could not start), and nothing refers to it any more:
 * no reaper, no command waiting, nobody following. */
static bool project_forgettable(const project_t *p)
{
	return (p->ended || p->state == STATE_IDLE) && !state_is_live(p->state) &&
	       !project_has_reaper(p) && !p->start_waiting && !p->restart_waiting && !p->following &&
	       json_array_size(p->stop_ids) == 0 && json_object_size(p->log_requests) == 0;
}

static int by_latest_end(const void *a, const void *b)
{
	const project_t *pa = *(project_t *const *)a, *pb = *(project_t *const *)b;
	return pa->ended < pb->ended ? 1 : pa->ended > pb->ended ? -1 : 0;
}

/* Keeps the memory of ended projects bounded (run before each new record: the only way the
 * registry grows): archives beyond the KEEP_ARCHIVES latest to end are dropped, records beyond
 * the KEEP_ENDED latest are freed. */
static void projects_forget_old(void)
{
	size_t n = 0, cap = 0;
	project_t **ended = NULL;
	for (project_t *p = reg.head; p; p = p->next) {
		if (!project_forgettable(p))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			ended = xrealloc(ended, cap * sizeof(*ended));
		}
		ended[n++] = p;
	}
	if (n > KEEP_ARCHIVES)
		qsort(ended, n, sizeof(*ended), by_latest_end);
	for (size_t i = KEEP_ARCHIVES; i < n; i++) {
		project_t *p = ended[i];
		if (i < KEEP_ENDED) {
			if (p->archive.cap > 1) {
				ring_free(&p->archive);
				ring_init(&p->archive, 1);
			}
			continue;
		}
		if (p->seq > reg.forgotten_seq)
			reg.forgotten_seq = p->seq;
		for (project_t **pp = &reg.head; *pp; pp = &(*pp)->next) {
			if (*pp == p) {
				*pp = p->next;
				break;
			}
		}
		project_free(p);
	}
	free(ended);
}

static project_t *project_create(const char *id)
{
	projects_forget_old();
	project_t *p = xcalloc(1, sizeof(*p));
	p->id = xstrdup(id);
	p->state = STATE_IDLE;
	p->seq = reg.forgotten_seq;
	p->chan.fd = -1;
	p->reaper_pidfd = -1;
	p->stop_ids = json_array();
	p->joined_ids = json_array();
	p->log_requests = json_object();
	ev_init(&p->reaper_deadline, NULL);
	ring_init(&p->archive, ARCHIVE_LINES);
	p->next = reg.head;
	reg.head = p;
	return p;
}

static void project_free(project_t *p)
{
	json_decref(p->log_held);
	reaper_link_release(p);
	reaper_link_forget_pidfd(p);
	chan_close(&p->chan);
	json_decref(p->request);
	json_decref(p->spec);
	json_decref(p->start_id);
	json_decref(p->stop_ids);
	json_decref(p->restart_spec);
	json_decref(p->restart_request);
	json_decref(p->restart_id);
	json_decref(p->log_requests);
	json_decref(p->joined_ids);
	json_decref(p->stop_cmd_id);
	json_decref(p->good_request);
	json_decref(p->last_failure);
	json_decref(p->follow_id);
	ring_free(&p->archive);
	free(p->framework);
	free(p->failure_message);
	free(p->tunnel_url);
	free(p->stop_reason);
	free(p->cgroup);
	free(p->adopted_roots);
	free(p->id);
	free(p);
}

void projects_free(void)
{
	reaper_link_free();
	ports_free();
	json_decref(reg.leftover_rows);
	reg.leftover_rows = NULL;
	while (reg.head) {
		project_t *p = reg.head;
		reg.head = p->next;
		project_free(p);
	}
}

bool project_has_reaper(const project_t *p)
{
	return p->reaper_pid > 0 || chan_is_open(&p->chan) || p->cleaning;
}

bool projects_port_taken(int port)
{
	for (project_t *p = reg.head; p; p = p->next)
		if (p->port == port && (state_is_live(p->state) || project_has_reaper(p)))
			return true;
	return false;
}

unsigned projects_live_count(void)
{
	unsigned n = 0;
	for (project_t *p = reg.head; p; p = p->next)
		n += state_is_live(p->state) || project_has_reaper(p);
	return n;
}

bool projects_quiescent(void)
{
	if (reaper_link_retiring())
		return false;
	for (pending_start_t *ps = reg.pending; ps; ps = ps->next)
		if (!ps->settled)
			return false; /* bounded by CLAIM_DEADLINE_MS */
	for (project_t *p = reg.head; p; p = p->next)
		if (project_has_reaper(p))
			return false;
	return true;
}

bool projects_handed_over(void)
{
	if (reaper_link_retiring())
		return false;
	for (project_t *p = reg.head; p; p = p->next)
		if (project_has_reaper(p) && !p->handed_over)
			return false;
	return true;
}

json_t *project_handover_state(const project_t *p)
{
	json_t *s = json_pack("{s:s, s:I, s:i, s:i, s:i, s:i, s:I}", "state",
			      state_name(p->state), "seq", (json_int_t)p->seq, "port", p->port,
			      "pid", (int)p->pid, "pgid", (int)p->pgid, "lastPort", p->last_port,
			      "startedAt", (json_int_t)p->started_at_ms);
	if (p->url[0])
		json_object_set_new(s, "url", json_string(p->url));
	if (p->scheme[0])
		json_object_set_new(s, "scheme", json_string(p->scheme));
	if (p->framework)
		json_object_set_new(s, "framework", json_string(p->framework));
	if (p->tunnel_url)
		json_object_set_new(s, "tunnelUrl", json_string(p->tunnel_url));
	if (p->stop_reason)
		json_object_set_new(s, "stopReason", json_string(p->stop_reason));
	if (p->spec)
		json_object_set(s, "spec", p->spec);
	if (p->request)
		json_object_set(s, "request", p->request);
	return s;
}

project_t *project_adopt(const json_t *hello)
{
	const json_t *s = json_object_get(hello, "state");
	project_t *p = project_create(json_string_value(json_object_get(hello, "projectId")));
	int st = state_parse(json_string_value(json_object_get(s, "state")) ?: "");
	const char *fw = json_string_value(json_object_get(s, "framework"));
	const char *turl = json_string_value(json_object_get(hello, "tunnelUrl"))
				   ?: json_string_value(json_object_get(s, "tunnelUrl"));
	const char *why = json_string_value(json_object_get(s, "stopReason"));
	int port = (int)json_integer_value(json_object_get(hello, "port"));
	p->state = st >= 0 && state_is_live((state_t)st) ? (state_t)st : STATE_RUNNING;
	p->seq = (uint64_t)json_integer_value(json_object_get(s, "seq"));
	p->port = port > 0 ? port : (int)json_integer_value(json_object_get(s, "port"));
	p->last_port = (int)json_integer_value(json_object_get(s, "lastPort"));
	p->pid = (pid_t)json_integer_value(json_object_get(hello, "pid"));
	p->pgid = (pid_t)json_integer_value(json_object_get(hello, "pgid"));
	p->started_at_ms = (uint64_t)json_integer_value(json_object_get(s, "startedAt"));
	p->framework = fw ? xstrdup(fw) : NULL;
	p->tunnel_url = turl ? xstrdup(turl) : NULL;
	snprintf(p->url, sizeof(p->url), "%s", json_string_value(json_object_get(s, "url")) ?: "");
	snprintf(p->scheme, sizeof(p->scheme), "%s",
		 json_string_value(json_object_get(s, "scheme")) ?: "http");
	p->stop_reason = why ? xstrdup(why) : NULL;
	p->spec = json_incref(json_object_get(s, "spec"));
	p->request = json_incref(json_object_get(s, "request"));
	p->start_mono_ms = p->stop_mono_ms = clock_ms();
	/* cpuPercent "since start" is since the server's start, not since its adoption: its
	 * cpuMs counts from then */
	uint64_t wall = wall_ms();
	if (p->started_at_ms && p->started_at_ms < wall && wall - p->started_at_ms < p->start_mono_ms)
		p->start_mono_ms -= wall - p->started_at_ms;
	p->adopt_unconfirmed = true;
	/* the previous devsup's reservation ended with it: ours now, released as any other */
	if (p->port > 0 && !ports_reserve(p->port))
		log_warn("project %s: port %d is reserved by another devsup sharing this state "
			 "directory; the adopted server keeps it",
			 p->id, p->port);
	return p;
}

/* Ends the follow of p's output under way, if any, with its one log-stream-ended. */
static void project_end_follow(project_t *p, const char *reason)
{
	if (!p->follow_id)
		return;
	json_t *ev = event_new("log-stream-ended", p->id,
			       json_is_null(p->follow_id) ? NULL : p->follow_id);
	json_object_set_new(ev, "reason", json_string(reason));
	output_event(ev);
	json_decref(p->follow_id);
	p->follow_id = NULL;
	p->following = false;
}

bool project_transition(project_t *p, state_t to, const char *reason, json_t *cmd_id)
{
	if (!state_can_transition(p->state, to)) {
		log_error("BUG: project %s: refused transition %s -> %s", p->id, state_name(p->state),
			  state_name(to));
		return false;
	}
	state_t from = p->state;
	p->state = to;
	p->seq = p->seq + 1 > reg.seq_base ? p->seq + 1 : reg.seq_base;
	json_t *ev = event_new("dev-server-state", p->id, cmd_id);
	json_object_set_new(ev, "from", json_string(state_name(from)));
	json_object_set_new(ev, "to", json_string(state_name(to)));
	json_object_set_new(ev, "seq", json_integer((json_int_t)p->seq));
	if (reason)
		json_object_set_new(ev, "reason", json_string(reason));
	output_event(ev);
	/* A restart passes through stopped: the follow goes on into the next run. */
	if (to == STATE_FAILED || (to == STATE_STOPPED && !p->restart_waiting))
		project_end_follow(p, to == STATE_FAILED ? "failed" : "stopped");
	if (to == STATE_STOPPED || to == STATE_FAILED) {
		p->ended = ++reg.ended;
		/* released together, once the reaper has seen the last process go */
		ports_release(p->port);
		p->port = 0;
		p->pid = p->pgid = 0;
		p->started_at_ms = 0;
		free(p->tunnel_url);
		p->tunnel_url = NULL;
	}
	store_transition(&(store_transition_t){
		.project_id = p->id,
		.seq = p->seq,
		.from = state_name(from),
		.to = state_name(to),
		.reason = reason,
		.at_ms = wall_ms(),
		.port = p->port,
		.pid = p->pid,
		.pgid = p->pgid,
		.framework = p->framework,
		.tunnel_url = p->tunnel_url,
		.failure_reason = to == STATE_FAILED ? reason : NULL,
		.failure_message = to == STATE_FAILED ? p->failure_message : NULL,
	});
	return true;
}

/* Closes the rows a previous devsup left live, as SPEC §7 asks: through stopping. */
static void apply_leftover_rows(json_t *rows)
{
	size_t i;
	json_t *row;
	json_array_foreach(rows, i, row)
	{
		const char *id = json_string_value(json_object_get(row, "projectId"));
		int s = state_parse(json_string_value(json_object_get(row, "status")) ?: "");
		if (!id || !project_id_valid(id) || !state_is_live((state_t)s) || project_find(id))
			continue; /* touched in this run already: its own writes supersede the row */
		project_t *p = project_create(id);
		p->seq = (uint64_t)json_integer_value(json_object_get(row, "seq"));
		p->state = (state_t)s; /* where the previous devsup left it */
		if (p->state != STATE_STOPPING)
			project_transition(p, STATE_STOPPING, "runner_restart", NULL);
		project_transition(p, STATE_STOPPED, "runner_restart", NULL);
	}
}

void projects_apply_leftover_rows(void)
{
	json_t *rows = reg.leftover_rows;
	/* adopted projects are not leftovers: their rows wait until adoption has settled */
	if (!rows || recover_active() || adopt_pending())
		return;
	reg.leftover_rows = NULL;
	apply_leftover_rows(rows);
	json_decref(rows);
}

void projects_leftover_rows(json_t *rows)
{
	if (!reg.leftover_rows)
		reg.leftover_rows = json_array();
	json_array_extend(reg.leftover_rows, rows);
	projects_apply_leftover_rows();
}

static const char *live_description(const project_t *p, char *buf, size_t n)
{
	if (p->state == STATE_RUNNING)
		snprintf(buf, n, "is already running on port %d (%s)", p->port, p->url);
	else
		snprintf(buf, n, "is %s (port %d)", state_name(p->state), p->port);
	return buf;
}

void project_take_start_id(project_t *p, json_t **id)
{
	*id = p->start_id;
	p->start_id = NULL;
	p->start_waiting = false;
}

/* A start with the same command, cwd, env, port and framework as the one under way: a retry
 * (the client's first call timed out, or two tabs asked at once), not a second start. */
static bool same_start(const json_t *a, const json_t *b)
{
	static const char *const keys[] = {"command", "cwd", "env", "port", "framework"};
	for (size_t i = 0; i < ARRAY_LEN(keys); i++) {
		json_t *x = json_object_get(a, keys[i]), *y = json_object_get(b, keys[i]);
		if (strcmp(keys[i], "framework") == 0) {
			/* absent, null and "auto" all mean auto */
			x = json_is_string(x) && strcmp(json_string_value(x), "auto") ? x : NULL;
			y = json_is_string(y) && strcmp(json_string_value(y), "auto") ? y : NULL;
		}
		if (json_is_null(x))
			x = NULL;
		if (json_is_null(y))
			y = NULL;
		if ((x || y) && !(x && y && json_equal(x, y)))
			return false;
	}
	return true;
}

json_t *project_started_event(const project_t *p, json_t *id)
{
	json_t *ev = event_new("dev-server-started", p->id, id);
	json_object_set_new(ev, "port", json_integer(p->port));
	json_object_set_new(ev, "pid", json_integer(p->pid));
	json_object_set_new(ev, "pgid", json_integer(p->pgid));
	json_object_set_new(ev, "url", json_string(p->url));
	json_object_set_new(ev, "scheme", json_string(p->scheme));
	json_object_set_new(ev, "framework", json_string(p->framework ? p->framework : "other"));
	json_object_set_new(ev, "startupMs", json_integer(p->startup_ms));
	if (p->tunnel_url)
		json_object_set_new(ev, "tunnelUrl", json_string(p->tunnel_url));
	return ev;
}

void project_answer_joined(project_t *p, const json_t *answer)
{
	size_t i;
	json_t *id;
	json_array_foreach(p->joined_ids, i, id)
	{
		json_t *ev = json_deep_copy(answer);
		if (json_is_null(id))
			json_object_del(ev, "commandId");
		else
			json_object_set(ev, "commandId", id);
		output_event(ev);
	}
	json_array_clear(p->joined_ids);
}

void project_fail_joined(project_t *p, reason_t reason, const char *message,
			 const char *suggestion, const json_t *extra)
{
	size_t i;
	json_t *id;
	json_array_foreach(p->joined_ids, i, id)
		reply_error_with(p->id, json_is_null(id) ? NULL : id, reason, message, suggestion,
				 extra ? json_deep_copy(extra) : NULL);
	json_array_clear(p->joined_ids);
}

void project_note_failure(project_t *p, const char *reason, const char *message,
			  const json_t *msg)
{
	char at[32];
	time_iso8601(wall_ms(), at, sizeof(at));
	json_decref(p->last_failure);
	p->last_failure = json_pack("{s:s, s:s, s:s}", "reason", reason, "message",
				    message ? message : reason, "at", at);
	if (!p->last_failure) /* a message that is not UTF-8 cannot be packed: keep the reason */
		p->last_failure = json_pack("{s:s, s:s, s:s}", "reason", reason, "message", reason,
					    "at", at);
	json_t *v;
	if ((v = json_object_get(msg, "exitCode")))
		json_object_set(p->last_failure, "exitCode", v);
	if ((v = json_object_get(msg, "signal")))
		json_object_set(p->last_failure, "signal", v);
}

json_t *project_stop_cmd_id(const project_t *p)
{
	return p->stop_cmd_id;
}

void project_set_framework(project_t *p, const char *framework)
{
	if (!framework)
		return;
	free(p->framework);
	p->framework = xstrdup(framework);
}

/* What this runner alone can tell: not live here, accepting, below --max-projects. */
static bool start_allowed(const char *pid_s, json_t *id)
{
	project_t *p = project_find(pid_s);
	char desc[128];
	if (p && (state_is_live(p->state) || project_has_reaper(p))) {
		reply_error(pid_s, id, REASON_ALREADY_RUNNING, NULL, "project %s %s", pid_s,
			    live_description(p, desc, sizeof(desc)));
		return false;
	}
	if (!reg.accepting) {
		reply_error(pid_s, id, REASON_SHUTTING_DOWN, NULL,
			    "devsup is shutting down and accepts no new start (project %s)", pid_s);
		return false;
	}
	if (projects_live_count() >= reg.opts->max_projects) {
		reply_error(pid_s, id, REASON_CAPACITY, NULL,
			    "devsup already supervises %u live projects (--max-projects %u); "
			    "project %s was not started",
			    projects_live_count(), reg.opts->max_projects, pid_s);
		return false;
	}
	return true;
}

/* The fleet's word on the project (SPEC §10, docs/architecture.md "One live run"): refused
 * when it is live on another runner that is alive; if that runner is gone, its run is closed
 * (failed, runner_lost) first. *floor: a seq the new run's must exceed. */
static bool start_owner_ok(const char *pid_s, json_t *id, const store_claim_t *v, uint64_t *floor)
{
	*floor = 0;
	if (!v->known || !v->found)
		return true; /* no database, or a project it has never seen */
	*floor = v->seq;
	int s = state_parse(v->status);
	if (s < 0 || !state_is_live((state_t)s) || strcmp(v->runner_id, reg.opts->runner_id) == 0)
		return true;
	if (v->alive) {
		reply_error(pid_s, id, REASON_OWNED_BY_OTHER_RUNNER, NULL,
			    "project %s is %s on runner %s (host %s); it was not started here",
			    pid_s, v->status, v->runner_id, v->host[0] ? v->host : "unknown");
		return false;
	}
	char msg[1024];
	snprintf(msg, sizeof(msg),
		 "runner %s (host %s) is gone: its database session ended while project %s was %s; "
		 "runner %s starts it again",
		 v->runner_id, v->host[0] ? v->host : "unknown", pid_s, v->status,
		 reg.opts->runner_id);
	log_warn("%s", msg);
	store_transition(&(store_transition_t){
		.project_id = pid_s,
		.runner_id = v->runner_id,
		.seq = v->seq + 1,
		.from = v->status,
		.to = "failed",
		.reason = "runner_lost",
		.at_ms = wall_ms(),
		.failure_reason = "runner_lost",
		.failure_message = msg,
	});
	*floor = v->seq + 1;
	return true;
}

static void start_now(json_t *request, json_t *spec, json_t *id, uint64_t seq_floor);

static const char *pending_project(const pending_start_t *ps)
{
	return json_string_value(json_object_get(ps->spec, "projectId"));
}

/* The start's one answer-to-be is decided: the local checks again (the world may have moved
 * during the round trip), then the start. Once only, whoever comes first: the database, the
 * deadline, or a stop (pending_cancel). */
static void pending_settle(pending_start_t *ps, const store_claim_t *v)
{
	if (ps->settled)
		return;
	ps->settled = true;
	ev_timer_stop(reg.loop, &ps->deadline);
	const char *pid_s = pending_project(ps);
	uint64_t floor;
	if (start_allowed(pid_s, ps->id) && start_owner_ok(pid_s, ps->id, v, &floor))
		start_now(ps->request, ps->spec, ps->id, floor);
	/* Its retries are taken again now: they join the start if it went ahead, or are
	 * answered as a start made now would be (refused the same way). */
	size_t i;
	json_t *jid;
	json_array_foreach(ps->joined, i, jid)
		project_cmd_start(ps->request, ps->spec, json_is_null(jid) ? NULL : jid);
	json_array_clear(ps->joined);
}

/* Freed once settled and once the store no longer holds it (it calls back exactly once). */
static void pending_release(pending_start_t *ps)
{
	if (!ps->settled || !ps->store_done)
		return;
	for (pending_start_t **pp = &reg.pending; *pp; pp = &(*pp)->next)
		if (*pp == ps) {
			*pp = ps->next;
			break;
		}
	json_decref(ps->request);
	json_decref(ps->spec);
	json_decref(ps->id);
	json_decref(ps->joined);
	free(ps);
}

/* The database answered, or the connection went (known = false). */
static void start_checked(void *ctx, const store_claim_t *v)
{
	pending_start_t *ps = ctx;
	ps->store_done = true;
	pending_settle(ps, v);
	pending_release(ps);
}

/* A slow database never holds a start back for long (SPEC §7: starts never wait for it). */
static void pending_deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	pending_start_t *ps = w->data;
	log_warn("project %s: the database did not say within %d ms whether another runner has "
		 "it; starting it as without a database",
		 pending_project(ps), CLAIM_DEADLINE_MS);
	pending_settle(ps, &(store_claim_t){.known = false});
	pending_release(ps);
}

static pending_start_t *pending_find(const char *project_id)
{
	for (pending_start_t *ps = reg.pending; ps; ps = ps->next)
		if (!ps->settled && strcmp(pending_project(ps), project_id) == 0)
			return ps;
	return NULL;
}

/* A stop of a project whose start still waits for the database: the start is cancelled (as a
 * stop while starting does, SPEC §4.6) and the stop answered at once; nothing was spawned. */
static void pending_cancel(pending_start_t *ps, const char *reason, json_t *stop_id)
{
	ps->settled = true;
	ev_timer_stop(reg.loop, &ps->deadline);
	const char *pid_s = pending_project(ps);
	reply_error(pid_s, ps->id, REASON_CANCELLED, "Start it again if you still want it running.",
		    "the start of project %s was cancelled by a stop before anything was spawned",
		    pid_s);
	size_t i;
	json_t *jid;
	json_array_foreach(ps->joined, i, jid)
		reply_error(pid_s, json_is_null(jid) ? NULL : jid, REASON_CANCELLED,
			    "Start it again if you still want it running.",
			    "the start of project %s was cancelled by a stop before anything was "
			    "spawned", pid_s);
	json_array_clear(ps->joined);
	json_t *ev = event_new("dev-server-stopped", pid_s, stop_id);
	json_object_set_new(ev, "forced", json_false());
	json_object_set_new(ev, "durationMs", json_integer(0));
	json_object_set_new(ev, "reason", json_string(reason ? reason : "requested"));
	json_object_set_new(ev, "escaped", json_integer(0));
	output_event(ev);
	pending_release(ps);
}

/* A retried start of the run under way: answered like it (true), now or when it settles. */
static bool start_joined(project_t *p, const json_t *request, json_t *id)
{
	if (!p || (p->state != STATE_STARTING && p->state != STATE_RUNNING) || p->restart_waiting ||
	    !p->request || !same_start(p->request, request))
		return false;
	if (p->state == STATE_RUNNING)
		output_event(project_started_event(p, id));
	else
		json_array_append_new(p->joined_ids, id ? json_incref(id) : json_null());
	return true;
}

void project_cmd_start(json_t *request, json_t *spec, json_t *id)
{
	const char *pid_s = json_string_value(json_object_get(spec, "projectId"));
	if (start_joined(project_find(pid_s), request, id) || !start_allowed(pid_s, id))
		return;
	pending_start_t *ps = pending_find(pid_s);
	if (ps) {
		/* a start of it already waits for the database's word */
		if (same_start(ps->request, request))
			json_array_append_new(ps->joined, id ? json_incref(id) : json_null());
		else
			reply_error(pid_s, id, REASON_ALREADY_RUNNING, NULL,
				    "project %s is being started with other fields; stop it first "
				    "to start it differently", pid_s);
		return;
	}
	ps = xcalloc(1, sizeof(*ps));
	ps->joined = json_array();
	ps->request = json_incref(request);
	ps->spec = json_incref(spec);
	ps->id = id ? json_incref(id) : NULL;
	ps->next = reg.pending;
	reg.pending = ps;
	ev_timer_init(&ps->deadline, pending_deadline_cb, CLAIM_DEADLINE_MS / 1000.0, 0);
	ps->deadline.data = ps;
	/* connected: one round trip to the database first; nothing is spawned meanwhile */
	if (store_claim(pid_s, start_checked, ps)) {
		ev_timer_start(reg.loop, &ps->deadline);
		return;
	}
	start_checked(ps, &(store_claim_t){.known = false});
}

static void start_now(json_t *request, json_t *spec, json_t *id, uint64_t seq_floor)
{
	const char *pid_s = json_string_value(json_object_get(spec, "projectId"));
	project_t *p = project_find(pid_s);
	char err[256];
	json_t *jport = json_object_get(spec, "port");
	int wanted = json_is_integer(jport) ? (int)json_integer_value(jport) : 0;
	bool strict = json_is_true(json_object_get(spec, "strictPort"));
	int port = ports_allocate(wanted, strict, projects_port_taken, err, sizeof(err));
	if (port < 0) {
		metrics_start_requested();
		metrics_start_failed(REASON_PORT_IN_USE);
		reply_error(pid_s, id, REASON_PORT_IN_USE,
			    strict ? PORTS_STRICT_SUGGESTION
				   : "Stop projects or processes that hold ports of --port-range, or "
				     "widen the range.",
			    "cannot start project %s: %s", pid_s, err);
		return;
	}
	json_object_set_new(spec, "port", json_integer(port));
	if (!p)
		p = project_create(pid_s);
	if (p->seq < seq_floor)
		p->seq = seq_floor; /* above the row another runner left: seq never goes back */
	if (!reaper_link_spawn(p, err, sizeof(err))) {
		ports_release(port);
		reply_error(pid_s, id, REASON_UNKNOWN, "Check devsup's installation (--reaper).",
			    "cannot start the reaper for project %s: %s", pid_s, err);
		return;
	}
	json_decref(p->request);
	json_decref(p->spec);
	p->request = json_incref(request);
	p->spec = json_incref(spec);
	p->port = port;
	p->pid = p->pgid = 0;
	p->start_mono_ms = clock_ms();
	p->usage_at_ms = 0;
	free(p->cgroup);
	p->cgroup = NULL;
	free(p->framework);
	const char *fw = json_string_value(json_object_get(spec, "framework"));
	/* an explicit framework is known at once; auto is known when the reaper has looked */
	p->framework = fw && strcmp(fw, "auto") != 0 ? xstrdup(fw) : NULL;
	free(p->failure_message);
	p->failure_message = NULL;
	ring_free(&p->archive);
	ring_init(&p->archive, ARCHIVE_LINES);
	p->end_reason = REASON_NONE;
	project_transition(p, STATE_STARTING, NULL, id);
	p->run_seq = p->seq;
	p->start_waiting = true;
	json_decref(p->start_id);
	p->start_id = id ? json_incref(id) : NULL;
	p->port_retries = 0;
	metrics_start_requested();
	project_send_start(p);
}

void project_send_start(project_t *p)
{
	json_t *msg = json_deep_copy(p->spec);
	json_object_set_new(msg, "type", json_string("start"));
	if (p->following)
		json_object_set_new(msg, "logs", json_true());
	json_object_set_new(msg, "runnerId", json_string(reg.opts->runner_id));
	if (reg.opts->no_listen_trap)
		json_object_set_new(msg, "listenTrap", json_false());
	if (resources_runner_dir())
		json_object_set_new(msg, "cgroup", json_string(resources_runner_dir()));
	reaper_link_send(p, msg);
}

static uint64_t stop_timeout_of(const project_t *p, json_t *timeout)
{
	if (json_is_integer(timeout))
		return (uint64_t)json_integer_value(timeout);
	json_t *t = p->spec ? json_object_get(p->spec, "stopTimeoutMs") : NULL;
	return json_is_integer(t) ? (uint64_t)json_integer_value(t) : DEFAULT_STOP_TIMEOUT_MS;
}

/* The stop message, and the deadline by which the reaper must have ended. */
static void project_send_stop(project_t *p, uint64_t timeout_ms)
{
	reaper_link_send(p, json_pack("{s:s, s:I}", "type", "stop", "timeoutMs",
				      (json_int_t)timeout_ms));
	reaper_link_expect_end(p, timeout_ms);
}

/* starting/running -> stopping, and the stop sent to the reaper. */
static void project_begin_stop(project_t *p, uint64_t timeout_ms, const char *reason,
			       json_t *id)
{
	free(p->stop_reason);
	p->stop_reason = xstrdup(reason);
	p->stop_mono_ms = clock_ms();
	json_decref(p->stop_cmd_id);
	p->stop_cmd_id = id ? json_incref(id) : NULL;
	bool was_starting = p->state == STATE_STARTING;
	if (!project_transition(p, STATE_STOPPING, reason, id))
		return;
	if (was_starting && p->start_waiting) {
		json_t *sid;
		project_take_start_id(p, &sid);
		metrics_start_failed(REASON_CANCELLED);
		char msg[256];
		snprintf(msg, sizeof(msg),
			 "the start of project %s was cancelled by a stop (%s) before it was healthy",
			 p->id, reason);
		project_fail_joined(p, REASON_CANCELLED, msg, NULL, NULL);
		reply_error_with(p->id, sid, REASON_CANCELLED, msg, NULL, NULL);
		json_decref(sid);
	}
	project_send_stop(p, timeout_ms);
}

void project_stop_for(project_t *p, reason_t reason, const char *message)
{
	if (p->state != STATE_STARTING && p->state != STATE_RUNNING)
		return;
	free(p->failure_message);
	p->failure_message = xstrdup(message);
	project_note_failure(p, reason_name(reason), message, NULL);
	if (p->state == STATE_STARTING && p->start_waiting) {
		/* the start's one answer is this error, not `cancelled` */
		json_t *sid;
		project_take_start_id(p, &sid);
		metrics_start_failed(reason);
		project_fail_joined(p, reason, message, NULL, NULL);
		reply_error_with(p->id, sid, reason, message, NULL, NULL);
		json_decref(sid);
	} else if (p->state == STATE_RUNNING) {
		p->end_reason = reason; /* reaper_link.c's finish_stop reports it */
	}
	project_begin_stop(p, stop_timeout_of(p, NULL), reason_name(reason), NULL);
}

void project_cancel_restart(project_t *p, const char *why)
{
	if (!p->restart_waiting)
		return;
	json_t *rid = p->restart_id;
	json_decref(p->restart_request);
	json_decref(p->restart_spec);
	p->restart_id = p->restart_request = p->restart_spec = NULL;
	p->restart_waiting = false;
	reply_error(p->id, rid, REASON_CANCELLED, "Start it again if you still want it running.",
		    "the restart of project %s was cancelled: %s", p->id, why);
	json_decref(rid);
}

void project_cmd_stop(const char *project_id, json_t *timeout, const char *reason, json_t *id)
{
	project_t *p = project_find(project_id);
	pending_start_t *ps = pending_find(project_id);
	if (ps && !(p && state_is_live(p->state))) {
		pending_cancel(ps, reason, id);
		return;
	}
	if (!p || !(state_is_live(p->state))) {
		reply_error(project_id, id, REASON_NOT_RUNNING, NULL,
			    "project %s is not running (state: %s)", project_id,
			    p ? state_name(p->state) : "idle");
		return;
	}
	json_array_append_new(p->stop_ids, id ? json_incref(id) : json_null());
	/* A stop wins over a restart waiting for its own stop: the project ends stopped. */
	if (p->restart_waiting) {
		project_cancel_restart(p, "a stop came before it could start again");
		if (p->stop_reason && strcmp(p->stop_reason, "restart") == 0) {
			free(p->stop_reason);
			p->stop_reason = xstrdup(reason ? reason : "requested");
		}
	}
	if (p->state == STATE_STOPPING) {
		/* completes with the stop under way; a shorter timeout still applies */
		if (json_is_integer(timeout))
			project_send_stop(p, (uint64_t)json_integer_value(timeout));
		return;
	}
	project_begin_stop(p, stop_timeout_of(p, timeout), reason ? reason : "requested", id);
}

void project_cmd_restart(const char *project_id, json_t *overrides, json_t *id)
{
	project_t *p = project_find(project_id);
	char err[256];
	if (!p || !p->request) {
		reply_error(project_id, id, REASON_NOT_RUNNING, "Use start-dev-server first.",
			    "project %s was never started, so there is nothing to restart",
			    project_id);
		return;
	}
	/* Overrides stick once they worked: the base is the last start that reached running, so
	 * a restart with a broken command does not break every plain restart after it. */
	json_t *merged = json_deep_copy(p->good_request ? p->good_request : p->request);
	json_object_update(merged, overrides);
	json_object_del(merged, "type");
	json_object_del(merged, "id");
	/* Same port as before unless told otherwise: clients and browsers still point there. */
	if (!json_object_get(merged, "port") && p->last_port > 0)
		json_object_set_new(merged, "port", json_integer(p->last_port));
	json_t *spec = command_validate_start(merged, err, sizeof(err));
	if (!spec) {
		reply_error(project_id, id, REASON_INVALID_COMMAND, NULL, "%s", err);
		json_decref(merged);
		return;
	}
	if (!state_is_live(p->state) && !project_has_reaper(p)) {
		p->restarts++;
		project_cmd_start(merged, spec, id);
		json_decref(merged);
		json_decref(spec);
		return;
	}
	if (p->restart_waiting) {
		reply_error(project_id, id, REASON_ALREADY_RUNNING, NULL,
			    "project %s is already restarting", project_id);
		json_decref(merged);
		json_decref(spec);
		return;
	}
	p->restarts++;
	p->restart_waiting = true;
	p->restart_request = merged;
	p->restart_spec = spec;
	p->restart_id = id ? json_incref(id) : NULL;
	if (p->state != STATE_STOPPING)
		project_begin_stop(p, stop_timeout_of(p, NULL), "restart", id);
}

/* The restart that waited for its stop. */
void project_resume_restart(project_t *p)
{
	if (!p->restart_waiting)
		return;
	json_t *req = p->restart_request, *spec = p->restart_spec, *id = p->restart_id;
	p->restart_request = p->restart_spec = p->restart_id = NULL;
	p->restart_waiting = false;
	project_cmd_start(req, spec, id);
	json_decref(req);
	json_decref(spec);
	json_decref(id);
}

static json_t *int_or_null(long long v)
{
	return v > 0 ? json_integer(v) : json_null();
}

static json_t *project_status_json(project_t *p)
{
	char ts[32];
	bool running = p->state == STATE_RUNNING;
	json_t *o = json_object();
	json_object_set_new(o, "projectId", json_string(p->id));
	json_object_set_new(o, "state", json_string(state_name(p->state)));
	json_object_set_new(o, "seq", json_integer((json_int_t)p->seq));
	json_object_set_new(o, "port", int_or_null(state_is_live(p->state) ? p->port : 0));
	json_object_set_new(o, "pid", int_or_null(p->pid));
	json_object_set_new(o, "url", running ? json_string(p->url) : json_null());
	json_object_set_new(o, "scheme", running ? json_string(p->scheme) : json_null());
	json_object_set_new(o, "tunnelUrl", p->tunnel_url ? json_string(p->tunnel_url) : json_null());
	json_object_set_new(o, "framework", p->framework ? json_string(p->framework) : json_null());
	if (p->started_at_ms) {
		time_iso8601(p->started_at_ms, ts, sizeof(ts));
		json_object_set_new(o, "startedAt", json_string(ts));
	} else {
		json_object_set_new(o, "startedAt", json_null());
	}
	json_object_set_new(o, "restarts", json_integer(p->restarts));
	json_object_set_new(o, "lastFailure",
			    p->last_failure ? json_incref(p->last_failure) : json_null());
	json_object_set_new(o, "usage", resources_usage_json(p));
	json_object_set_new(o, "containment",
			    json_string(p->cgroup ? "cgroup" : resources_containment()));
	return o;
}

void project_cmd_status(const char *project_id, json_t *id)
{
	json_t *list = json_array();
	if (project_id) {
		project_t *p = project_find(project_id);
		if (p) {
			json_array_append_new(list, project_status_json(p));
		} else {
			project_t idle = {.id = (char *)project_id, .state = STATE_IDLE};
			json_array_append_new(list, project_status_json(&idle));
		}
	} else {
		for (project_t *p = reg.head; p; p = p->next)
			json_array_append_new(list, project_status_json(p));
	}
	json_t *ev = event_new("status", project_id, id);
	json_object_set_new(ev, "projects", list);
	json_object_set_new(ev, "outputQueueBytes", json_integer((json_int_t)output_pending()));
	json_object_set_new(ev, "persistence", store_status_json());
	json_object_set_new(ev, "containment", json_string(resources_containment()));
	output_event(ev);
}

/* The last `want` lines of the archive as `logs` lines. */
static json_t *archive_lines(const project_t *p, size_t want)
{
	json_t *lines = json_array();
	size_t n = p->archive.count;
	char ts[32];
	for (size_t i = want < n ? n - want : 0; i < n; i++) {
		const ring_line_t *l = ring_at(&p->archive, i);
		time_iso8601(l->at_ms, ts, sizeof(ts));
		json_array_append_new(lines, json_pack("{s:s, s:s, s:s}", "stream",
						       ring_stream_name(l->stream), "line", l->text,
						       "timestamp", ts));
	}
	return lines;
}

void project_reply_logs(const project_t *p, json_t *id, json_t *lines)
{
	json_t *ev = event_new("logs", p->id, id);
	json_object_set_new(ev, "lines", lines);
	output_event(ev);
}

void project_cmd_logs(const char *project_id, size_t lines, json_t *id)
{
	project_t *p = project_find(project_id);
	if (!p) {
		reply_error(project_id, id, REASON_NOT_RUNNING, NULL,
			    "project %s was never started, so it has no output", project_id);
		return;
	}
	if (!chan_is_open(&p->chan)) {
		project_reply_logs(p, id, archive_lines(p, lines));
		return;
	}
	char key[32];
	uint64_t req = ++p->next_req;
	snprintf(key, sizeof(key), "%llu", (unsigned long long)req);
	json_object_set_new(p->log_requests, key,
			    json_pack("{s:O?, s:[], s:I}", "id", id, "lines", "want",
				      (json_int_t)lines));
	reaper_link_send(p, json_pack("{s:s, s:I, s:I}", "type", "logs", "reqId", (json_int_t)req,
				      "lines", (json_int_t)lines));
}

void project_cmd_follow_logs(const char *project_id, bool follow, json_t *id)
{
	project_t *p = project_find(project_id);
	if (!p) {
		reply_error(project_id, id, REASON_NOT_RUNNING, "Start it first, then follow it.",
			    "project %s was never started, so there is no output to follow",
			    project_id);
		return;
	}
	/* one follow at a time: a new one (or follow: false) ends the one under way */
	project_end_follow(p, "unfollowed");
	bool live = state_is_live(p->state);
	p->following = follow && live;
	if (p->following)
		p->follow_id = id ? json_incref(id) : json_null();
	/* The start's own `logs: true` keeps streaming after a client stops following. */
	bool stream = p->following || json_is_true(json_object_get(p->spec, "logs"));
	if (chan_is_open(&p->chan))
		reaper_link_send(p, json_pack("{s:s, s:b}", "type", "stream", "on", stream));
	json_t *ev = event_new("following", p->id, id);
	json_object_set_new(ev, "follow", json_boolean(follow));
	output_event(ev);
	if (follow && !live) { /* nothing will ever come: say so at once */
		ev = event_new("log-stream-ended", p->id, id);
		json_object_set_new(ev, "reason", json_string("not_live"));
		output_event(ev);
	}
}

/* Answers log requests the reaper can no longer answer, from the archive. */
void project_flush_log_requests(project_t *p)
{
	const char *key;
	json_t *req, *tmp;
	json_object_foreach_safe(p->log_requests, tmp, key, req)
	{
		json_t *want = json_object_get(req, "want");
		json_t *id = json_object_get(req, "id");
		project_reply_logs(p, json_is_null(id) ? NULL : id,
				   archive_lines(p, (size_t)json_integer_value(want)));
		json_object_del(p->log_requests, key);
	}
}

void projects_stop_all(const char *reason, json_t *timeout_ms, bool force, json_t *id)
{
	json_t *zero = json_integer(0);
	for (project_t *p = reg.head; p; p = p->next) {
		if (p->state == STATE_STARTING || p->state == STATE_RUNNING)
			project_begin_stop(p, stop_timeout_of(p, force ? zero : timeout_ms), reason,
					   id);
		else if (p->state == STATE_STOPPING && force)
			project_send_stop(p, 0);
		/* a restart cannot start during a shutdown */
		project_cancel_restart(p, "devsup is shutting down");
	}
	json_decref(zero);
}

void projects_child_reaped(pid_t pid, int status)
{
	reaper_link_child_reaped(pid, status);
}
