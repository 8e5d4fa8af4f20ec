#include "reaper/listen_trap.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/log.h"

#ifndef __X32_SYSCALL_BIT
#define __X32_SYSCALL_BIT 0x40000000
#endif
/* listen() on the i386 ABI when called directly (glibc does since 2.23); the old socketcall
 * multiplexer is left alone: its arguments sit in the caller's memory. Such a server is still
 * found by the slow look-ups and the output-triggered probes. */
#define I386_NR_LISTEN 363

int listen_trap_install(void)
{
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 0, 4),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_listen, 6, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __X32_SYSCALL_BIT | __NR_listen, 5, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_I386, 0, 2),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, I386_NR_LISTEN, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
	};
	struct sock_fprog prog = {.len = (unsigned short)(sizeof(code) / sizeof(code[0])),
				  .filter = code};
	/* Unprivileged filters need no_new_privs, and we set it for root too so that the tree
	 * behaves the same whoever runs devsup. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -1;
	long fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER,
			  &prog);
	return fd < 0 ? -1 : (int)fd;
}

/* The socket the tree listens on, duplicated into this process. -1 when it cannot be. */
static int dup_target_fd(pid_t pid, int target_fd)
{
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0)
		return -1;
	int fd = (int)syscall(SYS_pidfd_getfd, pidfd, target_fd, 0);
	int e = errno;
	close(pidfd);
	errno = e;
	return fd;
}

/* Reads the bound address of the socket behind the notification; *is_tcp says whether it is
 * a TCP socket of an inet family (a unix socket's listen() is none of our business). False
 * when it cannot be read. */
static bool read_listener(int fd, struct sockaddr_storage *addr, bool *is_tcp)
{
	int type = 0;
	socklen_t tl = sizeof(type), al = sizeof(*addr);
	memset(addr, 0, sizeof(*addr));
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 ||
	    getsockname(fd, (struct sockaddr *)addr, &al) < 0)
		return false;
	*is_tcp = type == SOCK_STREAM &&
		  (addr->ss_family == AF_INET || addr->ss_family == AF_INET6);
	return true;
}

static void trap_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	listen_trap_t *t = w->data;
	struct seccomp_notif req;
	(void)loop;
	(void)revents;
	/* RECV blocks when nothing is pending, and the fd also wakes us (POLLHUP) once every
	 * process under the filter is gone: only a pending notification may be received. */
	struct pollfd pfd = {.fd = t->fd, .events = POLLIN};
	if (poll(&pfd, 1, 0) <= 0)
		return;
	if (!(pfd.revents & POLLIN)) {
		listen_trap_close(t);
		return;
	}
	memset(&req, 0, sizeof(req)); /* the kernel refuses a request that is not zeroed */
	if (ioctl(t->fd, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0) {
		/* EINTR, or ENOENT: the caller was killed before we read it. Nothing to answer. */
		if (errno != EINTR && errno != ENOENT && errno != EAGAIN)
			log_warn("listen trap: receive: %s", strerror(errno));
		return;
	}
	struct sockaddr_storage addr;
	bool known = false, is_tcp = false;
	int fd = dup_target_fd((pid_t)req.pid, (int)req.data.args[0]);
	/* The pid may have died and been reused between RECV and pidfd_open: the socket we read
	 * counts only if the notification is still the one we hold. */
	if (fd >= 0 && ioctl(t->fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &req.id) == 0)
		known = read_listener(fd, &addr, &is_tcp);
	else if (fd < 0)
		log_debug("listen trap: cannot read the socket of pid %u: %s", req.pid,
			  strerror(errno));
	if (fd >= 0)
		close(fd);
	/* Observe, never decide: the call proceeds unchanged. */
	struct seccomp_notif_resp resp;
	memset(&resp, 0, sizeof(resp));
	resp.id = req.id;
	resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
	if (ioctl(t->fd, SECCOMP_IOCTL_NOTIF_SEND, &resp) < 0 && errno != ENOENT)
		log_warn("listen trap: answer: %s", strerror(errno));
	if (known && !is_tcp)
		return;
	t->cb(t->ctx, (pid_t)req.pid, known ? &addr : NULL);
}

void listen_trap_init(listen_trap_t *t)
{
	memset(t, 0, sizeof(*t));
	t->fd = -1;
}

void listen_trap_watch(listen_trap_t *t, struct ev_loop *loop, int fd, listen_trap_cb cb,
		       void *ctx)
{
	listen_trap_close(t);
	t->loop = loop;
	t->fd = fd;
	t->cb = cb;
	t->ctx = ctx;
	ev_io_init(&t->io, trap_io_cb, fd, EV_READ);
	t->io.data = t;
	ev_io_start(loop, &t->io);
}

bool listen_trap_active(const listen_trap_t *t)
{
	return t->fd >= 0;
}

void listen_trap_close(listen_trap_t *t)
{
	if (t->fd < 0)
		return;
	ev_io_stop(t->loop, &t->io);
	close(t->fd);
	t->fd = -1;
}
