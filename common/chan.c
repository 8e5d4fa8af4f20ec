#include "common/chan.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"

static void chan_read_cb(struct ev_loop *loop, ev_io *w, int revents);
static void chan_write_cb(struct ev_loop *loop, ev_io *w, int revents);

void chan_init(chan_t *c, struct ev_loop *loop, int fd, chan_msg_cb on_msg, chan_eof_cb on_eof,
	       void *ctx)
{
	memset(c, 0, sizeof(*c));
	c->loop = loop;
	c->fd = fd;
	c->on_msg = on_msg;
	c->on_eof = on_eof;
	c->ctx = ctx;
	if (fd_set_nonblock(fd) < 0)
		log_warn("control channel: O_NONBLOCK: %s", strerror(errno));
	ev_io_init(&c->rio, chan_read_cb, fd, EV_READ);
	ev_io_init(&c->wio, chan_write_cb, fd, EV_WRITE);
	c->rio.data = c->wio.data = c;
	ev_io_start(loop, &c->rio);
}

bool chan_is_open(const chan_t *c)
{
	return c->fd >= 0;
}

static void chan_drop_queue(chan_t *c)
{
	while (c->head) {
		chan_out_t *o = c->head;
		c->head = o->next;
		free(o);
	}
	c->tail = NULL;
	c->queued = 0;
}

void chan_close(chan_t *c)
{
	if (c->fd < 0)
		return;
	ev_io_stop(c->loop, &c->rio);
	ev_io_stop(c->loop, &c->wio);
	close(c->fd);
	c->fd = -1;
	chan_drop_queue(c);
}

/* 1 sent, 0 would block, -1 peer gone or message refused (logged). */
static int chan_try_send(chan_t *c, const char *data, size_t len)
{
	ssize_t r;
	do
		r = send(c->fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	while (r < 0 && errno == EINTR);
	if (r >= 0)
		return 1;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
		return 0;
	if (errno != EPIPE && errno != ECONNRESET)
		log_error("control channel: send of %zu bytes: %s", len, strerror(errno));
	return -1;
}

static void chan_flush(chan_t *c)
{
	while (c->head) {
		chan_out_t *o = c->head;
		int r = chan_try_send(c, o->data, o->len);
		if (r == 0) {
			ev_io_start(c->loop, &c->wio);
			return;
		}
		if (r < 0 && (errno == EPIPE || errno == ECONNRESET)) {
			chan_drop_queue(c); /* the read side will see EOF and report it */
			break;
		}
		c->head = o->next;
		if (!c->head)
			c->tail = NULL;
		c->queued--;
		free(o);
	}
	ev_io_stop(c->loop, &c->wio);
}

static char *chan_dump(json_t *msg, size_t *len)
{
	char *s = json_dumps(msg, JSON_COMPACT);
	json_decref(msg);
	*len = s ? strlen(s) : 0;
	return s;
}

void chan_send(chan_t *c, json_t *msg)
{
	size_t len;
	char *s = chan_dump(msg, &len);
	if (!s || c->fd < 0) {
		free(s);
		return;
	}
	if (!c->head && chan_try_send(c, s, len) != 0) {
		free(s);
		return;
	}
	chan_out_t *o = xmalloc(sizeof(*o) + len);
	o->next = NULL;
	o->len = len;
	memcpy(o->data, s, len);
	free(s);
	if (c->tail)
		c->tail->next = o;
	else
		c->head = o;
	c->tail = o;
	c->queued++;
	ev_io_start(c->loop, &c->wio);
}

bool chan_send_droppable(chan_t *c, json_t *msg)
{
	size_t len;
	char *s = chan_dump(msg, &len);
	bool sent = s && c->fd >= 0 && !c->head && chan_try_send(c, s, len) == 1;
	free(s);
	return sent;
}

static void chan_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	chan_flush(w->data);
}

static void chan_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	static char buf[CHAN_MSG_MAX];
	chan_t *c = w->data;
	(void)loop;
	(void)revents;
	ssize_t r;
	do
		r = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
	while (r < 0 && errno == EINTR);
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	if (r <= 0) {
		if (r < 0 && errno != ECONNRESET)
			log_warn("control channel: recv: %s", strerror(errno));
		ev_io_stop(c->loop, &c->rio);
		c->on_eof(c, c->ctx);
		return;
	}
	json_error_t err;
	json_t *msg = json_loadb(buf, (size_t)r, JSON_REJECT_DUPLICATES, &err);
	if (!msg || !json_is_object(msg)) {
		log_error("control channel: bad message (%zd bytes): %s", r, err.text);
		json_decref(msg);
		return;
	}
	c->on_msg(c, msg, c->ctx);
	json_decref(msg);
}
