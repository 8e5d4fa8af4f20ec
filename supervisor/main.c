/*
 * devsup: the master. Reads NDJSON commands on stdin, writes events on stdout, and forks one
 * devsup-reaper per project; by hand in a terminal, the same through the interactive front end
 * (tty.c). See ../docs/architecture.md.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "supervisor/adopt.h"
#include "supervisor/command.h"
#include "supervisor/input.h"
#include "supervisor/options.h"
#include "supervisor/output.h"
#include "supervisor/owner.h"
#include "supervisor/ports.h"
#include "supervisor/project.h"
#include "supervisor/reaper_link.h"
#include "supervisor/recover.h"
#include "supervisor/reply.h"
#include "supervisor/resources.h"
#include "supervisor/runner_lock.h"
#include "supervisor/store.h"
#include "supervisor/tty.h"

static struct {
	struct ev_loop *loop;
	options_t opts;
	bool shutting_down;
	bool detaching; /* a shutdown with detach: the projects stay with their reapers (§11) */
	bool ready_sent; /* after adoption: see exit_check_cb */
	json_t *shutdown_id;   /* the shutdown command waiting for shutdown-complete */
	bool shutdown_waiting;
	ev_signal sigterm, sigint, sighup;
	ev_child children;
	unsigned recovered;
	/* The exit check (see exit_check_cb) and the stage a shutdown has reached. */
	ev_prepare exit_check;
	ev_timer deadline; /* wakes the loop when the flush or the drain must give up */
	enum { EXIT_RUNNING, EXIT_FLUSHING, EXIT_DRAINING } stage;
	uint64_t stage_deadline_ms;
	int exit_code;
	bool tty; /* the interactive front end, not NDJSON */
	char taken_id[129]; /* the front end: the runner id asked for, held by another devsup */
	pid_t taken_by;
} m;

#define FLUSH_MS 3000 /* the database's last transitions: Postgres may be down */
#define DRAIN_MS 2000 /* stdout's last events: the reader may be slow or stuck */

static void enter_stage(int stage, uint64_t ms)
{
	m.stage = stage;
	m.stage_deadline_ms = clock_ms() + ms;
	ev_timer_stop(m.loop, &m.deadline);
	ev_timer_set(&m.deadline, (double)ms / 1000., 0.);
	ev_timer_start(m.loop, &m.deadline);
}

static void emit_ready(void);
static void on_stdin_eof(void);

/*
 * "May we exit?", asked from state before the loop sleeps, so after every event whatever it
 * was (a reaper reaped, an orphan killed, a leftover of recovery gone, a batch committed,
 * stdout writable, a deadline): no module keeps a callback to tell us, and none can replace
 * another's. A shutdown ends once every project is stopped (a detach: once every reaper holds
 * its project for the next devsup) and every leftover of a previous devsup is gone; then the
 * database gets its last transitions (bounded), shutdown-complete is written, and stdout
 * drains (bounded). The same check sends `ready` once the detached reapers found at start-up
 * have all said hello (or been let go).
 */
static void exit_check_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	(void)w;
	(void)revents;
	log_flush();
	/* ready waits for the detached reapers' hellos (bounded), so it counts them */
	if (!m.ready_sent && !adopt_pending()) {
		m.ready_sent = true;
		emit_ready();
		adopt_confirm();
		if (!m.tty)
			input_init(m.loop, STDIN_FILENO, m.opts.max_line, on_stdin_eof);
	}
	if (!m.ready_sent)
		return;
	projects_apply_leftover_rows();
	bool settled = m.detaching ? projects_handed_over() : projects_quiescent();
	if (!m.shutting_down || !settled || recover_active())
		return;
	if (m.stage == EXIT_RUNNING) {
		enter_stage(EXIT_FLUSHING, FLUSH_MS);
		store_closing();
	}
	if (m.stage == EXIT_FLUSHING) {
		size_t unwritten = store_unwritten();
		bool late = clock_ms() >= m.stage_deadline_ms;
		if (unwritten > 0 && !late)
			return;
		if (unwritten > 0)
			log_warn("postgres: %zu transitions could not be written before exit",
				 unwritten);
		if (m.shutdown_waiting) {
			output_event(event_new("shutdown-complete", NULL, m.shutdown_id));
			json_decref(m.shutdown_id);
			m.shutdown_id = NULL;
			m.shutdown_waiting = false;
		}
		enter_stage(EXIT_DRAINING, DRAIN_MS);
	}
	if (output_pending() > 0 && clock_ms() < m.stage_deadline_ms)
		return;
	ev_timer_stop(loop, &m.deadline);
	ev_break(loop, EVBREAK_ALL);
}

/* Only wakes the loop: exit_check_cb sees the deadline has passed. */
static void deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
}

/* Stops every project in parallel; the loop ends once the last reaper is gone. A second
 * request while stopping skips the grace periods. */
static void begin_shutdown(const char *why, json_t *timeout_ms)
{
	/* a detach under way gives way to a stop: the stop disarms each reaper's hand-over */
	m.detaching = false;
	bool again = m.shutting_down;
	m.shutting_down = true;
	projects_set_accepting(false);
	log_info("%s: stopping every project", why);
	projects_stop_all("shutdown", timeout_ms, again, m.shutdown_id);
}

/* Detach (§11): every live project stays with its reaper for the next devsup of this
 * runner; we exit once each reaper has said it holds its project. */
static void begin_detach(json_t *id)
{
	char err[PATH_MAX + 400];
	if (!adopt_detach_all(&m.opts, err, sizeof(err))) {
		reply_error(NULL, id, REASON_UNKNOWN,
			    "Fix the directory's owner and mode, or pass another --state-dir; a "
			    "shutdown without detach stops every project.",
			    "cannot detach: %s; nothing was changed", err);
		return;
	}
	m.detaching = true;
	m.shutting_down = true;
	m.shutdown_waiting = true;
	m.shutdown_id = id ? json_incref(id) : NULL;
	projects_set_accepting(false);
	log_info("detach: projects stay up for %llu s, waiting for a devsup with runner id %s",
		 (unsigned long long)(m.opts.adopt_timeout_ms / 1000), m.opts.runner_id);
}

static void on_shutdown_command(json_t *id, json_t *timeout_ms, bool detach)
{
	if (m.shutdown_waiting || m.stage == EXIT_DRAINING) {
		/* one shutdown-complete answers the first; later ones (or one that comes when
		 * everything is done already) get theirs now */
		output_event(event_new("shutdown-complete", NULL, id));
		return;
	}
	if (detach && !m.shutting_down) {
		begin_detach(id);
		return;
	}
	m.shutdown_waiting = true;
	m.shutdown_id = id ? json_incref(id) : NULL;
	begin_shutdown("shutdown command", timeout_ms);
}

static void on_stdin_eof(void)
{
	if (m.detaching) {
		return; /* the client that asked for the detach may well close stdin now */
	}
	begin_shutdown("stdin closed", NULL);
}

/* Ctrl-D on an empty line, or `quit`: as stdin EOF; again while stopping: forced. */
static void on_tty_quit(void)
{
	begin_shutdown("quit", NULL);
}

/* The terminal is gone (its SIGHUP usually came first): stop, but never force for it. */
static void on_tty_eof(void)
{
	if (!m.shutting_down)
		begin_shutdown("terminal closed", NULL);
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)loop;
	(void)revents;
	/* A person's Ctrl-C clears the line they type; SIGTERM and SIGHUP still end devsup. */
	if (m.tty && w->signum == SIGINT) {
		tty_interrupt();
		return;
	}
	begin_shutdown(strsignal(w->signum), NULL);
}

static void on_child(struct ev_loop *loop, ev_child *w, int revents)
{
	(void)loop;
	(void)revents;
	projects_child_reaped(w->rpid, w->rstatus);
}

static void emit_ready(void)
{
	json_t *ev = event_new("ready", NULL, NULL);
	json_object_set_new(ev, "version", json_string(DEVSUP_VERSION));
	json_object_set_new(ev, "pid", json_integer(getpid()));
	json_object_set_new(ev, "runnerId", json_string(m.opts.runner_id));
	json_object_set_new(ev, "persistence", json_string(m.opts.db_url ? "postgres" : "disabled"));
	json_object_set_new(ev, "recovered", json_integer(m.recovered));
	json_object_set_new(ev, "adopted", json_integer(adopt_count()));
	json_object_set_new(ev, "containment", json_string(resources_containment()));
	json_object_set_new(ev, "portRange",
			    json_pack("[i, i]", m.opts.port_lo, m.opts.port_hi));
	/* a client can refuse a line over the limit itself, at once */
	json_object_set_new(ev, "maxLine", json_integer((json_int_t)m.opts.max_line));
	if (m.taken_id[0]) {
		json_object_set_new(ev, "runnerIdTaken", json_string(m.taken_id));
		json_object_set_new(ev, "runnerIdTakenBy", json_integer(m.taken_by));
	}
	output_event(ev);
}

/* NDJSON mode, runner id held by a live devsup: one error instead of ready (SPEC §1). */
static void report_runner_id_in_use(pid_t holder)
{
	char who[32] = "unknown";
	if (holder > 0)
		snprintf(who, sizeof(who), "%d", (int)holder);
	reply_error(NULL, NULL, REASON_RUNNER_ID_IN_USE, NULL,
		    "runner id %s is in use by another live devsup (pid %s, lock %s); this devsup "
		    "exits without touching anything",
		    m.opts.runner_id, who, runner_lock_path());
	output_drain(2000);
}

/* SPEC §1: the runner lock, before anything touches the machine (recovery, the database,
 * ports). 0 when held (the front end may have moved to ID-2, ID-3, ...), else the exit code. */
static int take_runner_lock(void)
{
	char dir[PATH_MAX], err[PATH_MAX + 256], base[sizeof(m.opts.runner_id)];
	if (!runner_lock_state_dir(m.opts.state_dir, dir, sizeof(dir), err, sizeof(err))) {
		log_error("%s", err);
		return 1;
	}
	snprintf(base, sizeof(base), "%s", m.opts.runner_id);
	for (unsigned n = 2;; n++) {
		pid_t holder;
		switch (runner_lock_take(dir, m.opts.runner_id, &holder, err, sizeof(err))) {
		case RUNNER_LOCK_HELD:
			ports_set_reservations(dir);
			adopt_set_state_dir(dir);
			return 0;
		case RUNNER_LOCK_ERROR:
			log_error("%s", err);
			return 1;
		case RUNNER_LOCK_IN_USE:
			break;
		}
		if (!m.tty) {
			report_runner_id_in_use(holder);
			return 3;
		}
		/* Two people debugging on one machine just work: the next free id, said in the
		 * banner. */
		if (n == 2) {
			snprintf(m.taken_id, sizeof(m.taken_id), "%s", base);
			m.taken_by = holder;
		}
		char next[sizeof(m.opts.runner_id) + 16];
		int len = snprintf(next, sizeof(next), "%s-%u", base, n);
		if (n > 999 || !project_id_valid(next)) {
			log_error("runner id %s and %s-2 ... %s are all in use (lock dir %s); pass "
				  "--runner-id",
				  base, base, next, dir);
			return 3;
		}
		memcpy(m.opts.runner_id, next, (size_t)len + 1); /* valid: at most 128 characters */
	}
}

static void configure_signals(void)
{
	/* A reader that goes away must give EPIPE on write, not kill us. */
	signal(SIGPIPE, SIG_IGN);
	ev_signal_init(&m.sigterm, on_signal, SIGTERM);
	ev_signal_init(&m.sigint, on_signal, SIGINT);
	ev_signal_init(&m.sighup, on_signal, SIGHUP);
	ev_signal_start(m.loop, &m.sigterm);
	ev_signal_start(m.loop, &m.sigint);
	ev_signal_start(m.loop, &m.sighup);
	/* Every child: reapers, and orphans re-parented to us when a reaper dies. */
	ev_child_init(&m.children, on_child, 0, 0);
	ev_child_start(m.loop, &m.children);
	ev_prepare_init(&m.exit_check, exit_check_cb);
	ev_prepare_start(m.loop, &m.exit_check);
	ev_timer_init(&m.deadline, deadline_cb, 0., 0.);
}

static void migrations_done(bool ok)
{
	m.exit_code = ok ? 0 : 1;
	ev_break(m.loop, EVBREAK_ALL);
}

/* devsup --migrate: connect, apply sql/ (embedded), exit 0; 1 if the database is unreachable. */
static int run_migrations(void)
{
	if (!m.opts.db_url) {
		log_error("--migrate needs --db URL or DATABASE_URL");
		return 1;
	}
	m.loop = ev_default_loop(EVFLAG_AUTO);
	store_migrate_only(m.loop, m.opts.db_url, migrations_done);
	ev_run(m.loop, 0);
	store_free();
	return m.exit_code;
}

int main(int argc, char **argv)
{
	switch (options_parse(argc, argv, &m.opts)) {
	case OPTIONS_EXIT_OK:
		return 0;
	case OPTIONS_BAD:
		return 2;
	case OPTIONS_OK:
		break;
	}
	m.tty = m.opts.tty == 1 || (m.opts.tty == -1 && isatty(STDIN_FILENO));
	/* By hand, info lines would drown the events: warnings only, unless asked. The reapers
	 * read their level from the environment. */
	if (m.tty && !m.opts.log_level_set)
		m.opts.log_level = LOG_LEVEL_WARN;
	log_init("devsup", m.opts.log_level);
	static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};
	if (m.tty && !getenv("DEVSUP_LOG_LEVEL"))
		setenv("DEVSUP_LOG_LEVEL", level_names[m.opts.log_level], 0);
	if (fd_cloexec_from(3) < 0)
		log_warn("cannot mark inherited fds close-on-exec: %s", strerror(errno));
	if (access(m.opts.reaper_path, X_OK) < 0) {
		log_error("cannot run the reaper %s: %s (install it beside devsup, or pass --reaper)",
			  m.opts.reaper_path, strerror(errno));
		return 1;
	}
	if (m.opts.migrate)
		return run_migrations();
	/* If a reaper dies, its project's processes are re-parented to us, not to init, so we
	 * can still find and kill them. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
		log_error("PR_SET_CHILD_SUBREAPER: %s", strerror(errno));
		return 1;
	}
	m.loop = ev_default_loop(EVFLAG_AUTO);
	if (!m.loop) {
		log_error("cannot initialise the event loop");
		return 1;
	}
	output_init(m.loop, STDOUT_FILENO);
	int lock_status = take_runner_lock();
	if (lock_status != 0) {
		options_free(&m.opts);
		ev_loop_destroy(m.loop);
		log_flush();
		return lock_status;
	}
	configure_signals();
	command_init(&m.opts);
	command_on_shutdown(on_shutdown_command);
	projects_init(m.loop, &m.opts);
	resources_init(&m.opts);
	/* Reapers a previous devsup of this runner detached are taken over first, under the
	 * runner lock (so two new devsups never split them); their hellos come in the loop, before
	 * ready. Whatever else a previous devsup left is stopped (found through /proc, so this
	 * needs no database; the adopted reapers' trees are left alone), then the database catches
	 * up in the background: ready never waits for it. */
	adopt_begin(m.loop, &m.opts);
	const pid_t *adopting;
	size_t nadopting = adopt_reaper_pids(&adopting);
	m.recovered = recover_start(m.loop, m.opts.runner_id, adopting, nadopting);
	if (m.tty) {
		tty_init(m.loop, on_tty_quit, on_tty_eof);
		reaper_link_set_log_fd(tty_log_fd());
	}
	owner_init(m.opts.runner_id);
	store_init(m.loop, &(store_config_t){.url = m.opts.db_url,
					     .runner_id = m.opts.runner_id,
					     .port_lo = m.opts.port_lo,
					     .port_hi = m.opts.port_hi,
					     .queue_max = m.opts.db_queue_max,
					     .on_leftover_rows = projects_leftover_rows,
					     .on_seq_floor = projects_seq_floor,
					     .on_lost = owner_lost,
					     .on_connected = owner_hold_all});
	/* ready and the input: from exit_check_cb, once the adoption is settled */

	ev_run(m.loop, 0);

	tty_stop();
	input_stop();
	output_drain(0); /* drained in the loop already, as far as the reader let us */
	store_free();
	recover_free();
	adopt_free();
	projects_free();
	resources_free();
	json_decref(m.shutdown_id);
	ev_loop_destroy(m.loop);
	runner_lock_release();
	options_free(&m.opts);
	log_flush();
	return 0;
}
