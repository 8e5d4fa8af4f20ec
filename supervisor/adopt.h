#ifndef DEVSUP_ADOPT_H
#define DEVSUP_ADOPT_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "supervisor/options.h"

/*
 * Hand-over between two masters of one runner (SPEC §11, docs/architecture.md "Hand-over").
 * Detach: every live project's reaper is told to keep its project and to listen in the
 * runner's adopt directory (<state dir>/<runner id>.adopt/, mode 0700). Adopt: a new master,
 * before recovery and before `ready`, connects to each socket there, checks the peer's
 * credentials and takes the project over from the reaper's `hello`.
 */

/* The control channel version this master speaks (`hello.version`); reapers speaking another
 * are refused (docs/operations.md "Upgrades"). */
#define ADOPT_VERSION 1

/* The state directory the runner lock chose (runner_lock_state_dir). */
void adopt_set_state_dir(const char *dir);
/* Sends `detach` to every live project's reaper. False (err says why, nothing sent) when the
 * adopt directory cannot be made safe. */
bool adopt_detach_all(const options_t *opts, char *err, size_t errlen);
/* Connects to the reapers a previous master of this runner detached; their hellos arrive in
 * the loop. Call before recover_start. */
void adopt_begin(struct ev_loop *loop, const options_t *opts);
/* The reapers connected (their pids, sorted): recovery leaves their trees alone. */
size_t adopt_reaper_pids(const pid_t **out);
/* True while a connected reaper has not said hello (bounded by a deadline). */
bool adopt_pending(void);
/* Projects adopted so far (ready.adopted). */
unsigned adopt_count(void);
/* ready is out: the adopted reapers may now send what happened while they were detached. */
void adopt_confirm(void);
void adopt_free(void);

#endif
