#ifndef DEVSUP_TUNNEL_H
#define DEVSUP_TUNNEL_H

#include <ev.h>
#include <jansson.h>
#include <regex.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "reaper/capture.h"
#include "reaper/spawn.h"

/*
 * The project's public tunnel (SPEC §6): a client process in its own group, started after the
 * server is healthy, whose output (stdout and stderr, whole lines, ANSI stripped) is searched
 * for the public URL. Attempts time out and are retried with backoff; errors no retry can fix
 * are not retried. A client that dies while open is reported and reopened. Closing (before the
 * server is stopped): SIGTERM to its group, SIGKILL after 2 s.
 */

typedef enum { TUNNEL_OFF, TUNNEL_OPENING, TUNNEL_OPEN, TUNNEL_BACKOFF, TUNNEL_CLOSING,
	       TUNNEL_FAILED } tunnel_state_t;

typedef struct {
	/* the start is waiting for the first outcome: url, or NULL and an error */
	void (*settled)(void *ctx, const char *url, const char *error);
	/* "opened" (url), "closed" (reason, message), "failed" (message) while it runs */
	void (*event)(void *ctx, const char *what, const char *url, const char *reason,
		      const char *message);
	void (*closed)(void *ctx); /* tunnel_close finished: no client process left */
} tunnel_cbs_t;

typedef struct {
	struct ev_loop *loop;
	tunnel_state_t state;
	spawn_plan_t plan;
	char *cwd;
	char *provider;
	regex_t pattern, fatal;
	bool has_pattern, has_fatal;
	char *require;
	uint64_t timeout_ms;
	unsigned retries, attempt; /* attempts in the current series */
	bool settled;
	bool killing; /* the current attempt timed out or is being closed */
	bool fatal_seen;
	pid_t pid;
	int status;
	capture_t out, err;
	ev_timer timer;
	char url[512];
	char last_line[256];
	tunnel_cbs_t cbs;
	void *ctx;
} tunnel_t;

/* The URL in one sanitized output line: the line must contain `require` (if not NULL) and
 * match `pattern`; group 1, or the whole match when the pattern has no group. */
bool tunnel_match(const regex_t *pattern, const char *require, const char *line, char *url,
		  size_t n);
/* Prepares from the start's tunnel spec (see supervisor/tunnel_config.c) and opens the first
 * attempt. False (with cbs.settled called) if it cannot even be prepared. */
bool tunnel_start(tunnel_t *t, struct ev_loop *loop, const json_t *spec, const char *cwd,
		  int port, const json_t *env, const spawn_ids_t *ids, const tunnel_cbs_t *cbs,
		  void *ctx);
/* The reaper reaped pid: true if it was the tunnel client (then handled). */
bool tunnel_child_exited(tunnel_t *t, pid_t pid, int status);
/* Closes: SIGTERM to the client's group, SIGKILL after 2 s or grace_ms if shorter; cbs.closed
 * when it is gone (at once if none is running). No reopening after this. */
void tunnel_close(tunnel_t *t, uint64_t grace_ms);
/* The current URL, or NULL. */
const char *tunnel_url(const tunnel_t *t);
void tunnel_free(tunnel_t *t);

#endif
