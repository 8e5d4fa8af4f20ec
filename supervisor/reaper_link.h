#ifndef DEVSUP_REAPER_LINK_H
#define DEVSUP_REAPER_LINK_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "supervisor/options.h"

struct project;

/* The master's side of one reaper: spawning it, its messages, and its unexpected death. */
void reaper_link_init(struct ev_loop *loop, const options_t *opts);
/* Where reapers write their log lines (their stderr and stdout): fd, or -1 for ours. */
void reaper_link_set_log_fd(int fd);
/* Spawns devsup-reaper for p with a SOCK_SEQPACKET control channel. */
bool reaper_link_spawn(struct project *p, char *err, size_t errlen);
/* A child of the master was reaped: a reaper, or an orphan re-parented to us. */
void reaper_link_child_reaped(pid_t pid, int status);

/* True while reapers that have finished their project are still exiting. */
bool reaper_link_retiring(void);
void reaper_link_free(void);

#endif
