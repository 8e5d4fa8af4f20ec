#include "common/cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Reads a small file whole into buf (NUL-terminated): its length, or -1 with errno. */
static ssize_t read_small(const char *path, char *buf, size_t n)
{
	ssize_t got = file_read_small(path, buf, n - 1);
	if (got >= 0)
		buf[got] = '\0';
	return got;
}

/* The mount point of the cgroup2 filesystem, from /proc/self/mountinfo (never assumed: it is
 * /sys/fs/cgroup on a modern host, /sys/fs/cgroup/unified on a hybrid one). */
static bool cgroup_mount(char *buf, size_t n)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return false;
	char line[4096];
	bool found = false;
	while (!found && fgets(line, sizeof(line), f)) {
		/* id parent major:minor root mountpoint options... - fstype source superoptions */
		char *sep = strstr(line, " - ");
		char mnt[1024];
		if (!sep || strncmp(sep + 3, "cgroup2 ", 8) != 0)
			continue;
		if (sscanf(line, "%*s %*s %*s %*s %1023s", mnt) == 1 && strlen(mnt) < n) {
			strcpy(buf, mnt);
			found = true;
		}
	}
	fclose(f);
	return found;
}

bool cgroup_self_dir(char *buf, size_t n)
{
	char mnt[1024], self[4096];
	if (!cgroup_mount(mnt, sizeof(mnt))) {
		errno = ENOENT;
		return false;
	}
	if (read_small("/proc/self/cgroup", self, sizeof(self)) < 0)
		return false;
	/* the unified hierarchy's line is "0::/path" */
	const char *line = strncmp(self, "0::", 3) == 0 ? self : strstr(self, "\n0::");
	if (!line) {
		errno = ENOENT;
		return false;
	}
	line += line[0] == '\n' ? 4 : 3;
	size_t len = strcspn(line, "\n");
	if (len == 1 && line[0] == '/')
		len = 0; /* the root: the mount point itself */
	if ((size_t)snprintf(buf, n, "%s%.*s", mnt, (int)len, line) >= n) {
		errno = ENAMETOOLONG;
		return false;
	}
	return true;
}

static bool path_join(char *out, size_t n, const char *dir, const char *name)
{
	if ((size_t)snprintf(out, n, "%s/%s", dir, name) >= n) {
		errno = ENAMETOOLONG;
		return false;
	}
	return true;
}

int cgroup_write(const char *dir, const char *file, const char *value)
{
	char path[4200];
	if (!path_join(path, sizeof(path), dir, file))
		return -1;
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t w = fd_write(fd, value, strlen(value));
	int e = errno;
	close(fd);
	errno = e;
	return w == (ssize_t)strlen(value) ? 0 : -1;
}

/* The runner's directory name, devsup.<runner-id> (a runner id may hold characters a directory
 * name should not). */
static void runner_name(const char *runner_id, char *name, size_t n)
{
	size_t len = (size_t)snprintf(name, n, "devsup.");
	for (const char *c = runner_id; *c && len + 1 < n; c++)
		name[len++] = *c == '/' || *c == '\n' ? '_' : *c;
	name[len] = '\0';
}

bool cgroup_runner_path(const char *runner_id, char *out, size_t n)
{
	char self[4096], name[160];
	if (!cgroup_self_dir(self, sizeof(self)))
		return false;
	runner_name(runner_id, name, sizeof(name));
	return path_join(out, n, self, name);
}

bool cgroup_runner_dir(const char *runner_id, char *out, size_t n, char *err, size_t errlen)
{
	char self[4096], name[160];
	if (!cgroup_self_dir(self, sizeof(self))) {
		snprintf(err, errlen, "no cgroup v2 (unified) hierarchy for this process: %s",
			 strerror(errno));
		return false;
	}
	runner_name(runner_id, name, sizeof(name));
	/* Moving a process between groups needs write access to cgroup.procs of their common
	 * ancestor: our own group. Without delegation it belongs to root. */
	char procs[4200];
	if (!path_join(procs, sizeof(procs), self, "cgroup.procs") || access(procs, W_OK) < 0) {
		snprintf(err, errlen, "%s/cgroup.procs is not writable (%s): run as root or in a "
				      "delegated cgroup (systemd Delegate=yes)",
			 self, strerror(errno));
		return false;
	}
	if (cgroup_create(self, name, out, n) < 0) {
		snprintf(err, errlen, "cannot create the cgroup %s/%s: %s", self, name,
			 strerror(errno));
		return false;
	}
	/* Best effort: the memory controller for memory.max. Refused (EBUSY) when our own group
	 * holds processes and is not the root; memory limits then fall back to sampling RSS. */
	(void)!cgroup_write(self, "cgroup.subtree_control", "+memory");
	(void)!cgroup_write(out, "cgroup.subtree_control", "+memory");
	return true;
}

int cgroup_create(const char *parent, const char *name, char *out, size_t n)
{
	if (!path_join(out, n, parent, name))
		return -1;
	if (mkdir(out, 0755) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

int cgroup_remove(const char *dir)
{
	return rmdir(dir);
}

int cgroup_open_procs(const char *dir)
{
	char path[4200];
	if (!path_join(path, sizeof(path), dir, "cgroup.procs"))
		return -1;
	return open(path, O_WRONLY | O_CLOEXEC);
}

int cgroup_kill(const char *dir)
{
	return cgroup_write(dir, "cgroup.kill", "1");
}

int cgroup_populated(const char *dir)
{
	uint64_t v;
	if (cgroup_read_u64(dir, "cgroup.events", "populated", &v) < 0)
		return -1;
	return v != 0;
}

size_t cgroup_pids(const char *dir, pid_t **out)
{
	char path[4200];
	size_t n = 0, cap = 0;
	*out = NULL;
	if (!path_join(path, sizeof(path), dir, "cgroup.procs"))
		return 0;
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	long pid;
	while (fscanf(f, "%ld", &pid) == 1) {
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			*out = xrealloc(*out, cap * sizeof(**out));
		}
		(*out)[n++] = (pid_t)pid;
	}
	fclose(f);
	return n;
}

int cgroup_read_u64(const char *dir, const char *file, const char *key, uint64_t *out)
{
	char path[4200], buf[4096];
	if (!path_join(path, sizeof(path), dir, file) || read_small(path, buf, sizeof(buf)) < 0)
		return -1;
	const char *at = buf;
	if (key) {
		size_t klen = strlen(key);
		for (at = buf; at; at = strchr(at, '\n'), at = at ? at + 1 : NULL)
			if (strncmp(at, key, klen) == 0 && at[klen] == ' ')
				break;
		if (!at) {
			errno = ENOENT;
			return -1;
		}
		at += klen + 1;
	}
	char *end;
	errno = 0;
	unsigned long long v = strtoull(at, &end, 10);
	if (end == at || errno) {
		errno = EINVAL;
		return -1;
	}
	*out = v;
	return 0;
}

bool cgroup_has_memory(const char *dir)
{
	char path[4200];
	return path_join(path, sizeof(path), dir, "memory.max") && access(path, W_OK) == 0;
}
