#ifndef DEVSUP_PORTS_H
#define DEVSUP_PORTS_H

#include <stdbool.h>
#include <stddef.h>

#include "common/util.h"

/* What to do about a port_in_use of a start that asked for strictPort (and only then: a
 * suggestion never tells a user to drop a flag they did not set). */
#define PORTS_STRICT_SUGGESTION                                                                   \
	"Stop the process holding the port, or start without strictPort so another port is "     \
	"chosen."

/* Port allocation from --port-range: never the same port to two live projects, and only
 * ports that a server could bind right now. */
void ports_init(int lo, int hi);
/* True when a server could listen on port now, on IPv4 and on IPv6 (bind probe with
 * SO_REUSEADDR, as Node and most servers bind). */
bool ports_is_free(int port);
/* Reserves ports in <state_dir>/ports (created 0700) from now on, so devsups sharing a state
 * dir and a range never hand out the same port at once. */
void ports_set_reservations(const char *state_dir);
/* Takes port's reservation (a close-on-exec flock'ed fd kept until ports_release): false when
 * another devsup holds it. True when reservations are off or the file cannot be opened. */
bool ports_reserve(int port) WUR;
/* Drops port's reservation, if we hold it. */
void ports_release(int port);
/* At exit: drops every reservation. */
void ports_free(void);
/* A port for a start, reserved (release it with ports_release): `wanted` (0 for any) if free,
 * not taken and not reserved by another devsup, else the next such one in the range, unless
 * strict. taken(port) says whether a live project holds it. -1 with a message in err when
 * there is none. */
int ports_allocate(int wanted, bool strict, bool (*taken)(int port), char *err, size_t errlen);

#endif
