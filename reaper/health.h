#ifndef DEVSUP_HEALTH_H
#define DEVSUP_HEALTH_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/reason.h"

/*
 * The health check of SPEC §4.4: TCP connects to 127.0.0.1 and ::1 retried every few
 * milliseconds while refused, then `HEAD path HTTP/1.1` kept in flight until its answer; the
 * first HTTP status line on either family is the signal. Never a fixed sleep.
 */
typedef void (*health_cb)(void *ctx, bool healthy, reason_t reason, const char *message);

typedef enum { PROBE_IDLE, PROBE_CONNECTING, PROBE_SENDING, PROBE_READING, PROBE_OFF } probe_state_t;

typedef struct health health_t;

typedef struct {
	health_t *h;
	int family;
	int fd;
	probe_state_t state;
	ev_io io;
	ev_timer retry;
	size_t sent;
	char answer[16];
	size_t got;
} health_probe_t;

typedef enum {
	SEEN_NOTHING,    /* every connect refused */
	SEEN_SILENCE,    /* a connection was accepted but nothing came back (yet) */
	SEEN_CLOSED,     /* accepted, then closed without a byte */
	SEEN_NOT_HTTP,   /* bytes that are not an HTTP status line */
	SEEN_FOREIGN,    /* an HTTP answer from a listener that is not ours */
} health_seen_t;

/* Says whether the listener on port belongs to the project (SPEC §4.4). */
typedef bool (*health_verify_cb)(void *ctx, int port);

struct health {
	struct ev_loop *loop;
	int port;
	char request[512];
	size_t request_len;
	uint64_t started_ms;
	uint64_t timeout_ms;
	health_probe_t probes[2];
	ev_timer deadline;
	bool active;
	health_seen_t seen;
	char not_http[40]; /* the start of the last non-HTTP answer, sanitized */
	unsigned attempts;
	health_cb cb;
	health_verify_cb verify;
	void *ctx;
};

/* Starts probing port; calls cb exactly once (unless stopped first). */
void health_start(health_t *h, struct ev_loop *loop, int port, const char *path,
		  uint64_t timeout_ms, health_cb cb, void *ctx);
/* Only count HTTP answers for which verify(ctx, port) is true (ctx as given to start). */
void health_set_verify(health_t *h, health_verify_cb verify);
/* Probes another port from now on (the server moved to it); the deadline stays. */
void health_retarget(health_t *h, int port);
/* Stops probing and releases the sockets; safe to call twice. */
void health_stop(health_t *h);
/* True when the bytes are the start of an HTTP/1.x status line ("HTTP/1.1 200"). Needs 12
 * bytes to say yes; *complete tells whether the answer is decided. */
bool health_is_status_line(const char *buf, size_t n, bool *complete);

#endif
