/* The runner lock and the state directory it lives in (see runner_lock.h). */
#include "supervisor/runner_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"

static struct {
	int fd;
	char path[PATH_MAX];
} lk = {.fd = -1};

static void default_state_dir(char *dir, size_t n)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	struct stat st;
	/* only our own runtime dir: after su or sudo it may still name the other user's */
	if (xdg && xdg[0] == '/' && stat(xdg, &st) == 0 && st.st_uid == geteuid())
		snprintf(dir, n, "%s/devsup", xdg);
	else if (geteuid() == 0)
		snprintf(dir, n, "/run/devsup");
	else
		snprintf(dir, n, "/tmp/devsup-%u", (unsigned)geteuid());
}

bool runner_lock_state_dir(const char *wanted, char *dir, size_t n, char *err, size_t errlen)
{
	struct stat st;
	if (wanted)
		snprintf(dir, n, "%s", wanted);
	else
		default_state_dir(dir, n);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create the state directory %s: %s (pass --state-dir "
				      "DIR, a directory of your own)",
			 dir, strerror(errno));
		return false;
	}
	/* lstat: in a shared /tmp, a symlink someone else planted must not redirect our locks */
	if (lstat(dir, &st) < 0) {
		snprintf(err, errlen, "state directory %s: %s", dir, strerror(errno));
		return false;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "state directory %s is not a directory (pass --state-dir DIR)",
			 dir);
		return false;
	}
	/* Another user who owns it, or may write to it, could hold our runner id's lock or our
	 * ports' reservations, or swap the files under us. */
	if (st.st_uid != geteuid()) {
		snprintf(err, errlen, "state directory %s belongs to uid %u, not to this user (uid %u); "
				      "pass --state-dir DIR, a directory of your own",
			 dir, (unsigned)st.st_uid, (unsigned)geteuid());
		return false;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(err, errlen, "state directory %s is writable by others (mode %03o); "
				      "chmod go-w it, or pass --state-dir DIR",
			 dir, (unsigned)(st.st_mode & 0777));
		return false;
	}
	return true;
}

/* The pid a holder wrote into its lock file; 0 if it has not written it yet. */
static pid_t read_holder(const char *path)
{
	char buf[32];
	ssize_t r;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return 0;
	do
		r = pread(fd, buf, sizeof(buf) - 1, 0);
	while (r < 0 && errno == EINTR);
	close(fd);
	if (r <= 0)
		return 0;
	buf[r] = '\0';
	long pid = strtol(buf, NULL, 10);
	return pid > 0 && pid <= INT_MAX ? (pid_t)pid : 0;
}

int runner_lock_file(const char *path)
{
	/* O_NOFOLLOW: a symlink planted in the directory must not make us lock (and write to)
	 * some other file */
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -1;
	int r;
	do
		r = flock(fd, LOCK_EX | LOCK_NB);
	while (r < 0 && errno == EINTR);
	if (r < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

runner_lock_result_t runner_lock_take(const char *dir, const char *id, pid_t *holder, char *err,
				      size_t errlen)
{
	*holder = 0;
	snprintf(lk.path, sizeof(lk.path), "%s/%s.lock", dir, id);
	int fd = runner_lock_file(lk.path);
	if (fd < 0 && errno == EWOULDBLOCK) {
		*holder = read_holder(lk.path);
		return RUNNER_LOCK_IN_USE;
	}
	if (fd < 0) {
		snprintf(err, errlen, "cannot take the runner lock %s: %s", lk.path, strerror(errno));
		return RUNNER_LOCK_ERROR;
	}
	/* Ours: say who holds it, so a refused devsup can name us. */
	char pid[24];
	int len = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)len, 0) != len)
		log_warn("runner lock %s: cannot write our pid: %s (the lock holds all the same)",
			 lk.path, strerror(errno));
	runner_lock_release();
	lk.fd = fd;
	return RUNNER_LOCK_HELD;
}

const char *runner_lock_path(void)
{
	return lk.path;
}

void runner_lock_release(void)
{
	if (lk.fd >= 0)
		close(lk.fd);
	lk.fd = -1;
}
