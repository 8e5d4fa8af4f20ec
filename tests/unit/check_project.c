/* project: what the registry keeps of ended projects (bounded), and seq across forgetting. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "common/util.h"
#include "supervisor/output.h"
#include "supervisor/project.h"
#include "tests/unit/suites.h"

static struct ev_loop *loop;
static options_t opts;
static json_t *events; /* every event the registry emitted */

static void collect(json_t *ev)
{
	json_array_append_new(events, ev);
}

static void setup(void)
{
	loop = ev_loop_new(EVFLAG_AUTO);
	memset(&opts, 0, sizeof(opts));
	snprintf(opts.runner_id, sizeof(opts.runner_id), "unit");
	/* a "reaper" that exits at once: enough for a start to be accepted */
	snprintf(opts.reaper_path, sizeof(opts.reaper_path), "/bin/true");
	opts.port_lo = 41700;
	opts.port_hi = 41719;
	opts.max_projects = 16;
	events = json_array();
	output_set_sink(collect);
	projects_init(loop, &opts);
}

static void teardown(void)
{
	projects_free();
	output_set_sink(NULL);
	json_decref(events);
	ev_loop_destroy(loop);
}

/* n projects that a previous devsup left running, closed (-> stopping -> stopped) in order:
 * each ends, as a project that stopped in this run would. */
static void ended_projects(const char *prefix, int n, uint64_t seq0)
{
	json_t *rows = json_array();
	char id[64];
	for (int i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "%s-%d", prefix, i);
		json_array_append_new(rows, json_pack("{s:s, s:s, s:I}", "projectId", id, "status",
						      "running", "seq", (json_int_t)(seq0 + (uint64_t)i)));
	}
	projects_leftover_rows(rows);
	json_decref(rows);
}

static size_t records(void)
{
	size_t n = 0;
	for (project_t *p = project_first(); p; p = p->next)
		n++;
	return n;
}

START_TEST(test_records_and_archives_are_bounded)
{
	ended_projects("p", 1100, 100);
	/* 1024 ended ones kept when the last was created, plus the last */
	ck_assert_uint_eq(records(), 1025);
	ck_assert_ptr_null(project_find("p-0"));
	ck_assert_ptr_null(project_find("p-74"));
	ck_assert_ptr_nonnull(project_find("p-75"));
	ck_assert_ptr_nonnull(project_find("p-1099"));
	ck_assert_str_eq(state_name(project_find("p-1099")->state), "stopped");
	/* the latest keep their output archive, older ones are trimmed to nothing */
	ck_assert_uint_gt(project_find("p-1098")->archive.cap, 1);
	ck_assert_uint_eq(project_find("p-500")->archive.cap, 1);
}
END_TEST

START_TEST(test_forgotten_project_starts_again_with_a_higher_seq)
{
	/* seqs above this run's base, as a database of an earlier run may hold */
	uint64_t seq0 = wall_ms() + 1000000;
	ended_projects("q", 1100, seq0);
	ck_assert_ptr_null(project_find("q-0"));
	json_t *spec = json_pack("{s:s, s:s, s:s}", "projectId", "q-0", "command", "true", "cwd", "/");
	json_t *id = json_string("s1");
	json_array_clear(events);
	project_cmd_start(spec, spec, id);
	project_t *p = project_find("q-0");
	ck_assert_ptr_nonnull(p);
	pid_t reaper = p->reaper_pid;
	json_t *ev = json_array_get(events, 0);
	ck_assert_str_eq(json_string_value(json_object_get(ev, "to")), "starting");
	uint64_t seq = (uint64_t)json_integer_value(json_object_get(ev, "seq"));
	ck_assert_msg(seq > seq0, "seq %llu of a project started again is not above its old %llu",
		      (unsigned long long)seq, (unsigned long long)seq0);
	json_decref(spec);
	json_decref(id);
	if (reaper > 0)
		waitpid(reaper, NULL, 0);
}
END_TEST

Suite *project_suite(void)
{
	Suite *s = suite_create("project");
	TCase *tc = tcase_create("forgetting");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_records_and_archives_are_bounded);
	tcase_add_test(tc, test_forgotten_project_starts_again_with_a_higher_seq);
	suite_add_tcase(s, tc);
	return s;
}
