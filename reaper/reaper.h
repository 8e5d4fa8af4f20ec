#ifndef DEVSUP_REAPER_H
#define DEVSUP_REAPER_H

#include <ev.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/chan.h"
#include "common/reason.h"
#include "common/ring.h"
#include "reaper/capture.h"
#include "reaper/contain.h"
#include "reaper/failure.h"
#include "reaper/health.h"
#include "reaper/listen_trap.h"
#include "reaper/teardown.h"
#include "reaper/tunnel.h"

/* One devsup-reaper process supervises one project: this is all of its state. */

typedef enum {
	PHASE_WAIT_START, /* waiting for the master's start message */
	PHASE_SPAWNING,   /* forked; waiting for exec to succeed or fail */
	PHASE_HEALTH,     /* exec'd; health check in progress */
	PHASE_TUNNEL,     /* healthy; waiting for the tunnel to open or fail */
	PHASE_RUNNING,    /* healthy */
	PHASE_TEARDOWN,   /* taking the tree down */
	PHASE_DONE,       /* final message queued; exiting once it is flushed */
} phase_t;

/* Why the tree is being taken down: decides the final message. */
typedef enum {
	END_STOPPED,      /* the master asked: "stopped" */
	END_FAILED_START, /* start failed: "failed" with phase "start" */
	END_FAILED_RUN,   /* the running server died: "failed" with phase "run" */
	END_MASTER_LOST,  /* control channel EOF: nobody to tell */
} end_t;

typedef struct {
	struct ev_loop *loop;
	chan_t chan;
	char *project_id;
	char *runner_id;

	/* configuration, from the start message */
	int port;
	char *health_path;
	uint64_t health_timeout_ms;
	health_expect_t health_expect; /* healthCheck.expect */
	uint64_t stop_timeout_ms;
	bool stream_logs;
	char *framework;
	char *cwd;

	phase_t phase;
	pid_t pid; /* the dev server; also its process group id */
	uint64_t spawned_ms;
	uint64_t healthy_ms;
	bool exited; /* pid has been reaped; status holds its wait status */
	int status;
	bool exec_failed; /* exec never ran the command: its exit status means nothing */

	ev_child child_watcher; /* every child of the reaper (pid 0) */
	ev_io exec_watcher;     /* close-on-exec pipe that reports exec errors */
	int exec_fd;
	ev_signal sigterm_watcher;
	ev_timer scan_timer; /* while starting: which ports does the tree listen on? */
	bool port_conflict;  /* the output said the port was taken (EADDRINUSE, ...) */
	bool trap_wanted;    /* the start did not opt out of the listen trap */
	listen_trap_t trap;  /* listen() notifications of the tree, for the project's life */
	double poll_min_s;   /* the first refused-connect delay (DEVSUP_POLL_MIN_MS, for tests) */
	/* a listen() notified before the exec pipe said exec succeeded (the loop may see the
	 * trap's fd first): replayed when the health check begins */
	bool early_listen;
	bool early_known; /* early_addr could be read */
	pid_t early_pid;
	struct sockaddr_storage early_addr;
	bool other_seen;     /* a listen() on another port than the health check's */
	struct sockaddr_storage other_addr; /* the latest such listener */
	char url[96];        /* where it answered, for the start's answer */
	const char *scheme;  /* "http" or "https" */

	ring_t ring;
	capture_t out;
	capture_t err;
	health_t health;
	teardown_t teardown;
	bool teardown_started; /* teardown_start was called (it runs once) */
	json_t *start;   /* the start message: env and tunnel spec */
	tunnel_t tunnel; /* when the start asked for one */
	bool tunnel_live; /* tunnel_start was called and tunnel_close has not finished */
	end_t end;
	failure_t failure;
	uint64_t logs_dropped;
	json_t *log_held; /* the newest log line the channel could not take (reaper.c) */

	/* hand-over to a new master (handover.c) */
	struct {
		bool armed;    /* `detach` received: the master's EOF is not a loss */
		bool detached; /* no master connected: messages wait in pending */
		int listen_fd;
		int dir_fd; /* the runner's adopt directory */
		ev_io listen_watcher;
		ev_timer timer;      /* --adopt-timeout */
		json_t *pending;     /* messages for the adopter, in order */
		json_t *master_state; /* the master's record of the project, handed back */
	} ho;
	contain_t contain;      /* the project's cgroup, when the master gave a runner dir */
	uint64_t memory_limit;  /* limits.memoryBytes; 0: none */
	uint64_t memory_peak;   /* highest RSS sampled */
	bool memory_over;       /* the limit was hit: the failure is memory_limit */
	ev_timer memory_timer;  /* samples RSS where memory.max is not available */
} reaper_t;

/* Sets up the watchers on loop; control_fd is the channel to the master. */
void reaper_init(reaper_t *r, struct ev_loop *loop, const char *project_id, int control_fd);
void reaper_free(reaper_t *r);
/* Sends msg (stolen) to the master, or queues it for the adopter while detached; a message
 * that cannot be sent gives the channel up (its EOF reports it). */
void reaper_send(reaper_t *r, json_t *msg);
/* Nobody will adopt the project: torn down as when the master dies. */
void reaper_master_lost(reaper_t *r);

#endif
