/* The reaper's lifecycle: start -> spawn -> health -> running -> teardown -> final message. */
#include "reaper/reaper.h"

#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/listeners.h"
#include "common/log.h"
#include "common/utf8.h"
#include "common/util.h"
#include "reaper/framework.h"
#include "reaper/handover.h"
#include "reaper/spawn.h"
#include "reaper/tls.h"

#define IMMEDIATE_CRASH_MS 3000
#define LOG_TAIL_LINES 20
#define CHUNK_BYTES (32 * 1024)
/* How often a starting server's listening ports are looked up (to follow a server that moved
 * to another port, and to find listeners bound elsewhere than loopback). Also done at once when
 * its output talks about a port in use. With the listen trap the notifications say all this,
 * and the look-up is only a slow safety net (a socket inherited from elsewhere, the i386
 * socketcall ABI). */
#define PORT_SCAN_S 0.25
#define PORT_SCAN_TRAPPED_S 1.0
#define PORT_SCAN_TRAPPED_MAX_S 8.0
/* How often the tree's RSS is compared with limits.memoryBytes without memory.max (SPEC §9:
 * at most 1 s apart), only for projects with a limit. */
#define MEMORY_SAMPLE_S 0.5

static spawn_plan_t plan;

/* The lifecycle, in the order a project lives it. */
static void reaper_exec_succeeded(reaper_t *r);
static void reaper_healthy(reaper_t *r, int port);
static void reaper_unhealthy(reaper_t *r, reason_t reason, const char *message);
static void reaper_output_line(reaper_t *r, ring_stream_t stream, const char *line, size_t len);
static void reaper_begin_teardown(reaper_t *r, end_t end);
static void reaper_teardown_done(reaper_t *r);

static void reaper_teardown_cb(void *ctx)
{
	reaper_teardown_done(ctx);
}

/* exitCode or signal of the server, when it has been reaped. Not after an exec failure: then
 * the process never ran the command, and the SIGTERM the teardown may have sent it before it
 * reached _exit is ours, not the command's. */
static void add_exit_status(json_t *msg, const reaper_t *r)
{
	if (!r->exited || r->exec_failed)
		return;
	if (WIFEXITED(r->status))
		json_object_set_new(msg, "exitCode", json_integer(WEXITSTATUS(r->status)));
	else if (WIFSIGNALED(r->status))
		json_object_set_new(msg, "signal", json_string(signal_name(WTERMSIG(r->status))));
}

/* Every message to the master goes through here. One that cannot be sent (it could not be
 * built or encoded, or is over the channel's size limit) would leave the master waiting for
 * something that never comes: the channel is aborted instead, which the master reports as
 * reaper_lost (naming why) and which tears this project down like a lost master. */
void reaper_send(reaper_t *r, json_t *msg)
{
	if (handover_queue(r, msg))
		return; /* detached: for the adopter */
	if (!chan_send(&r->chan, msg) && chan_is_open(&r->chan))
		chan_abort(&r->chan);
}

static json_t *ring_lines_json(const reaper_t *r, size_t from, size_t to, size_t *next)
{
	json_t *lines = json_array();
	size_t bytes = 0, i = from;
	char ts[32];
	for (; i < to && bytes < CHUNK_BYTES; i++) {
		const ring_line_t *l = ring_at(&r->ring, i);
		time_iso8601(l->at_ms, ts, sizeof(ts));
		json_array_append_new(lines, json_pack("{s:s, s:o, s:s}", "stream",
						       ring_stream_name(l->stream), "line",
						       utf8_json_string(l->text), "timestamp", ts));
		bytes += strlen(l->text) + 64;
	}
	*next = i;
	return lines;
}

/* Sends the last `want` lines as one or more messages of `type` (each under the channel's
 * message size), the last one with done: true. */
static void send_lines(reaper_t *r, const char *type, json_t *id, size_t want)
{
	size_t count = r->ring.count;
	size_t from = want < count ? count - want : 0;
	do {
		size_t next;
		json_t *msg = json_pack("{s:s, s:o}", "type", type, "lines",
					ring_lines_json(r, from, count, &next));
		if (id)
			json_object_set(msg, "reqId", id);
		json_object_set_new(msg, "done", json_boolean(next >= count));
		reaper_send(r, msg);
		from = next;
	} while (from < count);
}

static json_t *log_tail(const reaper_t *r)
{
	json_t *tail = json_array();
	size_t count = r->ring.count;
	for (size_t i = count > LOG_TAIL_LINES ? count - LOG_TAIL_LINES : 0; i < count; i++)
		json_array_append_new(tail, utf8_json_string(ring_at(&r->ring, i)->text));
	return tail;
}

/* The final message is the one the master must get: if it cannot go out as built, a plain
 * one with the same outcome and what went wrong is sent instead, before giving up the channel. */
static void reaper_send_final(reaper_t *r, json_t *msg)
{
	if (handover_queue(r, msg))
		return; /* detached: for the adopter */
	json_t *type = json_incref(json_object_get(msg, "type"));
	if (chan_send(&r->chan, msg) || !chan_is_open(&r->chan)) {
		json_decref(type);
		return;
	}
	log_error("%s: the final message could not be sent (%s): sending a plain one",
		  r->project_id, r->chan.error);
	json_t *plain = json_pack("{s:o, s:b, s:i, s:I}", "type", type ?: json_string("failed"),
				  "forced", r->teardown.forced, "escaped", r->teardown.escaped,
				  "durationMs", (json_int_t)(clock_ms() - r->teardown.started_ms));
	if (r->end != END_STOPPED) {
		char text[sizeof(r->failure.message) + 200];
		utf8_format(text, sizeof(text), "%s (the full report could not be sent: %s)",
			    r->failure.message, r->chan.error);
		json_object_set_new(plain, "phase",
				    json_string(r->end == END_FAILED_START ? "start" : "run"));
		json_object_set_new(plain, "reason", json_string(reason_name(r->failure.reason)));
		json_object_set_new(plain, "message", utf8_json_string(text));
		json_object_set_new(plain, "logTail", json_array());
	}
	reaper_send(r, plain);
}

/* The limit was hit (sampled, or the kernel's OOM kill under memory.max): whatever else was
 * seen on the way down (the server killed by SIGKILL), the reason is memory_limit. */
static void reaper_memory_verdict(reaper_t *r)
{
	char limit[32], peak[32];
	if (!r->memory_limit || (!r->memory_over && !contain_oom_killed(&r->contain)))
		return;
	uint64_t top = r->memory_peak ? r->memory_peak : contain_memory_peak(&r->contain);
	bytes_human(r->memory_limit, limit, sizeof(limit));
	bytes_human(top ? top : r->memory_limit, peak, sizeof(peak));
	failure_set(&r->failure, REASON_MEMORY_LIMIT, NULL,
		    "'%s' used %s%s of memory, over its limit of %s (limits.memoryBytes %llu): "
		    "it was stopped",
		    plan.display, top ? "" : "at least ", peak, limit,
		    (unsigned long long)r->memory_limit);
}

static void reaper_teardown_done(reaper_t *r)
{
	json_t *msg = NULL;
	/* ended while the master is still connected: it hears of it now, nothing to hand over */
	if (!r->ho.detached)
		handover_disarm(r);
	ev_timer_stop(r->loop, &r->memory_timer);
	if (r->end != END_STOPPED)
		reaper_memory_verdict(r);
	contain_close(&r->contain, r->end == END_MASTER_LOST);
	switch (r->end) {
	case END_STOPPED:
		msg = json_pack("{s:s, s:b, s:i, s:I}", "type", "stopped", "forced",
				r->teardown.forced, "escaped", r->teardown.escaped, "durationMs",
				(json_int_t)(clock_ms() - r->teardown.started_ms));
		break;
	case END_FAILED_START:
	case END_FAILED_RUN:
		msg = json_pack("{s:s, s:s, s:s, s:o, s:o, s:o}", "type", "failed", "phase",
				r->end == END_FAILED_START ? "start" : "run", "reason",
				reason_name(r->failure.reason), "message",
				utf8_json_string(r->failure.message), "suggestion",
				utf8_json_string(r->failure.suggestion), "logTail", log_tail(r));
		break;
	case END_MASTER_LOST:
		break;
	}
	capture_close(&r->out, r->loop);
	capture_close(&r->err, r->loop);
	if (msg) {
		add_exit_status(msg, r);
		if (r->pid > 0) {
			json_object_set_new(msg, "pid", json_integer(r->pid));
		}
		/* The master keeps the output for `logs` after this process is gone. */
		send_lines(r, "archive", NULL, r->ring.count);
		reaper_send_final(r, msg);
	}
	r->phase = PHASE_DONE;
	/* With only the channel's write watcher left active, ev_run returns once it drains. */
	ev_io_stop(r->loop, &r->chan.rio);
	ev_child_stop(r->loop, &r->child_watcher);
	ev_signal_stop(r->loop, &r->sigterm_watcher);
	if (r->exec_fd >= 0) {
		ev_io_stop(r->loop, &r->exec_watcher);
		close(r->exec_fd);
		r->exec_fd = -1;
	}
	health_stop(&r->health);
	/* the tree is gone: nobody is left to call listen() */
	listen_trap_close(&r->trap);
}

/* The server's teardown (which also reaches the tunnel client: it walks every descendant). */
static void reaper_teardown_tree(reaper_t *r)
{
	if (r->teardown_started)
		return;
	r->teardown_started = true;
	teardown_start(&r->teardown, r->loop, &r->contain, r->pid, r->stop_timeout_ms,
		       reaper_teardown_cb, r);
}

static void reaper_begin_teardown(reaper_t *r, end_t end)
{
	if (r->phase == PHASE_DONE)
		return;
	if (r->phase == PHASE_TEARDOWN) {
		if (end == END_MASTER_LOST) {
			/* nobody left to tell, and a bound to keep (SPEC §1): no more waiting for
			 * the tunnel's grace before the server's stop */
			r->end = end;
			reaper_teardown_tree(r);
		}
		return;
	}
	r->phase = PHASE_TEARDOWN;
	r->end = end;
	health_stop(&r->health);
	ev_timer_stop(r->loop, &r->scan_timer);
	/* SPEC §6: the tunnel is closed before the server is stopped, so it never outlives it;
	 * its grace is no longer than the stop's. When the master is lost, both at once: the
	 * whole project must be gone within its stop timeout plus a second (SPEC §1), and the
	 * tree's teardown reaches the tunnel client too, so it cannot outlive the server. */
	if (r->tunnel_live) {
		tunnel_close(&r->tunnel, r->stop_timeout_ms);
		if (end != END_MASTER_LOST)
			return;
	}
	reaper_teardown_tree(r);
}

static void tunnel_closed_cb(void *ctx)
{
	reaper_t *r = ctx;
	r->tunnel_live = false;
	if (r->phase == PHASE_TEARDOWN)
		reaper_teardown_tree(r);
}

static void reaper_fail_start(reaper_t *r, const failure_t *f)
{
	if (r->phase == PHASE_TEARDOWN || r->phase == PHASE_DONE)
		return;
	r->failure = *f;
	reaper_begin_teardown(r, END_FAILED_START);
}

/* The failure for a server that exited before it was healthy. */
static void classify_early_exit(reaper_t *r, failure_t *f)
{
	uint64_t after = clock_ms() - r->spawned_ms;
	if (r->port_conflict) {
		char owner[128];
		listeners_owner(r->port, owner, sizeof(owner));
		failure_set(f, REASON_PORT_IN_USE, NULL,
			    "'%s' exited because port %d is already in use (held by %s)",
			    plan.display, r->port, owner);
		return;
	}
	if (spawn_classify_shell_exit(&plan, r->status, f))
		return;
	reason_t reason = after < IMMEDIATE_CRASH_MS ? REASON_IMMEDIATE_CRASH : REASON_CRASHED;
	if (WIFSIGNALED(r->status))
		failure_set(f, reason, NULL,
			    "'%s' was killed by %s %llu ms after it was started, before it answered "
			    "HTTP",
			    plan.display, signal_name(WTERMSIG(r->status)), (unsigned long long)after);
	else
		failure_set(f, reason, NULL,
			    "'%s' exited with code %d %llu ms after it was started, before it "
			    "answered HTTP",
			    plan.display, WEXITSTATUS(r->status), (unsigned long long)after);
}

static void reaper_exec_succeeded(reaper_t *r)
{
	if (r->phase != PHASE_SPAWNING)
		return;
	/* the framework too: status shows it while the server is starting */
	json_t *spawned = json_pack("{s:s, s:i, s:i, s:s, s:s}", "type", "spawned", "pid", r->pid,
				    "pgid", r->pid, "framework", r->framework, "containment",
				    contain_kind(&r->contain));
	if (r->contain.on)
		json_object_set_new(spawned, "cgroup", json_string(r->contain.dir));
	reaper_send(r, spawned);
	if (r->exited) { /* it already exited: that is the start's result */
		failure_t f;
		classify_early_exit(r, &f);
		reaper_fail_start(r, &f);
		return;
	}
	r->phase = PHASE_HEALTH;
}

static void reaper_health_cb(void *ctx, bool healthy, reason_t reason, const char *message)
{
	reaper_t *r = ctx;
	if (healthy) {
		reaper_healthy(r, r->port);
		return;
	}
	reaper_unhealthy(r, reason, message);
}

/* healthy, and the tunnel (if any) settled: the start's answer */
static void reaper_report_running(reaper_t *r, const char *tunnel_url, const char *tunnel_error)
{
	r->phase = PHASE_RUNNING;
	json_t *msg = json_pack("{s:s, s:i, s:i, s:i, s:I, s:s, s:s, s:s}", "type", "running",
				"port", r->port, "pid", r->pid, "pgid", r->pid, "startupMs",
				(json_int_t)(r->healthy_ms - r->spawned_ms), "framework", r->framework,
				"url", r->url, "scheme", r->scheme);
	if (tunnel_url)
		json_object_set_new(msg, "tunnelUrl", utf8_json_string(tunnel_url));
	if (tunnel_error)
		json_object_set_new(msg, "tunnelError", utf8_json_string(tunnel_error));
	reaper_send(r, msg);
}

static void tunnel_settled_cb(void *ctx, const char *url, const char *error)
{
	reaper_t *r = ctx;
	if (r->phase == PHASE_TUNNEL)
		reaper_report_running(r, url, error);
}

static void tunnel_event_cb(void *ctx, const char *what, const char *url, const char *reason,
			    const char *message)
{
	reaper_t *r = ctx;
	json_t *msg = json_pack("{s:s, s:s}", "type", "tunnel", "event", what);
	if (url)
		json_object_set_new(msg, "url", utf8_json_string(url));
	if (reason)
		json_object_set_new(msg, "reason", utf8_json_string(reason));
	if (message)
		json_object_set_new(msg, "message", utf8_json_string(message));
	reaper_send(r, msg);
}

static void reaper_healthy(reaper_t *r, int port)
{
	if (r->phase != PHASE_HEALTH)
		return;
	r->port = port;
	r->healthy_ms = clock_ms();
	health_url(&r->health, r->url, sizeof(r->url), &r->scheme);
	ev_timer_stop(r->loop, &r->scan_timer);
	json_t *spec = json_object_get(r->start, "tunnel");
	if (!spec) {
		reaper_report_running(r, NULL, NULL);
		return;
	}
	/* SPEC §6: opened after the health check passed; the start waits for it to settle */
	static const tunnel_cbs_t cbs = {tunnel_settled_cb, tunnel_event_cb, tunnel_closed_cb};
	spawn_ids_t ids = {r->project_id, r->runner_id, r->stop_timeout_ms,
			   json_object_get(r->start, "inheritEnv"), r->contain.procs_fd};
	r->phase = PHASE_TUNNEL;
	r->tunnel_live = true;
	tunnel_start(&r->tunnel, r->loop, spec, r->cwd, r->port, json_object_get(r->start, "env"),
		     &ids, &cbs, r);
}

static void reaper_unhealthy(reaper_t *r, reason_t reason, const char *message)
{
	failure_t f;
	if (reason == REASON_PORT_IN_USE) {
		char owner[128];
		listeners_owner(r->health.port, owner, sizeof(owner));
		failure_set(&f, reason, NULL, "'%s': %s; it is held by %s", plan.display, message,
			    owner);
		reaper_fail_start(r, &f);
		return;
	}
	int ports[4];
	size_t n = reason == REASON_HEALTH_CHECK_TIMEOUT
			   ? listeners_of_tree(getpid(), ports, ARRAY_LEN(ports))
			   : 0;
	if (n > 0 && ports[0] != r->health.port) {
		/* it listens elsewhere, and nothing said port N was taken: not followed (an extra
		 * listener looks the same), so say where it is */
		failure_set(&f, reason,
			    "Make the server listen on the port devsup gives it ($PORT, or {port} in "
			    "the command), or start it with that port as 'port'.",
			    "'%s': %s; it listens on port %d instead", plan.display, message,
			    ports[0]);
		reaper_fail_start(r, &f);
		return;
	}
	failure_set(&f, reason, NULL, "'%s': %s", plan.display, message);
	reaper_fail_start(r, &f);
}

/* What Node, Vite and Next.js print when their port is taken. */
static bool mentions_port_conflict(const char *line)
{
	return strstr(line, "EADDRINUSE") || strcasestr(line, "address already in use") ||
	       (strcasestr(line, "port") && strcasestr(line, "is already in use")) ||
	       (strcasestr(line, "port") && strcasestr(line, "is in use"));
}

/* Sends a log message (the caller keeps its reference), saying how many lines were dropped
 * before it; false if the channel could not take it now. */
static bool log_send(reaper_t *r, json_t *msg)
{
	if (r->logs_dropped)
		json_object_set_new(msg, "dropped", json_integer((json_int_t)r->logs_dropped));
	if (!chan_send_droppable(&r->chan, json_incref(msg))) {
		json_object_del(msg, "dropped");
		return false;
	}
	r->logs_dropped = 0;
	return true;
}

/* The newest line the channel could not take is held, never lost: it goes out with the next
 * line or as soon as the channel has room (chan's on_room), so a flood that ends while the
 * master is behind still says how many lines were dropped before its last one. */
static bool log_send_held(reaper_t *r)
{
	if (!log_send(r, r->log_held))
		return false;
	json_decref(r->log_held);
	r->log_held = NULL;
	return true;
}

static void log_room_cb(chan_t *c, void *ctx)
{
	(void)c;
	reaper_t *r = ctx;
	if (r->log_held && !r->ho.detached)
		(void)log_send_held(r);
}

static void reaper_output_line(reaper_t *r, ring_stream_t stream, const char *line, size_t len)
{
	ring_push(&r->ring, stream, line, len, wall_ms());
	/* a server often says something when it is ready ("listening on ..."): look now */
	if (r->phase == PHASE_HEALTH)
		health_kick(&r->health);
	if ((r->phase == PHASE_SPAWNING || r->phase == PHASE_HEALTH) &&
	    mentions_port_conflict(line)) {
		r->port_conflict = true;
		/* it may be moving to another port: look now, and keep looking */
		if (r->phase == PHASE_HEALTH)
			ev_feed_event(r->loop, &r->scan_timer, EV_TIMER);
	}
	if (!r->stream_logs || r->phase == PHASE_DONE)
		return;
	if (r->ho.detached) {
		/* no master, or one that has not sent its ready yet: kept in the ring, counted */
		r->logs_dropped++;
		return;
	}
	json_t *msg = json_pack("{s:s, s:s, s:s%, s:I}", "type", "log", "stream",
				ring_stream_name(stream), "line", line, len, "at",
				(json_int_t)wall_ms());
	if (!msg) {
		r->logs_dropped++;
		return;
	}
	/* an older line still held goes first; if it cannot, this newer one replaces it */
	if (r->log_held && !log_send_held(r)) {
		r->logs_dropped++;
		json_decref(r->log_held);
		r->log_held = msg;
		return;
	}
	if (!log_send(r, msg))
		r->log_held = msg;
	else
		json_decref(msg);
}

static void output_cb(void *ctx, ring_stream_t stream, const char *line, size_t len)
{
	reaper_output_line(ctx, stream, line, len);
}

static bool verify_listener(void *ctx, int port)
{
	(void)ctx;
	return listeners_tree_owns(getpid(), port);
}

static int sockaddr_port(const struct sockaddr_storage *a)
{
	return ntohs(a->ss_family == AF_INET ? ((const struct sockaddr_in *)a)->sin_port
					     : ((const struct sockaddr_in6 *)a)->sin6_port);
}

/* Is there evidence that the server left the port it was given (SPEC §4.4)? Its output said
 * the port was taken (Node's EADDRINUSE, Vite's and Next.js's hop lines), an HTTP answer on it
 * came from a foreign process, or a process outside the tree listens on it. Without it, a
 * listener on another port is an extra one (an API beside the web server, an inspector), and
 * the check stays where it is. */
static bool reaper_port_moved(reaper_t *r)
{
	return r->port_conflict || r->health.seen == SEEN_FOREIGN ||
	       listeners_port_foreign(getpid(), r->health.port);
}

static void reaper_follow(reaper_t *r, int port, const struct sockaddr_storage *addr)
{
	log_info("%s listens on port %d, not %d: following it", r->project_id, port,
		 r->health.port);
	r->port = port;
	health_retarget(&r->health, port);
	if (addr)
		health_probe_addr(&r->health, addr);
}

/* Which ports does the tree listen on: probe the health check's port where it is bound (a
 * server bound to 127.0.0.2 only), and follow a server that moved to another port. */
static void scan_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	reaper_t *r = w->data;
	listener_t ls[16];
	(void)revents;
	if (r->phase != PHASE_HEALTH) {
		ev_timer_stop(loop, w);
		return;
	}
	if (listen_trap_active(&r->trap) && w->repeat < PORT_SCAN_TRAPPED_MAX_S) {
		/* only a safety net: each look-up walks the tree's fds, so space them out */
		w->repeat *= 2;
		ev_timer_again(loop, w);
	}
	/* Walking the tree's fds means reading every /proc/PID/stat on the machine (no children
	 * files here): 100 reapers doing it in a burst cost more than everything else they do.
	 * Unless something says the server moved, it is only worth it once anything listens on
	 * the port; the answer is the same. */
	if (!r->port_conflict && r->health.seen != SEEN_FOREIGN &&
	    !listeners_port_listened(r->health.port))
		return;
	size_t n = listeners_of_tree_addrs(getpid(), ls, ARRAY_LEN(ls));
	bool on_port = false;
	for (size_t i = 0; i < n; i++) {
		if (ls[i].port != r->health.port)
			continue;
		on_port = true;
		health_probe_addr(&r->health, &ls[i].addr);
	}
	/* Something outside the tree listens on the port: what answers there decides between a
	 * server still booting and one that will never get its port (port_in_use, naming it). */
	if (!on_port)
		health_kick(&r->health);
	if (on_port || n == 0 || !reaper_port_moved(r))
		return;
	/* the port the last listen() notification named, else the first one found */
	size_t pick = 0;
	for (size_t i = 0; i < n && r->other_seen; i++)
		if (ls[i].port == sockaddr_port(&r->other_addr))
			pick = i;
	reaper_follow(r, ls[pick].port, &ls[pick].addr);
}

/* A process of the tree called listen() (the listen trap): probe that exact address now. */
static void reaper_listen_cb(void *ctx, pid_t pid, const struct sockaddr_storage *addr)
{
	reaper_t *r = ctx;
	if (r->phase == PHASE_SPAWNING) {
		/* only the server, after exec, can have called it: kept for the health check */
		r->early_listen = true;
		r->early_known = addr != NULL;
		r->early_pid = pid;
		if (addr)
			r->early_addr = *addr;
		return;
	}
	if (r->phase != PHASE_HEALTH)
		return; /* running: a later listener changes nothing devsup reports */
	if (!addr || sockaddr_port(addr) == 0) {
		/* its socket could not be read, or listen() picks the port: look it up once it
		 * has run */
		ev_timer_stop(r->loop, &r->scan_timer);
		ev_timer_set(&r->scan_timer, 0.005, PORT_SCAN_TRAPPED_S);
		ev_timer_start(r->loop, &r->scan_timer);
		return;
	}
	int port = sockaddr_port(addr);
	log_debug("%s: pid %d listens on port %d", r->project_id, (int)pid, port);
	if (port == r->health.port) {
		/* told where it listens: the look-ups have nothing to add unless it moves */
		ev_timer_stop(r->loop, &r->scan_timer);
		health_probe_addr(&r->health, addr);
		return;
	}
	r->other_seen = true;
	r->other_addr = *addr;
	if (reaper_port_moved(r))
		reaper_follow(r, port, addr);
	else
		log_info("%s also listens on port %d; its health check stays on port %d, which "
			 "nothing else holds",
			 r->project_id, port, r->health.port);
}

static void reaper_take_trap(reaper_t *r, int fd, int err)
{
	if (fd >= 0) {
		listen_trap_watch(&r->trap, r->loop, fd, reaper_listen_cb, r);
		return;
	}
	log_info("%s: no listen trap (%s): polling instead", r->project_id, strerror(err));
}

/* exec succeeded: probe, with the trap's notifications if it is in place. */
static void reaper_begin_health(reaper_t *r)
{
	bool trapped = listen_trap_active(&r->trap);
	health_start(&r->health, r->loop, r->port, r->health_path, r->health_timeout_ms,
		     reaper_health_cb, r);
	health_set_verify(&r->health, verify_listener);
	health_set_expect(&r->health, &r->health_expect);
	/* With the trap, no refused-connect poll: a burst of starts must cost nothing while the
	 * servers boot. A listener that never calls listen() here (an inherited socket, the
	 * i386 socketcall ABI) is still found by the look-ups below and by output lines. */
	if (trapped)
		health_set_events(&r->health);
	else
		health_set_poll(&r->health, r->poll_min_s, HEALTH_POLL_MAX_S);
	double scan = trapped ? PORT_SCAN_TRAPPED_S : PORT_SCAN_S;
	if (scan < r->poll_min_s) /* tests slow every fallback down together */
		scan = r->poll_min_s;
	ev_timer_set(&r->scan_timer, scan, scan);
	ev_timer_start(r->loop, &r->scan_timer);
	if (r->early_listen) {
		r->early_listen = false;
		reaper_listen_cb(r, r->early_pid, r->early_known ? &r->early_addr : NULL);
	}
}

static void exec_pipe_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	reaper_t *r = w->data;
	spawn_error_t e;
	ssize_t n;
	int passed;
	(void)revents;
	while ((n = spawn_read_report(r->exec_fd, &e, &passed)) == (ssize_t)sizeof(e) &&
	       e.stage == SPAWN_STAGE_TRAP)
		reaper_take_trap(r, passed, e.err);
	if (passed >= 0)
		close(passed);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	ev_io_stop(loop, w);
	close(r->exec_fd);
	r->exec_fd = -1;
	if (n == (ssize_t)sizeof(e)) {
		failure_t f;
		r->exec_failed = true;
		spawn_classify_error(&plan, r->cwd, &e, &f);
		reaper_fail_start(r, &f);
		return;
	}
	/* EOF: close-on-exec closed the channel, so exec succeeded */
	reaper_exec_succeeded(r);
	if (r->phase == PHASE_HEALTH)
		reaper_begin_health(r);
}

static void reaper_memory_over(reaper_t *r)
{
	if (r->phase == PHASE_TEARDOWN || r->phase == PHASE_DONE)
		return;
	r->memory_over = true;
	log_warn("%s: over its memory limit: stopping it", r->project_id);
	/* the failure itself is worked out once the tree is gone: reaper_memory_verdict */
	reaper_begin_teardown(r, r->phase == PHASE_RUNNING ? END_FAILED_RUN : END_FAILED_START);
}

/* Without memory.max: the tree's RSS, compared with the limit. */
static void memory_sample_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	reaper_t *r = w->data;
	usage_t u;
	(void)loop;
	(void)revents;
	contain_usage(&r->contain, &u);
	if (u.rss_bytes > r->memory_peak)
		r->memory_peak = u.rss_bytes;
	if (u.rss_bytes > r->memory_limit) {
		ev_timer_stop(r->loop, w);
		reaper_memory_over(r);
	}
}

/* cgroup.events or memory.events changed: the group emptied, or the kernel OOM-killed. */
static void reaper_contain_cb(void *ctx)
{
	reaper_t *r = ctx;
	if (r->memory_limit && contain_oom_killed(&r->contain))
		reaper_memory_over(r);
	if (r->phase == PHASE_TEARDOWN && r->teardown.active)
		teardown_recheck(&r->teardown);
}

static void reaper_limit_memory(reaper_t *r)
{
	if (!r->memory_limit || contain_limit_memory(&r->contain, r->memory_limit))
		return;
	ev_timer_start(r->loop, &r->memory_timer);
}

static void reaper_spawn(reaper_t *r, const json_t *start)
{
	failure_t f;
	const char *cwd = json_string_value(json_object_get(start, "cwd")) ?: "/";
	r->cwd = xstrdup(cwd);
	r->phase = PHASE_SPAWNING;
	spawn_ids_t ids = {r->project_id, r->runner_id, r->stop_timeout_ms,
			   json_object_get(r->start, "inheritEnv"), r->contain.procs_fd};
	if (!spawn_prepare(json_object_get(start, "command"), cwd, r->port,
			   json_object_get(start, "env"), &ids, &plan, &f)) {
		reaper_fail_start(r, &f);
		return;
	}
	plan.listen_trap = r->trap_wanted;
	int out_child, err_child;
	if (capture_open(&r->out, r->loop, RING_STDOUT, output_cb, r, &out_child) < 0 ||
	    capture_open(&r->err, r->loop, RING_STDERR, output_cb, r, &err_child) < 0) {
		failure_set(&f, REASON_UNKNOWN, NULL, "cannot create output pipes: %s",
			    strerror(errno));
		reaper_fail_start(r, &f);
		return;
	}
	r->spawned_ms = clock_ms();
	r->pid = spawn_start(&plan, cwd, out_child, err_child, &r->exec_fd);
	int spawn_errno = errno;
	close(out_child);
	close(err_child);
	if (r->pid < 0) {
		r->pid = 0;
		failure_set(&f, REASON_UNKNOWN, NULL, "cannot start '%s': %s", plan.display,
			    strerror(spawn_errno));
		reaper_fail_start(r, &f);
		return;
	}
	reaper_limit_memory(r);
	if (fd_set_nonblock(r->exec_fd) < 0)
		log_warn("exec pipe: %s", strerror(errno));
	ev_io_init(&r->exec_watcher, exec_pipe_cb, r->exec_fd, EV_READ);
	r->exec_watcher.data = r;
	ev_io_start(r->loop, &r->exec_watcher);
}

static uint64_t msg_uint(const json_t *msg, const char *key, uint64_t dflt)
{
	json_t *v = json_object_get(msg, key);
	return json_is_integer(v) && json_integer_value(v) >= 0 ? (uint64_t)json_integer_value(v)
								: dflt;
}

/* healthCheck.expect, as the master validated it: "2xx-3xx" or an array of codes. */
static void reaper_parse_expect(reaper_t *r, const json_t *v)
{
	int codes[600];
	size_t n = 0, i;
	json_t *e;
	json_array_foreach(v, i, e)
	{
		if (n < ARRAY_LEN(codes) && json_is_integer(e))
			codes[n++] = (int)json_integer_value(e);
	}
	health_expect_parse(&r->health_expect, json_string_value(v), codes, n);
}

static void reaper_on_start(reaper_t *r, const json_t *msg)
{
	if (r->phase != PHASE_WAIT_START) {
		log_error("second start message ignored");
		return;
	}
	free(r->runner_id);
	r->runner_id = xstrdup(json_string_value(json_object_get(msg, "runnerId")) ?: "");
	r->port = (int)msg_uint(msg, "port", 0);
	r->health_path = xstrdup(json_string_value(json_object_get(msg, "healthPath")) ?: "/");
	const char *cwd = json_string_value(json_object_get(msg, "cwd"));
	framework_t fw = framework_detect(json_string_value(json_object_get(msg, "framework")),
					  json_object_get(msg, "command"), cwd);
	r->framework = xstrdup(framework_name(fw));
	r->health_timeout_ms = msg_uint(msg, "healthTimeoutMs", framework_health_timeout_ms(fw));
	reaper_parse_expect(r, json_object_get(msg, "healthExpect"));
	r->stop_timeout_ms = msg_uint(msg, "stopTimeoutMs", 10000);
	r->stream_logs = json_is_true(json_object_get(msg, "logs"));
	r->trap_wanted = !json_is_false(json_object_get(msg, "listenTrap"));
	/* Tests slow the fallback poll right down to tell a notification from a poll. */
	const char *poll_min = getenv("DEVSUP_POLL_MIN_MS");
	r->poll_min_s = poll_min && atoi(poll_min) > 0 ? atoi(poll_min) / 1000. : HEALTH_POLL_MIN_S;
	r->start = json_incref((json_t *)msg);
	r->memory_limit = msg_uint(msg, "memoryBytes", 0);
	/* before the fork: the server must be born in its group */
	contain_open(&r->contain, r->loop, json_string_value(json_object_get(msg, "cgroup")),
		     r->project_id, reaper_contain_cb, r);
	reaper_spawn(r, msg);
}

/* SPEC §3: a second stop never moves the first one's SIGKILL deadline later; the earliest
 * deadline wins, counted from when the teardown began. */
static void reaper_on_stop(reaper_t *r, uint64_t timeout_ms)
{
	handover_disarm(r); /* a stop after detach (devsup changed its mind): no hand-over */
	if (r->phase != PHASE_TEARDOWN) {
		r->stop_timeout_ms = timeout_ms;
		reaper_begin_teardown(r, END_STOPPED);
		return;
	}
	if (timeout_ms < r->stop_timeout_ms)
		r->stop_timeout_ms = timeout_ms; /* for a teardown that waits for the tunnel */
	if (r->teardown_started)
		teardown_shorten(&r->teardown, timeout_ms);
}

static void reaper_on_msg(chan_t *c, json_t *msg, void *ctx)
{
	reaper_t *r = ctx;
	const char *type = json_string_value(json_object_get(msg, "type"));
	(void)c;
	if (!type) {
		log_error("control message without type");
	} else if (strcmp(type, "start") == 0) {
		reaper_on_start(r, msg);
	} else if (strcmp(type, "stop") == 0) {
		reaper_on_stop(r, msg_uint(msg, "timeoutMs", r->stop_timeout_ms));
	} else if (strcmp(type, "logs") == 0) {
		send_lines(r, "logs", json_object_get(msg, "reqId"),
			   (size_t)msg_uint(msg, "lines", 100));
	} else if (strcmp(type, "stream") == 0) {
		/* a client started or stopped following the output (follow-logs): lines from now
		 * on, in order after any `logs` answer sent before this message */
		r->stream_logs = json_is_true(json_object_get(msg, "on"));
	} else if (strcmp(type, "detach") == 0) {
		handover_detach(r, msg);
	} else if (strcmp(type, "adopt") == 0) {
		handover_adopted(r);
	} else {
		log_error("unknown control message '%s'", type);
	}
}

static void reaper_on_eof(chan_t *c, void *ctx)
{
	reaper_t *r = ctx;
	chan_close(c);
	if (handover_master_gone(r))
		return; /* detached: the project waits for its adopter (or the adopt timeout) */
	if (r->phase == PHASE_WAIT_START || r->phase == PHASE_DONE) {
		ev_break(r->loop, EVBREAK_ALL);
		return;
	}
	log_warn("master gone: tearing %s down", r->project_id);
	reaper_begin_teardown(r, END_MASTER_LOST);
}

void reaper_master_lost(reaper_t *r)
{
	reaper_begin_teardown(r, END_MASTER_LOST);
}

static void reaper_child_cb(struct ev_loop *loop, ev_child *w, int revents)
{
	reaper_t *r = w->data;
	(void)revents;
	bool was_tunnel = tunnel_child_exited(&r->tunnel, w->rpid, w->rstatus);
	if (!was_tunnel && w->rpid == r->pid && r->pid > 0) {
		r->exited = true;
		r->status = w->rstatus;
		/* Its last words (EADDRINUSE, a stack trace) may still sit in the pipes: read them
		 * before judging the exit, whatever order the loop saw the events in. */
		capture_drain(&r->out, loop);
		capture_drain(&r->err, loop);
	}
	if (r->phase == PHASE_TEARDOWN) {
		/* the tunnel client too may be the last child the teardown waits for */
		teardown_child_reaped(&r->teardown);
		return;
	}
	if (was_tunnel || w->rpid != r->pid || r->pid <= 0)
		return; /* an orphan re-parented to us: reaped, nothing more */
	if (r->phase == PHASE_HEALTH || r->phase == PHASE_TUNNEL) {
		failure_t f;
		classify_early_exit(r, &f);
		reaper_fail_start(r, &f);
	} else if (r->phase == PHASE_RUNNING) {
		if (WIFSIGNALED(r->status)) {
			r->failure.reason = REASON_KILLED;
			failure_set(&r->failure, REASON_KILLED, NULL,
				    "'%s' (pid %d) was killed by %s while it was running",
				    plan.display, (int)r->pid, signal_name(WTERMSIG(r->status)));
		} else {
			failure_set(&r->failure, REASON_CRASHED, NULL,
				    "'%s' (pid %d) exited with code %d while it was running",
				    plan.display, (int)r->pid, WEXITSTATUS(r->status));
		}
		reaper_begin_teardown(r, END_FAILED_RUN);
	}
	/* PHASE_SPAWNING: the exec pipe decides, see reaper_exec_succeeded */
}

static void reaper_sigterm_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	reaper_t *r = w->data;
	(void)loop;
	(void)revents;
	log_warn("SIGTERM: tearing %s down", r->project_id);
	if (r->phase == PHASE_TEARDOWN || r->phase == PHASE_DONE)
		return;
	/* Someone outside devsup ended this project: report it as killed, with what is known. */
	failure_set(&r->failure, REASON_KILLED, NULL,
		    "devsup-reaper of project %s received SIGTERM from outside devsup; the "
		    "project was torn down",
		    r->project_id);
	reaper_begin_teardown(r, r->phase == PHASE_RUNNING ? END_FAILED_RUN : END_FAILED_START);
}

void reaper_init(reaper_t *r, struct ev_loop *loop, const char *project_id, int control_fd)
{
	memset(r, 0, sizeof(*r));
	r->loop = loop;
	r->project_id = xstrdup(project_id);
	r->runner_id = xstrdup("");
	r->exec_fd = -1;
	r->out.fd = r->err.fd = -1;
	r->scheme = "http";
	listen_trap_init(&r->trap);
	r->ho.listen_fd = r->ho.dir_fd = -1;
	ev_timer_init(&r->ho.timer, NULL, 0., 0.);
	r->stop_timeout_ms = 10000;
	ring_init(&r->ring, 500);
	chan_init(&r->chan, loop, control_fd, reaper_on_msg, reaper_on_eof, r);
	chan_set_on_room(&r->chan, log_room_cb);
	ev_child_init(&r->child_watcher, reaper_child_cb, 0, 0);
	r->child_watcher.data = r;
	ev_child_start(loop, &r->child_watcher);
	ev_timer_init(&r->scan_timer, scan_cb, PORT_SCAN_S, PORT_SCAN_S);
	r->scan_timer.data = r;
	r->contain.procs_fd = r->contain.inotify_fd = -1;
	ev_timer_init(&r->memory_timer, memory_sample_cb, MEMORY_SAMPLE_S, MEMORY_SAMPLE_S);
	r->memory_timer.data = r;
	ev_signal_init(&r->sigterm_watcher, reaper_sigterm_cb, SIGTERM);
	r->sigterm_watcher.data = r;
	ev_signal_start(loop, &r->sigterm_watcher);
}

void reaper_free(reaper_t *r)
{
	handover_free(r);
	chan_close(&r->chan);
	capture_close(&r->out, r->loop);
	capture_close(&r->err, r->loop);
	teardown_free(&r->teardown);
	contain_close(&r->contain, false);
	tunnel_free(&r->tunnel);
	listen_trap_close(&r->trap);
	tls_release();
	json_decref(r->start);
	ring_free(&r->ring);
	json_decref(r->log_held);
	spawn_plan_free(&plan);
	free(r->project_id);
	free(r->runner_id);
	free(r->health_path);
	free(r->framework);
	free(r->cwd);
}
