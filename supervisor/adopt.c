/*
 * Hand-over, the master's side (SPEC §11): detaching leaves every project with its reaper,
 * adopting takes them back. The reapers are not re-parented to the adopting master (their
 * parent is gone: they belong to init or to a subreaper above us), so an adopted reaper's exit
 * is watched through a pidfd and its channel's EOF, not waitpid; its own guarantee is
 * unchanged: it tears its project down when this master's channel closes.
 */
#include "supervisor/adopt.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/chan.h"
#include "common/log.h"
#include "common/proc.h"
#include "common/util.h"
#include "supervisor/adopt_tree.h"
#include "supervisor/project.h"
#include "supervisor/reaper_link.h"

#define HELLO_MS 5000 /* a connected reaper that says nothing by then is let go */

typedef struct {
	chan_t chan;
	pid_t pid;
	int pidfd;
	bool done;
} conn_t;

static struct {
	struct ev_loop *loop;
	conn_t **conns; /* each allocated once: their watchers must not move */
	size_t n;
	size_t waiting;
	pid_t *pids; /* sorted */
	unsigned adopted;
	ev_timer deadline;
} ad;

/* The runner lock's state dir (runner_lock.c made it safe): the adopt directories live there. */
static char state_dir[PATH_MAX];

void adopt_set_state_dir(const char *dir)
{
	snprintf(state_dir, sizeof(state_dir), "%s", dir);
}

/* A directory only we can enter: made if missing, refused if someone else could plant a
 * socket in it. */
static bool private_dir(const char *path, bool create, char *err, size_t errlen)
{
	struct stat st;
	if (create && mkdir(path, 0700) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
		return false;
	}
	if (lstat(path, &st) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return false;
	}
	if (!S_ISDIR(st.st_mode) || st.st_uid != getuid() || (st.st_mode & 077)) {
		snprintf(err, errlen,
			 "%s is not a private directory of uid %u (mode 0700); remove it or pass "
			 "another --state-dir",
			 path, (unsigned)getuid());
		return false;
	}
	return true;
}

static bool adopt_dir(const options_t *opts, bool create, char *buf, size_t n, char *err,
		      size_t errlen)
{
	if (!state_dir[0]) {
		snprintf(err, errlen, "no state directory");
		errno = ENOENT;
		return false;
	}
	snprintf(buf, n, "%s/%s.adopt", state_dir, opts->runner_id);
	return private_dir(buf, create, err, errlen);
}

bool adopt_detach_all(const options_t *opts, char *err, size_t errlen)
{
	char dir[PATH_MAX + 140];
	if (!adopt_dir(opts, true, dir, sizeof(dir), err, errlen))
		return false;
	for (project_t *p = project_first(); p; p = p->next) {
		if (!state_is_live(p->state) || !chan_is_open(&p->chan) || p->cleaning)
			continue;
		json_t *msg = json_pack("{s:s, s:s, s:I, s:o}", "type", "detach", "dir", dir,
					"adoptTimeoutMs", (json_int_t)opts->adopt_timeout_ms,
					"state", project_handover_state(p));
		reaper_link_send(p, msg);
	}
	return true;
}

static int cmp_pid(const void *a, const void *b)
{
	pid_t pa = *(const pid_t *)a, pb = *(const pid_t *)b;
	return pa < pb ? -1 : pa > pb;
}

static void conn_end(conn_t *c)
{
	if (c->done)
		return;
	c->done = true;
	ad.waiting--;
	if (ad.waiting == 0)
		ev_timer_stop(ad.loop, &ad.deadline);
}

/* Let go: the reaper sees EOF and tears its project down as on a master's death. */
static void conn_refuse(conn_t *c)
{
	chan_close(&c->chan);
	if (c->pidfd >= 0)
		close(c->pidfd);
	c->pidfd = -1;
	conn_end(c);
}

static void on_hello(chan_t *ch, json_t *msg, void *ctx)
{
	conn_t *c = ctx;
	const char *type = json_string_value(json_object_get(msg, "type"));
	const char *id = json_string_value(json_object_get(msg, "projectId"));
	json_t *version = json_object_get(msg, "version");
	json_t *state = json_object_get(msg, "state");
	(void)ch;
	if (!type || strcmp(type, "hello") != 0 || !json_is_integer(version) ||
	    json_integer_value(version) != ADOPT_VERSION) {
		log_error("adopt: refusing the reaper %d: it speaks control channel version %lld, "
			  "this devsup speaks %d; it tears its project down (start the project "
			  "again)",
			  (int)c->pid, (long long)json_integer_value(version), ADOPT_VERSION);
		conn_refuse(c);
		return;
	}
	if (!id || !project_id_valid(id) || !json_is_object(state) || project_find(id)) {
		log_error("adopt: refusing the reaper %d of project %s: %s", (int)c->pid,
			  id ? id : "?", id && project_find(id) ? "adopted already" : "bad hello");
		conn_refuse(c);
		return;
	}
	/* the connection becomes the project's channel (chan_close closes this fd) */
	int fd = fcntl(c->chan.fd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0) {
		log_error("adopt: project %s: dup: %s", id, strerror(errno));
		conn_refuse(c);
		return;
	}
	chan_close(&c->chan);
	project_t *p = project_adopt(msg);
	adopt_tree_record(p, msg, c->pid);
	reaper_link_adopt(p, fd, c->pid, c->pidfd);
	c->pidfd = -1;
	ad.adopted++;
	log_info("adopt: project %s (%s, port %d, pid %d) from reaper %d", p->id,
		 state_name(p->state), p->port, (int)p->pid, (int)c->pid);
	conn_end(c);
}

static void on_conn_eof(chan_t *ch, void *ctx)
{
	conn_t *c = ctx;
	(void)ch;
	log_warn("adopt: the reaper %d closed its socket before its hello", (int)c->pid);
	conn_refuse(c);
}

static void deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	for (size_t i = 0; i < ad.n; i++) {
		if (!ad.conns[i]->done) {
			log_error("adopt: the reaper %d said no hello within %d ms: let go",
				  (int)ad.conns[i]->pid, HELLO_MS);
			conn_refuse(ad.conns[i]);
		}
	}
}

/* Connects to one detached reaper's socket; false if it is not there (a stale file). */
static bool connect_one(int dirfd, const char *name, conn_t *c)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct ucred cred;
	socklen_t len = sizeof(cred);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%s", dirfd, name);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (errno == ECONNREFUSED || errno == ENOENT)
			unlinkat(dirfd, name, 0); /* its reaper is gone */
		else
			log_warn("adopt: connect %s: %s", name, strerror(errno));
		close(fd);
		return false;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
	    (cred.uid != getuid() && cred.uid != 0)) {
		log_error("adopt: %s is held by pid %d of uid %d, not ours: ignored", name,
			  (int)cred.pid, (int)cred.uid);
		close(fd);
		return false;
	}
	proc_info_t info;
	c->pid = cred.pid;
	c->pidfd = proc_read(cred.pid, &info) == 0 ? proc_pidfd(&info) : -1;
	chan_init(&c->chan, ad.loop, fd, on_hello, on_conn_eof, c);
	return true;
}

void adopt_begin(struct ev_loop *loop, const options_t *opts)
{
	char dir[PATH_MAX + 140], err[PATH_MAX + 400];
	memset(&ad, 0, sizeof(ad));
	ad.loop = loop;
	ev_timer_init(&ad.deadline, deadline_cb, HELLO_MS / 1000., 0.);
	if (!adopt_dir(opts, false, dir, sizeof(dir), err, sizeof(err))) {
		if (errno != ENOENT)
			log_warn("adopt: %s", err);
		return;
	}
	int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = dirfd >= 0 ? fdopendir(dup(dirfd)) : NULL;
	if (!d) {
		if (dirfd >= 0)
			close(dirfd);
		return;
	}
	size_t cap = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		if (len < 6 || strcmp(e->d_name + len - 5, ".sock") != 0)
			continue;
		if (ad.n == cap) {
			cap = cap ? cap * 2 : 16;
			ad.conns = xrealloc(ad.conns, cap * sizeof(*ad.conns));
		}
		conn_t *c = xcalloc(1, sizeof(*c));
		if (connect_one(dirfd, e->d_name, c))
			ad.conns[ad.n++] = c;
		else
			free(c);
	}
	closedir(d);
	close(dirfd);
	ad.waiting = ad.n;
	ad.pids = xmalloc((ad.n + 1) * sizeof(*ad.pids));
	for (size_t i = 0; i < ad.n; i++)
		ad.pids[i] = ad.conns[i]->pid;
	qsort(ad.pids, ad.n, sizeof(*ad.pids), cmp_pid);
	if (ad.n > 0) {
		log_info("adopt: %zu detached reapers of runner %s found", ad.n, opts->runner_id);
		ev_timer_start(loop, &ad.deadline);
	}
}

size_t adopt_reaper_pids(const pid_t **out)
{
	*out = ad.pids;
	return ad.n;
}

bool adopt_pending(void)
{
	return ad.waiting > 0;
}

unsigned adopt_count(void)
{
	return ad.adopted;
}

void adopt_confirm(void)
{
	for (project_t *p = project_first(); p; p = p->next) {
		if (!p->adopt_unconfirmed)
			continue;
		p->adopt_unconfirmed = false;
		reaper_link_send(p, json_pack("{s:s}", "type", "adopt"));
	}
}

void adopt_free(void)
{
	for (size_t i = 0; i < ad.n; i++) {
		conn_refuse(ad.conns[i]);
		free(ad.conns[i]);
	}
	if (ad.loop)
		ev_timer_stop(ad.loop, &ad.deadline);
	free(ad.conns);
	free(ad.pids);
	memset(&ad, 0, sizeof(ad));
}
