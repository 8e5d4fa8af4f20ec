#ifndef DEVSUP_RUNNER_LOCK_H
#define DEVSUP_RUNNER_LOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "common/util.h"

/*
 * One live devsup per runner id per machine (SPEC §1): an exclusive flock on
 * <state-dir>/<runner-id>.lock, held by the master for its whole life through a close-on-exec
 * fd (never by a reaper or a dev server). The kernel drops it when the master dies, however it
 * dies, so nothing needs cleaning after a crash and a lock that is held always means a live
 * devsup. The file is never removed: unlinking a lock file races with a newcomer that opened it.
 */

/* Picks the state directory (wanted, else $XDG_RUNTIME_DIR/devsup when that directory is ours,
 * else /run/devsup as root, else /tmp/devsup-UID) into dir, creates it 0700 if missing and refuses one that is not ours
 * or that others may write to (as tmux does for its socket directory). false with a message. */
bool runner_lock_state_dir(const char *wanted, char *dir, size_t n, char *err, size_t errlen) WUR;

typedef enum {
	RUNNER_LOCK_HELD,   /* ours now */
	RUNNER_LOCK_IN_USE, /* another live devsup holds it: *holder is its pid, 0 if unknown */
	RUNNER_LOCK_ERROR,  /* message in err */
} runner_lock_result_t;

/* Takes the lock of runner id in dir, without waiting, and writes our pid into it. */
runner_lock_result_t runner_lock_take(const char *dir, const char *id, pid_t *holder, char *err,
				      size_t errlen) WUR;
/* Opens path (created 0600, never through a symlink) and takes an exclusive flock without
 * waiting: the close-on-exec fd that holds it, or -1 with errno (EWOULDBLOCK: held by another
 * open file, i.e. another live devsup). Also the port reservations' lock (ports.c). */
int runner_lock_file(const char *path) WUR;
/* The path of the lock last tried (for messages). */
const char *runner_lock_path(void);
/* Closes the lock (at exit; the kernel would do it anyway). */
void runner_lock_release(void);

#endif
