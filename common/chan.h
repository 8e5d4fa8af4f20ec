#ifndef DEVSUP_CHAN_H
#define DEVSUP_CHAN_H

#include <ev.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/util.h"

/*
 * The master <-> reaper control channel: one end of a SOCK_SEQPACKET socketpair, one JSON
 * object per message (docs/control-channel.md). Sends never block: a message the socket cannot
 * take now is queued and written when it drains, so lifecycle messages are never lost;
 * droppable messages (log lines) are refused instead while anything is queued.
 *
 * The size contract: a message is at most CHAN_MSG_MAX bytes once encoded (compact JSON).
 * chan_init sizes the socket's send buffer for that; chan_send refuses a larger message, and
 * the master refuses a start whose `start` message would be larger before it spawns a reaper
 * (docs/control-channel.md).
 */
#define CHAN_MSG_MAX (256 * 1024)
/* The kernel's own overhead per datagram in the send buffer, with room to spare. */
#define CHAN_MSG_SLACK 4096

typedef struct chan chan_t;
typedef void (*chan_msg_cb)(chan_t *c, json_t *msg, void *ctx);
typedef void (*chan_eof_cb)(chan_t *c, void *ctx);
typedef void (*chan_room_cb)(chan_t *c, void *ctx);

typedef struct chan_out {
	struct chan_out *next;
	size_t len;
	char data[];
} chan_out_t;

struct chan {
	struct ev_loop *loop;
	int fd;
	ev_io rio;
	ev_io wio;
	chan_out_t *head;
	chan_out_t *tail;
	size_t queued; /* messages waiting in head..tail */
	chan_msg_cb on_msg;
	chan_eof_cb on_eof;
	chan_room_cb on_room; /* after a droppable message was refused: the socket has room */
	bool want_room;
	void *ctx;
	char error[160]; /* why the last chan_send returned false */
	bool aborted;    /* chan_abort was called: a message was lost, see error */
	bool peer_gone;  /* a send saw EPIPE/ECONNRESET: EOF follows */
};

/* Takes ownership of fd (made non-blocking) and starts reading. on_msg borrows msg. At most
 * one message is delivered per callback, so a callback may call chan_close() safely. */
void chan_init(chan_t *c, struct ev_loop *loop, int fd, chan_msg_cb on_msg, chan_eof_cb on_eof,
	       void *ctx);
/* Sends or queues msg; steals the reference. False (c->error says why, and it is logged) when
 * msg is NULL (a message that could not be built), cannot be encoded, is over CHAN_MSG_MAX, or
 * the channel is closed or refused it: the caller must report that. Once queued, a message is
 * never dropped while the peer is there: if it cannot be sent later, the channel is shut down
 * and both ends take their EOF path. */
bool chan_send(chan_t *c, json_t *msg) WUR;
/* Sends msg only if it can go out now; steals the reference. False when dropped: then, with
 * an on_room callback set, it is called once the socket can take messages again. */
bool chan_send_droppable(chan_t *c, json_t *msg);
void chan_set_on_room(chan_t *c, chan_room_cb on_room);
/* One received datagram as a message: a JSON object with a string "type". NULL with err
 * filled (length and why) for anything else. */
json_t *chan_decode(const char *data, size_t len, char *err, size_t errlen) WUR;
/* Gives the channel up after a message could not be sent (c->error says why): both ends see
 * EOF, so the loss is reported by the path that reports a lost peer. The fd stays open until
 * chan_close. Nothing to do when the peer is already gone (its EOF reports that). */
void chan_abort(chan_t *c);
/* Stops the watchers, closes the fd and frees anything queued. Idempotent. */
void chan_close(chan_t *c);
bool chan_is_open(const chan_t *c);

#endif
