#ifndef DEVSUP_LISTEN_TRAP_H
#define DEVSUP_LISTEN_TRAP_H

#include <ev.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/types.h>

/*
 * The listen trap of SPEC §4.4: a seccomp filter, installed in the server's process before
 * exec and inherited by its whole tree, that turns every listen() into a user notification.
 * The reaper answers each with "continue" (it observes, it never decides) after reading the
 * socket's bound address through pidfd_getfd, so it knows the instant and the exact address
 * where the tree starts to listen, and spends nothing while the server boots.
 *
 * The filter sets no_new_privs on the tree: setuid programs run without their privileges.
 */

/* In the forked child, before exec (async-signal-safe): sets no_new_privs and installs the
 * filter. Returns the notification fd, or -1 with errno (EINVAL, ENOSYS, EACCES: the kernel or
 * a tool such as valgrind cannot do it; the caller falls back to polling). */
int listen_trap_install(void);

/* A listen() on a TCP socket of the tree: its bound address (a wildcard when unbound to one
 * address). addr is NULL when the socket could not be read (pidfd_getfd refused): the tree
 * listens somewhere, the caller looks it up. */
typedef void (*listen_trap_cb)(void *ctx, pid_t pid, const struct sockaddr_storage *addr);

typedef struct {
	struct ev_loop *loop;
	int fd; /* the seccomp notification fd, -1 when none */
	ev_io io;
	listen_trap_cb cb;
	void *ctx;
} listen_trap_t;

/* Before first use, so that close is safe whatever happened. */
void listen_trap_init(listen_trap_t *t);
/* Serves the notifications of fd (taken over) until listen_trap_close: the fd must stay open
 * for the project's life, or the tree's listen() calls fail with ENOSYS. */
void listen_trap_watch(listen_trap_t *t, struct ev_loop *loop, int fd, listen_trap_cb cb,
		       void *ctx);
bool listen_trap_active(const listen_trap_t *t);
void listen_trap_close(listen_trap_t *t);

#endif
