#include "supervisor/recover.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/proc.h"
#include "common/util.h"
#include "supervisor/recover_cgroup.h"

#define DEFAULT_STOP_TIMEOUT_MS 10000

typedef struct {
	ev_io io; /* the pidfd: readable once the process has exited */
	proc_info_t info;
	char project[129];
	bool polled; /* no pidfds here (old kernel, valgrind): checked by poll_timer */
	bool gone;
} leftover_t;

static struct {
	struct ev_loop *loop;
	leftover_t *items;
	size_t n, alive;
	ev_timer kill_timer;
	/* Only without pidfds: a process that is not our child gives no exit event, so its
	 * identity (pid + start time) is checked every POLL_S instead. */
	ev_timer poll_timer;
} rc;

#define POLL_S 0.05

bool recover_active(void)
{
	return rc.alive > 0 || recover_cgroup_active();
}

static void recover_finish(void)
{
	ev_timer_stop(rc.loop, &rc.kill_timer);
	ev_timer_stop(rc.loop, &rc.poll_timer);
	/* no callback: whoever waits (the exit check, the leftover rows) asks recover_active() */
	log_info("recovery: everything the previous devsup left is gone");
}

static void leftover_exited(struct ev_loop *loop, ev_io *w, int revents)
{
	leftover_t *l = w->data;
	(void)revents;
	ev_io_stop(loop, w);
	close(w->fd);
	l->gone = true;
	log_debug("recovery: %d (%s, project %s) is gone", (int)l->info.pid, l->info.comm,
		  l->project);
	if (--rc.alive == 0)
		recover_finish();
}

/* Signals l through its pidfd, or (no pidfds) by pid after checking its start time. */
static int leftover_signal(leftover_t *l, int sig)
{
	return l->polled ? proc_signal(&l->info, sig) : proc_pidfd_signal(l->io.fd, sig);
}

static void kill_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	for (size_t i = 0; i < rc.n; i++) {
		leftover_t *l = &rc.items[i];
		if (l->gone)
			continue;
		log_warn("recovery: SIGKILL to %d (%s, project %s)", (int)l->info.pid, l->info.comm,
			 l->project);
		if (leftover_signal(l, SIGKILL) < 0 && errno != ESRCH)
			log_warn("recovery: SIGKILL: %s", strerror(errno));
	}
}

static void poll_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	for (size_t i = 0; i < rc.n && rc.alive > 0; i++) {
		leftover_t *l = &rc.items[i];
		proc_info_t now;
		if (!l->polled || l->gone)
			continue;
		if (proc_read(l->info.pid, &now) == 0 && now.start == l->info.start && now.state != 'Z')
			continue;
		l->gone = true;
		if (--rc.alive == 0)
			recover_finish();
	}
}

static int cmp_pid(const void *a, const void *b)
{
	pid_t pa = *(const pid_t *)a, pb = *(const pid_t *)b;
	return pa < pb ? -1 : pa > pb;
}

bool recover_below_kept(const proc_info_t *info, const pid_t *keep, size_t nkeep)
{
	proc_info_t at = *info;
	for (int depth = 0; nkeep > 0 && at.ppid > 1 && depth < 64; depth++) {
		if (bsearch(&at.ppid, keep, nkeep, sizeof(*keep), cmp_pid))
			return true;
		if (proc_read(at.ppid, &at) < 0)
			return false;
	}
	return false;
}

unsigned recover_start(struct ev_loop *loop, const char *runner_id, const pid_t *keep,
		       size_t nkeep)
{
	char marker[160], timeout[24];
	snprintf(marker, sizeof(marker), "DEVSUP_RUNNER_ID=%s", runner_id);
	memset(&rc, 0, sizeof(rc));
	rc.loop = loop;
	ev_timer_init(&rc.kill_timer, kill_timer_cb, 0., 0.);
	ev_timer_init(&rc.poll_timer, poll_timer_cb, POLL_S, POLL_S);
	DIR *d = opendir("/proc");
	if (!d)
		return 0;
	size_t cap = 0;
	uint64_t grace_ms = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		proc_info_t info;
		if (*end || pid <= 0 || pid == getpid() || !proc_environ_has((pid_t)pid, marker) ||
		    proc_read((pid_t)pid, &info) < 0 || info.state == 'Z' ||
		    recover_below_kept(&info, keep, nkeep))
			continue;
		if (rc.n == cap) {
			cap = cap ? cap * 2 : 16;
			rc.items = xrealloc(rc.items, cap * sizeof(*rc.items));
		}
		leftover_t *l = &rc.items[rc.n];
		memset(l, 0, sizeof(*l));
		l->info = info;
		if (!proc_environ_get(info.pid, "DEVSUP_PROJECT_ID", l->project, sizeof(l->project)))
			snprintf(l->project, sizeof(l->project), "?");
		uint64_t t = DEFAULT_STOP_TIMEOUT_MS;
		if (proc_environ_get(info.pid, "DEVSUP_STOP_TIMEOUT_MS", timeout, sizeof(timeout)))
			t = strtoull(timeout, NULL, 10);
		grace_ms = t > grace_ms ? t : grace_ms;
		int pfd = proc_pidfd(&info);
		if (pfd < 0 && errno != ENOSYS)
			continue; /* gone already, or its pid was re-used: not ours to touch */
		l->polled = pfd < 0;
		rc.n++;
		ev_io_init(&l->io, leftover_exited, pfd, EV_READ);
	}
	closedir(d);
	/* The groups, after the scan: a project found both ways counts once. */
	const char *const *groups;
	size_t ngroups = recover_cgroup_start(loop, runner_id, keep, nkeep, &groups);
	unsigned projects = 0;
	for (size_t g = 0; g < ngroups; g++) {
		bool first = true;
		for (size_t k = 0; k < g && first; k++)
			first = strcmp(groups[k], groups[g]) != 0;
		projects += first;
	}
	/* Pointers into rc.items are stable from here on. */
	for (size_t i = 0; i < rc.n; i++) {
		leftover_t *l = &rc.items[i];
		bool first = true;
		for (size_t k = 0; k < i && first; k++)
			first = strcmp(rc.items[k].project, l->project) != 0;
		for (size_t g = 0; g < ngroups && first; g++)
			first = strcmp(groups[g], l->project) != 0;
		projects += first;
		l->io.data = l;
		if (l->polled && !ev_is_active(&rc.poll_timer))
			ev_timer_start(loop, &rc.poll_timer);
		else if (!l->polled)
			ev_io_start(loop, &l->io);
		rc.alive++;
		log_warn("recovery: stopping %d (%s) of project %s, left by a previous devsup",
			 (int)l->info.pid, l->info.comm, l->project);
		if (leftover_signal(l, SIGTERM) == 0)
			(void)!leftover_signal(l, SIGCONT);
	}
	if (rc.alive > 0) {
		ev_timer_set(&rc.kill_timer, (double)grace_ms / 1000., 0.);
		ev_timer_start(loop, &rc.kill_timer);
	}
	return projects;
}

void recover_free(void)
{
	for (size_t i = 0; i < rc.n; i++) {
		if (ev_is_active(&rc.items[i].io)) {
			ev_io_stop(rc.loop, &rc.items[i].io);
			close(rc.items[i].io.fd);
		}
	}
	if (rc.loop) {
		ev_timer_stop(rc.loop, &rc.kill_timer);
		ev_timer_stop(rc.loop, &rc.poll_timer);
	}
	free(rc.items);
	memset(&rc, 0, sizeof(rc));
	recover_cgroup_free();
}
