/* proc: reading /proc, finding a process tree, signalling only the process meant. */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/proc.h"
#include "tests/unit/suites.h"

/* In a forked child: dies with its parent (so a failed test leaves nothing behind) and after
 * a minute at the latest. */
static void child_leash(pid_t parent, bool with_parent)
{
	if (with_parent) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(0);
	}
	alarm(60);
}

/* Forks a child that waits to be killed. */
static pid_t spawn_pauser(void)
{
	pid_t self = getpid();
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		child_leash(self, true);
		for (;;)
			pause();
	}
	return pid;
}

static void write_pid(int fd, pid_t pid)
{
	if (write(fd, &pid, sizeof(pid)) != (ssize_t)sizeof(pid))
		_exit(1);
}

static pid_t read_pid(int fd)
{
	pid_t pid = 0;
	ck_assert_int_eq(read(fd, &pid, sizeof(pid)), (ssize_t)sizeof(pid));
	ck_assert_int_gt(pid, 0);
	return pid;
}

static void kill_and_reap(pid_t pid)
{
	int status;
	kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
}

static bool contains(const proc_info_t *list, size_t n, pid_t pid)
{
	for (size_t i = 0; i < n; i++)
		if (list[i].pid == pid)
			return true;
	return false;
}

/* A test, outside any event loop: "it was not signalled" can only be seen by waiting a while
 * and finding the process still there; there is no event for a signal that never came. */
static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* True when pid (our child) is still running after ms milliseconds. */
static bool still_alive_after(pid_t pid, long ms)
{
	int status;
	for (long waited = 0; waited < ms; waited += 10) {
		if (waitpid(pid, &status, WNOHANG) != 0)
			return false;
		sleep_ms(10);
	}
	return waitpid(pid, &status, WNOHANG) == 0;
}

/* --- proc_read ------------------------------------------------------------------------- */

START_TEST(test_read_self)
{
	proc_info_t me;
	ck_assert_int_eq(proc_read(getpid(), &me), 0);
	ck_assert_int_eq(me.pid, getpid());
	ck_assert_int_eq(me.ppid, getppid());
	ck_assert_int_eq(me.pgid, getpgrp());
	ck_assert_int_eq(me.sid, getsid(0));
	ck_assert_int_eq(me.state, 'R');
	ck_assert_uint_gt(me.start, 0);
	ck_assert_uint_gt(strlen(me.comm), 0);
}
END_TEST

START_TEST(test_read_child_and_gone)
{
	pid_t pid = spawn_pauser();
	proc_info_t a, b;
	ck_assert_int_eq(proc_read(pid, &a), 0);
	ck_assert_int_eq(a.ppid, getpid());
	ck_assert_int_eq(proc_read(pid, &b), 0);
	ck_assert_uint_eq(a.start, b.start); /* the same process reads the same start time */
	kill_and_reap(pid);
	errno = 0;
	ck_assert_int_eq(proc_read(pid, &a), -1);
	ck_assert(errno == ENOENT || errno == ESRCH);
}
END_TEST

/* --- proc_descendants ------------------------------------------------------------------ */

START_TEST(test_descendants_child_and_grandchild)
{
	pid_t self = getpid();
	int fds[2];
	ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
	pid_t child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		child_leash(self, true);
		pid_t me = getpid();
		pid_t grandchild = fork();
		if (grandchild < 0)
			_exit(1);
		if (grandchild == 0) {
			child_leash(me, true);
			for (;;)
				pause();
		}
		write_pid(fds[1], grandchild);
		for (;;)
			pause();
	}
	close(fds[1]);
	pid_t grandchild = read_pid(fds[0]);
	close(fds[0]);

	/* an unrelated process: a double-forked orphan, no longer below us */
	ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
	pid_t middle = fork();
	ck_assert_int_ge(middle, 0);
	if (middle == 0) {
		pid_t orphan = fork();
		if (orphan == 0) {
			child_leash(0, false);
			for (;;)
				pause();
		}
		write_pid(fds[1], orphan);
		_exit(0);
	}
	close(fds[1]);
	pid_t orphan = read_pid(fds[0]);
	close(fds[0]);
	int status;
	ck_assert_int_eq(waitpid(middle, &status, 0), middle);

	proc_info_t *list;
	size_t n = proc_descendants(self, &list);
	ck_assert_uint_ge(n, 2);
	ck_assert_ptr_nonnull(list);
	ck_assert(contains(list, n, child));
	ck_assert(contains(list, n, grandchild));
	ck_assert(!contains(list, n, self));
	ck_assert(!contains(list, n, getppid()));
	ck_assert(!contains(list, n, 1));
	ck_assert(!contains(list, n, orphan));
	ck_assert(!contains(list, n, middle));
	/* every one found really is below us */
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(list[i].ppid == self || contains(list, n, list[i].ppid),
			      "pid %d (ppid %d) is not below %d", (int)list[i].pid,
			      (int)list[i].ppid, (int)self);
	for (size_t i = 0; i < n; i++)
		if (list[i].pid == grandchild)
			ck_assert_int_eq(list[i].ppid, child);
	/* the kernel's children lists and the full scan of /proc agree */
	proc_info_t *scan;
	size_t m = proc_descendants_scan(self, &scan);
	ck_assert_uint_eq(m, n);
	for (size_t i = 0; i < n; i++)
		ck_assert(contains(scan, m, list[i].pid));
	free(scan);
	free(list);

	kill(orphan, SIGKILL);
	kill(grandchild, SIGKILL);
	kill_and_reap(child);
}
END_TEST

START_TEST(test_descendants_none)
{
	proc_info_t *list = (proc_info_t *)&list; /* must be overwritten */
	pid_t pid = spawn_pauser();
	kill_and_reap(pid);
	ck_assert_uint_eq(proc_descendants(getpid(), &list), 0);
	ck_assert_ptr_null(list);
}
END_TEST

START_TEST(test_descendants_include_zombies)
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(0);
	/* wait until it is a zombie, without reaping it */
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	ck_assert_int_eq(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT), 0);
	proc_info_t *list;
	size_t n = proc_descendants(getpid(), &list);
	ck_assert(contains(list, n, pid));
	free(list);
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
}
END_TEST

typedef struct {
	pid_t pid;
	int forked[2]; /* the thread says it forked */
	int go[2];     /* the test lets it exit */
} thread_fork_t;

static void *fork_from_thread(void *arg)
{
	thread_fork_t *tf = arg;
	char c = 0;
	tf->pid = fork();
	if (tf->pid == 0) {
		for (;;)
			pause();
	}
	(void)!write(tf->forked[1], &c, 1);
	(void)!read(tf->go[0], &c, 1); /* stay alive while the test looks */
	return NULL;
}

/* A child forked by another thread is in that thread's children list, not the main one's. */
START_TEST(test_descendants_forked_by_thread)
{
	thread_fork_t tf = {.pid = -1};
	char c = 0;
	pthread_t t;
	ck_assert_int_eq(pipe2(tf.forked, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(tf.go, O_CLOEXEC), 0);
	ck_assert_int_eq(pthread_create(&t, NULL, fork_from_thread, &tf), 0);
	ck_assert_int_eq(read(tf.forked[0], &c, 1), 1);
	ck_assert_int_gt(tf.pid, 0);
	proc_info_t *list;
	size_t n = proc_descendants(getpid(), &list);
	ck_assert(contains(list, n, tf.pid));
	free(list);
	ck_assert_int_eq(write(tf.go[1], &c, 1), 1);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	kill_and_reap(tf.pid);
}
END_TEST

/* --- proc_signal ----------------------------------------------------------------------- */

START_TEST(test_signal_wrong_start_time_refused)
{
	pid_t pid = spawn_pauser();
	proc_info_t info;
	ck_assert_int_eq(proc_read(pid, &info), 0);
	proc_info_t stale = info;
	stale.start = info.start + 1; /* what a re-used pid looks like */
	errno = 0;
	ck_assert_int_eq(proc_signal(&stale, SIGKILL), -1);
	ck_assert_int_eq(errno, ESRCH);
	ck_assert_msg(still_alive_after(pid, 200), "the process was signalled");

	ck_assert_int_eq(proc_signal(&info, SIGKILL), 0);
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFSIGNALED(status));
	ck_assert_int_eq(WTERMSIG(status), SIGKILL);
}
END_TEST

START_TEST(test_signal_gone_process)
{
	pid_t pid = spawn_pauser();
	proc_info_t info;
	ck_assert_int_eq(proc_read(pid, &info), 0);
	kill_and_reap(pid);
	errno = 0;
	ck_assert_int_eq(proc_signal(&info, SIGTERM), -1);
	ck_assert_int_eq(errno, ESRCH);
}
END_TEST

/* --- proc_environ_has ------------------------------------------------------------------ */

/* Execs /bin/sleep with envp; returns once the exec happened. */
static pid_t spawn_with_env(char *const envp[])
{
	pid_t self = getpid();
	int fds[2];
	ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		child_leash(self, true);
		execle("/bin/sleep", "sleep", "30", (char *)NULL, envp);
		int e = errno;
		(void)!write(fds[1], &e, sizeof(e));
		_exit(127);
	}
	close(fds[1]);
	int e = 0;
	ssize_t r = read(fds[0], &e, sizeof(e)); /* EOF: the close-on-exec end went at exec */
	close(fds[0]);
	ck_assert_msg(r == 0, "exec /bin/sleep failed: %s", strerror(e));
	return pid;
}

START_TEST(test_environ_has)
{
	char *const envp[] = {"DEVSUP_KEY=VALUE", "OTHER=1", "EMPTY=", NULL};
	pid_t pid = spawn_with_env(envp);
	ck_assert(proc_environ_has(pid, "DEVSUP_KEY=VALUE"));
	ck_assert(proc_environ_has(pid, "OTHER=1"));
	ck_assert(proc_environ_has(pid, "EMPTY="));
	ck_assert(!proc_environ_has(pid, "DEVSUP_KEY=VALU"));
	ck_assert(!proc_environ_has(pid, "EVSUP_KEY=VALUE"));
	ck_assert(!proc_environ_has(pid, "DEVSUP_KEY=VALUEX"));
	ck_assert(!proc_environ_has(pid, "DEVSUP_KEY"));
	ck_assert(!proc_environ_has(pid, "PATH=/usr/bin:/bin")); /* not inherited from us */
	kill_and_reap(pid);
	ck_assert(!proc_environ_has(pid, "DEVSUP_KEY=VALUE")); /* gone */
}
END_TEST

START_TEST(test_environ_long_entries)
{
	/* An entry longer than the reader's 8 KiB block, whose last bytes look like an entry of
	 * their own, then entries after it. */
	size_t biglen = 20000;
	char *big = malloc(biglen + 1);
	ck_assert_ptr_nonnull(big);
	memcpy(big, "BIG=", 4);
	memset(big + 4, 'x', biglen - 4);
	memcpy(big + biglen - 6, "TAIL=1", 6);
	big[biglen] = '\0';
	char *fake = malloc(8192 + 7);
	ck_assert_ptr_nonnull(fake);
	memcpy(fake, "PAD=", 4);
	memset(fake + 4, 'y', 8192 - 4);
	memcpy(fake + 8192, "TAIL=2", 7); /* its bytes past the first 8 KiB read "TAIL=2" */
	char *const envp[] = {big, fake, "AFTER=1", NULL};
	pid_t pid = spawn_with_env(envp);
	ck_assert(proc_environ_has(pid, "AFTER=1"));
	ck_assert(!proc_environ_has(pid, "TAIL=1"));
	ck_assert(!proc_environ_has(pid, "TAIL=2"));
	kill_and_reap(pid);
	free(big);
	free(fake);
}
END_TEST

Suite *proc_suite(void)
{
	Suite *s = suite_create("proc");
	TCase *tc = tcase_create("read");
	tcase_add_test(tc, test_read_self);
	tcase_add_test(tc, test_read_child_and_gone);
	suite_add_tcase(s, tc);

	tc = tcase_create("descendants");
	tcase_add_test(tc, test_descendants_child_and_grandchild);
	tcase_add_test(tc, test_descendants_none);
	tcase_add_test(tc, test_descendants_forked_by_thread);
	tcase_add_test(tc, test_descendants_include_zombies);
	suite_add_tcase(s, tc);

	tc = tcase_create("signal");
	tcase_add_test(tc, test_signal_wrong_start_time_refused);
	tcase_add_test(tc, test_signal_gone_process);
	suite_add_tcase(s, tc);

	tc = tcase_create("environ");
	tcase_add_test(tc, test_environ_has);
	tcase_add_test(tc, test_environ_long_entries);
	suite_add_tcase(s, tc);
	return s;
}
