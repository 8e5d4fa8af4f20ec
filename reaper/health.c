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

/* A refused loopback connect costs microseconds: retry often so readiness is seen within a
 * few milliseconds. Answers that were not HTTP are retried more gently. */
#define RETRY_REFUSED_S 0.004
#define RETRY_CLOSED_S 0.020
#define RETRY_NOT_HTTP_S 0.100
#define RETRY_UNREACHABLE_S 0.250
#define RETRY_FOREIGN_S 0.050

static void probe_io_cb(struct ev_loop *loop, ev_io *w, int revents);
static void probe_retry_cb(struct ev_loop *loop, ev_timer *w, int revents);

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

static void probe_send(health_probe_t *p)
{
	health_t *h = p->h;
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
		h->seen = SEEN_SILENCE;
	probe_want(p, EV_READ);
}

static void probe_connect(health_probe_t *p)
{
	health_t *h = p->h;
	struct sockaddr_storage ss;
	socklen_t sl;
	memset(&ss, 0, sizeof(ss));
	if (p->family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)h->port);
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sl = sizeof(*a);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)h->port);
		a->sin6_addr = in6addr_loopback;
		sl = sizeof(*a);
	}
	h->attempts++;
	p->fd = socket(p->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (p->fd < 0) {
		if (errno == EAFNOSUPPORT) { /* no IPv6 on this machine: the other family will do */
			p->state = PROBE_OFF;
			return;
		}
		probe_schedule(p, RETRY_UNREACHABLE_S);
		return;
	}
	if (connect(p->fd, (struct sockaddr *)&ss, sl) == 0) {
		probe_send(p);
		return;
	}
	if (errno == EINPROGRESS) {
		p->state = PROBE_CONNECTING;
		probe_want(p, EV_WRITE);
		return;
	}
	probe_schedule(p, errno == ECONNREFUSED ? RETRY_REFUSED_S : RETRY_UNREACHABLE_S);
}

static void probe_read(health_probe_t *p)
{
	health_t *h = p->h;
	ssize_t r = recv(p->fd, p->answer + p->got, sizeof(p->answer) - 1 - p->got, MSG_DONTWAIT);
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (r <= 0) {
		if (p->got == 0) {
			if (h->seen != SEEN_NOT_HTTP && h->seen != SEEN_FOREIGN)
				h->seen = SEEN_CLOSED;
			probe_schedule(p, RETRY_CLOSED_S);
			return;
		}
	} else {
		p->got += (size_t)r;
	}
	bool complete;
	bool http = health_is_status_line(p->answer, p->got, &complete);
	if (http && h->verify && !h->verify(h->ctx, h->port)) {
		/* someone else's server on our port: never taken for ours */
		h->seen = SEEN_FOREIGN;
		probe_schedule(p, RETRY_FOREIGN_S);
		return;
	}
	if (http) {
		health_finish(h, true, REASON_NONE, NULL);
		return;
	}
	if (!complete && r > 0 && p->got < sizeof(p->answer) - 1)
		return; /* a status line may still be on its way */
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
			probe_send(p);
		else
			probe_schedule(p, err == ECONNREFUSED ? RETRY_REFUSED_S : RETRY_UNREACHABLE_S);
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
	case SEEN_NOT_HTTP:
		snprintf(msg, sizeof(msg),
			 "port %d answered with something that is not HTTP (\"%s\") for %llu ms",
			 h->port, h->not_http, (unsigned long long)h->timeout_ms);
		health_finish(h, false, REASON_HEALTH_CHECK_FAILED, msg);
		return;
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
	int n = snprintf(h->request, sizeof(h->request),
			 "HEAD %s HTTP/1.1\r\nHost: localhost:%d\r\nUser-Agent: devsup-health\r\n"
			 "Accept: */*\r\nConnection: close\r\n\r\n",
			 path, h->port);
	h->request_len = n > 0 && (size_t)n < sizeof(h->request) ? (size_t)n : 0;
}

void health_set_verify(health_t *h, health_verify_cb verify)
{
	h->verify = verify;
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
	for (int i = 0; i < 2; i++) {
		health_probe_t *p = &h->probes[i];
		if (p->state == PROBE_OFF)
			continue;
		ev_timer_stop(h->loop, &p->retry);
		probe_close(p);
		probe_connect(p);
		if (!h->active)
			return;
	}
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
	health_build_request(h, path);
	ev_timer_init(&h->deadline, health_deadline_cb, (double)timeout_ms / 1000., 0.);
	h->deadline.data = h;
	ev_timer_start(loop, &h->deadline);
	const int families[2] = {AF_INET, AF_INET6};
	for (int i = 0; i < 2; i++) {
		health_probe_t *p = &h->probes[i];
		p->h = h;
		p->family = families[i];
		p->fd = -1;
		ev_io_init(&p->io, probe_io_cb, 0, EV_WRITE);
		ev_timer_init(&p->retry, probe_retry_cb, 0., 0.);
		p->io.data = p->retry.data = p;
	}
	for (int i = 0; i < 2 && h->active; i++)
		probe_connect(&h->probes[i]);
}

void health_stop(health_t *h)
{
	if (!h->active)
		return;
	h->active = false;
	ev_timer_stop(h->loop, &h->deadline);
	for (int i = 0; i < 2; i++) {
		ev_timer_stop(h->loop, &h->probes[i].retry);
		probe_close(&h->probes[i]);
	}
}
