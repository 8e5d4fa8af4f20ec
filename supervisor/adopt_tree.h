#ifndef DEVSUP_ADOPT_TREE_H
#define DEVSUP_ADOPT_TREE_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

struct project;

/*
 * The processes of an adopted project (SPEC §11 x §9). Its reaper was re-parented away from
 * the master that spawned it, so its tree is not below us and the subreaper's structural kill
 * (reaper_link.c, kill_orphans) cannot see it. What the adopter knows instead, checked when it
 * adopts: the project's cgroup (named in the reaper's hello), and the reaper's children at that
 * moment (the dev server, the tunnel client, daemons re-parented to it), each recorded with
 * its start time while it is provably that reaper's child.
 */

/* Takes p's cgroup from hello and records the reaper's children now (server, tunnel client,
 * daemons re-parented to it), each named from then on by its pid and start time. */
void adopt_tree_record(struct project *p, const json_t *hello, pid_t reaper);
/* p's reaper died without its last message: SIGKILL to the recorded children, their subtrees
 * and process groups (pid re-use checked by start time), then, as a last resort for what left
 * every structure (a daemon whose parent exited, a tunnel client reopened after adoption),
 * processes marked with this runner's and p's DEVSUP_ ids. The cgroup is the caller's
 * (one cgroup.kill). True while any of them is alive. */
bool adopt_tree_kill(const struct project *p, const char *runner_id);

#endif
