/* listen_trap: the seccomp listen() notification of SPEC §4.4, through spawn_start as the
 * reaper uses it: a real child, the fd handed over before exec, the address read from the
 * socket, and the call let through. */
#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "reaper/listen_trap.h"
#include "reaper/spawn.h"
#include "tests/unit/suites.h"

typedef struct {
	struct ev_loop *loop;
	listen_trap_t trap;
	int calls;
	struct sockaddr_storage addr;
	bool readable;
} trap_result_t;

static void on_listen(void *ctx, pid_t pid, const struct sockaddr_storage *addr)
{
	trap_result_t *r = ctx;
	(void)pid;
	r->calls++;
	r->readable = addr != NULL;
	if (addr)
		r->addr = *addr;
	ev_break(r->loop, EVBREAK_ALL);
}

static void on_guard(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

START_TEST(test_listen_is_reported_and_let_through)
{
	/* python binds 127.0.0.2, listens, then prints its port: it prints only if the listen()
	 * ran after our "continue" */
	json_t *cmd = json_pack("[s, s, s]", "python3", "-c",
				"import socket, sys, time\n"
				"s = socket.socket(); s.bind(('127.0.0.2', 0)); s.listen()\n"
				"print(s.getsockname()[1], flush=True); time.sleep(10)\n");
	spawn_ids_t ids = {"unit-trap", "unit", 1000, NULL, 0};
	spawn_plan_t plan;
	failure_t f;
	ck_assert(spawn_prepare(cmd, "/", 0, NULL, &ids, &plan, &f));
	plan.listen_trap = true;
	int out[2];
	ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
	int exec_fd;
	pid_t pid = spawn_start(&plan, "/", out[1], out[1], &exec_fd);
	ck_assert_int_gt(pid, 0);
	close(out[1]);

	trap_result_t r;
	memset(&r, 0, sizeof(r));
	listen_trap_init(&r.trap);
	r.loop = ev_loop_new(0);
	/* the trap's fd comes first, then EOF (exec succeeded) */
	spawn_error_t e;
	int fd = -1, passed;
	ssize_t n;
	for (;;) {
		n = spawn_read_report(exec_fd, &e, &passed);
		if (n < 0 && errno == EAGAIN) {
			usleep(1000);
			continue;
		}
		if (n == (ssize_t)sizeof(e) && e.stage == SPAWN_STAGE_TRAP) {
			ck_assert_msg(passed >= 0, "no trap: %s", strerror(e.err));
			fd = passed;
			continue;
		}
		break;
	}
	ck_assert_int_eq(n, 0);
	ck_assert_int_ge(fd, 0);
	listen_trap_watch(&r.trap, r.loop, fd, on_listen, &r);
	ev_timer guard;
	ev_timer_init(&guard, on_guard, 10., 0.);
	ev_timer_start(r.loop, &guard);
	ev_run(r.loop, 0);
	ck_assert_int_eq(r.calls, 1);
	ck_assert(r.readable);
	ck_assert_int_eq(r.addr.ss_family, AF_INET);
	struct sockaddr_in *a = (struct sockaddr_in *)&r.addr;
	ck_assert_uint_eq(ntohl(a->sin_addr.s_addr), 0x7f000002);

	/* the server went on: its listen() succeeded, on the port we were told */
	char line[32] = "";
	ssize_t got = read(out[0], line, sizeof(line) - 1);
	ck_assert_int_gt(got, 0);
	ck_assert_int_eq(atoi(line), ntohs(a->sin_port));

	kill(pid, SIGKILL);
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	listen_trap_close(&r.trap);
	ev_loop_destroy(r.loop);
	close(out[0]);
	close(exec_fd);
	spawn_plan_free(&plan);
	json_decref(cmd);
}
END_TEST

START_TEST(test_without_trap_no_filter)
{
	/* the tunnel and --no-listen-trap: no report, the child runs unfiltered */
	json_t *cmd = json_pack("[s, s, s]", "sh", "-c", "grep -q '^Seccomp:.*0$' /proc/self/status");
	spawn_ids_t ids = {"unit-trap", "unit", 1000, NULL, 0};
	spawn_plan_t plan;
	failure_t f;
	ck_assert(spawn_prepare(cmd, "/", 0, NULL, &ids, &plan, &f));
	int exec_fd;
	pid_t pid = spawn_start(&plan, "/", 2, 2, &exec_fd);
	ck_assert_int_gt(pid, 0);
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	spawn_error_t e;
	int passed;
	ck_assert_int_eq(spawn_read_report(exec_fd, &e, &passed), 0);
	ck_assert_int_eq(passed, -1);
	close(exec_fd);
	spawn_plan_free(&plan);
	json_decref(cmd);
}
END_TEST

Suite *listen_trap_suite(void)
{
	Suite *s = suite_create("listen_trap");
	TCase *tc = tcase_create("spawn");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_listen_is_reported_and_let_through);
	tcase_add_test(tc, test_without_trap_no_filter);
	suite_add_tcase(s, tc);
	return s;
}
