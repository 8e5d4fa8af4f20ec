#include "reaper/failure.h"

#include <stdarg.h>
#include <stdio.h>

void failure_set(failure_t *f, reason_t reason, const char *suggestion, const char *fmt, ...)
{
	va_list ap;
	f->reason = reason;
	va_start(ap, fmt);
	vsnprintf(f->message, sizeof(f->message), fmt, ap);
	va_end(ap);
	snprintf(f->suggestion, sizeof(f->suggestion), "%s",
		 suggestion ? suggestion : reason_suggestion(reason));
}
