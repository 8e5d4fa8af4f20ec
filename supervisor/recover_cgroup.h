#ifndef DEVSUP_RECOVER_CGROUP_H
#define DEVSUP_RECOVER_CGROUP_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * Start-up recovery in the cgroup hierarchy (SPEC §7 x §9). A previous devsup of this runner
 * killed together with its reapers leaves its projects' groups below devsup.<runner-id>, and
 * whatever is in such a group is that project's, with or without DEVSUP_ markers (a daemon
 * that cleared its environment is found only here). Each member gets SIGTERM, as in a stop;
 * after the stop timeout (DEVSUP_STOP_TIMEOUT_MS of its members, else 10 s) the group gets
 * one cgroup.kill; once cgroup.events says populated 0 (inotify, bounded by a deadline) the
 * group is removed. Empty groups are removed at once, and the runner's directory too when this
 * devsup does not use it (and it is empty then).
 */

/* Finds and starts ending the leftover groups; the groups of keep's projects (sorted pids of
 * the reapers being adopted: a member below one, or the group of its project) are left alone.
 * Returns how many groups were populated; their project ids are in *projects (owned here). */
size_t recover_cgroup_start(struct ev_loop *loop, const char *runner_id, const pid_t *keep,
			    size_t nkeep, const char *const **projects);
/* True while a leftover group is not yet empty and removed (bounded). */
bool recover_cgroup_active(void);
void recover_cgroup_free(void);

#endif
