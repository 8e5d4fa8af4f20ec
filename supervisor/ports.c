#include "supervisor/ports.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "supervisor/runner_lock.h"

static int port_lo = 3000, port_hi = 3999;
static int port_next = 3000; /* round robin: a port just released is not handed out again
				* at once, which avoids clients still talking to the old server */

/* Reservations between devsups: <state-dir>/ports/<port>.lock, flock'ed by the master from
 * allocation until the project releases the port. A bind probe alone cannot see a port that
 * another devsup has just handed out and whose server has not bound it yet. */
static char res_dir[PATH_MAX]; /* "" while reservations are off */
static struct {
	int port;
	int fd;
} *res;
static size_t nres, capres;

void ports_init(int lo, int hi)
{
	port_lo = lo;
	port_hi = hi;
	port_next = lo;
}

void ports_set_reservations(const char *state_dir)
{
	snprintf(res_dir, sizeof(res_dir), "%s/ports", state_dir);
	if (mkdir(res_dir, 0700) < 0 && errno != EEXIST) {
		log_warn("cannot create %s: %s; ports are not reserved between devsups", res_dir,
			 strerror(errno));
		res_dir[0] = '\0';
	}
}

bool ports_reserve(int port)
{
	if (!res_dir[0] || port <= 0)
		return true;
	for (size_t i = 0; i < nres; i++)
		if (res[i].port == port)
			return true;
	char path[PATH_MAX + 16];
	snprintf(path, sizeof(path), "%s/%d.lock", res_dir, port);
	int fd = runner_lock_file(path);
	if (fd < 0 && errno == EWOULDBLOCK)
		return false;
	if (fd < 0) {
		/* the bind probe and the retry on conflict still hold */
		log_warn("cannot reserve port %d (%s: %s)", port, path, strerror(errno));
		return true;
	}
	if (nres == capres) {
		capres = capres ? capres * 2 : 16;
		res = xrealloc(res, capres * sizeof(*res));
	}
	res[nres].port = port;
	res[nres++].fd = fd;
	return true;
}

void ports_release(int port)
{
	for (size_t i = 0; i < nres; i++) {
		if (res[i].port == port) {
			close(res[i].fd);
			res[i] = res[--nres];
			return;
		}
	}
}

void ports_free(void)
{
	while (nres > 0)
		ports_release(res[nres - 1].port);
	free(res);
	res = NULL;
	capres = 0;
}

/* Reserved by us now and bindable; a reservation of a port that is not free is dropped. */
static bool take(int port)
{
	if (!ports_reserve(port))
		return false;
	if (ports_is_free(port))
		return true;
	ports_release(port);
	return false;
}

static bool bind_probe(int family, int port)
{
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno == EAFNOSUPPORT; /* no IPv6 here: nothing can take it there */
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_storage ss;
	socklen_t sl;
	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)port);
		a->sin_addr.s_addr = htonl(INADDR_ANY);
		sl = sizeof(*a);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		a->sin6_addr = in6addr_any;
		sl = sizeof(*a);
	}
	bool ok = bind(fd, (struct sockaddr *)&ss, sl) == 0 ||
		  (family == AF_INET6 && errno == EADDRNOTAVAIL);
	close(fd);
	return ok;
}

bool ports_is_free(int port)
{
	return bind_probe(AF_INET, port) && bind_probe(AF_INET6, port);
}

int ports_allocate(int wanted, bool strict, bool (*taken)(int port), char *err, size_t errlen)
{
	if (wanted > 0) {
		if (taken(wanted)) {
			if (strict) {
				snprintf(err, errlen, "port %d is in use by another project of this devsup",
					 wanted);
				return -1;
			}
		} else if (!ports_reserve(wanted)) {
			if (strict) {
				snprintf(err, errlen, "port %d is reserved by another devsup on this "
						      "machine (%s/%d.lock)",
					 wanted, res_dir, wanted);
				return -1;
			}
		} else if (ports_is_free(wanted)) {
			return wanted;
		} else {
			ports_release(wanted);
			if (strict) {
				snprintf(err, errlen, "port %d is in use by another process", wanted);
				return -1;
			}
		}
	}
	int span = port_hi - port_lo + 1;
	for (int i = 0; i < span; i++) {
		int port = port_lo + (port_next - port_lo + i) % span;
		if (!taken(port) && take(port)) {
			port_next = port == port_hi ? port_lo : port + 1;
			return port;
		}
	}
	snprintf(err, errlen, "no free port in %d-%d%s", port_lo, port_hi,
		 wanted > 0 ? " (and the port asked for is taken)" : "");
	return -1;
}
