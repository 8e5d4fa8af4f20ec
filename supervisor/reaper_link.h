#ifndef DEVSUP_REAPER_LINK_H
#define DEVSUP_REAPER_LINK_H

#include <ev.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "supervisor/options.h"

struct project;

/* The master's side of one reaper: spawning it, its messages, and its unexpected death. */
void reaper_link_init(struct ev_loop *loop, const options_t *opts);
/* Where reapers write their log lines (their stderr and stdout): fd, or -1 for ours. */
void reaper_link_set_log_fd(int fd);
/* Spawns devsup-reaper for p with a SOCK_SEQPACKET control channel. */
bool reaper_link_spawn(struct project *p, char *err, size_t errlen);
/* Sends msg (stolen) to the project's reaper. A message that cannot be sent (not built, too
 * large, refused) is never dropped quietly: the channel is given up, and the project is
 * reported as reaper_lost with the reason (its processes killed like a lost reaper's). */
void reaper_link_send(struct project *p, json_t *msg);
/* Takes over a detached reaper (adopt.c): fd is its channel, pidfd (-1: none) tells when it
 * exits, since it is not our child. */
void reaper_link_adopt(struct project *p, int fd, pid_t pid, int pidfd);
/* Stops watching an adopted reaper's pidfd and closes it. */
void reaper_link_forget_pidfd(struct project *p);
/* A child of the master was reaped: a reaper, or an orphan re-parented to us. */
void reaper_link_child_reaped(pid_t pid, int status);

/* A stop with timeout_ms was sent to p's reaper: it must end within that plus a grace, else
 * it is killed (SIGKILL, SIGCONT for a stopped one) and the project's processes are killed by
 * structure. A later, earlier deadline wins. */
void reaper_link_expect_end(struct project *p, uint64_t timeout_ms);
/* p is going away: its deadline with it. */
void reaper_link_release(struct project *p);

/* True while reapers that have finished their project are still exiting. */
bool reaper_link_retiring(void);
void reaper_link_free(void);

#endif
