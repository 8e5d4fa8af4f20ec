/* Runs every unit suite; exits non-zero when any test failed. */
#include <stdlib.h>

#include "tests/unit/suites.h"

int main(void)
{
	Suite *(*const suites[])(void) = {
		linebuf_suite, sanitize_suite, ring_suite,    state_suite,  reason_suite,
		util_suite,    proc_suite,     command_suite, health_suite, tty_suite,
		listeners_suite, log_suite,    project_suite, envfilter_suite, runner_lock_suite,
		spawn_suite, listen_trap_suite, utf8_suite, chan_suite, store_conn_suite,
		store_outbox_suite, adopt_suite, adopt_tree_suite, line_id_suite, resources_suite,
		colwidth_suite, tty_text_suite,
	};
	SRunner *sr = srunner_create(suites[0]());
	for (size_t i = 1; i < sizeof(suites) / sizeof(suites[0]); i++)
		srunner_add_suite(sr, suites[i]());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
