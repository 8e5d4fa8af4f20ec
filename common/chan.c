#include "common/chan.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"

static void chan_read_cb(struct ev_loop *loop, ev_io *w, int revents);
static void chan_write_cb(struct ev_loop *loop, ev_io *w, int revents);

/* A SEQPACKET datagram must fit in the sender's buffer whole (the kernel refuses a larger one
 * with EMSGSIZE): the default (net.core.wmem_default, 208 KiB) is less than CHAN_MSG_MAX, so
 * ask for more. Linux doubles the value asked for, capped by net.core.wmem_max (208 KiB by
 * default, so 416 KiB). */
static void chan_size_buffers(int fd)
{
	int want = CHAN_MSG_MAX + CHAN_MSG_SLACK, have = 0;
	socklen_t len = sizeof(have);
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &want, sizeof(want)) < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &have, &len) < 0)
		log_warn("control channel: SO_SNDBUF: %s", strerror(errno));
	else if (have < want)
		log_warn("control channel: send buffer %d bytes (net.core.wmem_max too low?): "
			 "messages over ~%d bytes will be refused",
			 have, have - CHAN_MSG_SLACK);
}

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
	chan_size_buffers(fd);
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

void chan_abort(chan_t *c)
{
	if (c->fd < 0 || c->peer_gone)
		return; /* a peer that is gone is reported by the EOF already on its way */
	log_error("control channel: giving it up: %s", c->error[0] ? c->error : "?");
	c->aborted = true;
	chan_drop_queue(c);
	ev_io_stop(c->loop, &c->wio);
	/* both directions: our read watcher and the peer's see EOF, their one path for a lost
	 * peer */
	shutdown(c->fd, SHUT_RDWR);
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
		if (r < 0) {
			/* The peer is gone, or a message it expects cannot be sent (logged): either
			 * way the channel is of no more use. Shutting it down makes both ends see
			 * EOF, and EOF is the one path that reports a lost peer. */
			if (errno != EPIPE && errno != ECONNRESET)
				shutdown(c->fd, SHUT_RDWR);
			else
				c->peer_gone = true;
			chan_drop_queue(c);
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

/* Encodes msg (stealing it) into a queue entry; NULL with c->error set when it cannot be. */
static chan_out_t *chan_encode(chan_t *c, json_t *msg)
{
	const char *type = json_string_value(json_object_get(msg, "type"));
	char *s = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
	size_t len = s ? strlen(s) : 0;
	if (!msg)
		snprintf(c->error, sizeof(c->error), "a message could not be built");
	else if (!s)
		snprintf(c->error, sizeof(c->error), "message '%s' could not be encoded",
			 type ? type : "?");
	else if (len > CHAN_MSG_MAX)
		snprintf(c->error, sizeof(c->error),
			 "message '%s' is %zu bytes, over the control channel's limit of %d bytes",
			 type ? type : "?", len, CHAN_MSG_MAX);
	json_decref(msg);
	if (!s || len > CHAN_MSG_MAX) {
		free(s);
		log_error("control channel: %s: not sent", c->error);
		return NULL;
	}
	chan_out_t *o = xmalloc(sizeof(*o) + len);
	o->next = NULL;
	o->len = len;
	memcpy(o->data, s, len);
	free(s);
	return o;
}

bool chan_send(chan_t *c, json_t *msg)
{
	chan_out_t *o = chan_encode(c, msg);
	if (!o)
		return false;
	if (c->fd < 0) {
		snprintf(c->error, sizeof(c->error), "the control channel is closed");
		free(o);
		return false;
	}
	int r = c->head ? 0 : chan_try_send(c, o->data, o->len);
	if (r != 0) {
		if (r < 0 && errno != EPIPE && errno != ECONNRESET)
			snprintf(c->error, sizeof(c->error), "send of %zu bytes: %s", o->len,
				 strerror(errno));
		else if (r < 0) {
			snprintf(c->error, sizeof(c->error), "the peer is gone");
			c->peer_gone = true;
		}
		free(o);
		return r > 0;
	}
	if (c->tail)
		c->tail->next = o;
	else
		c->head = o;
	c->tail = o;
	c->queued++;
	ev_io_start(c->loop, &c->wio);
	return true;
}

void chan_set_on_room(chan_t *c, chan_room_cb on_room)
{
	c->on_room = on_room;
}

bool chan_send_droppable(chan_t *c, json_t *msg)
{
	if (c->fd < 0) {
		json_decref(msg);
		return false;
	}
	int r = 0; /* 1 sent, 0 no room now, -1 never sendable (not built, too large, peer gone) */
	if (!c->head) {
		chan_out_t *o = chan_encode(c, msg);
		r = o ? chan_try_send(c, o->data, o->len) : -1;
		free(o);
	} else {
		json_decref(msg);
	}
	bool sent = r == 1;
	/* only a lack of room is worth a call back: a message that can never go would loop */
	if (r == 0 && c->on_room) {
		c->want_room = true;
		ev_io_start(c->loop, &c->wio);
	}
	return sent;
}

json_t *chan_decode(const char *data, size_t len, char *err, size_t errlen)
{
	json_error_t e;
	json_t *msg = json_loadb(data, len, JSON_REJECT_DUPLICATES, &e);
	if (msg && json_is_object(msg) && json_is_string(json_object_get(msg, "type")))
		return msg;
	if (!msg)
		snprintf(err, errlen, "%zu bytes: %s", len, e.text);
	else
		snprintf(err, errlen, "%zu bytes: not an object with a string 'type'", len);
	json_decref(msg);
	return NULL;
}

static void chan_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	chan_t *c = w->data;
	chan_flush(c);
	if (c->head || !c->want_room || c->fd < 0)
		return;
	c->want_room = false;
	c->on_room(c, c->ctx);
}

static void chan_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	static char buf[CHAN_MSG_MAX];
	chan_t *c = w->data;
	(void)loop;
	(void)revents;
	ssize_t r;
	/* MSG_TRUNC: the datagram's real length, so one larger than the contract is refused
	 * rather than parsed cut */
	do
		r = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC);
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
	char err[160];
	json_t *msg = NULL;
	if ((size_t)r > sizeof(buf))
		snprintf(err, sizeof(err), "%zd bytes: over the limit of %d", r, CHAN_MSG_MAX);
	else
		msg = chan_decode(buf, (size_t)r, err, sizeof(err));
	if (!msg) {
		log_error("control channel: bad message dropped (%s)", err);
		return;
	}
	c->on_msg(c, msg, c->ctx);
	json_decref(msg);
}
