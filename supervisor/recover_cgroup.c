#include "supervisor/recover_cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "common/cgroup.h"
#include "common/log.h"
#include "common/proc.h"
#include "common/util.h"
#include "supervisor/recover.h"
#include "supervisor/resources.h"

#define DEFAULT_STOP_TIMEOUT_MS 10000
#define EMPTY_WAIT_S 5.0 /* after cgroup.kill: a process in D state may take its time, not more */
#define POLL_S 0.1       /* only without inotify */

typedef struct {
	char *dir;
	char *project;
	bool waiting; /* populated, or not yet removed */
} group_t;

static struct {
	struct ev_loop *loop;
	group_t *groups;
	size_t n, waiting;
	const char **projects; /* of the populated groups, for recover.c's count */
	char runner_dir[4096];
	bool drop_runner_dir; /* this devsup does not use it: removed once empty */
	int inotify_fd;
	ev_io inotify;
	ev_timer kill_timer; /* the stop timeout: then cgroup.kill */
	ev_timer deadline;   /* after the kill: stop waiting */
	ev_timer poll;       /* without inotify */
} rg = {.inotify_fd = -1};

bool recover_cgroup_active(void)
{
	return rg.waiting > 0;
}

static void stop_watching(void)
{
	ev_timer_stop(rg.loop, &rg.kill_timer);
	ev_timer_stop(rg.loop, &rg.deadline);
	ev_timer_stop(rg.loop, &rg.poll);
	if (rg.inotify_fd >= 0) {
		ev_io_stop(rg.loop, &rg.inotify);
		close(rg.inotify_fd);
		rg.inotify_fd = -1;
	}
}

static void group_done(group_t *g)
{
	g->waiting = false;
	if (--rg.waiting > 0)
		return;
	stop_watching();
	/* no callback: whoever waits asks recover_active() after every event */
	if (rg.drop_runner_dir)
		(void)!cgroup_remove(rg.runner_dir);
	log_info("recovery: every leftover cgroup of %s is gone", rg.runner_dir);
}

/* Removes the groups that are empty now; the others stay waited for. */
static void check_groups(void)
{
	for (size_t i = 0; i < rg.n; i++) {
		group_t *g = &rg.groups[i];
		if (!g->waiting || cgroup_populated(g->dir) == 1)
			continue;
		if (cgroup_remove(g->dir) < 0 && errno != ENOENT)
			log_warn("recovery: cannot remove the cgroup %s: %s", g->dir, strerror(errno));
		log_debug("recovery: the cgroup of project %s is empty and removed", g->project);
		group_done(g);
	}
}

static void inotify_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	(void)loop;
	(void)revents;
	/* which file changed does not matter: every group's populated is read again */
	while (fd_read(w->fd, buf, sizeof(buf)) > 0)
		;
	check_groups();
}

static void poll_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	check_groups();
}

static void deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	check_groups();
	for (size_t i = 0; i < rg.n; i++) {
		if (!rg.groups[i].waiting)
			continue;
		log_error("recovery: the cgroup %s is still populated %.0f s after cgroup.kill "
			  "(a process in uninterruptible sleep?); left in place: see "
			  "%s/cgroup.procs",
			  rg.groups[i].dir, EMPTY_WAIT_S, rg.groups[i].dir);
		group_done(&rg.groups[i]);
	}
}

static void kill_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	for (size_t i = 0; i < rg.n; i++) {
		group_t *g = &rg.groups[i];
		if (!g->waiting || cgroup_populated(g->dir) != 1)
			continue;
		log_warn("recovery: cgroup.kill in %s (project %s)", g->dir, g->project);
		if (cgroup_kill(g->dir) < 0)
			log_warn("recovery: cgroup.kill in %s: %s", g->dir, strerror(errno));
	}
	check_groups();
	if (rg.waiting > 0)
		ev_timer_start(loop, &rg.deadline);
}

/* SIGTERM (and SIGCONT) to every member, as a stop does; the stop timeout its members carry. */
static uint64_t group_terminate(const group_t *g)
{
	pid_t *pids;
	size_t n = cgroup_pids(g->dir, &pids);
	uint64_t grace = 0;
	char timeout[24];
	for (size_t i = 0; i < n; i++) {
		proc_info_t info;
		if (proc_read(pids[i], &info) < 0 || info.state == 'Z')
			continue;
		log_warn("recovery: stopping %d (%s) in the cgroup of project %s, left by a previous "
			 "devsup",
			 (int)info.pid, info.comm, g->project);
		if (proc_signal(&info, SIGTERM) == 0)
			(void)!proc_signal(&info, SIGCONT);
		if (proc_environ_get(info.pid, "DEVSUP_STOP_TIMEOUT_MS", timeout, sizeof(timeout))) {
			uint64_t t = strtoull(timeout, NULL, 10);
			grace = t > grace ? t : grace;
		}
	}
	free(pids);
	return grace;
}

/* The project id of a reaper being adopted is the last word of its argv ("devsup-reaper ID",
 * also when a wrapper such as valgrind runs it). */
static bool kept_project(const char *project, const pid_t *keep, size_t nkeep)
{
	for (size_t i = 0; i < nkeep; i++) {
		char path[64], argv[1024];
		snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)keep[i]);
		ssize_t len = file_read_small(path, argv, sizeof(argv) - 1);
		if (len <= 1)
			continue;
		argv[len] = '\0';
		/* the words end in NULs: the last starts after the one before the final NUL */
		const char *last = argv + len - 1;
		while (last > argv && last[-1] != '\0')
			last--;
		if (strcmp(last, project) == 0)
			return true;
	}
	return false;
}

/* Whether a member of dir descends from a reaper being adopted. */
static bool kept_member(const char *dir, const pid_t *keep, size_t nkeep)
{
	pid_t *pids;
	size_t n = cgroup_pids(dir, &pids);
	bool kept = false;
	for (size_t i = 0; i < n && !kept; i++) {
		proc_info_t info;
		kept = proc_read(pids[i], &info) == 0 && recover_below_kept(&info, keep, nkeep);
	}
	free(pids);
	return kept;
}

/* The leftover groups below the runner's directory, into rg.groups (empty ones removed). */
static void find_groups(const pid_t *keep, size_t nkeep)
{
	DIR *d = opendir(rg.runner_dir);
	struct dirent *e;
	size_t cap = 0;
	while (d && (e = readdir(d))) {
		char dir[sizeof(rg.runner_dir) + 260];
		if (e->d_type != DT_DIR || e->d_name[0] == '.')
			continue;
		/* contain.c names a group by its project id, '%' before an id starting with '.' */
		const char *project = e->d_name + (e->d_name[0] == '%');
		snprintf(dir, sizeof(dir), "%s/%s", rg.runner_dir, e->d_name);
		if (kept_project(project, keep, nkeep) || kept_member(dir, keep, nkeep))
			continue;
		int populated = cgroup_populated(dir);
		if (populated == 0) {
			if (cgroup_remove(dir) == 0)
				log_info("recovery: removed the empty cgroup %s", dir);
			continue;
		}
		if (populated < 0)
			continue; /* not a cgroup we can read */
		if (rg.n == cap) {
			cap = cap ? cap * 2 : 8;
			rg.groups = xrealloc(rg.groups, cap * sizeof(*rg.groups));
		}
		rg.groups[rg.n++] = (group_t){.dir = xstrdup(dir), .project = xstrdup(project)};
	}
	if (d)
		closedir(d);
}

/* Every group's cgroup.events through one inotify instance, or a poll where there is none. */
static void watch_groups(void)
{
	rg.inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	for (size_t i = 0; i < rg.n && rg.inotify_fd >= 0; i++) {
		char path[sizeof(rg.runner_dir) + 300];
		snprintf(path, sizeof(path), "%s/cgroup.events", rg.groups[i].dir);
		if (inotify_add_watch(rg.inotify_fd, path, IN_MODIFY) < 0) {
			log_info("recovery: inotify on %s: %s; polling instead", path, strerror(errno));
			close(rg.inotify_fd);
			rg.inotify_fd = -1;
		}
	}
	if (rg.inotify_fd >= 0) {
		ev_io_init(&rg.inotify, inotify_cb, rg.inotify_fd, EV_READ);
		ev_io_start(rg.loop, &rg.inotify);
	} else {
		ev_timer_start(rg.loop, &rg.poll);
	}
}

size_t recover_cgroup_start(struct ev_loop *loop, const char *runner_id, const pid_t *keep,
			    size_t nkeep, const char *const **projects)
{
	*projects = NULL;
	rg.loop = loop;
	ev_timer_init(&rg.kill_timer, kill_cb, 0., 0.);
	ev_timer_init(&rg.deadline, deadline_cb, EMPTY_WAIT_S, 0.);
	ev_timer_init(&rg.poll, poll_cb, POLL_S, POLL_S);
	if (!cgroup_runner_path(runner_id, rg.runner_dir, sizeof(rg.runner_dir)))
		return 0; /* no cgroup2 here: nothing can have been left in one */
	const char *ours = resources_runner_dir();
	rg.drop_runner_dir = !ours || strcmp(ours, rg.runner_dir) != 0;
	find_groups(keep, nkeep);
	if (rg.n == 0) {
		/* ENOTEMPTY/EBUSY: groups of adopted projects; ENOENT: none was left */
		if (rg.drop_runner_dir && cgroup_remove(rg.runner_dir) == 0)
			log_info("recovery: removed the empty cgroup %s", rg.runner_dir);
		return 0;
	}
	uint64_t grace = 0;
	rg.projects = xcalloc(rg.n, sizeof(*rg.projects));
	for (size_t i = 0; i < rg.n; i++) {
		rg.groups[i].waiting = true;
		rg.projects[i] = rg.groups[i].project;
		uint64_t t = group_terminate(&rg.groups[i]);
		grace = t > grace ? t : grace;
	}
	rg.waiting = rg.n;
	watch_groups();
	ev_timer_set(&rg.kill_timer, (double)(grace ? grace : DEFAULT_STOP_TIMEOUT_MS) / 1000., 0.);
	ev_timer_start(loop, &rg.kill_timer);
	check_groups(); /* one that emptied before its watch */
	*projects = rg.projects;
	return rg.n;
}

void recover_cgroup_free(void)
{
	if (rg.loop)
		stop_watching();
	for (size_t i = 0; i < rg.n; i++) {
		free(rg.groups[i].dir);
		free(rg.groups[i].project);
	}
	free(rg.groups);
	free(rg.projects);
	memset(&rg, 0, sizeof(rg));
	rg.inotify_fd = -1;
}
