/* adopt: the master's side of a hand-over, against fake detached reapers (sockets in the
 * runner's adopt directory): version check, adoption as the previous master left the project,
 * stale sockets. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/util.h"
#include "supervisor/adopt.h"
#include "supervisor/output.h"
#include "supervisor/project.h"
#include "tests/unit/suites.h"

static struct ev_loop *loop;
static options_t opts;
static char state[64];
static char dir[128];

static void discard(json_t *ev)
{
	json_decref(ev);
}

static void setup(void)
{
	loop = ev_loop_new(EVFLAG_AUTO);
	memset(&opts, 0, sizeof(opts));
	snprintf(opts.runner_id, sizeof(opts.runner_id), "unit");
	snprintf(opts.reaper_path, sizeof(opts.reaper_path), "/bin/true");
	opts.port_lo = 41720;
	opts.port_hi = 41739;
	opts.max_projects = 16;
	output_set_sink(discard);
	projects_init(loop, &opts);
	snprintf(state, sizeof(state), "/tmp/devsup-unit-adopt-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(state));
	snprintf(dir, sizeof(dir), "%s/unit.adopt", state);
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	adopt_set_state_dir(state);
}

static void teardown(void)
{
	adopt_free();
	projects_free();
	output_set_sink(NULL);
	ev_loop_destroy(loop);
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", state);
	ck_assert_int_eq(system(cmd), 0);
}

/* A detached reaper's socket, listening: its fd. */
static int fake_reaper(const char *name)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%.60s/%.40s", dir, name);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(fd, 4), 0);
	return fd;
}

static void send_json(int fd, json_t *msg)
{
	char *s = json_dumps(msg, JSON_COMPACT);
	ck_assert_int_eq(send(fd, s, strlen(s), 0), (ssize_t)strlen(s));
	free(s);
	json_decref(msg);
}

/* Runs the loop until the adoption has settled (bounded). */
static void settle(void)
{
	for (int i = 0; i < 200 && adopt_pending(); i++)
		ev_run(loop, EVRUN_ONCE | EVRUN_NOWAIT);
	ck_assert(!adopt_pending());
}

START_TEST(test_refuses_another_version)
{
	int lfd = fake_reaper("100.sock");
	adopt_begin(loop, &opts);
	ck_assert(adopt_pending());
	int cfd = accept(lfd, NULL, NULL);
	ck_assert_int_ge(cfd, 0);
	send_json(cfd, json_pack("{s:s, s:i, s:s, s:{}}", "type", "hello", "version",
				 ADOPT_VERSION + 1, "projectId", "web", "state"));
	settle();
	ck_assert_uint_eq(adopt_count(), 0);
	ck_assert_ptr_null(project_find("web"));
	/* let go: the reaper sees EOF and tears its project down */
	char buf[64];
	ck_assert_int_eq(recv(cfd, buf, sizeof(buf), 0), 0);
	close(cfd);
	close(lfd);
}
END_TEST

START_TEST(test_adopts_as_left)
{
	int lfd = fake_reaper("101.sock");
	adopt_begin(loop, &opts);
	int cfd = accept(lfd, NULL, NULL);
	ck_assert_int_ge(cfd, 0);
	json_t *st = json_pack("{s:s, s:I, s:i, s:s, s:s, s:s, s:I, s:s, s:{s:s}}", "state",
			       "running", "seq", (json_int_t)1795000000041, "port", 41725, "url",
			       "https://localhost:41725", "scheme", "https", "framework", "vite",
			       "startedAt", (json_int_t)1795000000000, "tunnelUrl",
			       "https://a.trycloudflare.com", "spec", "projectId", "web");
	send_json(cfd, json_pack("{s:s, s:i, s:s, s:s, s:o, s:i, s:i, s:i}", "type", "hello",
				 "version", ADOPT_VERSION, "projectId", "web", "phase", "running",
				 "state", st, "pid", 4242, "pgid", 4242, "port", 41725));
	settle();
	ck_assert_uint_eq(adopt_count(), 1);
	project_t *p = project_find("web");
	ck_assert_ptr_nonnull(p);
	ck_assert_str_eq(state_name(p->state), "running");
	ck_assert_uint_eq(p->seq, 1795000000041ull);
	ck_assert_int_eq(p->port, 41725);
	ck_assert_int_eq(p->pid, 4242);
	ck_assert_str_eq(p->url, "https://localhost:41725");
	ck_assert_str_eq(p->scheme, "https");
	ck_assert_str_eq(p->framework, "vite");
	ck_assert_str_eq(p->tunnel_url, "https://a.trycloudflare.com");
	ck_assert_uint_eq(p->started_at_ms, 1795000000000ull);
	ck_assert(projects_port_taken(41725));
	/* nothing goes to the reaper before ready; then `adopt` */
	char buf[256];
	ck_assert_int_lt(recv(cfd, buf, sizeof(buf), MSG_DONTWAIT), 0);
	adopt_confirm();
	for (int i = 0; i < 10; i++)
		ev_run(loop, EVRUN_ONCE | EVRUN_NOWAIT);
	ssize_t n = recv(cfd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	ck_assert_ptr_nonnull(strstr(buf, "\"adopt\""));
	close(cfd);
	close(lfd);
}
END_TEST

START_TEST(test_stale_socket_is_removed)
{
	int lfd = fake_reaper("102.sock");
	close(lfd); /* its reaper died: the file stays, nobody listens */
	adopt_begin(loop, &opts);
	ck_assert(!adopt_pending());
	ck_assert_uint_eq(adopt_count(), 0);
	char path[200];
	snprintf(path, sizeof(path), "%s/102.sock", dir);
	ck_assert_int_lt(access(path, F_OK), 0);
}
END_TEST

Suite *adopt_suite(void)
{
	Suite *s = suite_create("adopt");
	TCase *tc = tcase_create("adopt");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_refuses_another_version);
	tcase_add_test(tc, test_adopts_as_left);
	tcase_add_test(tc, test_stale_socket_is_removed);
	suite_add_tcase(s, tc);
	return s;
}
