#include "supervisor/ports.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int port_lo = 3000, port_hi = 3999;
static int port_next = 3000; /* round robin: a port just released is not handed out again
				* at once, which avoids clients still talking to the old server */

void ports_init(int lo, int hi)
{
	port_lo = lo;
	port_hi = hi;
	port_next = lo;
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
		} else if (ports_is_free(wanted)) {
			return wanted;
		} else if (strict) {
			snprintf(err, errlen, "port %d is in use by another process", wanted);
			return -1;
		}
	}
	int span = port_hi - port_lo + 1;
	for (int i = 0; i < span; i++) {
		int port = port_lo + (port_next - port_lo + i) % span;
		if (!taken(port) && ports_is_free(port)) {
			port_next = port == port_hi ? port_lo : port + 1;
			return port;
		}
	}
	snprintf(err, errlen, "no free port in %d-%d%s", port_lo, port_hi,
		 wanted > 0 ? " (and the port asked for is taken)" : "");
	return -1;
}
