#ifndef DEVSUP_HEALTH_H
#define DEVSUP_HEALTH_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/reason.h"

/*
 * The health check of SPEC §4.4: TCP connects to 127.0.0.1 and ::1 (and to any other address
 * the tree is seen listening on), then `HEAD path HTTP/1.1` kept in flight until its answer;
 * the first HTTP status line is the signal. A listener that closes a plain connection without
 * a word, or answers it with a TLS record, is tried with TLS (HEAD over a handshake without
 * certificate checks). When to connect: at once when told (health_probe_addr after a listen()
 * notification, health_kick after a line of output), else a refused connect is retried after a
 * delay that doubles from the poll minimum to its maximum; event-driven (health_set_events,
 * with the listen trap), a refused connect is retried only at an address health_probe_addr
 * named, and otherwise waits for the next event. Never a fixed sleep, and no fixed-period loop.
 */
/* The longest healthCheck.path (bytes): the HEAD request with it must fit in
 * health_t.request; the master refuses longer ones (supervisor/command.c). */
#define HEALTH_PATH_MAX 256

typedef void (*health_cb)(void *ctx, bool healthy, reason_t reason, const char *message);

typedef enum {
	PROBE_UNUSED, /* a free slot */
	PROBE_IDLE,   /* waiting for its retry timer (or a kick) */
	PROBE_CONNECTING,
	PROBE_HANDSHAKE, /* TLS */
	PROBE_SENDING,
	PROBE_READING,
	PROBE_OFF, /* this family is not available here */
} probe_state_t;

typedef struct health health_t;
typedef struct tls_conn tls_conn_t;

/* Which HTTP statuses mean healthy (healthCheck.expect): all of them unless restricted. */
typedef struct {
	bool restricted;
	uint8_t codes[(600 + 7) / 8]; /* bit n: status n is accepted */
} health_expect_t;

#define HEALTH_PROBES 4

/* One address probed: slots 0 and 1 are 127.0.0.1 and ::1, the others addresses the tree was
 * seen listening on. */
typedef struct {
	health_t *h;
	struct sockaddr_storage addr; /* with h->port */
	int fd;
	probe_state_t state;
	ev_io io;
	ev_timer retry;
	double delay;  /* the wait after the next refused connect */
	bool notified; /* a listen() at this address was reported (health_probe_addr) */
	bool tls;      /* speak TLS to it (it closed or answered plain HTTP with TLS) */
	bool owned;    /* aimed at a listener known to be the tree's (health_probe_addr) */
	tls_conn_t *ssl;
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
	SEEN_TLS,        /* a TLS handshake completed, and no HTTP answer over it (yet) */
	SEEN_UNEXPECTED, /* HTTP answers, but with a status healthCheck.expect does not accept */
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
	health_probe_t probes[HEALTH_PROBES];
	health_probe_t *winner; /* the probe whose answer made it healthy */
	double poll_min_s, poll_max_s;
	bool events; /* event-driven (health_set_events): no refused-connect poll */
	ev_timer deadline;
	bool active;
	health_seen_t seen;
	char not_http[40]; /* the start of the last non-HTTP answer, sanitized */
	unsigned attempts;
	uint64_t last_kick_ms; /* the last health_kick that probed */
	health_cb cb;
	health_verify_cb verify;
	void *ctx;
	health_expect_t expect;
	int last_status; /* the last status refused by expect */
};

/* Starts probing port; calls cb exactly once (unless stopped first). */
void health_start(health_t *h, struct ev_loop *loop, int port, const char *path,
		  uint64_t timeout_ms, health_cb cb, void *ctx);
/* Only count HTTP answers for which verify(ctx, port) is true (ctx as given to start). */
void health_set_verify(health_t *h, health_verify_cb verify);
/* Only count HTTP answers whose status e accepts (copied; call after health_start). */
void health_set_expect(health_t *h, const health_expect_t *e);
/* Fills e from healthCheck.expect: "any", "2xx-3xx" or codes (validated by the master). */
void health_expect_parse(health_expect_t *e, const char *range, const int *codes, size_t n);
/* Whether status (the three digits of a status line) is accepted. */
bool health_expect_accepts(const health_expect_t *e, int status);
/* Probes another port from now on (the server moved to it); the deadline stays. */
void health_retarget(health_t *h, int port);
/* The fallback poll: a refused connect is retried after 5 ms, then 10, 20, 40, 80, 100 ms: a
 * server that listens within its first 100 ms is seen within a few ms, a slow one (Next.js,
 * 5-10 s) costs ~10 connects a second instead of 250. */
#define HEALTH_POLL_MIN_S 0.005
#define HEALTH_POLL_MAX_S 0.100
/* The refused-connect backoff: from min_s, doubling up to max_s (defaults: the above). */
void health_set_poll(health_t *h, double min_s, double max_s);
/* Event-driven from now on (the listen trap reports every listen() of the tree): after the
 * first connects (health_start, health_retarget: a foreign server already there is seen at
 * once), a probe connects only when health_probe_addr or health_kick says so. A refused
 * connect is retried only at an address health_probe_addr named (1 ms doubling up to
 * HEALTH_NOTIFIED_MAX_S: the listen() runs once the notification is answered, whenever the
 * server is next scheduled); elsewhere it waits for the next event. Call right after
 * health_start. */
void health_set_events(health_t *h);
#define HEALTH_NOTIFIED_MAX_S 1.0
/* A listener of the tree at addr (on h->port), known to be the tree's (a listen() notification
 * or a look-up of the tree's sockets: its answer needs no verify): probe it now, retrying while
 * refused from 1 ms doubling (the listen() it came from may not have run yet). A wildcard
 * address means its family's loopback. Addresses on other ports are ignored. */
void health_probe_addr(health_t *h, const struct sockaddr_storage *addr);
/* Something happened (a line of output): every waiting probe tries now (at most once per
 * 20 ms). */
void health_kick(health_t *h);
/* After success: the URL where it answered (http or https, localhost for loopback and
 * wildcard listeners, else the address) and its scheme. */
void health_url(const health_t *h, char *url, size_t n, const char **scheme);
/* Stops probing and releases the sockets; safe to call twice. */
void health_stop(health_t *h);
/* True when the bytes are the start of an HTTP/1.x status line ("HTTP/1.1 200"). Needs 12
 * bytes to say yes; *complete tells whether the answer is decided. */
bool health_is_status_line(const char *buf, size_t n, bool *complete);

#endif
