/* reason: the failure reasons of SPEC §3. */
#include <string.h>

#include "common/reason.h"
#include "tests/unit/suites.h"

START_TEST(test_names_are_the_spec)
{
	static const char *const spec[REASON_COUNT] = {
		[REASON_PORT_IN_USE] = "port_in_use",
		[REASON_COMMAND_NOT_FOUND] = "command_not_found",
		[REASON_DIRECTORY_MISSING] = "directory_missing",
		[REASON_PERMISSION_DENIED] = "permission_denied",
		[REASON_IMMEDIATE_CRASH] = "immediate_crash",
		[REASON_CRASHED] = "crashed",
		[REASON_HEALTH_CHECK_TIMEOUT] = "health_check_timeout",
		[REASON_HEALTH_CHECK_FAILED] = "health_check_failed",
		[REASON_UNKNOWN] = "unknown",
		[REASON_KILLED] = "killed",
		[REASON_TUNNEL_FAILED] = "tunnel_failed",
		[REASON_CANCELLED] = "cancelled",
		[REASON_REAPER_LOST] = "reaper_lost",
		[REASON_RUNNER_RESTART] = "runner_restart",
		[REASON_ALREADY_RUNNING] = "already_running",
		[REASON_NOT_RUNNING] = "not_running",
		[REASON_INVALID_JSON] = "invalid_json",
		[REASON_INVALID_COMMAND] = "invalid_command",
		[REASON_UNKNOWN_COMMAND] = "unknown_command",
		[REASON_LINE_TOO_LONG] = "line_too_long",
		[REASON_CAPACITY] = "capacity",
		[REASON_RUNNER_ID_IN_USE] = "runner_id_in_use",
		[REASON_SHUTTING_DOWN] = "shutting_down",
		[REASON_OWNED_BY_OTHER_RUNNER] = "owned_by_other_runner",
		[REASON_RUNNER_LOST] = "runner_lost",
		[REASON_MEMORY_LIMIT] = "memory_limit",
	};
	ck_assert_int_eq(REASON_COUNT, 27); /* REASON_NONE + the 25 names of the SPEC + shutting_down */
	for (int r = 1; r < REASON_COUNT; r++) {
		ck_assert_ptr_nonnull(spec[r]);
		ck_assert_str_eq(reason_name((reason_t)r), spec[r]);
	}
	ck_assert_str_eq(reason_name(REASON_NONE), "");
}
END_TEST

START_TEST(test_parse_round_trip)
{
	for (int r = 1; r < REASON_COUNT; r++)
		ck_assert_int_eq(reason_parse(reason_name((reason_t)r)), r);
	ck_assert_int_eq(reason_parse(""), -1); /* REASON_NONE is not a wire name */
	ck_assert_int_eq(reason_parse("Crashed"), -1);
	ck_assert_int_eq(reason_parse("no_such_reason"), -1);
}
END_TEST

START_TEST(test_every_reason_has_a_suggestion)
{
	for (int r = 1; r < REASON_COUNT; r++) {
		const char *s = reason_suggestion((reason_t)r);
		ck_assert_ptr_nonnull(s);
		ck_assert_msg(strlen(s) > 0, "reason %s has no suggestion", reason_name((reason_t)r));
	}
}
END_TEST

Suite *reason_suite(void)
{
	Suite *s = suite_create("reason");
	TCase *tc = tcase_create("names");
	tcase_add_test(tc, test_names_are_the_spec);
	tcase_add_test(tc, test_parse_round_trip);
	suite_add_tcase(s, tc);

	tc = tcase_create("suggestions");
	tcase_add_test(tc, test_every_reason_has_a_suggestion);
	suite_add_tcase(s, tc);
	return s;
}
