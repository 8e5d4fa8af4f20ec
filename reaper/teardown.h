#ifndef DEVSUP_TEARDOWN_H
#define DEVSUP_TEARDOWN_H

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "reaper/contain.h"

/*
 * Teardown of SPEC §5: SIGTERM to the server's process group and to every other descendant of
 * this (subreaper) process, found by /proc parent links; then wait for SIGCHLD, never a fixed
 * sleep; after the timeout SIGKILL to everything left, again whenever the tree changes. Done
 * when this process has no child left: as a subreaper, every orphaned descendant is re-parented
 * to it, so "no child" means "nothing of the tree is alive".
 * In a cgroup (reaper/contain.c) the members come from cgroup.procs instead of the /proc walk,
 * SIGKILL is one cgroup.kill (atomic against forks, so no re-kill timer), and the end also
 * waits for cgroup.events to say populated 0 (an inotify event: teardown_recheck).
 */
typedef void (*teardown_done_cb)(void *ctx);

typedef struct {
	pid_t pid;
	unsigned long long start;
} teardown_seen_t;

typedef struct {
	struct ev_loop *loop;
	contain_t *contain; /* the project's cgroup, or one that is off: the /proc walk */
	pid_t pgid; /* the server's group; 0 if it was never spawned */
	bool active;
	bool killing; /* the grace period is over: SIGKILL */
	bool forced;  /* SIGKILL had to be sent to something */
	bool group_termed;
	bool no_cgroup_kill; /* cgroup.kill failed (an old kernel): SIGKILL one by one */
	bool server_outside; /* the last walk found the server not yet in its cgroup */
	unsigned escaped; /* descendants outside the group that had to be signalled */
	uint64_t started_ms;
	ev_timer deadline;
	ev_timer rekill;
	ev_timer rewalk;    /* a walk put off: at most one every REWALK_MIN_S */
	uint64_t walked_ms; /* when the tree was last walked */
	teardown_seen_t *seen; /* processes already sent SIGTERM */
	size_t nseen, capseen;
	teardown_done_cb done;
	void *ctx;
} teardown_t;

/* Starts tearing down; done is called once, when the tree is empty (possibly before this
 * returns, if it already is). */
void teardown_start(teardown_t *t, struct ev_loop *loop, contain_t *contain, pid_t pgid,
		    uint64_t timeout_ms, teardown_done_cb done, void *ctx);
/* A second stop: the SIGKILL deadline becomes started + timeout_ms if that is earlier than the
 * current one, never later (SPEC §3). */
void teardown_shorten(teardown_t *t, uint64_t timeout_ms);
/* Call after any child was reaped: signals newcomers and checks for the end. */
void teardown_child_reaped(teardown_t *t);
/* Call when the cgroup's files changed: checks for the end. */
void teardown_recheck(teardown_t *t);
/* True when this process has no child at all (zombies count as children). */
bool teardown_tree_empty(void);
void teardown_free(teardown_t *t);

#endif
