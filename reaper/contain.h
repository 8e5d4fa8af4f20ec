#ifndef DEVSUP_CONTAIN_H
#define DEVSUP_CONTAIN_H

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/usage.h"
#include "common/util.h"

/*
 * A project's own cgroup (SPEC §9), when the master gave us a runner directory: created
 * before the server is forked, joined by the child before exec (through procs_fd), watched
 * with inotify while that matters (a teardown, a memory.max) so "the group is empty"
 * (cgroup.events populated 0) and "the kernel OOM-killed in it" (memory.events) arrive as
 * events, never by polling; removed once empty.
 */
typedef void (*contain_changed_cb)(void *ctx);

typedef struct {
	bool on;      /* the group exists and the server goes into it */
	char dir[4096];
	int procs_fd; /* cgroup.procs, open for writing: -1 when off */
	int inotify_fd;
	ev_io watcher;
	struct ev_loop *loop;
	contain_changed_cb changed;
	void *ctx;
} contain_t;

/* Creates runner_dir/project_id; false (containment "proc", with a warning logged) if it
 * cannot. changed is called, once contain_watch ran, whenever cgroup.events or memory.events
 * change. */
bool contain_open(contain_t *c, struct ev_loop *loop, const char *runner_dir,
		  const char *project_id, contain_changed_cb changed, void *ctx);
/* Starts watching the group's events with inotify (a teardown, a memory.max); without an
 * inotify instance to spare it logs and does without. */
void contain_watch(contain_t *c);
/* "cgroup" or "proc". */
const char *contain_kind(const contain_t *c);
/* True when nothing is alive in the group (always true when off). */
bool contain_empty(const contain_t *c);
/* cgroup.kill: every process in the group, forks under way included. 0, or -1. */
int contain_kill(contain_t *c) WUR;
/* Caps the group's memory (memory.max, and memory.oom.group so the kernel kills the whole
 * group): false when the memory controller is not available here. */
bool contain_limit_memory(contain_t *c, uint64_t bytes);
/* The kernel OOM-killed in the group because of memory.max (memory.events oom_kill). */
bool contain_oom_killed(const contain_t *c);
/* The highest memory use the group saw (memory.peak), or 0 where the kernel does not say. */
uint64_t contain_memory_peak(const contain_t *c);
/* The group's (or, when off, this process's tree's) usage. */
void contain_usage(const contain_t *c, usage_t *u);
/* Stops watching and removes the group (it must be empty by then); master_lost: the
 * runner's directory too, if it is then empty. Idempotent. */
void contain_close(contain_t *c, bool master_lost);

#endif
