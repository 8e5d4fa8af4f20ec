#include "common/usage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cgroup.h"
#include "common/proc.h"

static uint64_t ticks_to_ms(unsigned long long ticks)
{
	static long hz;
	if (!hz)
		hz = sysconf(_SC_CLK_TCK) > 0 ? sysconf(_SC_CLK_TCK) : 100;
	return (uint64_t)ticks * 1000u / (uint64_t)hz;
}

uint64_t usage_rss(pid_t pid)
{
	char path[64], buf[128];
	snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
	ssize_t r = file_read_small(path, buf, sizeof(buf) - 1);
	if (r <= 0)
		return 0;
	buf[r] = '\0';
	unsigned long long size, resident;
	if (sscanf(buf, "%llu %llu", &size, &resident) != 2)
		return 0;
	return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

void usage_of_tree(pid_t root, usage_t *u)
{
	proc_info_t *procs, self;
	size_t n = proc_descendants(root, &procs);
	memset(u, 0, sizeof(*u));
	unsigned long long ticks = 0;
	/* root's own time is not the project's, but what it reaped from the tree is */
	if (proc_read(root, &self) == 0)
		ticks += self.child_ticks;
	for (size_t i = 0; i < n; i++) {
		ticks += procs[i].cpu_ticks + procs[i].child_ticks;
		if (procs[i].state == 'Z')
			continue;
		u->processes++;
		u->rss_bytes += usage_rss(procs[i].pid);
	}
	u->cpu_ms = ticks_to_ms(ticks);
	free(procs);
}

bool usage_of_cgroup(const char *dir, usage_t *u)
{
	uint64_t usec, mem;
	pid_t *pids;
	memset(u, 0, sizeof(*u));
	if (cgroup_read_u64(dir, "cpu.stat", "usage_usec", &usec) < 0)
		return false;
	u->cpu_ms = usec / 1000u;
	size_t n = cgroup_pids(dir, &pids);
	u->processes = (unsigned)n;
	if (cgroup_read_u64(dir, "memory.current", NULL, &mem) == 0) {
		u->rss_bytes = mem;
	} else {
		for (size_t i = 0; i < n; i++)
			u->rss_bytes += usage_rss(pids[i]);
	}
	free(pids);
	return true;
}
