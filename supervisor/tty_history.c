/* The history file: appended line by line, trimmed atomically under an flock. */
#include "supervisor/tty_history.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <editline/readline.h>

#include "common/util.h"
#include "supervisor/tty_commands.h"

/* The file is rewritten once it holds this many more lines than it keeps. */
#define HISTORY_SLACK 100
#define HISTORY_COOKIE "_HiStOrY_V2_"

static char history_path[PATH_MAX];

/* libedit's format (older devsups saved with write_history): strvis-encoded, `\040` for a
 * blank, `\\` for a backslash. Decoded in place; other escapes are left as they are. */
static void unvis_line(char *s)
{
	char *w = s;
	for (char *r = s; *r; r++) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
		    r[3] >= '0' && r[3] <= '7') {
			*w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
			r += 3;
		} else if (r[0] == '\\' && r[1] == '\\') {
			*w++ = '\\';
			r++;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
}

char *tty_history_tail(const char *text, size_t max, size_t *kept)
{
	size_t cap = strlen(text) + 2, n = 0, count = 0;
	char **lines = NULL;
	size_t nlines = 0, lcap = 0;
	bool encoded = strncmp(text, HISTORY_COOKIE "\n", sizeof(HISTORY_COOKIE)) == 0;
	const char *p = encoded ? text + sizeof(HISTORY_COOKIE) : text;
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char *line = xstrndup(p, len);
		if (encoded)
			unvis_line(line);
		/* a garbled line (an older devsup stored what Ctrl-R typed) is dropped */
		if (line[strspn(line, " \t")] && tty_line_is_clean(line)) {
			if (nlines == lcap) {
				lcap = lcap ? lcap * 2 : 64;
				lines = xrealloc(lines, lcap * sizeof(*lines));
			}
			lines[nlines++] = line;
		} else {
			free(line);
		}
		p = nl ? nl + 1 : p + len;
	}
	char *out = xmalloc(cap);
	out[0] = '\0';
	for (size_t i = 0; i < nlines; i++) {
		if (i + max >= nlines) {
			size_t len = strlen(lines[i]);
			memcpy(out + n, lines[i], len);
			out[n + len] = '\n';
			n += len + 1;
			count++;
		}
		free(lines[i]);
	}
	out[n] = '\0';
	free(lines);
	*kept = count;
	return out;
}

/* A blocking file descriptor: a short write is continued, EINTR retried. 0 or -1 (errno). */
static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t w = fd_write(fd, buf, len);
		if (w < 0)
			return -1;
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

static char *read_all(int fd)
{
	size_t cap = 8192, len = 0;
	char *buf = xmalloc(cap);
	for (;;) {
		ssize_t r = fd_read(fd, buf + len, cap - len - 1);
		if (r <= 0)
			break;
		len += (size_t)r;
		if (len + 1 == cap)
			buf = xrealloc(buf, cap *= 2);
	}
	buf[len] = '\0';
	return buf;
}

void tty_history_open(const char *path)
{
	using_history();
	stifle_history(TTY_HISTORY_MAX);
	history_path[0] = '\0';
	if (!path)
		return;
	snprintf(history_path, sizeof(history_path), "%s", path);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	char *text = read_all(fd);
	close(fd);
	size_t kept;
	char *lines = tty_history_tail(text, TTY_HISTORY_MAX, &kept);
	for (char *p = lines, *nl; (nl = strchr(p, '\n')); p = nl + 1) {
		*nl = '\0';
		add_history(p);
	}
	free(lines);
	free(text);
}

/* Cuts the file (open on fd, locked) to its newest lines: written to .new, renamed over it,
 * so a reader never sees half a file. */
static void trim(int fd)
{
	char tmp[PATH_MAX + 8];
	size_t kept;
	if (lseek(fd, 0, SEEK_SET) < 0)
		return;
	char *text = read_all(fd);
	char *lines = tty_history_tail(text, TTY_HISTORY_MAX, &kept);
	snprintf(tmp, sizeof(tmp), "%s.new", history_path);
	int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out >= 0) {
		bool ok = write_all(out, lines, strlen(lines)) == 0;
		if (close(out) < 0 || !ok || rename(tmp, history_path) < 0)
			unlink(tmp);
	}
	free(lines);
	free(text);
}

static size_t count_lines(int fd)
{
	size_t n = 0;
	if (lseek(fd, 0, SEEK_SET) < 0)
		return 0;
	char *text = read_all(fd);
	for (char *p = text; (p = strchr(p, '\n')); p++)
		n++;
	free(text);
	return n;
}

bool tty_history_add(const char *line)
{
	HIST_ENTRY *last = history_length > 0 ? history_get(history_base + history_length - 1)
					      : NULL;
	if (!line[strspn(line, " \t")] || (last && strcmp(last->line, line) == 0))
		return true;
	add_history(line);
	if (!history_path[0])
		return true;
	/* The lock is on the file, so after waiting for it the path may name a newer file
	 * (another devsup's trim renamed one over it): then lock that one instead. Writers
	 * hold it for one small write (and rarely a rewrite): the wait is short. */
	for (int attempt = 0; attempt < 5; attempt++) {
		int fd = open(history_path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
		struct stat a, b;
		if (fd < 0)
			return false;
		while (flock(fd, LOCK_EX) < 0 && errno == EINTR)
			;
		if (fstat(fd, &a) < 0 || stat(history_path, &b) < 0 || a.st_ino != b.st_ino ||
		    a.st_dev != b.st_dev) {
			close(fd);
			continue;
		}
		size_t len = strlen(line);
		char *rec = xmalloc(len + 2);
		memcpy(rec, line, len);
		memcpy(rec + len, "\n", 2);
		int saved = 0;
		if (write_all(fd, rec, len + 1) < 0)
			saved = errno;
		free(rec);
		/* the size first: counting lines reads the file, only worth it past the bound */
		if (!saved && (size_t)a.st_size + len + 1 > (TTY_HISTORY_MAX + HISTORY_SLACK) * 8 &&
		    count_lines(fd) > TTY_HISTORY_MAX + HISTORY_SLACK)
			trim(fd);
		close(fd); /* releases the lock */
		errno = saved;
		return saved == 0;
	}
	errno = EAGAIN;
	return false;
}
