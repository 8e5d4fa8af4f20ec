#ifndef DEVSUP_USAGE_H
#define DEVSUP_USAGE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* What a project's tree costs (SPEC §9 `usage`), read on demand: nothing here wakes up. */
typedef struct {
	uint64_t cpu_ms;    /* CPU time of the tree so far, user + system */
	uint64_t rss_bytes; /* resident memory of the live processes */
	unsigned processes; /* live processes (zombies not counted) */
} usage_t;

/* The tree below root (not root itself), from /proc: CPU of the live processes and of the
 * children they, and root, have reaped; RSS summed over the live ones. */
void usage_of_tree(pid_t root, usage_t *u);
/* The same for a cgroup: CPU from cpu.stat, memory from memory.current when the memory
 * controller is there, else the members' RSS. False if the group cannot be read. */
bool usage_of_cgroup(const char *dir, usage_t *u);
/* Resident bytes of one process (/proc/PID/statm), 0 if it is gone. */
uint64_t usage_rss(pid_t pid);

#endif
