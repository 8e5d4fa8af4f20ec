/*
 * The reaper's side of a hand-over (SPEC §11): after the master's `detach`, this reaper binds
 * <adopt dir>/<its pid>.sock (SOCK_SEQPACKET, so the channel code works unchanged) and, once the
 * master has closed the channel, keeps the project (server, tunnel, output ring) and waits for
 * one connection from a process of the same user (or root). What it would have told the master
 * meanwhile (a crash, the end of a stop, a start's outcome) is queued and handed to the adopter.
 * No adopter within the timeout: the project is torn down exactly as if the master had died.
 */
#include "reaper/handover.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/log.h"
#include "common/utf8.h"
#include "common/util.h"

static const char *phase_name(phase_t ph)
{
	switch (ph) {
	case PHASE_WAIT_START:
	case PHASE_SPAWNING:
	case PHASE_HEALTH:
	case PHASE_TUNNEL:
		return "starting";
	case PHASE_RUNNING:
		return "running";
	case PHASE_TEARDOWN:
		return "stopping";
	case PHASE_DONE:
		return "done";
	}
	return "?";
}

/* The socket's path through the directory's fd: short whatever the state dir's length. */
static void sock_path(const reaper_t *r, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	snprintf(sa->sun_path, sizeof(sa->sun_path), "/proc/self/fd/%d/%d.sock", r->ho.dir_fd,
		 (int)getpid());
}

static void stop_listening(reaper_t *r)
{
	if (r->ho.listen_fd >= 0) {
		struct sockaddr_un sa;
		sock_path(r, &sa);
		unlink(sa.sun_path);
		ev_io_stop(r->loop, &r->ho.listen_watcher);
		close(r->ho.listen_fd);
		r->ho.listen_fd = -1;
	}
	if (r->ho.dir_fd >= 0) {
		close(r->ho.dir_fd);
		r->ho.dir_fd = -1;
	}
	ev_timer_stop(r->loop, &r->ho.timer);
}

void handover_disarm(reaper_t *r)
{
	r->ho.armed = false;
	stop_listening(r);
}

bool handover_queue(reaper_t *r, json_t *msg)
{
	if (!r->ho.detached)
		return false;
	if (!r->ho.pending)
		r->ho.pending = json_array();
	json_array_append_new(r->ho.pending, msg);
	return true;
}

static void hello(reaper_t *r)
{
	json_t *msg = json_pack("{s:s, s:i, s:s, s:s, s:O?, s:i, s:i, s:i}", "type", "hello",
				"version", HANDOVER_VERSION, "projectId", r->project_id, "phase",
				phase_name(r->phase), "state", r->ho.master_state, "pid", (int)r->pid,
				"pgid", (int)r->pid, "port", r->port);
	if (r->tunnel_live && r->tunnel.url[0])
		json_object_set_new(msg, "tunnelUrl", utf8_json_string(r->tunnel.url));
	/* The adopter needs it to kill the project itself should this reaper die: the project's
	 * processes are not below the adopter. */
	if (r->contain.on) {
		json_t *cg = json_string(r->contain.dir);
		if (!cg)
			log_warn("adopt: the cgroup path %s is not UTF-8: not sent; the adopter falls "
				 "back to /proc for %s",
				 r->contain.dir, r->project_id);
		json_object_set_new(msg, "cgroup", cg);
	}
	json_object_set_new(msg, "pending", json_integer((json_int_t)json_array_size(r->ho.pending)));
	/* sent now, not queued: the hello is what the adopter waits for */
	if (!chan_send(&r->chan, msg) && chan_is_open(&r->chan))
		chan_abort(&r->chan);
}

/* A process of another user may not take the project over. */
static bool peer_allowed(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		log_warn("adopt: SO_PEERCRED: %s", strerror(errno));
		return false;
	}
	if (cred.uid != getuid() && cred.uid != 0) {
		log_warn("adopt: refused a connection from pid %d, uid %d (not ours)", (int)cred.pid,
			 (int)cred.uid);
		return false;
	}
	return true;
}

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	reaper_t *r = w->data;
	(void)loop;
	(void)revents;
	int fd = accept4(r->ho.listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			log_warn("adopt: accept: %s", strerror(errno));
		return;
	}
	if (!peer_allowed(fd)) {
		close(fd);
		return;
	}
	log_info("adopt: a new master connected for %s", r->project_id);
	/* one adopter: from now on its channel is ours, and its EOF is a master's death */
	stop_listening(r);
	r->ho.armed = false;
	/* The old master's EOF may not be read yet (its exit freed the runner lock and closed its
	 * end in one go, and this event came first): it detached, it is done with us. Until the
	 * adopter's `adopt`, what we would say waits in pending. */
	chan_close(&r->chan);
	r->ho.detached = true;
	chan_room_cb on_room = r->chan.on_room;
	chan_init(&r->chan, r->loop, fd, r->chan.on_msg, r->chan.on_eof, r);
	chan_set_on_room(&r->chan, on_room);
	hello(r);
}

static void timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	reaper_t *r = w->data;
	(void)revents;
	log_warn("adopt: no new master within the adopt timeout: tearing %s down", r->project_id);
	handover_disarm(r);
	json_decref(r->ho.pending);
	r->ho.pending = NULL;
	r->ho.detached = false;
	if (r->phase == PHASE_DONE)
		ev_break(loop, EVBREAK_ALL);
	else
		reaper_master_lost(r);
}

static bool start_listening(reaper_t *r, const char *dir, char *err, size_t errlen)
{
	struct sockaddr_un sa;
	r->ho.dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (r->ho.dir_fd < 0) {
		snprintf(err, errlen, "cannot open %s: %s", dir, strerror(errno));
		return false;
	}
	r->ho.listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (r->ho.listen_fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return false;
	}
	sock_path(r, &sa);
	unlink(sa.sun_path); /* a stale socket of a dead process that had our pid */
	if (bind(r->ho.listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(r->ho.listen_fd, 4) < 0) {
		snprintf(err, errlen, "cannot listen on %s/%d.sock: %s", dir, (int)getpid(),
			 strerror(errno));
		return false;
	}
	ev_io_init(&r->ho.listen_watcher, accept_cb, r->ho.listen_fd, EV_READ);
	r->ho.listen_watcher.data = r;
	ev_io_start(r->loop, &r->ho.listen_watcher);
	return true;
}

void handover_detach(reaper_t *r, const json_t *msg)
{
	char err[512];
	const char *dir = json_string_value(json_object_get(msg, "dir"));
	json_t *t = json_object_get(msg, "adoptTimeoutMs");
	uint64_t timeout_ms = json_is_integer(t) && json_integer_value(t) >= 0
				      ? (uint64_t)json_integer_value(t)
				      : 300000;
	if (r->ho.armed || r->phase == PHASE_DONE || r->phase == PHASE_WAIT_START) {
		reaper_send(r, json_pack("{s:s, s:s}", "type", "detached", "error",
					 "nothing to hand over"));
		return;
	}
	if (!dir || !start_listening(r, dir, err, sizeof(err))) {
		if (!dir)
			snprintf(err, sizeof(err), "detach without an adopt directory");
		handover_disarm(r);
		log_error("detach of %s: %s", r->project_id, err);
		reaper_send(r, json_pack("{s:s, s:s}", "type", "detached", "error", err));
		return;
	}
	json_decref(r->ho.master_state);
	r->ho.master_state = json_deep_copy(json_object_get(msg, "state"));
	r->ho.armed = true;
	ev_set_cb(&r->ho.timer, timeout_cb);
	r->ho.timer.data = r;
	ev_timer_set(&r->ho.timer, (double)timeout_ms / 1000., 0.);
	ev_timer_start(r->loop, &r->ho.timer);
	reaper_send(r, json_pack("{s:s}", "type", "detached"));
}

bool handover_master_gone(reaper_t *r)
{
	if (!r->ho.armed)
		return false;
	r->ho.detached = true;
	log_info("detached: %s waits for a new master", r->project_id);
	return true;
}

void handover_adopted(reaper_t *r)
{
	json_t *pending = r->ho.pending;
	size_t i;
	json_t *msg;
	r->ho.pending = NULL;
	r->ho.detached = false;
	json_array_foreach(pending, i, msg)
		reaper_send(r, json_incref(msg));
	json_decref(pending);
	/* a project that ended while detached: that was the last message; exit once it is out */
	if (r->phase == PHASE_DONE)
		ev_io_stop(r->loop, &r->chan.rio);
}

void handover_free(reaper_t *r)
{
	stop_listening(r);
	json_decref(r->ho.pending);
	json_decref(r->ho.master_state);
	r->ho.pending = r->ho.master_state = NULL;
}
