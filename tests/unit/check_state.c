/* state: the project state machine of SPEC §2. */
#include <stdbool.h>

#include "common/state.h"
#include "tests/unit/suites.h"

START_TEST(test_transition_table)
{
	/* [from][to], written out from SPEC §2; every pair not listed must be refused */
	static const bool allowed[STATE_COUNT][STATE_COUNT] = {
		[STATE_IDLE] = {[STATE_STARTING] = true},
		[STATE_STOPPED] = {[STATE_STARTING] = true},
		[STATE_FAILED] = {[STATE_STARTING] = true},
		[STATE_STARTING] = {[STATE_RUNNING] = true, [STATE_FAILED] = true,
				    [STATE_STOPPING] = true},
		[STATE_RUNNING] = {[STATE_STOPPING] = true, [STATE_FAILED] = true},
		[STATE_STOPPING] = {[STATE_STOPPED] = true},
	};
	int checked = 0, yes = 0;
	for (int from = 0; from < STATE_COUNT; from++) {
		for (int to = 0; to < STATE_COUNT; to++) {
			bool got = state_can_transition((state_t)from, (state_t)to);
			ck_assert_msg(got == allowed[from][to], "%s -> %s: expected %s, got %s",
				      state_name((state_t)from), state_name((state_t)to),
				      allowed[from][to] ? "allowed" : "refused",
				      got ? "allowed" : "refused");
			checked++;
			yes += got;
		}
	}
	ck_assert_int_eq(checked, 36);
	ck_assert_int_eq(yes, 9);
}
END_TEST

START_TEST(test_out_of_range_refused)
{
	ck_assert(!state_can_transition(STATE_COUNT, STATE_STARTING));
	ck_assert(!state_can_transition(STATE_IDLE, STATE_COUNT));
	ck_assert(!state_can_transition((state_t)-1, STATE_STARTING));
}
END_TEST

START_TEST(test_names_round_trip)
{
	static const char *const names[STATE_COUNT] = {
		[STATE_IDLE] = "idle",         [STATE_STARTING] = "starting",
		[STATE_RUNNING] = "running",   [STATE_STOPPING] = "stopping",
		[STATE_STOPPED] = "stopped",   [STATE_FAILED] = "failed",
	};
	for (int s = 0; s < STATE_COUNT; s++) {
		ck_assert_str_eq(state_name((state_t)s), names[s]);
		ck_assert_int_eq(state_parse(names[s]), s);
	}
	ck_assert_int_eq(state_parse("Running"), -1);
	ck_assert_int_eq(state_parse(""), -1);
	ck_assert_int_eq(state_parse("invalid"), -1);
	ck_assert_str_eq(state_name(STATE_COUNT), "invalid");
}
END_TEST

START_TEST(test_is_live)
{
	for (int s = 0; s < STATE_COUNT; s++) {
		bool live = s == STATE_STARTING || s == STATE_RUNNING || s == STATE_STOPPING;
		ck_assert_msg(state_is_live((state_t)s) == live, "state_is_live(%s)",
			      state_name((state_t)s));
	}
}
END_TEST

Suite *state_suite(void)
{
	Suite *s = suite_create("state");
	TCase *tc = tcase_create("transitions");
	tcase_add_test(tc, test_transition_table);
	tcase_add_test(tc, test_out_of_range_refused);
	suite_add_tcase(s, tc);

	tc = tcase_create("names");
	tcase_add_test(tc, test_names_round_trip);
	tcase_add_test(tc, test_is_live);
	suite_add_tcase(s, tc);
	return s;
}
