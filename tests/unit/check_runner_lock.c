/* runner_lock: the state directory's checks and one holder per runner id (SPEC §1). */
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "supervisor/runner_lock.h"
#include "tests/unit/suites.h"

static char base[PATH_MAX];

static void make_base(void)
{
	snprintf(base, sizeof(base), "/tmp/devsup-unit-lock-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(base));
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Each test leaves nothing in /tmp (checked fixture: runs after the test, in its process). */
static void remove_base(void)
{
	if (base[0])
		nftw(base, remove_one, 8, FTW_DEPTH | FTW_PHYS);
	base[0] = '\0';
}

START_TEST(test_state_dir_created_private)
{
	char want[PATH_MAX + 8], dir[PATH_MAX], err[PATH_MAX + 256];
	struct stat st;
	make_base();
	snprintf(want, sizeof(want), "%s/state", base);
	ck_assert_msg(runner_lock_state_dir(want, dir, sizeof(dir), err, sizeof(err)), "%s", err);
	ck_assert_str_eq(dir, want);
	ck_assert_int_eq(stat(dir, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert_int_eq(st.st_mode & 077, 0);
	/* again: it exists, it is ours */
	ck_assert(runner_lock_state_dir(want, dir, sizeof(dir), err, sizeof(err)));
}
END_TEST

START_TEST(test_state_dir_refused)
{
	char want[PATH_MAX + 8], dir[PATH_MAX], err[PATH_MAX + 256];
	make_base();
	ck_assert_int_eq(chmod(base, 0777), 0);
	ck_assert(!runner_lock_state_dir(base, dir, sizeof(dir), err, sizeof(err)));
	ck_assert_msg(strstr(err, "writable by others") && strstr(err, base), "%s", err);
	ck_assert_int_eq(chmod(base, 0700), 0);
	snprintf(want, sizeof(want), "%s/file", base);
	int fd = open(want, O_CREAT | O_WRONLY, 0600);
	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert(!runner_lock_state_dir(want, dir, sizeof(dir), err, sizeof(err)));
	ck_assert_msg(strstr(err, "not a directory"), "%s", err);
	snprintf(want, sizeof(want), "%s/link", base);
	ck_assert_int_eq(symlink(base, want), 0);
	ck_assert(!runner_lock_state_dir(want, dir, sizeof(dir), err, sizeof(err)));
	ck_assert_msg(strstr(err, "not a directory"), "%s", err); /* a symlink is not followed */
}
END_TEST

START_TEST(test_one_holder)
{
	char err[PATH_MAX + 256], path[PATH_MAX + 32], buf[32] = "";
	pid_t holder = -1;
	make_base();
	ck_assert_int_eq(runner_lock_take(base, "r1", &holder, err, sizeof(err)), RUNNER_LOCK_HELD);
	snprintf(path, sizeof(path), "%s/r1.lock", base);
	ck_assert_str_eq(runner_lock_path(), path);
	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(buf, sizeof(buf), f));
	fclose(f);
	ck_assert_int_eq(atoi(buf), getpid());
	/* The holder is a live devsup: a child (another open of the file) is refused and told
	 * who holds it; another runner id is free. */
	pid_t child = fork();
	if (child == 0) {
		char e[PATH_MAX + 256];
		pid_t h = 0;
		runner_lock_result_t r = runner_lock_take(base, "r1", &h, e, sizeof(e));
		if (r != RUNNER_LOCK_IN_USE || h != getppid())
			_exit(1);
		_exit(runner_lock_take(base, "r2", &h, e, sizeof(e)) == RUNNER_LOCK_HELD ? 0 : 2);
	}
	int status;
	ck_assert_int_eq(waitpid(child, &status, 0), child);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
	/* Released: free for the next one. */
	runner_lock_release();
	child = fork();
	if (child == 0) {
		char e[PATH_MAX + 256];
		pid_t h = 0;
		_exit(runner_lock_take(base, "r1", &h, e, sizeof(e)) == RUNNER_LOCK_HELD ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(child, &status, 0), child);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}
END_TEST

Suite *runner_lock_suite(void)
{
	Suite *s = suite_create("runner_lock");
	TCase *tc = tcase_create("runner_lock");
	tcase_add_checked_fixture(tc, NULL, remove_base);
	tcase_add_test(tc, test_state_dir_created_private);
	tcase_add_test(tc, test_state_dir_refused);
	tcase_add_test(tc, test_one_holder);
	suite_add_tcase(s, tc);
	return s;
}
