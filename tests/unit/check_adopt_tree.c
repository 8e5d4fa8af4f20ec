/* adopt_tree: what a lost adopted reaper left is found by structure. A forked "reaper" with a
 * server (its own process group) and that server's worker; the reaper is killed, and the
 * recorded server, its group and its subtree go too, while a recorded identity that no longer
 * matches (a re-used pid) is never signalled. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/proc.h"
#include "supervisor/adopt_tree.h"
#include "supervisor/project.h"
#include "tests/unit/suites.h"

static pid_t reaper, server;
static char project_id[] = "unit-adopt-tree";
static int ready_pipe[2];

static void nap_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* reaper -> server (own group) -> worker (same group); the server's pid comes back on a pipe
 * once the worker runs. */
static void spawn_tree(void)
{
	ck_assert_int_eq(pipe(ready_pipe), 0);
	reaper = fork();
	ck_assert_int_ge(reaper, 0);
	if (reaper == 0) {
		pid_t s = fork();
		if (s == 0) {
			setpgid(0, 0);
			pid_t w = fork();
			if (w == 0) {
				for (;;)
					pause();
			}
			pid_t me = getpid();
			if (write(ready_pipe[1], &me, sizeof(me)) != sizeof(me))
				_exit(1);
			for (;;)
				pause();
		}
		for (;;)
			pause();
	}
	ck_assert_int_eq(read(ready_pipe[0], &server, sizeof(server)), (ssize_t)sizeof(server));
	close(ready_pipe[0]);
	close(ready_pipe[1]);
}

/* Alive and not a zombie; reaps it first if it is ours (we are the subreaper). */
static bool alive(pid_t pid)
{
	proc_info_t info;
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	return proc_read(pid, &info) == 0 && info.state != 'Z';
}

static void record(project_t *p)
{
	memset(p, 0, sizeof(*p));
	p->id = project_id;
	json_t *hello = json_pack("{s:i}", "pid", (int)server);
	adopt_tree_record(p, hello, reaper);
	json_decref(hello);
}

static void lose_reaper(void)
{
	kill(reaper, SIGKILL);
	ck_assert_int_eq(waitpid(reaper, NULL, 0), reaper);
}

static void setup(void)
{
	/* the orphans come to us, so every process of the test is reaped here */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
}

START_TEST(test_kills_the_recorded_tree)
{
	project_t p;
	spawn_tree();
	record(&p);
	ck_assert_uint_eq(p.adopted_nroots, 1);
	ck_assert_int_eq(p.adopted_roots[0].pid, server);
	ck_assert_ptr_null(p.cgroup);
	lose_reaper();
	bool left = true;
	for (int i = 0; i < 200 && left; i++) {
		left = adopt_tree_kill(&p, "unit-adopt-tree-runner");
		if (left)
			nap_ms(10);
	}
	ck_assert(!left);
	ck_assert(!alive(server));
	/* the worker was in the server's group and below it: no process of that group is left */
	proc_info_t *all;
	size_t n = proc_all(&all);
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(all[i].pgid != server || all[i].state == 'Z', "%d of the group lives",
			      (int)all[i].pid);
	free(all);
	free(p.adopted_roots);
}
END_TEST

START_TEST(test_never_signals_another_identity)
{
	project_t p;
	spawn_tree();
	record(&p);
	ck_assert_uint_eq(p.adopted_nroots, 1);
	/* as if the recorded server had died and its pid been given to another process */
	p.adopted_roots[0].start += 1;
	p.adopted_roots[0].pgid = 1; /* nor is its group that one */
	lose_reaper();
	ck_assert(!adopt_tree_kill(&p, "unit-adopt-tree-runner"));
	ck_assert(alive(server));
	kill(-server, SIGKILL);
	free(p.adopted_roots);
}
END_TEST

START_TEST(test_cgroup_from_hello)
{
	project_t p;
	memset(&p, 0, sizeof(p));
	p.id = project_id;
	json_t *hello = json_pack("{s:s}", "cgroup", "/sys/fs/cgroup/devsup.r/web");
	adopt_tree_record(&p, hello, getpid());
	ck_assert_str_eq(p.cgroup, "/sys/fs/cgroup/devsup.r/web");
	json_decref(hello);
	hello = json_pack("{s:s}", "cgroup", "/sys/fs/cgroup/devsup.r/../../x");
	adopt_tree_record(&p, hello, getpid());
	ck_assert_ptr_null(p.cgroup); /* a path that climbs out is not taken */
	json_decref(hello);
	free(p.adopted_roots);
}
END_TEST

Suite *adopt_tree_suite(void)
{
	Suite *s = suite_create("adopt_tree");
	TCase *tc = tcase_create("adopt_tree");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_kills_the_recorded_tree);
	tcase_add_test(tc, test_never_signals_another_identity);
	tcase_add_test(tc, test_cgroup_from_hello);
	suite_add_tcase(s, tc);
	return s;
}
