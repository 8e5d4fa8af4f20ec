#include "common/proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static int proc_read_file(const char *path, char *buf, size_t n, size_t *len)
{
	ssize_t got = file_read_small(path, buf, n);
	if (got < 0)
		return -1;
	*len = (size_t)got;
	return 0;
}

int proc_read(pid_t pid, proc_info_t *out)
{
	char path[64], buf[1024];
	size_t len;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (proc_read_file(path, buf, sizeof(buf) - 1, &len) < 0)
		return -1;
	buf[len] = '\0';
	/* comm may hold spaces and ')': the fields start after the last ')' */
	char *open_paren = strchr(buf, '(');
	char *close_paren = strrchr(buf, ')');
	if (!open_paren || !close_paren || close_paren < open_paren) {
		errno = EINVAL;
		return -1;
	}
	size_t clen = (size_t)(close_paren - open_paren - 1);
	if (clen >= sizeof(out->comm))
		clen = sizeof(out->comm) - 1;
	memcpy(out->comm, open_paren + 1, clen);
	out->comm[clen] = '\0';
	int ppid, pgid, sid;
	unsigned long long start, utime, stime;
	long long cutime, cstime;
	/* state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime
	 * cutime cstime priority nice num_threads itrealvalue starttime */
	if (sscanf(close_paren + 2,
		   "%c %d %d %d %*d %*d %*u %*u %*u %*u %*u %llu %llu %lld %lld %*d %*d %*d %*d %llu",
		   &out->state, &ppid, &pgid, &sid, &utime, &stime, &cutime, &cstime, &start) != 9) {
		errno = EINVAL;
		return -1;
	}
	out->pid = pid;
	out->ppid = ppid;
	out->pgid = pgid;
	out->sid = sid;
	out->start = start;
	out->cpu_ticks = utime + stime;
	out->child_ticks = (unsigned long long)(cutime > 0 ? cutime : 0) +
			   (unsigned long long)(cstime > 0 ? cstime : 0);
	return 0;
}

size_t proc_all(proc_info_t **out)
{
	DIR *d = opendir("/proc");
	size_t n = 0, cap = 0;
	*out = NULL;
	if (!d)
		return 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		if (*end || pid <= 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			*out = xrealloc(*out, cap * sizeof(**out));
		}
		if (proc_read((pid_t)pid, &(*out)[n]) == 0)
			n++;
	}
	closedir(d);
	return n;
}

/* Whether this kernel has /proc/PID/task/TID/children (CONFIG_PROC_CHILDREN): -1 not yet known. */
static int children_files = -1;

static bool children_supported(void)
{
	if (children_files < 0) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/self/task/%d/children", (int)gettid());
		children_files = access(path, R_OK) == 0;
	}
	return children_files == 1;
}

/* A pid read from a children file, with the parent whose file listed it. */
typedef struct {
	pid_t pid, parent;
} proc_edge_t;

static void push_edge(proc_edge_t **list, size_t *n, size_t *cap, pid_t pid, pid_t parent)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		*list = xrealloc(*list, *cap * sizeof(**list));
	}
	(*list)[(*n)++] = (proc_edge_t){pid, parent};
}

/* Appends to *list the children of every thread of pid, as the kernel lists them. */
static void proc_children(pid_t pid, proc_edge_t **list, size_t *n, size_t *cap)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return; /* gone: no children */
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char file[320], buf[4096];
		snprintf(file, sizeof(file), "/proc/%d/task/%s/children", (int)pid, e->d_name);
		int fd = open(file, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue; /* that thread has just exited */
		/* pids separated by spaces; a number may straddle two reads */
		long cur = -1;
		ssize_t r;
		while ((r = fd_read(fd, buf, sizeof(buf))) > 0) {
			for (ssize_t i = 0; i < r; i++) {
				if (buf[i] >= '0' && buf[i] <= '9') {
					cur = (cur < 0 ? 0 : cur * 10) + (buf[i] - '0');
					continue;
				}
				if (cur > 0)
					push_edge(list, n, cap, (pid_t)cur, pid);
				cur = -1;
			}
		}
		if (cur > 0)
			push_edge(list, n, cap, (pid_t)cur, pid);
		close(fd);
	}
	closedir(d);
}

/* Whether the process read as `info` is still the child its parent's children file listed.
 * Between that read and this one the child may have exited and been reaped, and its pid been
 * given to an unrelated process: that one has another parent. A child re-parented to root
 * (its parent died meanwhile; root is a subreaper) is still a descendant. */
bool proc_still_child(const proc_info_t *info, pid_t parent, pid_t root)
{
	return info->ppid == parent || info->ppid == root;
}

/* Descendants by walking down from root: O(tree), not O(processes on the machine). */
static size_t descendants_by_children(pid_t root, proc_info_t **out)
{
	proc_edge_t *queue = NULL;
	size_t nq = 0, capq = 0, found = 0, cap = 0;
	*out = NULL;
	proc_children(root, &queue, &nq, &capq);
	for (size_t i = 0; i < nq; i++) {
		proc_info_t info;
		if (proc_read(queue[i].pid, &info) < 0)
			continue; /* gone since: its children, if any, are re-parented to a subreaper */
		if (!proc_still_child(&info, queue[i].parent, root))
			continue; /* the pid was re-used meanwhile: not ours, never signal it */
		if (found == cap) {
			cap = cap ? cap * 2 : 32;
			*out = xrealloc(*out, cap * sizeof(**out));
		}
		(*out)[found++] = info;
		proc_children(queue[i].pid, &queue, &nq, &capq);
	}
	free(queue);
	return found;
}

size_t proc_descendants(pid_t root, proc_info_t **out)
{
	if (children_supported())
		return descendants_by_children(root, out);
	return proc_descendants_scan(root, out);
}

size_t proc_descendants_scan(pid_t root, proc_info_t **out)
{
	proc_info_t *all;
	size_t n = proc_all(&all);
	/* Partition `all` so that [0, found) are descendants: repeat passes that move a process
	 * in when its parent is root or already in. Trees are shallow; passes are few. */
	size_t found = 0;
	bool grew = true;
	while (grew) {
		grew = false;
		for (size_t i = found; i < n; i++) {
			bool in = all[i].ppid == root;
			for (size_t j = 0; !in && j < found; j++)
				in = all[j].pid == all[i].ppid;
			if (in) {
				proc_info_t t = all[found];
				all[found] = all[i];
				all[i] = t;
				found++;
				grew = true;
			}
		}
	}
	if (found == 0) {
		free(all);
		*out = NULL;
		return 0;
	}
	*out = all;
	return found;
}

static int pidfd_open_(pid_t pid)
{
#ifdef SYS_pidfd_open
	return (int)syscall(SYS_pidfd_open, pid, 0);
#else
	(void)pid;
	errno = ENOSYS;
	return -1;
#endif
}

int proc_pidfd(const proc_info_t *p)
{
	/* Open first, then check the start time: if they match, the pidfd holds the process we
	 * mean, and a pid re-used after this point cannot be hit. */
	int pfd = pidfd_open_(p->pid);
	if (pfd < 0)
		return -1;
	proc_info_t now;
	if (proc_read(p->pid, &now) < 0 || now.start != p->start) {
		close(pfd);
		errno = ESRCH;
		return -1;
	}
	return pfd;
}

int proc_pidfd_signal(int pidfd, int sig)
{
#ifdef SYS_pidfd_send_signal
	return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
#else
	(void)pidfd;
	(void)sig;
	errno = ENOSYS;
	return -1;
#endif
}

int proc_signal(const proc_info_t *p, int sig)
{
	int pfd = proc_pidfd(p);
	if (pfd >= 0) {
		int r = proc_pidfd_signal(pfd, sig);
		int e = errno;
		close(pfd);
		errno = e;
		if (r == 0 || errno != ENOSYS)
			return r;
	} else if (errno != ENOSYS) {
		return -1;
	}
	/* no pidfds on this kernel: check the start time, then kill (a tiny window remains) */
	proc_info_t now;
	if (proc_read(p->pid, &now) < 0 || now.start != p->start) {
		errno = ESRCH;
		return -1;
	}
	return kill(p->pid, sig);
}

/* Calls visit(ctx, entry, len) for each "KEY=VALUE" string of /proc/PID/environ until it
 * returns true; entries longer than the buffer are skipped. True if one did. */
static bool proc_environ_visit(pid_t pid, bool (*visit)(void *ctx, const char *e, size_t len),
			       void *ctx)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	/* Stream it in blocks, keeping the unfinished entry at the front of the buffer. */
	char buf[8192];
	size_t have = 0;
	bool found = false, skipping = false;
	while (!found) {
		ssize_t r = fd_read(fd, buf + have, sizeof(buf) - have);
		if (r <= 0)
			break;
		have += (size_t)r;
		size_t start = 0;
		for (;;) {
			char *nul = memchr(buf + start, '\0', have - start);
			if (!nul || found)
				break;
			size_t len = (size_t)(nul - (buf + start));
			if (!skipping)
				found = visit(ctx, buf + start, len);
			skipping = false;
			start += len + 1;
		}
		memmove(buf, buf + start, have - start);
		have -= start;
		if (have == sizeof(buf)) { /* an entry longer than the buffer: not ours */
			have = 0;
			skipping = true;
		}
	}
	close(fd);
	return found;
}

static bool environ_match(void *ctx, const char *e, size_t len)
{
	const char *entry = ctx;
	return len == strlen(entry) && memcmp(e, entry, len) == 0;
}

bool proc_environ_has(pid_t pid, const char *entry)
{
	return proc_environ_visit(pid, environ_match, (void *)entry);
}

typedef struct {
	const char *key;
	char *buf;
	size_t n;
} environ_get_t;

static bool environ_get(void *ctx, const char *e, size_t len)
{
	environ_get_t *g = ctx;
	size_t kl = strlen(g->key);
	if (len <= kl || memcmp(e, g->key, kl) != 0 || e[kl] != '=')
		return false;
	size_t vl = len - kl - 1;
	if (vl >= g->n)
		vl = g->n - 1;
	memcpy(g->buf, e + kl + 1, vl);
	g->buf[vl] = '\0';
	return true;
}

bool proc_environ_get(pid_t pid, const char *key, char *buf, size_t n)
{
	environ_get_t g = {key, buf, n};
	return n > 0 && proc_environ_visit(pid, environ_get, &g);
}
