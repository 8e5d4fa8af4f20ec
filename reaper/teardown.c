#include "reaper/teardown.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cgroup.h"
#include "common/log.h"
#include "common/proc.h"
#include "common/util.h"

#define REKILL_INTERVAL_S 0.1
/* Each reaped child could trigger a walk of the tree; in a fork storm thousands are reaped a
 * second and each walk reads every member, so walks are spaced at least this far apart (a
 * newcomer then gets its signal at most this much later). */
#define REWALK_MIN_MS 20

bool teardown_tree_empty(void)
{
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	/* WNOWAIT: look without reaping; libev's SIGCHLD handler does the reaping. */
	if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
		return errno == ECHILD;
	return false;
}

static bool teardown_seen_before(teardown_t *t, const proc_info_t *p)
{
	for (size_t i = 0; i < t->nseen; i++)
		if (t->seen[i].pid == p->pid && t->seen[i].start == p->start)
			return true;
	if (t->nseen == t->capseen) {
		t->capseen = t->capseen ? t->capseen * 2 : 16;
		t->seen = xrealloc(t->seen, t->capseen * sizeof(*t->seen));
	}
	t->seen[t->nseen++] = (teardown_seen_t){p->pid, p->start};
	return false;
}

/* After the deadline, one cgroup.kill replaces the per-process SIGKILLs and their re-kills. */
static bool teardown_cgroup_kills(const teardown_t *t)
{
	return t->contain && t->contain->on && !t->no_cgroup_kill;
}

/* The members of the project's cgroup, as proc_descendants lists them (the reaper is not in
 * the group; a pid that exits between the two reads is skipped). Plus the server itself when
 * it is not in yet: a teardown that begins right after the fork (the master lost with the
 * start) may come before the child has written itself into cgroup.procs. */
static size_t teardown_cgroup_members(teardown_t *t, proc_info_t **out)
{
	pid_t *pids;
	size_t n = cgroup_pids(t->contain->dir, &pids), k = 0;
	bool server_listed = false;
	*out = xmalloc((n + 1) * sizeof(**out));
	for (size_t i = 0; i < n; i++) {
		server_listed = server_listed || pids[i] == t->pgid;
		if (proc_read(pids[i], &(*out)[k]) == 0)
			k++;
	}
	free(pids);
	/* our child, not reaped: the pid cannot name anyone else */
	t->server_outside = t->pgid > 0 && !server_listed && proc_read(t->pgid, &(*out)[k]) == 0 &&
			    (*out)[k].ppid == getpid() && (*out)[k].state != 'Z';
	return t->server_outside ? k + 1 : k;
}

/* After the deadline, in a cgroup: one cgroup.kill for every member (and the server, if it is
 * not in yet). False when the kernel has no cgroup.kill: the caller kills one by one. */
static bool teardown_kill_group(teardown_t *t, proc_info_t *procs, size_t n)
{
	/* the kernel kills every member, and every fork under way, at once */
	t->forced = true;
	if (contain_kill(t->contain) < 0) {
		/* a kernel before 5.14 has no cgroup.kill: one process at a time, as without */
		log_warn("cgroup.kill in %s: %s", t->contain->dir, strerror(errno));
		t->no_cgroup_kill = true;
		ev_timer_start(t->loop, &t->rekill);
		return false;
	}
	for (size_t i = 0; i < n; i++)
		if (procs[i].pgid != t->pgid && !teardown_seen_before(t, &procs[i]))
			t->escaped++;
	/* not in the group yet, so not killed by it (it is the last entry) */
	if (t->server_outside && proc_signal(&procs[n - 1], SIGKILL) < 0 && errno != ESRCH)
		log_warn("SIGKILL to %d: %s", (int)procs[n - 1].pid, strerror(errno));
	return true;
}

/* One pass over the tree. SIGTERM goes once to each process (a second SIGTERM makes some
 * servers skip their own cleanup); SIGKILL goes to everything, every pass. */
static void teardown_signal_tree(teardown_t *t)
{
	proc_info_t *procs;
	bool in_cgroup = t->contain && t->contain->on;
	size_t n = in_cgroup ? teardown_cgroup_members(t, &procs) : proc_descendants(getpid(), &procs);
	int sig = t->killing ? SIGKILL : SIGTERM;
	t->walked_ms = clock_ms();
	ev_timer_stop(t->loop, &t->rewalk);
	if (t->killing && teardown_cgroup_kills(t) && n > 0 && teardown_kill_group(t, procs, n)) {
		free(procs);
		return;
	}
	bool group_alive = false;
	for (size_t i = 0; i < n; i++)
		group_alive = group_alive || (t->pgid > 0 && procs[i].pgid == t->pgid);
	/* The group signal is atomic against forks inside the group; the walk below catches
	 * what left it (setsid, double forks). Only while a member is alive, so the number
	 * cannot name someone else's group. */
	if (group_alive && (t->killing || !t->group_termed)) {
		if (kill(-t->pgid, sig) < 0 && errno != ESRCH)
			log_warn("kill(-%d, %s): %s", (int)t->pgid, signal_name(sig), strerror(errno));
		if (!t->killing)
			kill(-t->pgid, SIGCONT); /* a stopped process must run to act on SIGTERM */
		t->group_termed = true;
	}
	for (size_t i = 0; i < n; i++) {
		proc_info_t *p = &procs[i];
		if (p->state == 'Z')
			continue;
		bool in_group = t->pgid > 0 && p->pgid == t->pgid;
		bool fresh = !teardown_seen_before(t, p);
		if (fresh && !in_group)
			t->escaped++;
		if (t->killing) {
			t->forced = true;
			if (!in_group && proc_signal(p, SIGKILL) < 0 && errno != ESRCH)
				log_warn("SIGKILL to %d: %s", (int)p->pid, strerror(errno));
		} else if (fresh && !in_group) {
			if (proc_signal(p, SIGTERM) == 0)
				(void)!proc_signal(p, SIGCONT);
		}
	}
	if (t->killing && group_alive)
		t->forced = true;
	free(procs);
}

static void teardown_check(teardown_t *t)
{
	/* both: the group empty (populated 0) and every zombie reaped (no child left) */
	if (!t->active || !teardown_tree_empty() || (t->contain && !contain_empty(t->contain)))
		return;
	t->active = false;
	ev_timer_stop(t->loop, &t->deadline);
	ev_timer_stop(t->loop, &t->rekill);
	ev_timer_stop(t->loop, &t->rewalk);
	t->done(t->ctx);
}

static void teardown_deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	teardown_t *t = w->data;
	(void)revents;
	t->killing = true;
	teardown_signal_tree(t);
	/* Something may fork faster than it dies, or ignore nothing but be stuck in D state:
	 * keep hitting the tree until it is empty. cgroup.kill needs no second pass. */
	if (!teardown_cgroup_kills(t))
		ev_timer_start(loop, &t->rekill);
	teardown_check(t);
}

/* The re-kill after the deadline, and a walk that was put off: look again, check the end. */
static void teardown_walk_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	teardown_t *t = w->data;
	teardown_signal_tree(t);
	teardown_check(t);
}

/* A walk now, or when REWALK_MIN_MS have passed since the last one. */
static void teardown_walk_soon(teardown_t *t)
{
	uint64_t since = clock_ms() - t->walked_ms;
	if (since >= REWALK_MIN_MS) {
		teardown_signal_tree(t);
		return;
	}
	if (!ev_is_active(&t->rewalk)) {
		ev_timer_set(&t->rewalk, (double)(REWALK_MIN_MS - since) / 1000., 0.);
		ev_timer_start(t->loop, &t->rewalk);
	}
}

void teardown_start(teardown_t *t, struct ev_loop *loop, contain_t *contain, pid_t pgid,
		    uint64_t timeout_ms, teardown_done_cb done, void *ctx)
{
	memset(t, 0, sizeof(*t));
	t->loop = loop;
	t->contain = contain;
	if (contain)
		contain_watch(contain); /* populated 0 as an event */
	t->pgid = pgid;
	t->active = true;
	t->started_ms = clock_ms();
	t->done = done;
	t->ctx = ctx;
	ev_timer_init(&t->deadline, teardown_deadline_cb, (double)timeout_ms / 1000., 0.);
	ev_timer_init(&t->rekill, teardown_walk_cb, REKILL_INTERVAL_S, REKILL_INTERVAL_S);
	ev_timer_init(&t->rewalk, teardown_walk_cb, 0., 0.);
	t->deadline.data = t->rekill.data = t->rewalk.data = t;
	ev_timer_start(loop, &t->deadline);
	teardown_signal_tree(t);
	teardown_check(t);
}

void teardown_shorten(teardown_t *t, uint64_t timeout_ms)
{
	if (!t->active || t->killing)
		return;
	uint64_t now = clock_ms();
	uint64_t due = t->started_ms + timeout_ms;
	double left = due > now ? (double)(due - now) / 1000. : 0.;
	if (left >= ev_timer_remaining(t->loop, &t->deadline))
		return;
	ev_timer_stop(t->loop, &t->deadline);
	ev_timer_set(&t->deadline, left, 0.);
	ev_timer_start(t->loop, &t->deadline);
}

void teardown_child_reaped(teardown_t *t)
{
	if (!t->active)
		return;
	/* after cgroup.kill nothing new can appear: no need to look again on every reap (a fork
	 * storm leaves thousands of them) */
	if (!(t->killing && teardown_cgroup_kills(t)))
		teardown_walk_soon(t);
	teardown_check(t);
}

void teardown_recheck(teardown_t *t)
{
	teardown_check(t);
}

void teardown_free(teardown_t *t)
{
	free(t->seen);
	t->seen = NULL;
	t->nseen = t->capseen = 0;
}
