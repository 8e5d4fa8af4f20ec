#ifndef DEVSUP_RESOURCES_H
#define DEVSUP_RESOURCES_H

#include <jansson.h>

#include "supervisor/options.h"
#include "supervisor/project.h"

/*
 * SPEC §9 on the master's side. At start-up: cgroup containment when devsup can create a
 * runner directory in the unified hierarchy (and --no-cgroup is not given), else /proc. On
 * demand: what each project's tree costs, read synchronously from its cgroup or from /proc
 * (a few small files per process: no reaper round trip, no timer, nothing between asks).
 */

/* Picks the containment for opts->runner_id (creating its cgroup directory). */
void resources_init(const options_t *opts);
/* "cgroup" or "proc", as `ready` reports it. */
const char *resources_containment(void);
/* The runner's cgroup directory the reapers create their projects' groups in, or NULL. */
const char *resources_runner_dir(void);
/* `usage` of a project: {cpuMs, cpuPercent, rssBytes, processes}, cpuPercent over the time
 * since the previous measurement (or the start); null when nothing of it is alive. */
json_t *resources_usage_json(project_t *p);
/* The sum over every live project, for `metrics`: {containment, cpuMs, rssBytes, processes}. */
json_t *resources_totals_json(void);
/* Removes the runner's directory (best effort: a group still in use stays). */
void resources_free(void);

#endif
