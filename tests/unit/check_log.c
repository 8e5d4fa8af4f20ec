/* log: lines to stderr that never block, bounded, with a count of what was dropped. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "tests/unit/suites.h"

static int saved_stderr = -1;
static int rd = -1;

/* stderr becomes the write end of a pipe that nobody reads (yet); rd is its read end. */
static void stderr_to_pipe(void)
{
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	saved_stderr = dup(2);
	ck_assert_int_ge(saved_stderr, 0);
	ck_assert_int_eq(dup2(p[1], 2), 2);
	close(p[1]);
	rd = p[0];
	ck_assert_int_eq(fcntl(rd, F_SETFL, O_NONBLOCK), 0);
	log_init("devsup-test", LOG_LEVEL_DEBUG);
}

static void stderr_back(void)
{
	dup2(saved_stderr, 2);
	close(saved_stderr);
	close(rd);
	log_init("devsup-test", LOG_LEVEL_INFO);
}

/* Reads whatever the pipe holds now. */
static size_t drain(char *buf, size_t cap)
{
	size_t n = 0;
	ssize_t r;
	while (n < cap - 1 && (r = read(rd, buf + n, cap - 1 - n)) > 0)
		n += (size_t)r;
	buf[n] = '\0';
	return n;
}

START_TEST(test_full_pipe_does_not_block)
{
	stderr_to_pipe();
	/* 4000 lines of ~150 bytes: ten times a 64 KiB pipe. A blocking write hangs here and the
	 * test times out. */
	char pad[120];
	memset(pad, 'x', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	for (int i = 0; i < 4000; i++)
		log_warn("line %d %s", i, pad);
	ck_assert_uint_gt(log_pending(), 0);
	ck_assert_uint_le(log_pending(), LOG_PENDING_MAX);
	/* the reader catches up: what waited goes out, then how many were dropped */
	static char buf[1 << 20];
	size_t total = 0;
	bool said = false;
	for (int round = 0; round < 50 && !said; round++) {
		total += drain(buf, sizeof(buf));
		said = strstr(buf, "log lines dropped") != NULL;
		log_flush();
	}
	ck_assert_msg(said, "no 'log lines dropped' line after the pipe drained");
	ck_assert_uint_gt(total, 65536);
	stderr_back();
}
END_TEST

START_TEST(test_lines_stay_whole_and_in_order)
{
	stderr_to_pipe();
	log_info("first");
	log_info("second");
	static char buf[4096];
	drain(buf, sizeof(buf));
	ck_assert_ptr_nonnull(strstr(buf, "devsup-test["));
	ck_assert_ptr_nonnull(strstr(buf, ": info: first\n"));
	ck_assert_ptr_nonnull(strstr(buf, ": info: second\n"));
	ck_assert(strstr(buf, "first") < strstr(buf, "second"));
	ck_assert_uint_eq(log_pending(), 0);
	stderr_back();
}
END_TEST

Suite *log_suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("nonblocking");
	tcase_add_test(tc, test_full_pipe_does_not_block);
	tcase_add_test(tc, test_lines_stay_whole_and_in_order);
	suite_add_tcase(s, tc);
	return s;
}
