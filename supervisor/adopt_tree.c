#include "supervisor/adopt_tree.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/proc.h"
#include "common/util.h"
#include "supervisor/project.h"

/* A cgroup directory from a hello: an absolute path that cannot climb out of where it says. */
static bool cgroup_path_sane(const char *dir)
{
	return dir && dir[0] == '/' && !strstr(dir, "/../") &&
	       (strlen(dir) < 3 || strcmp(dir + strlen(dir) - 3, "/..") != 0);
}

void adopt_tree_record(project_t *p, const json_t *hello, pid_t reaper)
{
	const char *cg = json_string_value(json_object_get(hello, "cgroup"));
	free(p->cgroup);
	p->cgroup = cgroup_path_sane(cg) ? xstrdup(cg) : NULL;
	if (cg && !p->cgroup)
		log_warn("project %s: ignoring the cgroup %s its reaper names", p->id, cg);
	/* The reaper is alive and held by its pidfd: a process whose parent it is now is its
	 * child (the server, the tunnel client, a daemon whose parent exited, re-parented to this
	 * subreaper), so the start time read now names that child for good. */
	proc_info_t *procs;
	size_t n = proc_descendants(reaper, &procs);
	free(p->adopted_roots);
	p->adopted_roots = NULL;
	p->adopted_nroots = 0;
	for (size_t i = 0; i < n; i++) {
		if (procs[i].ppid != reaper || procs[i].state == 'Z')
			continue;
		p->adopted_roots = xrealloc(p->adopted_roots,
					    (p->adopted_nroots + 1) * sizeof(*p->adopted_roots));
		p->adopted_roots[p->adopted_nroots++] = procs[i];
	}
	free(procs);
}

static int by_pid(const void *a, const void *b)
{
	pid_t pa = ((const proc_info_t *)a)->pid, pb = ((const proc_info_t *)b)->pid;
	return pa < pb ? -1 : pa > pb;
}

/* Every process on the machine (sorted by pid), for the parent links. */
static size_t snapshot(proc_info_t **out)
{
	size_t n = proc_all(out);
	if (n > 1)
		qsort(*out, n, sizeof(**out), by_pid);
	return n;
}

/* Whether at belongs to a recorded child: in its process group (started after it, so not a
 * later group that re-used the number), or below it by the parent links. */
static bool below_root(const proc_info_t *procs, size_t n, const proc_info_t *at,
		       const proc_info_t *root)
{
	if (root->pgid == root->pid && at->pgid == root->pid && at->start >= root->start)
		return true;
	for (size_t depth = 0; depth < 64; depth++) {
		if (at->pid == root->pid)
			return at->start == root->start;
		proc_info_t key = {.pid = at->ppid};
		at = at->ppid > 1 ? bsearch(&key, procs, n, sizeof(*procs), by_pid) : NULL;
		if (!at)
			return false;
	}
	return false;
}

bool adopt_tree_kill(const project_t *p, const char *runner_id)
{
	char runner[160], project[160];
	snprintf(runner, sizeof(runner), "DEVSUP_RUNNER_ID=%s", runner_id);
	snprintf(project, sizeof(project), "DEVSUP_PROJECT_ID=%s", p->id);
	proc_info_t *procs;
	size_t n = snapshot(&procs);
	bool left = false;
	for (size_t i = 0; i < n; i++) {
		const proc_info_t *at = &procs[i];
		bool ours = false;
		if (at->state == 'Z' || at->pid == getpid())
			continue;
		for (size_t r = 0; r < p->adopted_nroots && !ours; r++)
			ours = below_root(procs, n, at, &p->adopted_roots[r]);
		if (!ours)
			ours = proc_environ_has(at->pid, project) && proc_environ_has(at->pid, runner);
		if (!ours)
			continue;
		left = true;
		if (proc_signal(at, SIGKILL) < 0 && errno != ESRCH)
			log_warn("SIGKILL to %d (%s) of project %s: %s", (int)at->pid, at->comm,
				 p->id, strerror(errno));
	}
	free(procs);
	return left;
}
