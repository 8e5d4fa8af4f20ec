#ifndef DEVSUP_LISTENERS_H
#define DEVSUP_LISTENERS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

/* Listening TCP sockets (from /proc/net/tcp and /proc/net/tcp6) matched against processes'
 * open fds, so that "who listens on this port" has an exact answer. */

/* The ports on which root or any of its descendants listens (each once, ascending). Returns
 * the count (at most max). */
size_t listeners_of_tree(pid_t root, int *ports, size_t max);
/* True when root or a descendant owns a listening socket on port. */
bool listeners_tree_owns(pid_t root, int port);
/* A listening socket: its port and bound address (a wildcard when bound to none). */
typedef struct {
	int port;
	struct sockaddr_storage addr;
} listener_t;

/* Every listening socket of root and its descendants, with its address (at most max). */
size_t listeners_of_tree_addrs(pid_t root, listener_t *out, size_t max);
/* True when a process outside root's tree listens on port: a reason for a server of the tree
 * to have moved to another port. */
bool listeners_port_foreign(pid_t root, int port);
/* True when anything listens on port: the listening sockets only (sock_diag), no walk of
 * processes, so cheap enough to ask before the questions above. */
bool listeners_port_listened(int port);
/* Who listens on port: its pid (0 if none can be seen) and "pid N (comm)" in desc. Scans
 * every process: for error messages only. */
pid_t listeners_owner(int port, char *desc, size_t n);

#endif
