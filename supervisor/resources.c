#include "supervisor/resources.h"

#include <errno.h>
#include <string.h>

#include "common/cgroup.h"
#include "common/log.h"
#include "common/usage.h"
#include "common/util.h"

static struct {
	bool cgroup;
	char runner_dir[4096];
	const char *runner_id;
} res;

void resources_init(const options_t *opts)
{
	char err[512];
	res.cgroup = false;
	res.runner_id = opts->runner_id;
	if (opts->no_cgroup) {
		log_info("containment: /proc (--no-cgroup)");
		return;
	}
	if (!cgroup_runner_dir(opts->runner_id, res.runner_dir, sizeof(res.runner_dir), err,
			       sizeof(err))) {
		log_info("containment: /proc (%s)", err);
		res.runner_dir[0] = '\0';
		return;
	}
	res.cgroup = true;
	log_info("containment: cgroup %s", res.runner_dir);
}

const char *resources_containment(void)
{
	return res.cgroup ? "cgroup" : "proc";
}

const char *resources_runner_dir(void)
{
	return res.cgroup ? res.runner_dir : NULL;
}

/* Measures p now; false when nothing of it is alive. */
static bool resources_measure(project_t *p, usage_t *u, double *cpu_percent)
{
	if (p->reaper_pid <= 0 || !state_is_live(p->state))
		return false;
	if (!p->cgroup || !usage_of_cgroup(p->cgroup, u))
		usage_of_tree(p->reaper_pid, u);
	uint64_t now = clock_ms();
	uint64_t since = p->usage_at_ms ? p->usage_at_ms : p->start_mono_ms;
	uint64_t before = p->usage_at_ms ? p->usage_cpu_ms : 0;
	uint64_t spent = u->cpu_ms > before ? u->cpu_ms - before : 0;
	*cpu_percent = now > since ? (double)spent * 100. / (double)(now - since) : 0.;
	p->usage_cpu_ms = u->cpu_ms;
	p->usage_at_ms = now;
	return true;
}

json_t *resources_usage_json(project_t *p)
{
	usage_t u;
	double pct;
	if (!resources_measure(p, &u, &pct))
		return json_null();
	/* one decimal is what a person reads; more is noise at this resolution */
	return json_pack("{s:I, s:f, s:I, s:i}", "cpuMs", (json_int_t)u.cpu_ms, "cpuPercent",
			 (double)(long long)(pct * 10. + .5) / 10., "rssBytes",
			 (json_int_t)u.rss_bytes, "processes", (int)u.processes);
}

json_t *resources_totals_json(void)
{
	usage_t u, sum = {0};
	double pct, pct_sum = 0.;
	for (project_t *p = project_first(); p; p = p->next) {
		if (!resources_measure(p, &u, &pct))
			continue;
		sum.cpu_ms += u.cpu_ms;
		sum.rss_bytes += u.rss_bytes;
		sum.processes += u.processes;
		pct_sum += pct;
	}
	return json_pack("{s:s, s:I, s:f, s:I, s:i}", "containment", resources_containment(),
			 "cpuMs", (json_int_t)sum.cpu_ms, "cpuPercent",
			 (double)(long long)(pct_sum * 10. + .5) / 10., "rssBytes",
			 (json_int_t)sum.rss_bytes, "processes", (int)sum.processes);
}

void resources_free(void)
{
	if (res.cgroup && cgroup_remove(res.runner_dir) < 0 && errno != ENOENT)
		log_info("cannot remove %s: %s", res.runner_dir, strerror(errno));
	/* Not ours to use (--no-cgroup), but projects we adopted lived in it and are stopped
	 * now: what they left empty goes too. */
	if (!res.cgroup && res.runner_id &&
	    cgroup_runner_path(res.runner_id, res.runner_dir, sizeof(res.runner_dir)))
		(void)!cgroup_remove(res.runner_dir);
	res.cgroup = false;
}
