#include "reaper/failure.h"

#include <stdarg.h>

#include "common/utf8.h"

void failure_set(failure_t *f, reason_t reason, const char *suggestion, const char *fmt, ...)
{
	va_list ap;
	f->reason = reason;
	/* The message names things from outside (a command, a process name from /proc) and may
	 * be cut to fit: it must stay valid UTF-8, or the final message could not be encoded. */
	va_start(ap, fmt);
	utf8_vformat(f->message, sizeof(f->message), fmt, ap);
	va_end(ap);
	utf8_format(f->suggestion, sizeof(f->suggestion), "%s",
		    suggestion ? suggestion : reason_suggestion(reason));
}
