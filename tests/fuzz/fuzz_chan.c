/* libFuzzer: the control channel's receive path (common/chan.c), as the master and the reaper
 * run it on every datagram: a real SEQPACKET socketpair, chan_init, one datagram written by the
 * peer, one loop iteration. The first byte chooses the size: as given, or padded with JSON
 * whitespace to exactly CHAN_MSG_MAX or one byte over. Invariants: only a JSON object with a
 * string "type" is delivered, never one over the limit; what is delivered encodes again
 * (valid UTF-8) and chan_send takes it back iff it fits the limit. */
#include <assert.h>
#include <ev.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/chan.h"
#include "common/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
	int delivered;
	size_t sent_len;
	chan_t *self;
} seen_t;

static void on_msg(chan_t *c, json_t *msg, void *ctx)
{
	seen_t *s = ctx;
	(void)c;
	s->delivered++;
	assert(s->sent_len <= CHAN_MSG_MAX);
	assert(json_is_object(msg));
	assert(json_is_string(json_object_get(msg, "type")));
	char *again = json_dumps(msg, JSON_COMPACT);
	assert(again); /* jansson refuses invalid UTF-8: nothing invalid was let in */
	size_t len = strlen(again);
	free(again);
	bool ok = chan_send(s->self, json_incref(msg));
	assert(ok == (len <= CHAN_MSG_MAX));
}

static void on_eof(chan_t *c, void *ctx)
{
	(void)c;
	(void)ctx;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ev_loop *loop;
	if (!loop) {
		loop = ev_loop_new(EVFLAG_AUTO);
		log_init("fuzz_chan", LOG_LEVEL_OFF);
	}
	if (size < 1)
		return 0;
	uint8_t mode = data[0] % 3;
	data++;
	size--;
	size_t len = mode == 0 ? size : CHAN_MSG_MAX + (mode == 2 ? 1 : 0);
	if (size > len)
		return 0;
	char *buf = malloc(len ? len : 1);
	memcpy(buf, data, size);
	memset(buf + size, ' ', len - size); /* trailing whitespace: still the same JSON */

	char err[160];
	json_t *direct = chan_decode(buf, len, err, sizeof(err));
	assert(!direct || (json_is_object(direct) && json_is_string(json_object_get(direct, "type"))));
	assert(direct || err[0]);

	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	int big = 2 * CHAN_MSG_MAX;
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	chan_t c;
	seen_t seen = {0, len, &c};
	chan_init(&c, loop, sv[0], on_msg, on_eof, &seen);
	if (send(sv[1], buf, len, MSG_DONTWAIT) == (ssize_t)len) {
		ev_run(loop, EVRUN_NOWAIT);
		assert(seen.delivered == (direct && len <= CHAN_MSG_MAX ? 1 : 0));
	}
	json_decref(direct);
	chan_close(&c);
	close(sv[1]);
	free(buf);
	return 0;
}
