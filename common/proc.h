#ifndef DEVSUP_PROC_H
#define DEVSUP_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "common/util.h"

/* What /proc/PID/stat says of one process; `start` (clock ticks after boot) tells a re-used
 * pid from the process that had it before. */
typedef struct {
	pid_t pid;
	pid_t ppid;
	pid_t pgid;
	pid_t sid;
	char state;
	unsigned long long start;
	unsigned long long cpu_ticks;   /* utime + stime (clock ticks) */
	unsigned long long child_ticks; /* cutime + cstime: of the children it has waited for */
	char comm[32];
} proc_info_t;

/* Reads /proc/PID/stat: 0, or -1 with errno (ENOENT/ESRCH when it is gone). */
int proc_read(pid_t pid, proc_info_t *out) WUR;
/* Every process on the machine, zombies included. Returns the count; *out is malloc'd (NULL
 * when none). */
size_t proc_all(proc_info_t **out);
/* Every process below root (not root itself), zombies included. Returns the count; *out is
 * malloc'd (NULL when none). Walks down the kernel's children lists where the kernel has them
 * (O(tree)), else proc_descendants_scan. */
size_t proc_descendants(pid_t root, proc_info_t **out);
/* The same, found by the parent links of every /proc/<pid>/stat: works on every kernel, but
 * costs O(processes on the machine). */
size_t proc_descendants_scan(pid_t root, proc_info_t **out);
/* Whether info (read after its parent's children file listed it) is still that parent's
 * child, or re-parented to the subreaper root: false when the pid was re-used meanwhile. */
bool proc_still_child(const proc_info_t *info, pid_t parent, pid_t root);
/* Sends sig to p only if the pid still names the same process (pidfd + start time, so a
 * re-used pid is never signalled): 0 sent, -1 with errno (ESRCH: that process is gone). */
int proc_signal(const proc_info_t *p, int sig) WUR;
/* True when /proc/PID/environ holds exactly `entry` ("KEY=VALUE") as one of its strings. */
bool proc_environ_has(pid_t pid, const char *entry);
/* The value of KEY in /proc/PID/environ into buf (NUL-terminated, cut to n-1): true if found. */
bool proc_environ_get(pid_t pid, const char *key, char *buf, size_t n);
/* A pidfd for p, only if the pid still names that same process (start time checked after
 * the open): the fd, or -1 with errno. */
int proc_pidfd(const proc_info_t *p) WUR;
/* Sends sig through a pidfd from proc_pidfd: 0, or -1 with errno. */
int proc_pidfd_signal(int pidfd, int sig) WUR;

#endif
