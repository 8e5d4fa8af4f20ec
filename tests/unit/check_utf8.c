/* utf8: text that stays valid UTF-8 however it is cut, so messages built from it always encode. */
#include <jansson.h>
#include <string.h>

#include "common/utf8.h"
#include "reaper/failure.h"
#include "tests/unit/suites.h"

#define JA "\xe6\x97\xa5" /* 日 */

START_TEST(test_cut_never_splits)
{
	const char *s = "ab" JA JA; /* a b 日 日: boundaries at 0 1 2 5 8 */
	size_t len = strlen(s);
	ck_assert_uint_eq(utf8_cut(s, len, 2), 2);
	ck_assert_uint_eq(utf8_cut(s, len, 3), 2);
	ck_assert_uint_eq(utf8_cut(s, len, 4), 2);
	ck_assert_uint_eq(utf8_cut(s, len, 5), 5);
	ck_assert_uint_eq(utf8_cut(s, len, 7), 5);
	ck_assert_uint_eq(utf8_cut(s, len, 8), 8);
	ck_assert_uint_eq(utf8_cut(s, len, 100), 8);
}
END_TEST

/* Every buffer size, every alignment: the copy is a whole-character prefix and encodes. */
START_TEST(test_copy_every_alignment)
{
	char in[64], out[40];
	for (int pad = 0; pad < 4; pad++) {
		memset(in, 'x', (size_t)pad);
		in[pad] = '\0';
		for (int i = 0; i < 8; i++)
			strcat(in, JA);
		for (size_t cap = 4; cap <= sizeof(out); cap++) {
			size_t n = utf8_copy(out, cap, in, strlen(in));
			ck_assert_uint_lt(n, cap);
			ck_assert_uint_eq(n, strlen(out));
			ck_assert_int_eq(memcmp(out, in, n), 0); /* a prefix, nothing replaced */
			json_t *j = json_string(out);
			ck_assert_msg(j != NULL, "pad %d cap %zu: not valid UTF-8", pad, cap);
			json_decref(j);
		}
	}
}
END_TEST

START_TEST(test_invalid_replaced)
{
	char out[32];
	size_t n = utf8_copy(out, sizeof(out), "a\xff" "b\xe6\x97", 5);
	ck_assert_str_eq(out, "a\xef\xbf\xbd" "b\xef\xbf\xbd");
	ck_assert_uint_eq(n, 8);
	json_t *j = utf8_json_string("ok\xc3(");
	ck_assert_ptr_nonnull(j);
	ck_assert_str_eq(json_string_value(j), "ok\xef\xbf\xbd(");
	json_decref(j);
}
END_TEST

/* The reaper's failure message: a long multibyte command at any alignment stays encodable
 * (it used to be cut inside a character, and the final message was never sent). */
START_TEST(test_failure_message_encodes)
{
	char cmd[2048] = "";
	for (int pad = 0; pad < 4; pad++) {
		memset(cmd, 'x', (size_t)pad);
		cmd[pad] = '\0';
		while (strlen(cmd) + 3 < sizeof(cmd) - 1)
			strcat(cmd, JA);
		failure_t f;
		failure_set(&f, REASON_IMMEDIATE_CRASH, NULL, "'%s' exited with code 1", cmd);
		json_t *j = json_pack("{s:s, s:s}", "message", f.message, "suggestion", f.suggestion);
		ck_assert_msg(j != NULL, "pad %d: failure message is not valid UTF-8", pad);
		json_decref(j);
		/* a process name from /proc may be any bytes */
		failure_set(&f, REASON_PORT_IN_USE, NULL, "held by pid 1 (%s)", "bad\xff\xfe");
		ck_assert_ptr_nonnull(strstr(f.message, "bad\xef\xbf\xbd"));
	}
}
END_TEST

Suite *utf8_suite(void)
{
	Suite *s = suite_create("utf8");
	TCase *tc = tcase_create("cut");
	tcase_add_test(tc, test_cut_never_splits);
	tcase_add_test(tc, test_copy_every_alignment);
	tcase_add_test(tc, test_invalid_replaced);
	tcase_add_test(tc, test_failure_message_encodes);
	suite_add_tcase(s, tc);
	return s;
}
