/* health: the HTTP readiness check of SPEC §4.4. */
#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/util.h"
#include "reaper/health.h"
#include "tests/unit/suites.h"

/* --- health_is_status_line ------------------------------------------------------------- */

static void expect_status(const char *buf, bool http, bool complete)
{
	bool got_complete = !complete;
	bool got = health_is_status_line(buf, strlen(buf), &got_complete);
	ck_assert_msg(got == http, "\"%s\": http %d, expected %d", buf, got, http);
	ck_assert_msg(got_complete == complete, "\"%s\": complete %d, expected %d", buf,
		      got_complete, complete);
}

START_TEST(test_status_line)
{
	expect_status("HTTP/1.1 200", true, true);
	expect_status("HTTP/1.0 404 Not Found\r\n", true, true);
	expect_status("HTTP/1.1 503 Service Unavailable", true, true);
	expect_status("HTTP/1.", false, false); /* may still become one */
	expect_status("HTTP/1.1 20", false, false);
	expect_status("H", false, false);
	expect_status("", false, false);
	expect_status("SSH-2.0-OpenSSH", false, true);
	expect_status("HTTP/2 200", false, true);
	expect_status("http/1.1 200", false, true);
	expect_status("HTTP/1.1 2x0", false, true);
	expect_status("\x16\x03\x01", false, true); /* a TLS record */
}
END_TEST

/* --- end to end, on a real libev loop -------------------------------------------------- */

typedef struct {
	struct ev_loop *loop;
	ev_timer guard;
	int calls;
	bool healthy;
	reason_t reason;
	char message[256];
} result_t;

static void on_health(void *ctx, bool healthy, reason_t reason, const char *message)
{
	result_t *r = ctx;
	r->calls++;
	r->healthy = healthy;
	r->reason = reason;
	snprintf(r->message, sizeof(r->message), "%s", message ? message : "");
	ev_timer_stop(r->loop, &r->guard);
}

static void on_guard(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

/* A loop for a test that drives health itself, with the guard timer armed. */
static void result_loop(result_t *r)
{
	memset(r, 0, sizeof(*r));
	r->loop = ev_loop_new(0);
	ck_assert_ptr_nonnull(r->loop);
	ev_timer_init(&r->guard, on_guard, 20., 0.);
	ev_timer_start(r->loop, &r->guard);
}

/* Runs a health check of port until its callback (or a generous guard timer) ends it. */
static void run_health(result_t *r, int port, const char *path, uint64_t timeout_ms)
{
	health_t h;
	result_loop(r);
	health_start(&h, r->loop, port, path, timeout_ms, on_health, r);
	ev_run(r->loop, 0); /* returns once no watcher is left, or at the guard */
	health_stop(&h);    /* a no-op after the callback: safe to call twice */
	ev_loop_destroy(r->loop);
	r->loop = NULL;
}

/* A TCP socket bound to the IPv4 address addr (host order) with a port the kernel picked;
 * listening, or not yet. */
static int bound_at(uint32_t addr, bool listening, int *port)
{
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(addr);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	if (listening)
		ck_assert_int_eq(listen(fd, 16), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

static int listen_at(uint32_t addr, int *port)
{
	return bound_at(addr, true, port);
}

static int listen_loopback(int *port)
{
	return listen_at(INADDR_LOOPBACK, port);
}

/* Reads until the end of the request's headers; copies its first line to line[]. */
static void read_request(int c, char *line, size_t n)
{
	char req[2048];
	size_t got = 0;
	while (got < sizeof(req) - 1) {
		ssize_t r = read(c, req + got, sizeof(req) - 1 - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
		req[got] = '\0';
		if (strstr(req, "\r\n\r\n"))
			break;
	}
	req[got] = '\0';
	size_t eol = strcspn(req, "\r\n");
	snprintf(line, n, "%.*s", (int)eol, req);
}

/* Forks a server on lfd that answers every connection with `answer` (after the request when
 * wait_request), then waits for the client to close. The first request line goes to
 * report_fd. */
static pid_t serve(int lfd, const char *answer, bool wait_request, int report_fd)
{
	pid_t parent = getpid();
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid > 0)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(0);
	alarm(60);
	for (bool first = true;; first = false) {
		int c = accept(lfd, NULL, NULL);
		if (c < 0)
			continue;
		char line[256] = "";
		if (wait_request)
			read_request(c, line, sizeof(line));
		if (first && report_fd >= 0) {
			size_t len = strlen(line) + 1;
			if (write(report_fd, line, len) != (ssize_t)len)
				_exit(1);
		}
		if (write(c, answer, strlen(answer)) < 0)
			_exit(1);
		char sink[512];
		while (read(c, sink, sizeof(sink)) > 0)
			;
		close(c);
	}
}

static void stop_server(pid_t pid)
{
	int status;
	kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
}

START_TEST(test_healthy_server)
{
	int port, report[2];
	int lfd = listen_loopback(&port);
	ck_assert_int_eq(pipe2(report, O_CLOEXEC), 0);
	pid_t server = serve(lfd, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", true, report[1]);
	close(lfd);
	close(report[1]);

	result_t r;
	run_health(&r, port, "/health", 10000);
	ck_assert_int_eq(r.calls, 1);
	ck_assert_msg(r.healthy, "not healthy: %s (%s)", r.message, reason_name(r.reason));
	ck_assert_int_eq(r.reason, REASON_NONE);

	char line[256] = "";
	ck_assert_int_gt(read(report[0], line, sizeof(line) - 1), 0);
	ck_assert_str_eq(line, "HEAD /health HTTP/1.1");
	close(report[0]);
	stop_server(server);
}
END_TEST

START_TEST(test_error_status_is_still_ready)
{
	/* any HTTP answer, even a 500, means the server is up */
	int port;
	int lfd = listen_loopback(&port);
	pid_t server = serve(lfd, "HTTP/1.1 500 Internal Server Error\r\n\r\n", true, -1);
	close(lfd);
	result_t r;
	run_health(&r, port, "/", 10000);
	ck_assert_int_eq(r.calls, 1);
	ck_assert_msg(r.healthy, "not healthy: %s", r.message);
	stop_server(server);
}
END_TEST

START_TEST(test_nothing_listening_times_out)
{
	int port;
	int lfd = listen_loopback(&port);
	close(lfd); /* the port is now (almost certainly) free: every connect is refused */

	result_t r;
	run_health(&r, port, "/", 200);
	ck_assert_int_eq(r.calls, 1);
	ck_assert(!r.healthy);
	ck_assert_int_eq(r.reason, REASON_HEALTH_CHECK_TIMEOUT);
	char portstr[16];
	snprintf(portstr, sizeof(portstr), "%d", port);
	ck_assert_msg(strstr(r.message, portstr) != NULL, "message \"%s\" does not name port %d",
		      r.message, port);
}
END_TEST

START_TEST(test_not_http_fails)
{
	int port;
	int lfd = listen_loopback(&port);
	pid_t server = serve(lfd, "SSH-2.0-OpenSSH_9.2\r\n", false, -1);
	close(lfd);

	result_t r;
	run_health(&r, port, "/", 500);
	ck_assert_int_eq(r.calls, 1);
	ck_assert(!r.healthy);
	ck_assert_int_eq(r.reason, REASON_HEALTH_CHECK_FAILED);
	ck_assert_msg(strstr(r.message, "SSH-2.0") != NULL, "message \"%s\" does not show the answer",
		      r.message);
	stop_server(server);
}
END_TEST

START_TEST(test_silent_server_times_out)
{
	/* accepts, reads the request, never answers */
	int port;
	int lfd = listen_loopback(&port);
	pid_t server = serve(lfd, "", true, -1);
	close(lfd);

	result_t r;
	run_health(&r, port, "/", 300);
	ck_assert_int_eq(r.calls, 1);
	ck_assert(!r.healthy);
	ck_assert_int_eq(r.reason, REASON_HEALTH_CHECK_TIMEOUT);
	stop_server(server);
}
END_TEST

static void on_stop_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	health_stop(w->data);
}

START_TEST(test_stop_before_answer)
{
	/* stopped while probing: no callback, and no watcher left running on the loop */
	int port;
	int lfd = listen_loopback(&port);
	close(lfd);
	result_t r;
	health_t h;
	ev_timer stopper;
	result_loop(&r);
	health_start(&h, r.loop, port, "/", 10000, on_health, &r);
	ev_timer_init(&stopper, on_stop_timer, 0.1, 0.);
	stopper.data = &h;
	ev_timer_start(r.loop, &stopper);
	ev_unref(r.loop); /* the guard alone must not keep the loop running */
	ev_run(r.loop, 0);
	ck_assert_int_eq(r.calls, 0);
	ck_assert_msg(ev_is_active(&r.guard), "the loop ran until the guard: a watcher was left");
	health_stop(&h); /* twice is fine */
	ev_ref(r.loop);
	ev_timer_stop(r.loop, &r.guard);
	ev_loop_destroy(r.loop);
}
END_TEST

START_TEST(test_refused_connects_back_off)
{
	/* nothing listens for 1 s: a fixed 4 ms loop made ~500 connects, the backoff (5 ms
	 * doubling to 100 ms, per family) about 30 */
	int port;
	int lfd = listen_loopback(&port);
	close(lfd);
	result_t r;
	health_t h;
	result_loop(&r);
	health_start(&h, r.loop, port, "/", 1000, on_health, &r);
	ev_run(r.loop, 0);
	ck_assert_int_eq(r.reason, REASON_HEALTH_CHECK_TIMEOUT);
	ck_assert_msg(h.attempts <= 40, "%u connects in 1 s", h.attempts);
	ck_assert_msg(h.attempts >= 10, "%u connects in 1 s: is it polling at all?", h.attempts);
	ev_loop_destroy(r.loop);
}
END_TEST

static void on_probe_lo2(struct ev_loop *loop, ev_timer *w, int revents)
{
	health_t *h = w->data;
	struct sockaddr_storage ss;
	struct sockaddr_in *a = (struct sockaddr_in *)&ss;
	(void)loop;
	(void)revents;
	memset(&ss, 0, sizeof(ss));
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(0x7f000002);
	a->sin_port = htons((uint16_t)h->port);
	health_probe_addr(h, &ss);
}

START_TEST(test_probe_where_bound)
{
	/* loopback is refused; told where it listens, the check goes there, and says so */
	int port;
	int lfd = listen_at(0x7f000002, &port);
	pid_t server = serve(lfd, "HTTP/1.1 200 OK\r\n\r\n", true, -1);
	close(lfd);
	result_t r;
	health_t h;
	ev_timer tell;
	result_loop(&r);
	health_start(&h, r.loop, port, "/", 5000, on_health, &r);
	health_set_poll(&h, 10., 10.); /* no help from the poll */
	ev_timer_init(&tell, on_probe_lo2, 0.05, 0.);
	tell.data = &h;
	ev_timer_start(r.loop, &tell);
	uint64_t t0 = clock_ms();
	ev_run(r.loop, 0);
	ck_assert_msg(r.healthy, "not healthy: %s", r.message);
	ck_assert_uint_lt(clock_ms() - t0, 2000);
	char url[96];
	const char *scheme;
	health_url(&h, url, sizeof(url), &scheme);
	char want[64];
	snprintf(want, sizeof(want), "http://127.0.0.2:%d", port);
	ck_assert_str_eq(url, want);
	ck_assert_str_eq(scheme, "http");
	ev_loop_destroy(r.loop);
	stop_server(server);
}
END_TEST

/* A TCP socket bound to 127.0.0.1, not listening yet. */
static int bound_loopback(int *port)
{
	return bound_at(INADDR_LOOPBACK, false, port);
}

static void notify_loopback(health_t *h)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *a = (struct sockaddr_in *)&ss;
	memset(&ss, 0, sizeof(ss));
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a->sin_port = htons((uint16_t)h->port);
	health_probe_addr(h, &ss);
}

typedef struct {
	ev_timer quiet, kick;
	health_t *h;
	unsigned at_quiet, at_kick;
} events_script_t;

static void on_quiet(struct ev_loop *loop, ev_timer *w, int revents)
{
	events_script_t *e = w->data;
	(void)loop;
	(void)revents;
	e->at_quiet = e->h->attempts;
}

static void on_kick(struct ev_loop *loop, ev_timer *w, int revents)
{
	events_script_t *e = w->data;
	(void)loop;
	(void)revents;
	e->at_kick = e->h->attempts;
	health_kick(e->h);
}

/* An event-driven check of port on a new loop, with two scripted timers (set by the caller),
 * run until it ends. */
static void run_events(result_t *r, health_t *h, int port, uint64_t timeout_ms, ev_timer *first,
		       ev_timer *second)
{
	result_loop(r);
	health_start(h, r->loop, port, "/", timeout_ms, on_health, r);
	health_set_events(h);
	ev_timer_start(r->loop, first);
	ev_timer_start(r->loop, second);
	ev_run(r->loop, 0);
}

START_TEST(test_events_never_poll)
{
	/* With the listen trap: after the first connect to each loopback address (a foreign
	 * server already on the port is seen at once), not one more until something says the
	 * server listens; a line of output makes one connect per idle probe. */
	int port;
	int fd = bound_loopback(&port);
	result_t r;
	health_t h;
	events_script_t e = {.h = &h};
	ev_timer_init(&e.quiet, on_quiet, 0.3, 0.);
	ev_timer_init(&e.kick, on_kick, 0.9, 0.);
	e.quiet.data = e.kick.data = &e;
	run_events(&r, &h, port, 1200, &e.quiet, &e.kick);
	ck_assert_int_eq(r.reason, REASON_HEALTH_CHECK_TIMEOUT);
	ck_assert_msg(e.at_quiet == 2, "%u connects before anything said it listens", e.at_quiet);
	ck_assert_msg(e.at_kick == 2, "%u connects before the kick", e.at_kick);
	ck_assert_msg(h.attempts >= e.at_kick + 1 && h.attempts <= e.at_kick + 2,
		      "a kick made %u connects", h.attempts - e.at_kick);
	ev_loop_destroy(r.loop);
	close(fd);
}
END_TEST

typedef struct {
	ev_timer notify, listen;
	health_t *h;
	int fd;
	pid_t server;
} late_listen_t;

static void on_late_notify(struct ev_loop *loop, ev_timer *w, int revents)
{
	late_listen_t *l = w->data;
	(void)loop;
	(void)revents;
	notify_loopback(l->h);
}

static void on_late_listen(struct ev_loop *loop, ev_timer *w, int revents)
{
	late_listen_t *l = w->data;
	(void)loop;
	(void)revents;
	ck_assert_int_eq(listen(l->fd, 16), 0);
	l->server = serve(l->fd, "HTTP/1.1 200 OK\r\n\r\n", true, -1);
}

START_TEST(test_events_notified_listen_runs_late)
{
	/* the notification comes before listen() has run (the trap answers "continue" first),
	 * and a loaded machine may not run the server again for a while (here 600 ms): the
	 * refused connects after it are retried until it has */
	int port;
	result_t r;
	health_t h;
	late_listen_t l = {.h = &h, .fd = bound_loopback(&port)};
	ev_timer_init(&l.notify, on_late_notify, 0.05, 0.);
	ev_timer_init(&l.listen, on_late_listen, 0.65, 0.);
	l.notify.data = l.listen.data = &l;
	uint64_t t0 = clock_ms();
	run_events(&r, &h, port, 5000, &l.notify, &l.listen);
	ck_assert_msg(r.healthy, "not healthy: %s", r.message);
	/* retried 1 ms doubling: at most ~0.5 s after the listen */
	ck_assert_uint_lt(clock_ms() - t0, 1500);
	ck_assert_msg(h.attempts <= 2 + 14, "%u connects", h.attempts);
	ev_loop_destroy(r.loop);
	stop_server(l.server);
	close(l.fd);
}
END_TEST

START_TEST(test_expect)
{
	health_expect_t e;
	health_expect_parse(&e, NULL, NULL, 0);
	ck_assert(health_expect_accepts(&e, 500)); /* any: the default */
	ck_assert(health_expect_accepts(&e, 101));
	health_expect_parse(&e, "2xx-3xx", NULL, 0);
	ck_assert(health_expect_accepts(&e, 200));
	ck_assert(health_expect_accepts(&e, 399));
	ck_assert(!health_expect_accepts(&e, 199));
	ck_assert(!health_expect_accepts(&e, 404));
	ck_assert(!health_expect_accepts(&e, 500));
	const int codes[] = {204, 503};
	health_expect_parse(&e, NULL, codes, 2);
	ck_assert(health_expect_accepts(&e, 503));
	ck_assert(health_expect_accepts(&e, 204));
	ck_assert(!health_expect_accepts(&e, 200));
	ck_assert(!health_expect_accepts(&e, 999));
}
END_TEST

Suite *health_suite(void)
{
	Suite *s = suite_create("health");
	TCase *tc = tcase_create("status_line");
	tcase_add_test(tc, test_status_line);
	tcase_add_test(tc, test_expect);
	suite_add_tcase(s, tc);

	tc = tcase_create("loop");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_healthy_server);
	tcase_add_test(tc, test_error_status_is_still_ready);
	tcase_add_test(tc, test_nothing_listening_times_out);
	tcase_add_test(tc, test_not_http_fails);
	tcase_add_test(tc, test_silent_server_times_out);
	tcase_add_test(tc, test_stop_before_answer);
	tcase_add_test(tc, test_refused_connects_back_off);
	tcase_add_test(tc, test_probe_where_bound);
	tcase_add_test(tc, test_events_never_poll);
	tcase_add_test(tc, test_events_notified_listen_runs_late);
	suite_add_tcase(s, tc);
	return s;
}
