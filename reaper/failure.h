#ifndef DEVSUP_FAILURE_H
#define DEVSUP_FAILURE_H

#include "common/reason.h"

/* A start or run failure as the user will read it: reason, a message naming the concrete
 * thing, and a suggestion a person can act on (SPEC §3). */
typedef struct {
	reason_t reason;
	char message[640];
	char suggestion[320];
} failure_t;

/* Fills f with a printf-style message; suggestion NULL means the reason's default. Both are
 * valid UTF-8 whatever the arguments hold, cut at a character boundary when too long. */
void failure_set(failure_t *f, reason_t reason, const char *suggestion, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
