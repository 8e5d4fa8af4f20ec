#ifndef DEVSUP_TESTS_UNIT_SUITES_H
#define DEVSUP_TESTS_UNIT_SUITES_H

#include <check.h>

/* One suite per module under test; main.c runs them all. */
Suite *linebuf_suite(void);
Suite *sanitize_suite(void);
Suite *ring_suite(void);
Suite *state_suite(void);
Suite *reason_suite(void);
Suite *util_suite(void);
Suite *proc_suite(void);
Suite *command_suite(void);
Suite *health_suite(void);
Suite *tty_suite(void);
Suite *listeners_suite(void);
Suite *log_suite(void);
Suite *project_suite(void);
Suite *envfilter_suite(void);
Suite *runner_lock_suite(void);
Suite *spawn_suite(void);
Suite *listen_trap_suite(void);
Suite *utf8_suite(void);
Suite *chan_suite(void);
Suite *store_conn_suite(void);
Suite *store_outbox_suite(void);
Suite *adopt_suite(void);
Suite *adopt_tree_suite(void);
Suite *line_id_suite(void);
Suite *resources_suite(void);
Suite *colwidth_suite(void);
Suite *tty_text_suite(void);

#endif
