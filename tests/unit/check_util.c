/* util: timestamps, signal names and project ids. */
#include <signal.h>
#include <string.h>

#include "common/util.h"
#include "tests/unit/suites.h"

START_TEST(test_iso8601)
{
	char buf[32];
	time_iso8601(0, buf, sizeof(buf));
	ck_assert_str_eq(buf, "1970-01-01T00:00:00.000Z");
	time_iso8601(1795694400123ull, buf, sizeof(buf));
	ck_assert_str_eq(buf, "2026-11-26T12:00:00.123Z");
	time_iso8601(1795694400007ull, buf, sizeof(buf));
	ck_assert_str_eq(buf, "2026-11-26T12:00:00.007Z"); /* milliseconds zero-padded */
	time_iso8601(951782400999ull, buf, sizeof(buf));
	ck_assert_str_eq(buf, "2000-02-29T00:00:00.999Z");
}
END_TEST

START_TEST(test_iso8601_parse)
{
	static const uint64_t samples[] = {0, 1795694400123ull, 1795694400007ull, 951782400999ull};
	char buf[32];
	uint64_t back;
	for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		time_iso8601(samples[i], buf, sizeof(buf));
		ck_assert_msg(time_parse_iso8601(buf, &back), "refused %s", buf);
		ck_assert_uint_eq(back, samples[i]);
	}
	ck_assert(!time_parse_iso8601(NULL, &back));
	ck_assert(!time_parse_iso8601("", &back));
	ck_assert(!time_parse_iso8601("2026-11-26T12:00:00Z", &back));       /* no ms */
	ck_assert(!time_parse_iso8601("2026-11-26T12:00:00.123Zx", &back));  /* trailing */
	ck_assert(!time_parse_iso8601("2026-11-26 12:00:00.123Z", &back));   /* no T */
	ck_assert(!time_parse_iso8601("1969-12-31T23:59:59.999Z", &back));   /* before 1970 */
}
END_TEST

START_TEST(test_signal_names)
{
	ck_assert_str_eq(signal_name(9), "SIGKILL");
	ck_assert_str_eq(signal_name(15), "SIGTERM");
	ck_assert_str_eq(signal_name(SIGINT), "SIGINT");
	ck_assert_str_eq(signal_name(SIGSEGV), "SIGSEGV");
	ck_assert_str_eq(signal_name(200), "SIG200"); /* no name: the number */
}
END_TEST

START_TEST(test_project_id_valid)
{
	char id[200];
	ck_assert(project_id_valid("a"));
	ck_assert(project_id_valid("web-1.x:y_z"));
	ck_assert(project_id_valid("ABC123"));
	memset(id, 'a', 128);
	id[128] = '\0';
	ck_assert(project_id_valid(id));
}
END_TEST

START_TEST(test_project_id_invalid)
{
	char id[200];
	ck_assert(!project_id_valid(""));
	memset(id, 'a', 129);
	id[129] = '\0';
	ck_assert(!project_id_valid(id));
	ck_assert(!project_id_valid("a/b"));
	ck_assert(!project_id_valid("a b"));
	ck_assert(!project_id_valid("\xc3\xa9")); /* é */
	ck_assert(!project_id_valid("a\tb"));
	ck_assert(!project_id_valid("a\\b"));
	/* made of allowed characters, but a path escape for a client that builds paths */
	ck_assert(!project_id_valid(".."));
	ck_assert(!project_id_valid("a..b"));
	ck_assert(project_id_valid("a.b.c"));
}
END_TEST

Suite *util_suite(void)
{
	Suite *s = suite_create("util");
	TCase *tc = tcase_create("time");
	tcase_add_test(tc, test_iso8601);
	tcase_add_test(tc, test_iso8601_parse);
	suite_add_tcase(s, tc);

	tc = tcase_create("signals");
	tcase_add_test(tc, test_signal_names);
	suite_add_tcase(s, tc);

	tc = tcase_create("project_id");
	tcase_add_test(tc, test_project_id_valid);
	tcase_add_test(tc, test_project_id_invalid);
	suite_add_tcase(s, tc);
	return s;
}
