#ifndef DEVSUP_RECOVER_H
#define DEVSUP_RECOVER_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "common/proc.h"

/*
 * Start-up recovery of SPEC §7, without a database: processes whose environment carries this
 * runner's DEVSUP_RUNNER_ID were left by a previous devsup (killed, crashed). Each is held
 * through a pidfd (so a re-used pid is never signalled), sent SIGTERM, and SIGKILL after its
 * project's stop timeout (DEVSUP_STOP_TIMEOUT_MS); its exit is seen on the pidfd. Where the
 * previous devsup contained its projects, their cgroups are found and emptied too
 * (recover_cgroup.c): the markers are the fallback for what no cgroup holds.
 */

/* Scans /proc and the runner's cgroups and starts tearing down; returns the number of distinct
 * projects found.
 * Processes below one of keep (sorted pids: reapers this devsup adopted) are theirs, not
 * leftovers, and are left alone. */
unsigned recover_start(struct ev_loop *loop, const char *runner_id, const pid_t *keep,
		       size_t nkeep);
/* True while leftovers are still alive. There is no "done" callback: the master asks this
 * after every event (main.c's exit check). */
bool recover_active(void);
/* Whether info descends from one of keep (sorted), by the parent links: an adopted reaper's
 * tree is its own, whatever markers its processes carry. */
bool recover_below_kept(const proc_info_t *info, const pid_t *keep, size_t nkeep);
void recover_free(void);

#endif
