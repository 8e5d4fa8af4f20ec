#include "reaper/health.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "common/sanitize.h"
#include "common/util.h"
#include "reaper/tls.h"

/* Retry delays for connections that were accepted but gave no HTTP answer; refused connects
 * back off from the poll minimum instead (health_set_poll). */
#define RETRY_CLOSED_S 0.020
#define RETRY_NOT_HTTP_S 0.100
#define RETRY_UNREACHABLE_S 0.250
#define RETRY_FOREIGN_S 0.050
/* a status healthCheck.expect refuses (a 500 while the server compiles): ask again soon, but
 * at most 20 requests a second to a server that is busy failing */
#define RETRY_UNEXPECTED_S 0.050
/* After a listen() notification: the call runs once we have answered, so the first connect
 * may come a moment early. */
#define NOTIFIED_RETRY_S 0.001
#define KICK_SPACING_MS 20
/* TLS records start with one of these content types: an HTTPS server answering plain HTTP */
#define TLS_ALERT 0x15
#define TLS_HANDSHAKE 0x16

static void probe_io_cb(struct ev_loop *loop, ev_io *w, int revents);
static void probe_retry_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void probe_connect(health_probe_t *p);

bool health_is_status_line(const char *buf, size_t n, bool *complete)
{
	static const char pattern[] = "HTTP/d.d ddd"; /* d: a digit */
	size_t len = sizeof(pattern) - 1;
	for (size_t i = 0; i < n && i < len; i++) {
		bool ok = pattern[i] == 'd' ? (buf[i] >= '0' && buf[i] <= '9') : buf[i] == pattern[i];
		if (!ok) {
			*complete = true;
			return false;
		}
	}
	*complete = n >= len;
	return n >= len;
}

static void probe_close(health_probe_t *p)
{
	ev_io_stop(p->h->loop, &p->io);
	tls_conn_free(p->ssl);
	p->ssl = NULL;
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	p->sent = p->got = 0;
}

static void probe_schedule(health_probe_t *p, double after)
{
	probe_close(p);
	p->state = PROBE_IDLE;
	ev_timer_set(&p->retry, after, 0.);
	ev_timer_start(p->h->loop, &p->retry);
}

/* A refused connect: wait, and wait longer next time. Event-driven, only at an address a
 * listen() was notified for (it runs once the notification is answered, and a loaded machine
 * may not run the server for a while); elsewhere the next event says when. */
static void probe_backoff(health_probe_t *p)
{
	if (p->h->events && !p->notified) {
		probe_close(p);
		p->state = PROBE_IDLE;
		return;
	}
	double d = p->delay;
	p->delay = d * 2 < p->h->poll_max_s ? d * 2 : p->h->poll_max_s;
	probe_schedule(p, d);
}

static void health_finish(health_t *h, bool ok, reason_t reason, const char *message)
{
	health_stop(h);
	h->cb(h->ctx, ok, reason, message);
}

static void probe_want(health_probe_t *p, int events)
{
	ev_io_stop(p->h->loop, &p->io);
	ev_io_set(&p->io, p->fd, events);
	ev_io_start(p->h->loop, &p->io);
}

/* The listener spoke TLS, or did not speak at all: the other protocol next, at once. */
static void probe_switch_protocol(health_probe_t *p, double after)
{
	if (!p->tls && !tls_available()) {
		probe_schedule(p, after);
		return;
	}
	p->tls = !p->tls;
	probe_schedule(p, p->tls ? 0. : after);
}

static void probe_send(health_probe_t *p)
{
	health_t *h = p->h;
	if (p->ssl) {
		tls_result_t t = tls_write(p->ssl, h->request, h->request_len);
		if (t == TLS_WANT_READ || t == TLS_WANT_WRITE) {
			p->state = PROBE_SENDING;
			probe_want(p, t == TLS_WANT_READ ? EV_READ : EV_WRITE);
			return;
		}
		if (t != TLS_DONE) {
			probe_schedule(p, RETRY_CLOSED_S);
			return;
		}
		p->sent = h->request_len;
	}
	while (p->sent < h->request_len) {
		ssize_t r = send(p->fd, h->request + p->sent, h->request_len - p->sent,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			p->state = PROBE_SENDING;
			probe_want(p, EV_WRITE);
			return;
		}
		if (r < 0) {
			/* reset before our request went out: the server is not ready yet */
			probe_schedule(p, RETRY_CLOSED_S);
			return;
		}
		p->sent += (size_t)r;
	}
	/* Keep the request in flight, however long the server takes to answer: its answer is
	 * the signal. */
	p->state = PROBE_READING;
	if (h->seen == SEEN_NOTHING || h->seen == SEEN_CLOSED)
		h->seen = p->ssl ? SEEN_TLS : SEEN_SILENCE;
	probe_want(p, EV_READ);
}

static void probe_handshake(health_probe_t *p)
{
	tls_result_t t = tls_handshake(p->ssl);
	if (t == TLS_WANT_READ || t == TLS_WANT_WRITE) {
		p->state = PROBE_HANDSHAKE;
		probe_want(p, t == TLS_WANT_READ ? EV_READ : EV_WRITE);
		return;
	}
	if (t != TLS_DONE) {
		/* not TLS after all (or not yet): plain again, gently */
		probe_switch_protocol(p, RETRY_CLOSED_S);
		return;
	}
	if (p->h->seen != SEEN_NOT_HTTP && p->h->seen != SEEN_FOREIGN &&
	    p->h->seen != SEEN_UNEXPECTED)
		p->h->seen = SEEN_TLS;
	probe_send(p);
}

/* The TCP connection is up: a request, or first a TLS handshake. */
static void probe_connected(health_probe_t *p)
{
	if (!p->tls) {
		probe_send(p);
		return;
	}
	p->ssl = tls_conn_new(p->fd);
	if (!p->ssl) {
		p->tls = false;
		probe_schedule(p, RETRY_CLOSED_S);
		return;
	}
	probe_handshake(p);
}

static void probe_connect(health_probe_t *p)
{
	health_t *h = p->h;
	socklen_t sl = p->addr.ss_family == AF_INET ? sizeof(struct sockaddr_in)
						     : sizeof(struct sockaddr_in6);
	h->attempts++;
	p->fd = socket(p->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (p->fd < 0) {
		if (errno == EAFNOSUPPORT) { /* no IPv6 on this machine: the other family will do */
			p->state = PROBE_OFF;
			return;
		}
		probe_schedule(p, RETRY_UNREACHABLE_S);
		return;
	}
	if (connect(p->fd, (struct sockaddr *)&p->addr, sl) == 0) {
		probe_connected(p);
		return;
	}
	if (errno == EINPROGRESS) {
		p->state = PROBE_CONNECTING;
		probe_want(p, EV_WRITE);
		return;
	}
	if (errno == ECONNREFUSED || h->events)
		probe_backoff(p);
	else
		probe_schedule(p, RETRY_UNREACHABLE_S);
}

/* > 0 bytes read, 0 closed, -1 not yet (the watcher is armed as needed). */
static ssize_t probe_recv(health_probe_t *p)
{
	char *buf = p->answer + p->got;
	size_t room = sizeof(p->answer) - 1 - p->got;
	if (p->ssl) {
		size_t got;
		tls_result_t t = tls_read(p->ssl, buf, room, &got);
		if (t == TLS_DONE)
			return (ssize_t)got;
		if (t == TLS_WANT_READ || t == TLS_WANT_WRITE) {
			probe_want(p, t == TLS_WANT_READ ? EV_READ : EV_WRITE);
			return -1;
		}
		return 0;
	}
	ssize_t r = recv(p->fd, buf, room, MSG_DONTWAIT);
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return -1;
	return r < 0 ? 0 : r;
}

static void probe_read(health_probe_t *p)
{
	health_t *h = p->h;
	ssize_t r = probe_recv(p);
	if (r < 0)
		return;
	if (r == 0) {
		if (p->got == 0) {
			if (h->seen == SEEN_NOTHING || h->seen == SEEN_SILENCE)
				h->seen = SEEN_CLOSED;
			/* an HTTPS server drops a plain request without a word: try TLS */
			probe_switch_protocol(p, RETRY_CLOSED_S);
			return;
		}
	} else {
		p->got += (size_t)r;
	}
	bool complete;
	bool http = health_is_status_line(p->answer, p->got, &complete);
	if (http && !p->owned && h->verify && !h->verify(h->ctx, h->port)) {
		/* someone else's server on our port: never taken for ours */
		h->seen = SEEN_FOREIGN;
		probe_schedule(p, RETRY_FOREIGN_S);
		return;
	}
	int status = http ? (p->answer[9] - '0') * 100 + (p->answer[10] - '0') * 10 +
				    (p->answer[11] - '0')
			  : 0;
	if (http && !health_expect_accepts(&h->expect, status)) {
		/* a server that answers 500 while broken: keep asking until it is fixed */
		h->seen = SEEN_UNEXPECTED;
		h->last_status = status;
		probe_schedule(p, RETRY_UNEXPECTED_S);
		return;
	}
	if (http) {
		h->winner = p;
		health_finish(h, true, REASON_NONE, NULL);
		return;
	}
	if (!complete && r > 0 && p->got < sizeof(p->answer) - 1)
		return; /* a status line may still be on its way */
	if (!p->tls && (p->answer[0] == TLS_ALERT || p->answer[0] == TLS_HANDSHAKE) &&
	    tls_available()) {
		probe_switch_protocol(p, 0.);
		return;
	}
	h->seen = SEEN_NOT_HTTP;
	sanitize_line(p->answer, p->got, h->not_http, sizeof(h->not_http));
	probe_schedule(p, RETRY_NOT_HTTP_S);
}

static void probe_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	health_probe_t *p = w->data;
	(void)loop;
	(void)revents;
	if (p->state == PROBE_CONNECTING) {
		int err = 0;
		socklen_t el = sizeof(err);
		if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
			err = errno;
		if (err == 0)
			probe_connected(p);
		else if (err == ECONNREFUSED || p->h->events)
			probe_backoff(p);
		else
			probe_schedule(p, RETRY_UNREACHABLE_S);
	} else if (p->state == PROBE_HANDSHAKE) {
		probe_handshake(p);
	} else if (p->state == PROBE_SENDING) {
		probe_send(p);
	} else if (p->state == PROBE_READING) {
		probe_read(p);
	}
}

static void probe_retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	probe_connect(w->data);
}

static void health_deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	health_t *h = w->data;
	char msg[256];
	(void)loop;
	(void)revents;
	switch (h->seen) {
	case SEEN_FOREIGN:
		snprintf(msg, sizeof(msg),
			 "port %d answers HTTP, but not from a process of this project", h->port);
		health_finish(h, false, REASON_PORT_IN_USE, msg);
		return;
	case SEEN_UNEXPECTED:
		snprintf(msg, sizeof(msg),
			 "port %d kept answering HTTP %d, a status healthCheck.expect does not accept, "
			 "for %llu ms",
			 h->port, h->last_status, (unsigned long long)h->timeout_ms);
		health_finish(h, false, REASON_HEALTH_CHECK_FAILED, msg);
		return;
	case SEEN_NOT_HTTP:
		snprintf(msg, sizeof(msg),
			 "port %d answered with something that is not HTTP (\"%s\") for %llu ms",
			 h->port, h->not_http, (unsigned long long)h->timeout_ms);
		health_finish(h, false, REASON_HEALTH_CHECK_FAILED, msg);
		return;
	case SEEN_TLS:
		snprintf(msg, sizeof(msg),
			 "port %d completed a TLS handshake but sent no HTTP answer over TLS within "
			 "%llu ms",
			 h->port, (unsigned long long)h->timeout_ms);
		break;
	case SEEN_SILENCE:
		snprintf(msg, sizeof(msg),
			 "port %d accepted a connection but sent no HTTP answer within %llu ms",
			 h->port, (unsigned long long)h->timeout_ms);
		break;
	case SEEN_CLOSED:
		snprintf(msg, sizeof(msg),
			 "port %d accepted connections but closed them without an HTTP answer "
			 "for %llu ms",
			 h->port, (unsigned long long)h->timeout_ms);
		break;
	default:
		snprintf(msg, sizeof(msg),
			 "nothing listened on port %d (127.0.0.1 or ::1) within %llu ms", h->port,
			 (unsigned long long)h->timeout_ms);
	}
	health_finish(h, false, REASON_HEALTH_CHECK_TIMEOUT, msg);
}

static void health_build_request(health_t *h, const char *path)
{
	static const char fmt[] = "HEAD %s HTTP/1.1\r\nHost: localhost:%d\r\n"
				  "User-Agent: devsup-health\r\nAccept: */*\r\n"
				  "Connection: close\r\n\r\n";
	_Static_assert(sizeof(fmt) + HEALTH_PATH_MAX + 8 <= sizeof(((health_t *)0)->request),
		       "a path of HEALTH_PATH_MAX bytes must fit in the request");
	if (strlen(path) > HEALTH_PATH_MAX) {
		/* the master refuses such paths; never send an empty or cut request */
		log_error("health check path of %zu bytes is over %d: probing / instead",
			  strlen(path), HEALTH_PATH_MAX);
		path = "/";
	}
	int n = snprintf(h->request, sizeof(h->request), fmt, path, h->port);
	h->request_len = (size_t)n;
}

void health_expect_parse(health_expect_t *e, const char *range, const int *codes, size_t n)
{
	memset(e, 0, sizeof(*e));
	if (range && strcmp(range, "2xx-3xx") == 0) {
		e->restricted = true;
		for (int c = 200; c < 400; c++)
			e->codes[c / 8] |= (uint8_t)(1u << (c % 8));
	}
	for (size_t i = 0; i < n; i++) {
		if (codes[i] < 100 || codes[i] > 599)
			continue;
		e->restricted = true;
		e->codes[codes[i] / 8] |= (uint8_t)(1u << (codes[i] % 8));
	}
}

bool health_expect_accepts(const health_expect_t *e, int status)
{
	if (!e->restricted)
		return true;
	return status >= 0 && status < 600 && (e->codes[status / 8] >> (status % 8)) & 1u;
}

void health_set_expect(health_t *h, const health_expect_t *e)
{
	h->expect = *e;
}

void health_set_verify(health_t *h, health_verify_cb verify)
{
	h->verify = verify;
}

/* Sets probe slot i to addr (its port replaced by h->port) and connects it now; notified: a
 * listen() there was reported (see probe_backoff). */
static void probe_aim(health_t *h, int i, const struct sockaddr_storage *addr, double delay,
		      bool notified)
{
	health_probe_t *p = &h->probes[i];
	if (p->state != PROBE_UNUSED) {
		ev_timer_stop(h->loop, &p->retry);
		probe_close(p);
	}
	p->addr = *addr;
	if (addr->ss_family == AF_INET)
		((struct sockaddr_in *)&p->addr)->sin_port = htons((uint16_t)h->port);
	else
		((struct sockaddr_in6 *)&p->addr)->sin6_port = htons((uint16_t)h->port);
	p->delay = delay;
	p->tls = false;
	p->owned = false;
	p->state = PROBE_IDLE;
	p->notified = notified;
	probe_connect(p);
}

static void loopback_addr(int family, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	ss->ss_family = (sa_family_t)family;
	if (family == AF_INET)
		((struct sockaddr_in *)ss)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else
		((struct sockaddr_in6 *)ss)->sin6_addr = in6addr_loopback;
}

/* The two loopback probes on h->port, connecting now (a foreign server already on the port is
 * seen at once, whatever the trap says); the others freed. */
static void health_aim_loopback(health_t *h)
{
	for (int i = 2; i < HEALTH_PROBES; i++) {
		health_probe_t *p = &h->probes[i];
		if (p->state == PROBE_UNUSED)
			continue;
		ev_timer_stop(h->loop, &p->retry);
		probe_close(p);
		p->state = PROBE_UNUSED;
	}
	const int families[2] = {AF_INET, AF_INET6};
	for (int i = 0; i < 2 && h->active; i++) {
		struct sockaddr_storage ss;
		loopback_addr(families[i], &ss);
		probe_aim(h, i, &ss, h->poll_min_s, false);
	}
}

void health_retarget(health_t *h, int port)
{
	if (!h->active || port == h->port)
		return;
	char path[sizeof(h->request)];
	/* the path is the request line's second word */
	if (sscanf(h->request, "HEAD %511s ", path) != 1)
		snprintf(path, sizeof(path), "/");
	h->port = port;
	h->seen = SEEN_NOTHING;
	health_build_request(h, path);
	health_aim_loopback(h);
}

void health_set_events(health_t *h)
{
	h->events = true;
	h->poll_max_s = HEALTH_NOTIFIED_MAX_S;
	/* the loopback probes' first connects (health_start) were refused: no retry, the next
	 * event will say when */
	for (int i = 0; i < HEALTH_PROBES; i++)
		if (h->probes[i].state == PROBE_IDLE && !h->probes[i].notified)
			ev_timer_stop(h->loop, &h->probes[i].retry);
}

void health_set_poll(health_t *h, double min_s, double max_s)
{
	h->poll_min_s = min_s;
	h->poll_max_s = max_s > min_s ? max_s : min_s;
	for (int i = 0; i < HEALTH_PROBES; i++)
		if (h->probes[i].delay > h->poll_max_s || h->probes[i].delay < min_s)
			h->probes[i].delay = min_s;
}

static bool same_host(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		      &((const struct sockaddr_in6 *)b)->sin6_addr, sizeof(struct in6_addr)) == 0;
}

/* Where to connect for a listener bound to addr: the wildcard means its family's loopback, a
 * v4-mapped IPv6 address the IPv4 one. */
static void probe_target_of(const struct sockaddr_storage *addr, struct sockaddr_storage *to)
{
	*to = *addr;
	if (addr->ss_family == AF_INET) {
		if (((const struct sockaddr_in *)addr)->sin_addr.s_addr == htonl(INADDR_ANY))
			loopback_addr(AF_INET, to);
		return;
	}
	const struct in6_addr *a6 = &((const struct sockaddr_in6 *)addr)->sin6_addr;
	if (IN6_IS_ADDR_UNSPECIFIED(a6)) {
		loopback_addr(AF_INET6, to);
	} else if (IN6_IS_ADDR_V4MAPPED(a6)) {
		memset(to, 0, sizeof(*to));
		to->ss_family = AF_INET;
		memcpy(&((struct sockaddr_in *)to)->sin_addr, &a6->s6_addr[12], 4);
	}
}

static int addr_port(const struct sockaddr_storage *a)
{
	return ntohs(a->ss_family == AF_INET ? ((const struct sockaddr_in *)a)->sin_port
					     : ((const struct sockaddr_in6 *)a)->sin6_port);
}

void health_probe_addr(health_t *h, const struct sockaddr_storage *addr)
{
	if (!h->active || (addr->ss_family != AF_INET && addr->ss_family != AF_INET6) ||
	    addr_port(addr) != h->port)
		return;
	struct sockaddr_storage to;
	probe_target_of(addr, &to);
	int slot = -1, free_slot = -1;
	for (int i = 0; i < HEALTH_PROBES; i++) {
		health_probe_t *p = &h->probes[i];
		if (p->state == PROBE_UNUSED) {
			if (free_slot < 0)
				free_slot = i;
		} else if (same_host(&p->addr, &to)) {
			slot = i;
		}
	}
	if (slot >= 0) {
		health_probe_t *p = &h->probes[slot];
		p->owned = true;
		p->notified = true;
		if (p->state != PROBE_IDLE)
			return; /* already talking to it */
		ev_timer_stop(h->loop, &p->retry);
		p->delay = NOTIFIED_RETRY_S;
		probe_connect(p);
		return;
	}
	/* a new address: a free slot, else the last one (the most recent address wins) */
	slot = free_slot >= 0 ? free_slot : HEALTH_PROBES - 1;
	probe_aim(h, slot, &to, NOTIFIED_RETRY_S, true);
	h->probes[slot].owned = true;
}

void health_kick(health_t *h)
{
	/* A chatty server (a bundler printing each module) must not turn its output into a
	 * connect loop: one kick per KICK_SPACING_MS, and the backoff keeps its pace. */
	uint64_t now = clock_ms();
	if (h->last_kick_ms && now - h->last_kick_ms < KICK_SPACING_MS)
		return;
	h->last_kick_ms = now;
	for (int i = 0; i < HEALTH_PROBES && h->active; i++) {
		health_probe_t *p = &h->probes[i];
		if (p->state != PROBE_IDLE)
			continue;
		ev_timer_stop(h->loop, &p->retry);
		probe_connect(p);
	}
}

void health_url(const health_t *h, char *url, size_t n, const char **scheme)
{
	const health_probe_t *p = h->winner;
	char host[INET6_ADDRSTRLEN + 2] = "localhost";
	*scheme = p && p->tls ? "https" : "http";
	if (p && p->addr.ss_family == AF_INET) {
		const struct in_addr *a = &((const struct sockaddr_in *)&p->addr)->sin_addr;
		if (a->s_addr != htonl(INADDR_LOOPBACK))
			inet_ntop(AF_INET, a, host, sizeof(host));
	} else if (p && p->addr.ss_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)&p->addr)->sin6_addr;
		if (!IN6_IS_ADDR_LOOPBACK(a)) {
			host[0] = '[';
			inet_ntop(AF_INET6, a, host + 1, sizeof(host) - 2);
			strcat(host, "]");
		}
	}
	snprintf(url, n, "%s://%s:%d", *scheme, host, h->port);
}

void health_start(health_t *h, struct ev_loop *loop, int port, const char *path,
		  uint64_t timeout_ms, health_cb cb, void *ctx)
{
	memset(h, 0, sizeof(*h));
	h->loop = loop;
	h->port = port;
	h->timeout_ms = timeout_ms;
	h->started_ms = clock_ms();
	h->cb = cb;
	h->ctx = ctx;
	h->active = true;
	h->poll_min_s = HEALTH_POLL_MIN_S;
	h->poll_max_s = HEALTH_POLL_MAX_S;
	health_build_request(h, path);
	ev_timer_init(&h->deadline, health_deadline_cb, (double)timeout_ms / 1000., 0.);
	h->deadline.data = h;
	ev_timer_start(loop, &h->deadline);
	for (int i = 0; i < HEALTH_PROBES; i++) {
		health_probe_t *p = &h->probes[i];
		p->h = h;
		p->fd = -1;
		p->state = PROBE_UNUSED;
		ev_io_init(&p->io, probe_io_cb, 0, EV_WRITE);
		ev_timer_init(&p->retry, probe_retry_cb, 0., 0.);
		p->io.data = p->retry.data = p;
	}
	health_aim_loopback(h);
}

void health_stop(health_t *h)
{
	if (!h->active)
		return;
	h->active = false;
	ev_timer_stop(h->loop, &h->deadline);
	for (int i = 0; i < HEALTH_PROBES; i++) {
		ev_timer_stop(h->loop, &h->probes[i].retry);
		probe_close(&h->probes[i]);
	}
}
