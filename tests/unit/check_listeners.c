#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/listeners.h"
#include "tests/unit/suites.h"

/* A listening socket of ours on 127.0.0.1 (or ::1): its port. */
static int listen_on(int family, int *fd)
{
	struct sockaddr_storage ss = {0};
	socklen_t sl;
	*fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(*fd, 0);
	if (family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sl = sizeof(*a);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		sl = sizeof(*a);
	}
	ck_assert_int_eq(bind(*fd, (struct sockaddr *)&ss, sl), 0);
	ck_assert_int_eq(listen(*fd, 1), 0);
	ck_assert_int_eq(getsockname(*fd, (struct sockaddr *)&ss, &sl), 0);
	return ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
				       : ((struct sockaddr_in6 *)&ss)->sin6_port);
}

START_TEST(test_port_listened)
{
	/* the cheap question asked before a walk of the tree: anyone listening on the port? */
	int fd6;
	int port = listen_on(AF_INET6, &fd6);
	ck_assert(listeners_port_listened(port));
	close(fd6);
	ck_assert(!listeners_port_listened(port));
	/* bound but not listening yet: not a listener */
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	ck_assert(!listeners_port_listened(ntohs(a.sin_port)));
	ck_assert_int_eq(listen(fd, 1), 0);
	ck_assert(listeners_port_listened(ntohs(a.sin_port)));
	close(fd);
}
END_TEST

START_TEST(test_own_listener_found)
{
	int fd4, fd6;
	int p4 = listen_on(AF_INET, &fd4), p6 = listen_on(AF_INET6, &fd6);
	ck_assert(listeners_tree_owns(getpid(), p4));
	ck_assert(listeners_tree_owns(getpid(), p6));
	int ports[8];
	size_t n = listeners_of_tree(getpid(), ports, 8);
	bool seen4 = false, seen6 = false;
	for (size_t i = 0; i < n; i++) {
		seen4 = seen4 || ports[i] == p4;
		seen6 = seen6 || ports[i] == p6;
	}
	ck_assert(seen4 && seen6);
	close(fd4);
	close(fd6);
	/* closed: no longer ours */
	ck_assert(!listeners_tree_owns(getpid(), p4));
}
END_TEST

/* A listener of a child counts for the tree; the same socket is not the parent's own. */
START_TEST(test_child_listener_counts_for_the_tree)
{
	int fds[2];
	ck_assert_int_eq(pipe(fds), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int fd;
		int port = listen_on(AF_INET, &fd);
		(void)!write(fds[1], &port, sizeof(port));
		pause();
		_exit(0);
	}
	int port = 0;
	ck_assert_int_eq(read(fds[0], &port, sizeof(port)), (ssize_t)sizeof(port));
	ck_assert(listeners_tree_owns(getpid(), port));
	/* a foreign listener (the child seen from a process that is not its ancestor) */
	char desc[128];
	ck_assert_int_eq(listeners_owner(port, desc, sizeof(desc)), pid);
	kill(pid, SIGKILL);
	int status;
	waitpid(pid, &status, 0);
	ck_assert(!listeners_tree_owns(getpid(), port));
}
END_TEST

Suite *listeners_suite(void)
{
	Suite *s = suite_create("listeners");
	TCase *tc = tcase_create("ownership");
	tcase_add_test(tc, test_own_listener_found);
	tcase_add_test(tc, test_port_listened);
	tcase_add_test(tc, test_child_listener_counts_for_the_tree);
	suite_add_tcase(s, tc);
	return s;
}
