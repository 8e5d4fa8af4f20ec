/*
 * devsup-reaper PROJECT_ID: supervises one project for the devsup master. The control channel
 * (a SOCK_SEQPACKET socket) is fd 3; see docs/control-channel.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "reaper/reaper.h"

#define CONTROL_FD 3

/* Log lines stderr could not take (common/log.c) go out as soon as it takes them, not only
 * with the next line: asked before the loop sleeps, after every event. */
static void log_flush_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	log_flush();
}

static void configure_signals(void)
{
	/* Writes to a closed pipe or socket must fail with EPIPE, not kill us. The terminal's
	 * SIGINT/SIGHUP belong to the master, which stops us through the channel. */
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	/* Ctrl-Z stops the master (the person's job), not us: we keep reading the server's
	 * output, so a line is stamped when it was printed, not when the job came back with
	 * fg, and the server never blocks on a full pipe meanwhile. */
	signal(SIGTSTP, SIG_IGN);
}

int main(int argc, char **argv)
{
	const char *level = getenv("DEVSUP_LOG_LEVEL");
	int lv = level ? log_level_parse(level) : -1;
	log_init("devsup-reaper", lv >= 0 ? (log_level_t)lv : LOG_LEVEL_INFO);
	if (argc != 2 || !project_id_valid(argv[1])) {
		fprintf(stderr, "usage: devsup-reaper PROJECT_ID (started by devsup, control "
				"channel on fd 3)\n");
		return 2;
	}
	/* The dev server must not inherit the channel, nor anything else we were given. */
	if (fcntl(CONTROL_FD, F_GETFD) < 0 || fd_cloexec_from(CONTROL_FD) < 0) {
		log_error("no control channel on fd %d: %s", CONTROL_FD, strerror(errno));
		return 1;
	}
	/* Orphaned descendants (setsid daemons, double forks) are re-parented to us, so we can
	 * find them, signal them and know when the last one is gone. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
		log_error("PR_SET_CHILD_SUBREAPER: %s", strerror(errno));
		return 1;
	}
	configure_signals();
	struct ev_loop *loop = ev_default_loop(EVFLAG_AUTO);
	if (!loop) {
		log_error("cannot initialise the event loop");
		return 1;
	}
	static reaper_t reaper;
	static ev_prepare flush_logs;
	ev_prepare_init(&flush_logs, log_flush_cb);
	ev_prepare_start(loop, &flush_logs);
	ev_unref(loop); /* it must not keep the loop running: ev_run returns when the work is done */
	reaper_init(&reaper, loop, argv[1], CONTROL_FD);
	ev_run(loop, 0);
	reaper_free(&reaper);
	ev_ref(loop);
	ev_prepare_stop(loop, &flush_logs);
	ev_loop_destroy(loop);
	log_flush();
	return 0;
}
