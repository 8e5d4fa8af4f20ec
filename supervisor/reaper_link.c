/* The master's side of each reaper: spawn, control messages, and reaper_lost cleanup. */
#include "supervisor/reaper_link.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/cgroup.h"
#include "common/envfilter.h"
#include "common/log.h"
#include "common/proc.h"
#include "common/util.h"
#include "supervisor/adopt_tree.h"
#include "supervisor/metrics.h"
#include "supervisor/output.h"
#include "supervisor/ports.h"
#include "supervisor/project.h"
#include "supervisor/reply.h"
#include "supervisor/store.h"

#define CONTROL_FD 3
#define CLEANUP_RETRY_S 0.25
/* How long past a stop's timeout a reaper may take to report the end (its own SIGKILL, the
 * last reaps, the message) before we stop waiting for it. */
#define REAPER_GRACE_MS 2000

extern char **environ;

static struct {
	struct ev_loop *loop;
	const options_t *opts;
	ev_timer cleanup_timer; /* re-kills orphans of lost reapers while there are any */
	ev_prepare held_check;  /* while log lines are held back: sends them once there is room */
	int avoid_port;  /* while retrying: the port that just failed */
	pid_t *retiring; /* reapers that sent their last message and are exiting */
	size_t nretiring, capretiring;
	int log_fd; /* the reapers' stdout and stderr: ours (2) unless the front end has a pipe */
} rl = {.log_fd = 2};

static void on_msg(chan_t *c, json_t *msg, void *ctx);
static void on_eof(chan_t *c, void *ctx);
static void cleanup_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void held_check_cb(struct ev_loop *loop, ev_prepare *w, int revents);

void reaper_link_set_log_fd(int fd)
{
	rl.log_fd = fd >= 0 ? fd : 2;
}

void reaper_link_init(struct ev_loop *loop, const options_t *opts)
{
	rl.loop = loop;
	rl.opts = opts;
	ev_timer_init(&rl.cleanup_timer, cleanup_cb, CLEANUP_RETRY_S, CLEANUP_RETRY_S);
	ev_prepare_init(&rl.held_check, held_check_cb);
}

bool reaper_link_spawn(project_t *p, char *err, size_t errlen)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		snprintf(err, errlen, "socketpair: %s", strerror(errno));
		return false;
	}
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t all, none;
	sigfillset(&all);
	sigemptyset(&none);
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	/* the channel on fd 3; stdin /dev/null; stdout to our stderr: stdout is the protocol's */
	posix_spawn_file_actions_adddup2(&fa, sv[1], CONTROL_FD);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (rl.log_fd != 2)
		posix_spawn_file_actions_adddup2(&fa, rl.log_fd, 2);
	posix_spawn_file_actions_adddup2(&fa, 2, 1);
	/* Its own process group, so a terminal's Ctrl-C reaches the master only; default
	 * signal dispositions and an empty mask whatever ours are. */
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF |
						POSIX_SPAWN_SETSIGMASK);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setsigmask(&attr, &none);
	char *argv[] = {"devsup-reaper", p->id, NULL};
	/* The database's credentials are the master's alone: a reaper needs none, and what it
	 * never has it cannot pass on to project code (it filters too; SPEC §1). Built per spawn
	 * because the environment may change (setenv of DEVSUP_LOG_LEVEL at start-up). */
	char **envp = envfilter_without_secrets(environ);
	pid_t pid;
	int r = posix_spawn(&pid, rl.opts->reaper_path, &fa, &attr, argv, envp);
	free(envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(sv[1]);
	if (r != 0) {
		close(sv[0]);
		snprintf(err, errlen, "%s: %s", rl.opts->reaper_path, strerror(r));
		return false;
	}
	p->reaper_pid = pid;
	p->adopted_reaper = false;
	free(p->adopted_roots); /* a reaper of ours: its tree is below us */
	p->adopted_roots = NULL;
	p->adopted_nroots = 0;
	p->handed_over = false;
	p->cleaning = false;
	p->reaper_killed = false;
	chan_init(&p->chan, rl.loop, sv[0], on_msg, on_eof, p);
	log_debug("project %s: reaper %d", p->id, (int)pid);
	return true;
}

void reaper_link_send(project_t *p, json_t *msg)
{
	if (!chan_send(&p->chan, msg) && chan_is_open(&p->chan))
		chan_abort(&p->chan); /* on_eof follows, then report_lost says why */
}

/* Signals p's reaper: through its pidfd when adopted (not our child: its pid could be re-used
 * once it has exited), else by pid (our child, not yet reaped: the pid is still its own). */
static void reaper_signal(project_t *p, int sig)
{
	if (p->reaper_pidfd >= 0) {
		if (proc_pidfd_signal(p->reaper_pidfd, sig) < 0 && errno != ESRCH)
			log_warn("project %s: signal to reaper %d: %s", p->id, (int)p->reaper_pid,
				 strerror(errno));
		return;
	}
	if (p->reaper_pid > 0)
		kill(p->reaper_pid, sig);
}

static void copy_exit_fields(json_t *ev, const json_t *msg)
{
	json_t *v;
	if ((v = json_object_get(msg, "exitCode")))
		json_object_set(ev, "exitCode", v);
	if ((v = json_object_get(msg, "signal")))
		json_object_set(ev, "signal", v);
}

/* The reaper sent its last message: nothing of the project is alive, so the project is free
 * at once (a new start may follow this very answer) while the old reaper finishes exiting. */
static void detach_reaper(project_t *p)
{
	reaper_link_release(p);
	chan_close(&p->chan);
	if (p->adopted_reaper) {
		/* not our child: its exit is init's (or a subreaper's) to reap, never ours */
		reaper_link_forget_pidfd(p);
		p->reaper_pid = 0;
	}
	if (p->reaper_pid > 0) {
		if (rl.nretiring == rl.capretiring) {
			rl.capretiring = rl.capretiring ? rl.capretiring * 2 : 8;
			rl.retiring = xrealloc(rl.retiring, rl.capretiring * sizeof(*rl.retiring));
		}
		rl.retiring[rl.nretiring++] = p->reaper_pid;
		p->reaper_pid = 0;
	}
	project_flush_log_requests(p);
}

bool reaper_link_retiring(void)
{
	return rl.nretiring > 0;
}

void reaper_link_free(void)
{
	if (rl.loop)
		ev_prepare_stop(rl.loop, &rl.held_check);
	free(rl.retiring);
	rl.retiring = NULL;
	rl.nretiring = rl.capretiring = 0;
}

static bool taken_or_avoided(int port)
{
	return port == rl.avoid_port || projects_port_taken(port);
}

/* A start that failed because its port was taken after we chose it (another process bound it
 * in between, another devsup's server among them) goes on with a fresh reaper on another port,
 * unless strictPort, until it has tried as many ports as the range has (the round robin moves
 * on at each try); true if so. */
static bool retry_on_new_port(project_t *p, const json_t *msg)
{
	const char *phase = json_string_value(json_object_get(msg, "phase"));
	const char *reason = json_string_value(json_object_get(msg, "reason"));
	char err[256];
	if (p->state != STATE_STARTING || !phase || strcmp(phase, "start") != 0 || !reason ||
	    strcmp(reason, "port_in_use") != 0 ||
	    p->port_retries + 1 >= (unsigned)(rl.opts->port_hi - rl.opts->port_lo + 1) ||
	    json_is_true(json_object_get(p->spec, "strictPort")))
		return false;
	rl.avoid_port = p->port;
	int port = ports_allocate(0, false, taken_or_avoided, err, sizeof(err));
	rl.avoid_port = 0;
	if (port < 0)
		return false;
	detach_reaper(p);
	log_info("project %s: port %d is taken; trying port %d", p->id, p->port, port);
	ports_release(p->port);
	p->port_retries++;
	p->port = port;
	json_object_set_new(p->spec, "port", json_integer(port));
	if (!reaper_link_spawn(p, err, sizeof(err))) {
		log_error("project %s: %s", p->id, err);
		return false; /* reported as the conflict it was */
	}
	project_send_start(p);
	return true;
}

/* A stop devsup decided on its own (project_stop_for) is over: the server's end, as a crash
 * would be told, once nothing of its tree is left. */
static void report_end(project_t *p, const json_t *msg)
{
	json_t *ev = event_new("dev-server-exited", p->id, NULL);
	json_object_set_new(ev, "reason", json_string(reason_name(p->end_reason)));
	json_object_set_new(ev, "message",
			    json_string(p->failure_message ? p->failure_message
							   : reason_name(p->end_reason)));
	copy_exit_fields(ev, msg);
	json_object_set_new(ev, "logTail", json_array());
	output_event(ev);
	metrics_exited(p->end_reason);
	p->end_reason = REASON_NONE;
}

/* stopping -> stopped, answering every stop that waited (or announcing it, for a shutdown;
 * or, for a stop devsup decided, reporting the server's end instead). */
static void finish_stop(project_t *p, const json_t *msg)
{
	if (!project_transition(p, STATE_STOPPED, p->stop_reason, project_stop_cmd_id(p)))
		return;
	bool forced = json_is_true(json_object_get(msg, "forced"));
	json_t *escaped = json_object_get(msg, "escaped");
	size_t n = json_array_size(p->stop_ids);
	bool announce = p->end_reason == REASON_NONE;
	if (!announce)
		report_end(p, msg);
	for (size_t i = 0; i < (n ? n : (size_t)announce); i++) {
		json_t *id = n ? json_array_get(p->stop_ids, i) : NULL;
		json_t *ev = event_new("dev-server-stopped", p->id, json_is_null(id) ? NULL : id);
		copy_exit_fields(ev, msg);
		json_object_set_new(ev, "forced", json_boolean(forced));
		json_object_set_new(ev, "durationMs",
				    json_integer((json_int_t)(clock_ms() - p->stop_mono_ms)));
		json_object_set_new(ev, "reason", json_string(p->stop_reason ? p->stop_reason : ""));
		json_object_set_new(ev, "escaped", json_is_integer(escaped) ? json_incref(escaped)
									      : json_integer(0));
		output_event(ev);
	}
	json_array_clear(p->stop_ids);
	metrics_stopped(forced);
}

static void on_running(project_t *p, const json_t *msg)
{
	if (p->state != STATE_STARTING)
		return; /* a stop overtook it */
	json_t *id;
	int port = (int)json_integer_value(json_object_get(msg, "port"));
	json_int_t startup = json_integer_value(json_object_get(msg, "startupMs"));
	const char *fw = json_string_value(json_object_get(msg, "framework"));
	if (port > 0 && port != p->port) {
		/* the server moved on by itself (Vite, Next.js): the reservation follows it */
		ports_release(p->port);
		if (!ports_reserve(port))
			log_warn("project %s listens on port %d, which another devsup has reserved",
				 p->id, port);
		p->port = port;
	}
	p->last_port = p->port;
	p->startup_ms = startup;
	json_decref(p->good_request);
	p->good_request = json_incref(p->request);
	p->pid = (pid_t)json_integer_value(json_object_get(msg, "pid"));
	p->pgid = (pid_t)json_integer_value(json_object_get(msg, "pgid"));
	free(p->framework);
	p->framework = xstrdup(fw ? fw : "other");
	p->started_at_ms = wall_ms();
	const char *turl = json_string_value(json_object_get(msg, "tunnelUrl"));
	free(p->tunnel_url);
	p->tunnel_url = turl ? xstrdup(turl) : NULL;
	project_take_start_id(p, &id);
	project_transition(p, STATE_RUNNING, NULL, id);
	/* the reaper says where it answered (127.0.0.2, https); an older one does not */
	const char *url = json_string_value(json_object_get(msg, "url"));
	const char *scheme = json_string_value(json_object_get(msg, "scheme"));
	snprintf(p->scheme, sizeof(p->scheme), "%s",
		 scheme && strcmp(scheme, "https") == 0 ? "https" : "http");
	if (url)
		snprintf(p->url, sizeof(p->url), "%s", url);
	else
		snprintf(p->url, sizeof(p->url), "http://localhost:%d", p->port);
	json_t *ev = project_started_event(p, id);
	json_t *terr = json_object_get(msg, "tunnelError");
	if (terr)
		json_object_set(ev, "tunnelError", terr);
	project_answer_joined(p, ev);
	output_event(ev);
	metrics_start_succeeded((uint64_t)startup);
	json_decref(id);
}

static void on_failed(project_t *p, const json_t *msg)
{
	const char *phase = json_string_value(json_object_get(msg, "phase"));
	const char *rname = json_string_value(json_object_get(msg, "reason"));
	int r = rname ? reason_parse(rname) : -1;
	reason_t reason = r > 0 ? (reason_t)r : REASON_UNKNOWN;
	const char *message = json_string_value(json_object_get(msg, "message"));
	const char *suggestion = json_string_value(json_object_get(msg, "suggestion"));
	if (reason == REASON_PORT_IN_USE && json_is_true(json_object_get(p->spec, "strictPort")))
		suggestion = PORTS_STRICT_SUGGESTION;
	if (p->state == STATE_STOPPING) {
		finish_stop(p, msg); /* it died while we were stopping it: the stop is done */
		return;
	}
	free(p->failure_message);
	p->failure_message = xstrdup(message ? message : reason_name(reason));
	if (p->state == STATE_STARTING || p->state == STATE_RUNNING)
		project_note_failure(p, reason_name(reason), message, msg);
	json_t *extra = json_object();
	copy_exit_fields(extra, msg);
	json_object_set(extra, "logTail", json_object_get(msg, "logTail") ?: json_array());
	if (p->state == STATE_STARTING && phase && strcmp(phase, "start") == 0) {
		json_t *id;
		project_take_start_id(p, &id);
		project_transition(p, STATE_FAILED, reason_name(reason), id);
		metrics_start_failed(reason);
		project_fail_joined(p, reason, message ? message : "the start failed", suggestion,
				    extra);
		reply_error_with(p->id, id, reason, message ? message : "the start failed",
				 suggestion, extra);
		json_decref(id);
	} else if (p->state == STATE_RUNNING) {
		project_transition(p, STATE_FAILED, reason_name(reason), NULL);
		metrics_exited(reason);
		json_t *ev = event_new("dev-server-exited", p->id, NULL);
		json_object_set_new(ev, "reason", json_string(reason_name(reason)));
		if (message)
			json_object_set_new(ev, "message", json_string(message));
		json_object_update(ev, extra);
		json_decref(extra);
		output_event(ev);
	} else {
		log_error("project %s: 'failed' (%s) in state %s ignored", p->id, phase ? phase : "?",
			  state_name(p->state));
		json_decref(extra);
	}
}

static void on_lines(project_t *p, const json_t *msg, bool archive)
{
	json_t *lines = json_object_get(msg, "lines");
	if (archive) {
		size_t i;
		json_t *l;
		json_array_foreach(lines, i, l)
		{
			const char *text = json_string_value(json_object_get(l, "line"));
			const char *stream = json_string_value(json_object_get(l, "stream"));
			/* the time the reaper read the line, not the time it handed it over */
			uint64_t at;
			if (!time_parse_iso8601(json_string_value(json_object_get(l, "timestamp")),
						&at))
				at = wall_ms();
			if (text)
				ring_push(&p->archive,
					  stream && strcmp(stream, "stderr") == 0 ? RING_STDERR
										  : RING_STDOUT,
					  text, strlen(text), at);
		}
		return;
	}
	char key[32];
	snprintf(key, sizeof(key), "%lld",
		 (long long)json_integer_value(json_object_get(msg, "reqId")));
	json_t *req = json_object_get(p->log_requests, key);
	if (!req)
		return;
	json_array_extend(json_object_get(req, "lines"), lines);
	if (!json_is_true(json_object_get(msg, "done")))
		return;
	json_t *id = json_object_get(req, "id");
	project_reply_logs(p, json_is_null(id) ? NULL : id,
			   json_incref(json_object_get(req, "lines")));
	json_object_del(p->log_requests, key);
}

/* Sends a log line from the reaper, saying how many were dropped before it. */
static void log_send(project_t *p, const json_t *msg)
{
	json_int_t upstream = json_integer_value(json_object_get(msg, "dropped"));
	json_t *ev = event_new("log", p->id, NULL);
	json_int_t at = json_integer_value(json_object_get(msg, "at"));
	if (at > 0) {
		/* when the reaper read the line: a master that was stopped (Ctrl-Z) or behind
		 * sends it later, still with the time it was printed */
		char iso[32];
		time_iso8601((uint64_t)at, iso, sizeof(iso));
		json_object_set_new(ev, "timestamp", json_string(iso));
	}
	json_object_set(ev, "stream", json_object_get(msg, "stream"));
	json_object_set(ev, "line", json_object_get(msg, "line"));
	uint64_t dropped = p->logs_dropped + (uint64_t)upstream;
	if (dropped)
		json_object_set_new(ev, "dropped", json_integer((json_int_t)dropped));
	p->logs_dropped = 0;
	output_event(ev);
}

/* The line held back for p, if any, goes out (before anything newer). */
static void log_send_held(project_t *p)
{
	json_t *held = p->log_held;
	if (!held)
		return;
	p->log_held = NULL;
	log_send(p, held);
	json_decref(held);
}

/* The held lines go out once stdout has room again: checked after every event while any is
 * held, so a flood that ends while the client is behind still says how much it lost. */
static void held_check_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	(void)revents;
	if (!output_log_room_now())
		return;
	for (project_t *p = project_first(); p; p = p->next)
		log_send_held(p);
	ev_prepare_stop(loop, w);
}

/* A log line for the client, unless stdout is behind: then the newest line is held and the
 * ones it replaces counted; it goes out, saying how many were dropped before it, with the
 * next line or as soon as stdout has room (lifecycle events are never dropped). */
static void on_log(project_t *p, const json_t *msg)
{
	if (!output_log_room()) {
		if (p->log_held)
			p->logs_dropped +=
				1 + (uint64_t)json_integer_value(json_object_get(p->log_held, "dropped"));
		json_decref(p->log_held);
		p->log_held = json_incref((json_t *)msg);
		ev_prepare_start(rl.loop, &rl.held_check);
		return;
	}
	log_send_held(p);
	log_send(p, msg);
}

/* tunnel-opened / tunnel-closed / tunnel-failed, and the URL kept in status and the row */
static void on_tunnel(project_t *p, const json_t *msg)
{
	const char *what = json_string_value(json_object_get(msg, "event")) ?: "";
	const char *url = json_string_value(json_object_get(msg, "url"));
	char type[32];
	snprintf(type, sizeof(type), "tunnel-%s", what);
	json_t *ev = event_new(type, p->id, NULL);
	json_t *v;
	if (url)
		json_object_set_new(ev, "url", json_string(url));
	if ((v = json_object_get(msg, "reason")))
		json_object_set(ev, "reason", v);
	if ((v = json_object_get(msg, "message")))
		json_object_set(ev, "message", v);
	output_event(ev);
	if (p->state != STATE_RUNNING)
		return; /* the start's own answer carries it, written with the running transition */
	free(p->tunnel_url);
	p->tunnel_url = strcmp(what, "opened") == 0 && url ? xstrdup(url) : NULL;
	store_tunnel_url(p->id, p->seq, p->tunnel_url);
}

/* The reaper's answer to `detach`: it holds the project for the next master, or could not
 * (then the project is stopped: only a project that can be adopted is left behind). */
static void on_detached(project_t *p, const json_t *msg)
{
	const char *error = json_string_value(json_object_get(msg, "error"));
	if (!error) {
		p->handed_over = true;
		return;
	}
	log_error("project %s cannot be handed over (%s): stopping it", p->id, error);
	if (state_is_live(p->state) && p->state != STATE_STOPPING)
		project_cmd_stop(p->id, NULL, "shutdown", NULL);
}

static void on_msg(chan_t *c, json_t *msg, void *ctx)
{
	project_t *p = ctx;
	const char *type = json_string_value(json_object_get(msg, "type"));
	(void)c;
	if (!type) {
		log_error("project %s: reaper message without type", p->id);
	} else if (strcmp(type, "spawned") == 0) {
		project_set_framework(p, json_string_value(json_object_get(msg, "framework")));
		p->pid = (pid_t)json_integer_value(json_object_get(msg, "pid"));
		p->pgid = (pid_t)json_integer_value(json_object_get(msg, "pgid"));
		const char *cg = json_string_value(json_object_get(msg, "cgroup"));
		free(p->cgroup);
		p->cgroup = cg ? xstrdup(cg) : NULL;
	} else if (strcmp(type, "running") == 0) {
		on_running(p, msg);
	} else if (strcmp(type, "failed") == 0 || strcmp(type, "stopped") == 0) {
		if (type[0] == 'f' && retry_on_new_port(p, msg))
			return;
		if (type[0] == 'f')
			on_failed(p, msg);
		else if (p->state == STATE_STOPPING)
			finish_stop(p, msg);
		if (state_is_live(p->state)) {
			/* a last message that ended nothing: a reaper bug. Kill it; the lost path
			 * cleans up and reports. */
			log_error("project %s: reaper sent '%s' in state %s", p->id, type,
				  state_name(p->state));
			reaper_signal(p, SIGKILL);
			return;
		}
		/* the reaper's last message: release the project now, not when it has exited */
		detach_reaper(p);
		project_resume_restart(p);
	} else if (strcmp(type, "archive") == 0) {
		on_lines(p, msg, true);
	} else if (strcmp(type, "logs") == 0) {
		on_lines(p, msg, false);
	} else if (strcmp(type, "log") == 0) {
		on_log(p, msg);
	} else if (strcmp(type, "tunnel") == 0) {
		on_tunnel(p, msg);
	} else if (strcmp(type, "detached") == 0) {
		on_detached(p, msg);
	} else {
		log_error("project %s: unknown reaper message '%s'", p->id, type);
	}
}

static int by_pid(const void *a, const void *b)
{
	pid_t pa = ((const proc_info_t *)a)->pid, pb = ((const proc_info_t *)b)->pid;
	return pa < pb ? -1 : pa > pb;
}

static int cmp_pid(const void *a, const void *b)
{
	pid_t pa = *(const pid_t *)a, pb = *(const pid_t *)b;
	return pa < pb ? -1 : pa > pb;
}

/* The reapers we still count on (sorted): their projects' processes are their business. */
static size_t live_reapers(pid_t **out)
{
	size_t n = rl.nretiring, cap = rl.nretiring + 16;
	pid_t *pids = xmalloc(cap * sizeof(*pids));
	if (n)
		memcpy(pids, rl.retiring, n * sizeof(*pids));
	for (project_t *p = project_first(); p; p = p->next) {
		if (p->reaper_pid <= 0)
			continue;
		if (n == cap) {
			cap *= 2;
			pids = xrealloc(pids, cap * sizeof(*pids));
		}
		pids[n++] = p->reaper_pid;
	}
	qsort(pids, n, sizeof(*pids), cmp_pid);
	*out = pids;
	return n;
}

/* Of procs (sorted by pid), the one below us that pid descends from: a reaper, or an orphan. */
static const proc_info_t *top_ancestor(const proc_info_t *procs, size_t n, const proc_info_t *at)
{
	pid_t self = getpid();
	for (size_t depth = 0; at->ppid != self && depth < n; depth++) {
		proc_info_t key = {.pid = at->ppid};
		const proc_info_t *up = bsearch(&key, procs, n, sizeof(*procs), by_pid);
		if (!up)
			break; /* its parent just exited: it is being re-parented to us */
		at = up;
	}
	return at;
}

/*
 * Kills what lost reapers left, by structure: we are a subreaper and run no project code
 * ourselves, so every process below us that is not a live reaper or under one belongs to a
 * project whose reaper died (whatever its environment, group or session says). When several
 * reapers die at once their orphans cannot be told apart, and need not be: all are killed.
 * True while any is alive (a zombie is dead already; we reap it).
 */
static bool kill_orphans(void)
{
	proc_info_t *procs;
	pid_t *reapers;
	size_t n = proc_descendants(getpid(), &procs), nr = live_reapers(&reapers);
	bool left = false;
	if (n > 1)
		qsort(procs, n, sizeof(*procs), by_pid);
	for (size_t i = 0; i < n; i++) {
		pid_t top = top_ancestor(procs, n, &procs[i])->pid;
		if (procs[i].state == 'Z' || bsearch(&top, reapers, nr, sizeof(*reapers), cmp_pid))
			continue;
		left = true;
		if (proc_signal(&procs[i], SIGKILL) < 0 && errno != ESRCH)
			log_warn("SIGKILL to orphan %d (%s): %s", (int)procs[i].pid, procs[i].comm,
				 strerror(errno));
	}
	free(reapers);
	free(procs);
	return left;
}

/* A lost reaper's cgroup (SPEC §9): nothing in it escapes, so one cgroup.kill while anything
 * is in it, and the group's own word on emptiness; removed once empty (the reaper would have).
 * True while populated. */
static bool kill_cgroup_of(project_t *p)
{
	if (!p->cgroup)
		return false;
	if (cgroup_populated(p->cgroup) == 1) {
		if (cgroup_kill(p->cgroup) < 0)
			log_warn("project %s: cgroup.kill: %s", p->id, strerror(errno));
		return true;
	}
	(void)!cgroup_remove(p->cgroup);
	return false;
}

/* The reaper is gone without its final message: report reaper_lost, per the state. */
static void report_lost(project_t *p)
{
	char text[512];
	if (p->reaper_killed)
		snprintf(text, sizeof(text),
			 "the reaper of project %s did not end within its stop timeout + %d ms and "
			 "was killed; its processes were killed",
			 p->id, REAPER_GRACE_MS);
	else if (p->chan.aborted)
		snprintf(text, sizeof(text),
			 "a control message to the reaper of project %s could not be sent (%s); its "
			 "processes were killed",
			 p->id, p->chan.error);
	else
		snprintf(text, sizeof(text),
			 "the reaper of project %s died unexpectedly; its processes were killed",
			 p->id);
	free(p->failure_message);
	p->failure_message = xstrdup(text);
	json_t *extra = json_pack("{s:[]}", "logTail");
	if (p->state == STATE_STARTING || p->state == STATE_RUNNING) {
		json_t *how = json_pack("{s:s}", "signal", "SIGKILL");
		project_note_failure(p, "reaper_lost", text, p->state == STATE_RUNNING ? how : NULL);
		json_decref(how);
	}
	if (p->state == STATE_STARTING) {
		json_t *id;
		project_take_start_id(p, &id);
		project_transition(p, STATE_FAILED, "reaper_lost", id);
		metrics_start_failed(REASON_REAPER_LOST);
		project_fail_joined(p, REASON_REAPER_LOST, text, NULL, extra);
		reply_error_with(p->id, id, REASON_REAPER_LOST, text, NULL, extra);
		json_decref(id);
	} else if (p->state == STATE_RUNNING) {
		project_transition(p, STATE_FAILED, "reaper_lost", NULL);
		metrics_exited(REASON_REAPER_LOST);
		json_t *ev = event_new("dev-server-exited", p->id, NULL);
		json_object_set_new(ev, "reason", json_string("reaper_lost"));
		json_object_set_new(ev, "message", json_string(text));
		json_object_set_new(ev, "signal", json_string("SIGKILL"));
		json_object_update(ev, extra);
		json_decref(extra);
		output_event(ev);
	} else {
		if (p->state == STATE_STOPPING) {
			json_t *fin = json_pack("{s:b}", "forced", 1);
			finish_stop(p, fin);
			json_decref(fin);
		}
		json_decref(extra);
	}
}

/* Both the channel's EOF and the reaper's exit are in: the project has no reaper now. */
static void reaper_gone(project_t *p)
{
	if (p->reaper_pid > 0 || chan_is_open(&p->chan))
		return;
	reaper_link_release(p);
	if (state_is_live(p->state) && !p->cleaning) {
		if (!p->reaper_killed)
			log_error("project %s: reaper lost in state %s", p->id,
				  state_name(p->state));
		p->cleaning = true;
	}
	if (p->cleaning) {
		bool left = kill_orphans();
		if (p->adopted_reaper)
			left = adopt_tree_kill(p, rl.opts->runner_id) || left;
		if (kill_cgroup_of(p) || left) {
			if (!ev_is_active(&rl.cleanup_timer))
				ev_timer_start(rl.loop, &rl.cleanup_timer);
			return;
		}
		p->cleaning = false;
		report_lost(p);
		p->reaper_killed = false;
	}
	project_flush_log_requests(p);
	project_resume_restart(p);
}

static void deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	project_t *p = w->data;
	(void)loop;
	(void)revents;
	p->reaper_deadline_ms = 0;
	if (p->reaper_pid <= 0)
		return; /* exited already; its EOF or reap finishes the project */
	log_warn("project %s: reaper %d did not end within the stop timeout + %d ms "
		 "(stopped or hung): killing it and the project's processes",
		 p->id, (int)p->reaper_pid, REAPER_GRACE_MS);
	p->reaper_killed = true;
	/* our child, not yet reaped: the pid is still its own. SIGCONT for a stopped one, though
	 * SIGKILL ends it stopped or not. */
	reaper_signal(p, SIGKILL);
	reaper_signal(p, SIGCONT);
	chan_close(&p->chan); /* its last messages no longer count; its reap ends it */
}

void reaper_link_expect_end(project_t *p, uint64_t timeout_ms)
{
	if (p->reaper_pid <= 0)
		return;
	uint64_t now = clock_ms(), at = now + timeout_ms + REAPER_GRACE_MS;
	if (p->reaper_deadline_ms && p->reaper_deadline_ms <= at)
		return; /* the earlier deadline wins */
	p->reaper_deadline_ms = at;
	ev_timer_stop(rl.loop, &p->reaper_deadline);
	ev_set_cb(&p->reaper_deadline, deadline_cb);
	p->reaper_deadline.data = p;
	ev_timer_set(&p->reaper_deadline, (double)(at - now) / 1000., 0.);
	ev_timer_start(rl.loop, &p->reaper_deadline);
}

void reaper_link_release(project_t *p)
{
	if (rl.loop)
		ev_timer_stop(rl.loop, &p->reaper_deadline);
	p->reaper_deadline_ms = 0;
}

static void on_eof(chan_t *c, void *ctx)
{
	project_t *p = ctx;
	chan_close(c);
	/* A reaper that closed its channel without finishing is of no more use: make sure it
	 * is dead (it is our child and not yet reaped, so the pid is still its own). */
	if (state_is_live(p->state) && p->reaper_pid > 0)
		reaper_signal(p, SIGKILL);
	/* an adopted reaper without a pidfd (no pidfds here): its EOF is all we learn */
	if (p->reaper_pidfd < 0 && p->adopted_reaper)
		p->reaper_pid = 0;
	reaper_gone(p);
}

static void cleanup_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	bool any = false;
	(void)revents;
	for (project_t *p = project_first(); p; p = p->next) {
		if (p->cleaning) {
			reaper_gone(p);
			any = any || p->cleaning;
		}
	}
	if (!any)
		ev_timer_stop(loop, w);
}

void reaper_link_child_reaped(pid_t pid, int status)
{
	(void)status;
	for (size_t i = 0; i < rl.nretiring; i++) {
		if (rl.retiring[i] == pid) {
			rl.retiring[i] = rl.retiring[--rl.nretiring];
			return;
		}
	}
	for (project_t *p = project_first(); p; p = p->next) {
		if (p->reaper_pid == pid) {
			p->reaper_pid = 0;
			reaper_gone(p);
			return;
		}
	}
	/* an orphan of a lost reaper: see whether its project is clean now */
	for (project_t *p = project_first(); p; p = p->next)
		if (p->cleaning)
			reaper_gone(p);
}

static void adopted_exit_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	project_t *p = w->data;
	(void)loop;
	(void)revents;
	reaper_link_forget_pidfd(p);
	p->reaper_pid = 0;
	reaper_gone(p);
}

void reaper_link_adopt(project_t *p, int fd, pid_t pid, int pidfd)
{
	p->reaper_pid = pid;
	p->adopted_reaper = true;
	p->cleaning = false;
	p->reaper_killed = false;
	p->reaper_pidfd = pidfd;
	if (pidfd >= 0) {
		ev_io_init(&p->reaper_exit, adopted_exit_cb, pidfd, EV_READ);
		p->reaper_exit.data = p;
		ev_io_start(rl.loop, &p->reaper_exit);
	}
	chan_init(&p->chan, rl.loop, fd, on_msg, on_eof, p);
	if (p->state == STATE_STOPPING) {
		/* a stop under way at the hand-over: the same bound on its end as any stop */
		json_t *t = p->spec ? json_object_get(p->spec, "stopTimeoutMs") : NULL;
		reaper_link_expect_end(p, json_is_integer(t) ? (uint64_t)json_integer_value(t) : 10000);
	}
}

void reaper_link_forget_pidfd(project_t *p)
{
	if (p->reaper_pidfd < 0)
		return;
	ev_io_stop(rl.loop, &p->reaper_exit);
	close(p->reaper_pidfd);
	p->reaper_pidfd = -1;
}
