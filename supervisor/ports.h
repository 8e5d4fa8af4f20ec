#ifndef DEVSUP_PORTS_H
#define DEVSUP_PORTS_H

#include <stdbool.h>
#include <stddef.h>

/* Port allocation from --port-range: never the same port to two live projects, and only
 * ports that a server could bind right now. */
void ports_init(int lo, int hi);
/* True when a server could listen on port now, on IPv4 and on IPv6 (bind probe with
 * SO_REUSEADDR, as Node and most servers bind). */
bool ports_is_free(int port);
/* A port for a start: `wanted` (0 for any) if free and not taken, else the next free one in the
 * range, unless strict. taken(port) says whether a live project holds it. -1 with a message
 * in err when there is none. */
int ports_allocate(int wanted, bool strict, bool (*taken)(int port), char *err, size_t errlen);

#endif
