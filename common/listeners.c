#include "common/listeners.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/proc.h"
#include "common/util.h"

typedef struct {
	int port;
	unsigned long inode;
	struct sockaddr_storage addr; /* the bound address, with port */
} listen_sock_t;

#define PROC_TCP_LISTEN 0x0A /* st column of /proc/net/tcp */

static size_t read_listeners_proc(listen_sock_t **out);

/* addr: 4 bytes (AF_INET) or 16 (AF_INET6), network order */
static void add_listener(listen_sock_t **out, size_t *n, size_t *cap, int family,
			 const void *addr, int port, unsigned long inode)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		*out = xrealloc(*out, *cap * sizeof(**out));
	}
	listen_sock_t *l = &(*out)[(*n)++];
	memset(l, 0, sizeof(*l));
	l->port = port;
	l->inode = inode;
	l->addr.ss_family = (sa_family_t)family;
	if (family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&l->addr;
		memcpy(&a->sin_addr, addr, 4);
		a->sin_port = htons((uint16_t)port);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&l->addr;
		memcpy(&a->sin6_addr, addr, 16);
		a->sin6_port = htons((uint16_t)port);
	}
}

/* Listening sockets of one family through sock_diag: asked for TCP_LISTEN only, the kernel
 * walks just its listening hash, where /proc/net/tcp walks every connection bucket (2-4 ms
 * per read here, even with two sockets). A local dump: it answers at once. False if the
 * kernel has no inet_diag, for the fallback. */
static bool diag_listeners(int family, listen_sock_t **out, size_t *n, size_t *cap)
{
	int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0)
		return false;
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 r;
	} req;
	memset(&req, 0, sizeof(req));
	req.nlh.nlmsg_len = sizeof(req);
	req.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	req.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.r.sdiag_family = (uint8_t)family;
	req.r.sdiag_protocol = IPPROTO_TCP;
	req.r.idiag_states = 1u << TCP_LISTEN;
	if (send(fd, &req, sizeof(req), 0) < 0) {
		close(fd);
		return false;
	}
	/* The kernel sizes each dump message to the largest buffer this socket has read with (and
	 * at least a page), so 8 KiB loses nothing, where 16 KiB was four more pages of every
	 * reaper's stack kept dirty for its life. */
	char buf[8192] __attribute__((aligned(8)));
	bool ok = false, done = false;
	while (!done) {
		ssize_t r = recv(fd, buf, sizeof(buf), 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)r);
		     h = NLMSG_NEXT(h, r)) {
			if (h->nlmsg_type == NLMSG_DONE) {
				ok = done = true;
				break;
			}
			if (h->nlmsg_type == NLMSG_ERROR) {
				done = true;
				break;
			}
			const struct inet_diag_msg *m = NLMSG_DATA(h);
			add_listener(out, n, cap, family, m->id.idiag_src, ntohs(m->id.idiag_sport),
				     m->idiag_inode);
		}
	}
	close(fd);
	return ok;
}

/* Every listening TCP socket of this network namespace. */
static size_t read_listeners(listen_sock_t **out)
{
	size_t n = 0, cap = 0;
	*out = NULL;
	if (diag_listeners(AF_INET, out, &n, &cap) && diag_listeners(AF_INET6, out, &n, &cap))
		return n;
	free(*out);
	*out = NULL;
	return read_listeners_proc(out);
}

/* The same from /proc/net/tcp{,6}: works everywhere, slowly. */
static size_t read_listeners_proc(listen_sock_t **out)
{
	static const char *const files[] = {"/proc/net/tcp", "/proc/net/tcp6"};
	size_t n = 0, cap = 0;
	*out = NULL;
	for (size_t f = 0; f < ARRAY_LEN(files); f++) {
		FILE *fp = fopen(files[f], "re");
		if (!fp)
			continue;
		char line[512];
		if (!fgets(line, sizeof(line), fp)) { /* the header */
			fclose(fp);
			continue;
		}
		while (fgets(line, sizeof(line), fp)) {
			char local[64];
			unsigned st;
			unsigned long inode;
			/* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
			if (sscanf(line, " %*s %63s %*s %x %*s %*s %*s %*s %*s %lu", local, &st,
				   &inode) != 3 ||
			    st != PROC_TCP_LISTEN)
				continue;
			char *colon = strrchr(local, ':');
			if (!colon)
				continue;
			/* the address: 32-bit words in hex, each in host byte order */
			uint32_t words[4] = {0};
			size_t nwords = (size_t)(colon - local) / 8;
			for (size_t w = 0; w < nwords && w < 4; w++) {
				char hex[9];
				memcpy(hex, local + w * 8, 8);
				hex[8] = '\0';
				words[w] = (uint32_t)strtoul(hex, NULL, 16);
			}
			add_listener(out, &n, &cap, f == 0 ? AF_INET : AF_INET6, words,
				     (int)strtol(colon + 1, NULL, 16), inode);
		}
		fclose(fp);
	}
	return n;
}

/* Calls found(ctx, inode) for every socket fd of pid; stops early when it returns true. */
static bool pid_sockets(pid_t pid, bool (*found)(void *ctx, unsigned long inode), void *ctx)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return false;
	struct dirent *e;
	bool hit = false;
	while (!hit && (e = readdir(d))) {
		char link[300], target[64];
		if (e->d_name[0] == '.')
			continue;
		snprintf(link, sizeof(link), "/proc/%d/fd/%s", (int)pid, e->d_name);
		ssize_t len = readlink(link, target, sizeof(target) - 1);
		if (len <= 0)
			continue;
		target[len] = '\0';
		unsigned long inode;
		if (sscanf(target, "socket:[%lu]", &inode) == 1)
			hit = found(ctx, inode);
	}
	closedir(d);
	return hit;
}

typedef struct {
	listen_sock_t *socks;
	size_t nsocks;
	int *ports;
	size_t nports;
	size_t max;
	listener_t *found; /* every socket of the tree, with its address */
	size_t nfound;
	size_t max_found;
	int want; /* > 0: stop at the first socket on this port */
	bool *ours; /* per socket: held by the tree */
} tree_scan_t;

static bool tree_found(void *ctx, unsigned long inode)
{
	tree_scan_t *t = ctx;
	for (size_t i = 0; i < t->nsocks; i++) {
		if (t->socks[i].inode != inode)
			continue;
		int port = t->socks[i].port;
		if (t->ours)
			t->ours[i] = true;
		if (t->want > 0) {
			if (port == t->want)
				return true;
			continue;
		}
		if (t->found && t->nfound < t->max_found) {
			t->found[t->nfound].port = port;
			t->found[t->nfound++].addr = t->socks[i].addr;
		}
		bool dup = false;
		for (size_t k = 0; k < t->nports; k++)
			dup = dup || t->ports[k] == port;
		if (!dup && t->nports < t->max)
			t->ports[t->nports++] = port;
	}
	return false;
}

static bool scan_tree(pid_t root, tree_scan_t *t)
{
	t->nsocks = read_listeners(&t->socks);
	bool hit = false;
	if (t->nsocks > 0) {
		proc_info_t *procs;
		size_t n = proc_descendants(root, &procs);
		hit = pid_sockets(root, tree_found, t);
		for (size_t i = 0; i < n && !hit; i++)
			hit = pid_sockets(procs[i].pid, tree_found, t);
		free(procs);
	}
	free(t->socks);
	return hit;
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

size_t listeners_of_tree(pid_t root, int *ports, size_t max)
{
	tree_scan_t t = {.ports = ports, .max = max};
	scan_tree(root, &t);
	qsort(ports, t.nports, sizeof(int), cmp_int);
	return t.nports;
}

bool listeners_tree_owns(pid_t root, int port)
{
	tree_scan_t t = {.want = port};
	return scan_tree(root, &t);
}

size_t listeners_of_tree_addrs(pid_t root, listener_t *out, size_t max)
{
	int ports[64];
	tree_scan_t t = {.ports = ports, .max = ARRAY_LEN(ports), .found = out, .max_found = max};
	scan_tree(root, &t);
	return t.nfound;
}

bool listeners_port_listened(int port)
{
	listen_sock_t *socks;
	size_t n = read_listeners(&socks);
	bool on = false;
	for (size_t i = 0; i < n && !on; i++)
		on = socks[i].port == port;
	free(socks);
	return on;
}

/* Marks which listening sockets the tree holds, to tell whose the others on a port are. */
static void scan_tree_marking(pid_t root, listen_sock_t *socks, size_t n, bool *ours)
{
	tree_scan_t t = {.socks = socks, .nsocks = n, .want = -1, .ours = ours};
	proc_info_t *procs;
	size_t np = proc_descendants(root, &procs);
	pid_sockets(root, tree_found, &t);
	for (size_t i = 0; i < np; i++)
		pid_sockets(procs[i].pid, tree_found, &t);
	free(procs);
}

bool listeners_port_foreign(pid_t root, int port)
{
	listen_sock_t *socks;
	size_t n = read_listeners(&socks);
	bool on_port = false, foreign = false;
	for (size_t i = 0; i < n; i++)
		on_port = on_port || socks[i].port == port;
	if (on_port) {
		bool *ours = xcalloc(n, sizeof(bool));
		scan_tree_marking(root, socks, n, ours);
		for (size_t i = 0; i < n; i++)
			foreign = foreign || (socks[i].port == port && !ours[i]);
		free(ours);
	}
	free(socks);
	return foreign;
}

typedef struct {
	listen_sock_t *socks;
	size_t nsocks;
	int port;
} owner_scan_t;

static bool owner_found(void *ctx, unsigned long inode)
{
	owner_scan_t *o = ctx;
	for (size_t i = 0; i < o->nsocks; i++)
		if (o->socks[i].inode == inode && o->socks[i].port == o->port)
			return true;
	return false;
}

pid_t listeners_owner(int port, char *desc, size_t n)
{
	owner_scan_t o = {.port = port};
	o.nsocks = read_listeners(&o.socks);
	pid_t owner = 0;
	DIR *d = o.nsocks ? opendir("/proc") : NULL;
	struct dirent *e;
	while (d && !owner && (e = readdir(d))) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		if (*end || pid <= 0)
			continue;
		if (pid_sockets((pid_t)pid, owner_found, &o))
			owner = (pid_t)pid;
	}
	if (d)
		closedir(d);
	free(o.socks);
	proc_info_t info;
	if (owner && proc_read(owner, &info) == 0)
		snprintf(desc, n, "pid %d (%s)", (int)owner, info.comm);
	else if (owner)
		snprintf(desc, n, "pid %d", (int)owner);
	else
		snprintf(desc, n, "a process devsup cannot see (another user or container)");
	return owner;
}
