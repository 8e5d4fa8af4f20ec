#include "supervisor/input.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "common/linebuf.h"
#include "common/log.h"
#include "common/util.h"
#include "supervisor/command.h"
#include "supervisor/line_id.h"

static struct {
	struct ev_loop *loop;
	int fd;
	ev_io rio;
	linebuf_t lb;
	size_t max_line; /* --max-line: longer lines are refused */
	void (*on_eof)(void);
} in = {.fd = -1};

static void input_line(void *ctx, const char *line, size_t len, bool overlong)
{
	(void)ctx;
	if (overlong || len > in.max_line)
		command_line_too_long(line, len, in.max_line);
	else
		command_handle_line(line, len);
}

void input_stop(void)
{
	if (in.fd < 0)
		return;
	ev_io_stop(in.loop, &in.rio);
	linebuf_free(&in.lb);
	in.fd = -1;
}

static void input_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	char buf[65536];
	(void)loop;
	(void)w;
	(void)revents;
	/* A few reads per wake-up: a client pouring commands in cannot starve the reapers. */
	for (int i = 0; i < 4 && in.fd >= 0; i++) {
		ssize_t r = fd_read(in.fd, buf, sizeof(buf));
		if (r > 0) {
			linebuf_feed(&in.lb, buf, (size_t)r, input_line, NULL);
			continue;
		}
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (r < 0)
			log_warn("stdin: %s", strerror(errno));
		linebuf_finish(&in.lb, input_line, NULL);
		input_stop();
		in.on_eof();
		return;
	}
}

void input_init(struct ev_loop *loop, int fd, size_t max_line, void (*on_eof)(void))
{
	in.loop = loop;
	in.fd = fd;
	in.on_eof = on_eof;
	in.max_line = max_line;
	/* an over-long line is still answered with its id, searched in its first 64 KiB: hold
	 * that much of it even under a smaller --max-line */
	linebuf_init(&in.lb, max_line > LINE_ID_SCAN_MAX ? max_line : LINE_ID_SCAN_MAX);
	if (fd_set_nonblock(fd) < 0)
		log_warn("stdin: O_NONBLOCK: %s", strerror(errno));
	ev_io_init(&in.rio, input_read_cb, fd, EV_READ);
	ev_io_start(loop, &in.rio);
}
