#include "supervisor/output.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"

static struct {
	struct ev_loop *loop;
	int fd;
	ev_io wio;
	char *buf;
	size_t off; /* written so far */
	size_t len; /* bytes in buf */
	size_t cap;
	bool broken; /* the reader is gone: discard */
	uint64_t dropped;
	void (*sink)(json_t *ev);
	int saved_flags; /* the fd's flags before us, restored at exit (-1: unknown) */
} out = {.fd = -1, .saved_flags = -1};

static void output_write(void)
{
	while (out.off < out.len) {
		ssize_t r = fd_write(out.fd, out.buf + out.off, out.len - out.off);
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			ev_io_start(out.loop, &out.wio);
			return;
		}
		if (r < 0) {
			/* broken first: a log line may come back here through a terminal's log sink */
			bool first = !out.broken;
			out.broken = true;
			if (first)
				log_warn("stdout: %s; events are discarded from now on", strerror(errno));
			out.off = out.len;
			break;
		}
		out.off += (size_t)r;
	}
	out.off = out.len = 0;
	ev_io_stop(out.loop, &out.wio);
}

static void output_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	output_write();
}

void output_init(struct ev_loop *loop, int fd)
{
	out.loop = loop;
	out.fd = fd;
	/* A terminal's open file description is shared with the shell that started us: it must
	 * get it back blocking, as it gave it. */
	out.saved_flags = fcntl(fd, F_GETFL);
	if (fd_set_nonblock(fd) < 0)
		log_warn("stdout: O_NONBLOCK: %s", strerror(errno));
	ev_io_init(&out.wio, output_write_cb, fd, EV_WRITE);
}

json_t *event_new(const char *type, const char *project_id, json_t *command_id)
{
	char ts[32];
	time_iso8601(wall_ms(), ts, sizeof(ts));
	json_t *ev = json_pack("{s:s, s:s}", "type", type, "timestamp", ts);
	if (project_id)
		json_object_set_new(ev, "projectId", json_string(project_id));
	if (command_id)
		json_object_set(ev, "commandId", command_id);
	return ev;
}

/* Queues n bytes (and a '\n' when newline) and writes at once unless a write is pending. */
static void output_append(const char *s, size_t n, bool newline)
{
	if (out.broken)
		return;
	if (out.off > 0 && out.off == out.len)
		out.off = out.len = 0;
	if (out.len + n + 1 > out.cap) {
		/* reclaim the written prefix before growing */
		if (out.off > 0) {
			memmove(out.buf, out.buf + out.off, out.len - out.off);
			out.len -= out.off;
			out.off = 0;
		}
		size_t cap = out.cap ? out.cap : 65536;
		while (cap < out.len + n + 1)
			cap *= 2;
		out.buf = xrealloc(out.buf, cap);
		out.cap = cap;
	}
	memcpy(out.buf + out.len, s, n);
	out.len += n;
	if (newline)
		out.buf[out.len++] = '\n';
	/* Write at once unless a write is already pending: the event leaves in this iteration. */
	if (!ev_is_active(&out.wio))
		output_write();
}

void output_event(json_t *ev)
{
	if (out.sink) {
		out.sink(ev);
		return;
	}
	char *s = json_dumps(ev, JSON_COMPACT);
	json_decref(ev);
	if (s)
		output_append(s, strlen(s), true);
	free(s);
}

void output_set_sink(void (*sink)(json_t *ev))
{
	out.sink = sink;
}

void output_write_raw(const char *bytes, size_t n)
{
	if (n > 0)
		output_append(bytes, n, false);
}

bool output_log_room_now(void)
{
	return out.len - out.off < OUTPUT_LOG_LIMIT;
}

bool output_log_room(void)
{
	if (output_log_room_now())
		return true;
	out.dropped++;
	return false;
}

size_t output_pending(void)
{
	return out.len - out.off;
}

uint64_t output_dropped_logs(void)
{
	return out.dropped;
}

void output_drain(int timeout_ms)
{
	uint64_t deadline = clock_ms() + (uint64_t)timeout_ms;
	while (!out.broken && out.off < out.len) {
		uint64_t now = clock_ms();
		if (now >= deadline)
			break;
		struct pollfd p = {.fd = out.fd, .events = POLLOUT};
		/* only at exit, after the loop has ended: nothing else is waiting */
		if (poll(&p, 1, (int)(deadline - now)) <= 0)
			break;
		ssize_t r = fd_write(out.fd, out.buf + out.off, out.len - out.off);
		if (r < 0 && errno != EAGAIN)
			break;
		if (r > 0)
			out.off += (size_t)r;
	}
	free(out.buf);
	out.buf = NULL;
	out.off = out.len = out.cap = 0;
	if (out.saved_flags >= 0 && !(out.saved_flags & O_NONBLOCK))
		(void)fcntl(out.fd, F_SETFL, out.saved_flags);
}
