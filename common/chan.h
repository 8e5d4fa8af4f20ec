#ifndef DEVSUP_CHAN_H
#define DEVSUP_CHAN_H

#include <ev.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/*
 * The master <-> reaper control channel: one end of a SOCK_SEQPACKET socketpair, one JSON
 * object per message (docs/control-channel.md). Sends never block: a message the socket cannot
 * take now is queued and written when it drains, so lifecycle messages are never lost;
 * droppable messages (log lines) are refused instead while anything is queued.
 */
#define CHAN_MSG_MAX (256 * 1024)

typedef struct chan chan_t;
typedef void (*chan_msg_cb)(chan_t *c, json_t *msg, void *ctx);
typedef void (*chan_eof_cb)(chan_t *c, void *ctx);

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
	void *ctx;
};

/* Takes ownership of fd (made non-blocking) and starts reading. on_msg borrows msg. At most
 * one message is delivered per callback, so a callback may call chan_close() safely. */
void chan_init(chan_t *c, struct ev_loop *loop, int fd, chan_msg_cb on_msg, chan_eof_cb on_eof,
	       void *ctx);
/* Sends or queues msg; steals the reference. Never drops it while the peer is there. */
void chan_send(chan_t *c, json_t *msg);
/* Sends msg only if it can go out now; steals the reference. False when dropped. */
bool chan_send_droppable(chan_t *c, json_t *msg);
/* Stops the watchers, closes the fd and frees anything queued. Idempotent. */
void chan_close(chan_t *c);
bool chan_is_open(const chan_t *c);

#endif
