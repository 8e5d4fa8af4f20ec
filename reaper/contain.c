#include "reaper/contain.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "common/cgroup.h"
#include "common/log.h"

static void contain_inotify_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	contain_t *c = w->data;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	(void)loop;
	(void)revents;
	/* Only "something changed" matters: the callback re-reads the files it cares about. */
	while (fd_read(c->inotify_fd, buf, sizeof(buf)) > 0)
		;
	c->changed(c->ctx);
}

static bool contain_watch_file(contain_t *c, const char *file, bool required)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/%s", c->dir, file);
	if (inotify_add_watch(c->inotify_fd, path, IN_MODIFY) >= 0)
		return true;
	if (required)
		log_warn("cannot watch %s: %s", path, strerror(errno));
	return false;
}

bool contain_open(contain_t *c, struct ev_loop *loop, const char *runner_dir,
		  const char *project_id, contain_changed_cb changed, void *ctx)
{
	memset(c, 0, sizeof(*c));
	c->procs_fd = c->inotify_fd = -1;
	c->loop = loop;
	c->changed = changed;
	c->ctx = ctx;
	if (!runner_dir || !*runner_dir)
		return false;
	/* "." is a valid project id but names the runner's own directory: '%' is not an id
	 * character, so the prefix cannot collide with another project */
	char name[160];
	snprintf(name, sizeof(name), "%s%s", project_id[0] == '.' ? "%" : "", project_id);
	/* the runner's directory goes when the last reaper of a lost master leaves: make it again */
	int made = cgroup_create(runner_dir, name, c->dir, sizeof(c->dir));
	if (made < 0 && errno == ENOENT && mkdir(runner_dir, 0755) == 0)
		made = cgroup_create(runner_dir, name, c->dir, sizeof(c->dir));
	if (made < 0) {
		log_warn("cannot create the cgroup %s/%s: %s; falling back to /proc", runner_dir,
			 project_id, strerror(errno));
		return false;
	}
	/* A group left from a run whose reaper was killed: empty it before re-using it. */
	if (cgroup_populated(c->dir) == 1 && cgroup_kill(c->dir) < 0)
		log_warn("cgroup.kill in %s: %s", c->dir, strerror(errno));
	c->procs_fd = cgroup_open_procs(c->dir);
	if (c->procs_fd < 0) {
		log_warn("cgroup %s unusable (%s); falling back to /proc", c->dir, strerror(errno));
		contain_close(c, false);
		return false;
	}
	c->on = true;
	return true;
}

void contain_watch(contain_t *c)
{
	if (!c->on || c->inotify_fd >= 0)
		return;
	/* inotify instances are few per user (fs.inotify.max_user_instances, often 128): one is
	 * held only while it is needed, a teardown or a memory.max. Without one, the end is
	 * still seen: the last process's exit is also a SIGCHLD to this subreaper. */
	c->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (c->inotify_fd < 0) {
		log_info("inotify for %s: %s; its end is seen through SIGCHLD alone", c->dir,
			 strerror(errno));
		return;
	}
	contain_watch_file(c, "cgroup.events", true);
	contain_watch_file(c, "memory.events", false);
	ev_io_init(&c->watcher, contain_inotify_cb, c->inotify_fd, EV_READ);
	c->watcher.data = c;
	ev_io_start(c->loop, &c->watcher);
}

const char *contain_kind(const contain_t *c)
{
	return c->on ? "cgroup" : "proc";
}

bool contain_empty(const contain_t *c)
{
	if (!c->on)
		return true;
	int populated = cgroup_populated(c->dir);
	/* Gone: a devsup of this runner that started after our master died recovered the group
	 * (recover_cgroup.c), and only an empty group can be removed. */
	return populated == 0 || (populated < 0 && errno == ENOENT);
}

int contain_kill(contain_t *c)
{
	return c->on ? cgroup_kill(c->dir) : 0;
}

bool contain_limit_memory(contain_t *c, uint64_t bytes)
{
	char v[32];
	if (!c->on || !cgroup_has_memory(c->dir))
		return false;
	snprintf(v, sizeof(v), "%llu", (unsigned long long)bytes);
	if (cgroup_write(c->dir, "memory.max", v) < 0) {
		log_warn("memory.max in %s: %s; sampling RSS instead", c->dir, strerror(errno));
		return false;
	}
	/* one OOM kill takes the whole tree, as the stop that follows would anyway */
	(void)!cgroup_write(c->dir, "memory.oom.group", "1");
	contain_watch(c); /* memory.events says when the kernel OOM-killed */
	return true;
}

bool contain_oom_killed(const contain_t *c)
{
	uint64_t n;
	return c->on && cgroup_read_u64(c->dir, "memory.events", "oom_kill", &n) == 0 && n > 0;
}

uint64_t contain_memory_peak(const contain_t *c)
{
	uint64_t v;
	return c->on && cgroup_read_u64(c->dir, "memory.peak", NULL, &v) == 0 ? v : 0;
}

void contain_usage(const contain_t *c, usage_t *u)
{
	if (!c->on || !usage_of_cgroup(c->dir, u))
		usage_of_tree(getpid(), u);
}

void contain_close(contain_t *c, bool master_lost)
{
	if (c->inotify_fd >= 0) {
		ev_io_stop(c->loop, &c->watcher);
		close(c->inotify_fd);
		c->inotify_fd = -1;
	}
	if (c->procs_fd >= 0) {
		close(c->procs_fd);
		c->procs_fd = -1;
	}
	if (c->dir[0] && cgroup_remove(c->dir) < 0 && errno != ENOENT)
		log_warn("cannot remove the cgroup %s: %s", c->dir, strerror(errno));
	/* Without a master nobody else removes the runner's directory: the last reaper out does
	 * (the others find it not empty). */
	char *slash = strrchr(c->dir, '/');
	if (master_lost && slash) {
		*slash = '\0';
		(void)!cgroup_remove(c->dir);
	}
	c->dir[0] = '\0';
	c->on = false;
}
