#ifndef DEVSUP_CGROUP_H
#define DEVSUP_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/util.h"

/*
 * Containment of SPEC §9 in the unified (v2) cgroup hierarchy. devsup's own cgroup (root's, or
 * a subtree delegated to it) gets one directory per runner, `devsup.<runner-id>`, and each
 * project one below it; the reaper writes its dev server into the project's group before exec,
 * so everything the server forks, setsid daemons included, stays in it. All paths are
 * absolute directories of the cgroup2 mount found in /proc/self/mountinfo.
 */

/* The directory of this process's own v2 cgroup into buf: true, or false with errno (ENOENT:
 * no cgroup2 mount, or this process is not in the unified hierarchy). */
bool cgroup_self_dir(char *buf, size_t n) WUR;
/* Creates (or re-uses) the runner's directory below this process's own cgroup and checks that
 * a group can be created inside it: true with its path in out, or false with a message in err
 * (no cgroup2, not delegated to us, read-only). */
bool cgroup_runner_dir(const char *runner_id, char *out, size_t n, char *err, size_t errlen) WUR;
/* Where cgroup_runner_dir puts the runner's directory, without creating it: true with the path
 * in out, or false with errno (no cgroup2 here). */
bool cgroup_runner_path(const char *runner_id, char *out, size_t n) WUR;
/* mkdir parent/name (an existing empty one is re-used): 0 with the path in out, or -1. */
int cgroup_create(const char *parent, const char *name, char *out, size_t n) WUR;
/* rmdir; 0, or -1 with errno (EBUSY while a process is still in it). */
int cgroup_remove(const char *dir) WUR;
/* An fd of dir/cgroup.procs open for writing (close-on-exec): writing "0" to it moves the
 * writer into the group, which a forked child can do before exec (async-signal-safe). */
int cgroup_open_procs(const char *dir) WUR;
/* Kills every process in the group at once, new forks included (cgroup.kill): 0 or -1. */
int cgroup_kill(const char *dir) WUR;
/* 1 while a process is in the group, 0 when it is empty (cgroup.events), -1 with errno. */
int cgroup_populated(const char *dir);
/* The pids in the group (cgroup.procs); *out malloc'd (NULL when none). */
size_t cgroup_pids(const char *dir, pid_t **out);
/* A number from dir/file: a "key value" line when key is given (cpu.stat usage_usec,
 * memory.events oom_kill), else the file's only value (memory.current). 0, or -1. */
int cgroup_read_u64(const char *dir, const char *file, const char *key, uint64_t *out) WUR;
/* True when dir has the memory controller (memory.max can be set). */
bool cgroup_has_memory(const char *dir);
/* Writes value to dir/file (memory.max, cgroup.subtree_control): 0 or -1 with errno. */
int cgroup_write(const char *dir, const char *file, const char *value) WUR;

#endif
