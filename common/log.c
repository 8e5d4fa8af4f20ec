#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *log_prog = "devsup";
static log_level_t log_level = LOG_LEVEL_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};
static void (*log_sink)(const char *line, size_t len);

/*
 * stderr must never stop the loop: a reader that does not read (a pipe nobody drains, a
 * terminal held by Ctrl-S) would block a plain write(2) once its buffer is full. Lines go out
 * through our own non-blocking open file description of stderr (O_NONBLOCK on fd 2 itself
 * would change it for everyone sharing it, the shell included); what cannot be written now
 * waits in `pending`, bounded; beyond that lines are counted and dropped, and the count is
 * written once stderr takes lines again.
 */
static struct {
	int fd;      /* where lines go: our non-blocking description of stderr, or fd 2 */
	bool socket; /* stderr is a socket: send(MSG_DONTWAIT) needs no description of its own */
	size_t len;
	unsigned long long dropped;
	/* last, so that a process that logs little (a reaper) writes only its first pages: the
	 * fields above share one page instead of dirtying one at each end of the buffer */
	char pending[LOG_PENDING_MAX];
} lg = {.fd = 2};

/* Pipes, FIFOs and terminals can block: they get a description of their own. A regular file
 * does not block; a socket is written with MSG_DONTWAIT. */
static void log_open(void)
{
	struct stat sb;
	if (lg.fd != 2)
		close(lg.fd); /* log_init again: stderr may be another file now */
	lg.fd = 2;
	lg.socket = false;
	if (fstat(2, &sb) < 0)
		return;
	if (S_ISSOCK(sb.st_mode)) {
		lg.socket = true;
	} else if (S_ISFIFO(sb.st_mode) || S_ISCHR(sb.st_mode)) {
		int fd = open("/proc/self/fd/2", O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
		if (fd >= 0)
			lg.fd = fd; /* else (no /proc, a FIFO with no reader): plain fd 2 */
	}
}

void log_init(const char *prog, log_level_t level)
{
	log_prog = prog;
	log_level = level;
	log_open();
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

/* One write of n bytes: what was written, 0 when it would block, -1 when stderr is unusable. */
static ssize_t log_write(const char *s, size_t n)
{
	for (;;) {
		ssize_t r = lg.socket ? send(lg.fd, s, n, MSG_DONTWAIT | MSG_NOSIGNAL)
				      : write(lg.fd, s, n);
		if (r >= 0)
			return r;
		if (errno == EINTR)
			continue;
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
	}
}

/* Keeps a line for later, or counts it as dropped when the buffer is full. */
static void log_keep(const char *line, size_t n)
{
	if (lg.len + n > sizeof(lg.pending)) {
		lg.dropped++;
		return;
	}
	memcpy(lg.pending + lg.len, line, n);
	lg.len += n;
}

void log_flush(void)
{
	int saved = errno;
	size_t off = 0;
	/* line by line: one write each, so lines of the master and its reapers do not interleave
	 * (a write of at most PIPE_BUF bytes to a pipe is atomic) */
	while (off < lg.len) {
		const char *nl = memchr(lg.pending + off, '\n', lg.len - off);
		size_t n = nl ? (size_t)(nl - (lg.pending + off)) + 1 : lg.len - off;
		ssize_t r = log_write(lg.pending + off, n);
		if (r == 0)
			break;
		off += r < 0 ? lg.len - off : (size_t)r; /* unusable: nothing more can go */
	}
	memmove(lg.pending, lg.pending + off, lg.len - off);
	lg.len -= off;
	if (lg.len == 0 && lg.dropped > 0) {
		char line[160];
		int n = snprintf(line, sizeof(line),
				 "%s[%d]: warn: %llu log lines dropped: stderr was not being read\n",
				 log_prog, (int)getpid(), lg.dropped);
		lg.dropped = 0;
		if (n > 0 && log_write(line, (size_t)n) == 0)
			log_keep(line, (size_t)n);
	}
	errno = saved;
}

size_t log_pending(void)
{
	return lg.len;
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
	if (lg.len > 0 || lg.dropped > 0)
		log_flush(); /* older lines first */
	if (lg.len > 0 || lg.dropped > 0) {
		log_keep(line, (size_t)n);
	} else {
		ssize_t r = log_write(line, (size_t)n);
		if (r >= 0 && (size_t)r < (size_t)n)
			log_keep(line + r, (size_t)n - (size_t)r);
	}
	errno = saved;
}
