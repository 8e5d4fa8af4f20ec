#include "common/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *log_prog = "devsup";
static log_level_t log_level = LOG_LEVEL_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};
static void (*log_sink)(const char *line, size_t len);

void log_init(const char *prog, log_level_t level)
{
	log_prog = prog;
	log_level = level;
}

void log_set_sink(void (*sink)(const char *line, size_t len))
{
	log_sink = sink;
}

int log_level_parse(const char *s)
{
	for (int i = 0; i <= LOG_LEVEL_OFF; i++)
		if (strcmp(s, level_names[i]) == 0)
			return i;
	return -1;
}

void log_msg(log_level_t level, const char *fmt, ...)
{
	if (level < log_level)
		return;
	int saved = errno; /* logging in an error path must not clobber the error */
	char line[1024];
	int n = snprintf(line, sizeof(line), "%s[%d]: %s: ", log_prog, (int)getpid(),
			 level_names[level]);
	va_list ap;
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof(line))
		n += vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(line) - 1)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	if (log_sink) {
		log_sink(line, (size_t)n);
		errno = saved;
		return;
	}
	/* One write per line so lines of the master and its reapers do not interleave. */
	(void)!write(2, line, (size_t)n);
	errno = saved;
}
