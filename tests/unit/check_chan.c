/* chan: the control channel's size contract and its decoding of received datagrams. */
#include <errno.h>
#include <ev.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/chan.h"
#include "tests/unit/suites.h"

static void no_msg(chan_t *c, json_t *msg, void *ctx)
{
	(void)c;
	(void)msg;
	(void)ctx;
}

static void no_eof(chan_t *c, void *ctx)
{
	(void)c;
	(void)ctx;
}

/* {"type":"t","pad":"xxx..."} of exactly `size` bytes once encoded. */
static json_t *message_of(size_t size)
{
	size_t overhead = strlen("{\"type\":\"t\",\"pad\":\"\"}");
	char *pad = malloc(size - overhead + 1);
	memset(pad, 'x', size - overhead);
	pad[size - overhead] = '\0';
	json_t *m = json_pack("{s:s, s:s}", "type", "t", "pad", pad);
	free(pad);
	return m;
}

START_TEST(test_size_contract)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	int sv[2];
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	chan_t c;
	chan_init(&c, loop, sv[0], no_msg, no_eof, NULL);
	/* exactly the limit goes out whole, in one datagram (the default socket buffer of
	 * 208 KiB would refuse it with EMSGSIZE) */
	ck_assert(chan_send(&c, message_of(CHAN_MSG_MAX)));
	char *buf = malloc(CHAN_MSG_MAX + 16);
	ssize_t r = recv(sv[1], buf, CHAN_MSG_MAX + 16, MSG_DONTWAIT);
	ck_assert_int_eq(r, CHAN_MSG_MAX);
	char err[160];
	json_t *got = chan_decode(buf, (size_t)r, err, sizeof(err));
	ck_assert_ptr_nonnull(got);
	json_decref(got);
	/* one byte more is refused, said so, and nothing is sent */
	ck_assert(!chan_send(&c, message_of(CHAN_MSG_MAX + 1)));
	ck_assert_ptr_nonnull(strstr(c.error, "over the control channel's limit"));
	ck_assert_int_eq(recv(sv[1], buf, 16, MSG_DONTWAIT), -1);
	ck_assert_int_eq(errno, EAGAIN);
	/* a message that could not be built is refused too, not ignored */
	ck_assert(!chan_send(&c, NULL));
	ck_assert_ptr_nonnull(strstr(c.error, "could not be built"));
	/* abort: the peer sees EOF */
	chan_abort(&c);
	ck_assert(c.aborted);
	ck_assert_int_eq(recv(sv[1], buf, 16, MSG_DONTWAIT), 0);
	free(buf);
	chan_close(&c);
	close(sv[1]);
	ev_loop_destroy(loop);
}
END_TEST

START_TEST(test_decode_rejects)
{
	char err[160];
	static const char *const bad[] = {
		"{\"type\":\"x\xff\"}",       /* invalid UTF-8 */
		"{\"type\":\"stop\"",          /* cut */
		"[1,2]",                       /* not an object */
		"{\"timeoutMs\":1}",           /* no type */
		"{\"type\":1}",                /* type not a string */
		"{\"type\":\"a\",\"type\":\"b\"}", /* duplicate key */
		"",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		json_t *m = chan_decode(bad[i], strlen(bad[i]), err, sizeof(err));
		ck_assert_msg(m == NULL, "accepted: %s", bad[i]);
		ck_assert_msg(err[0] != '\0', "no reason for: %s", bad[i]);
	}
	json_t *m = chan_decode("{\"type\":\"stop\",\"timeoutMs\":5}", 29, err, sizeof(err));
	ck_assert_ptr_nonnull(m);
	json_decref(m);
}
END_TEST

Suite *chan_suite(void)
{
	Suite *s = suite_create("chan");
	TCase *tc = tcase_create("contract");
	tcase_add_test(tc, test_size_contract);
	tcase_add_test(tc, test_decode_rejects);
	suite_add_tcase(s, tc);
	return s;
}
