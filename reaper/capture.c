#include "reaper/capture.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/sanitize.h"
#include "common/util.h"

static void capture_deliver(void *ctx, const char *line, size_t len, bool overlong)
{
	capture_t *c = ctx;
	/* sanitizing never grows a line by more than 3x (each bad byte becomes U+FFFD) */
	char out[CAPTURE_LINE_MAX * 3 + 16];
	size_t n = sanitize_line(line, len, out, sizeof(out) - 8);
	if (overlong) {
		memcpy(out + n, " \xe2\x80\xa6", 4); /* " …": the line was cut */
		n += 4;
		out[n] = '\0';
	}
	c->cb(c->ctx, c->stream, out, n);
}

/* One page: every line is delivered (and sent on) from below this buffer, so its size is how
 * deep the reaper's stack goes, and each stack page touched stays dirty for the project's life. */
#define CAPTURE_READ_BYTES 4096

/* Reads up to max_reads times; stops at EAGAIN, closes at EOF. */
static void capture_read(capture_t *c, struct ev_loop *loop, int max_reads)
{
	char buf[CAPTURE_READ_BYTES];
	for (int i = 0; i < max_reads && c->fd >= 0; i++) {
		ssize_t r = fd_read(c->fd, buf, sizeof(buf));
		if (r > 0) {
			linebuf_feed(&c->lb, buf, (size_t)r, capture_deliver, c);
			continue;
		}
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (r < 0)
			log_warn("reading %s: %s", ring_stream_name(c->stream), strerror(errno));
		capture_close(c, loop);
		return;
	}
}

static void capture_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)revents;
	/* A bounded number of reads per wake-up (256 KiB), so one noisy stream cannot starve the
	 * loop. */
	capture_read(w->data, loop, 64);
}

void capture_drain(capture_t *c, struct ev_loop *loop)
{
	/* bounded too: a grandchild may still be writing to the same pipe */
	capture_read(c, loop, 256);
}

int capture_open(capture_t *c, struct ev_loop *loop, ring_stream_t stream, capture_line_cb cb,
		 void *ctx, int *child_fd)
{
	int p[2];
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	if (fd_set_nonblock(p[0]) < 0) {
		int e = errno;
		close(p[0]);
		close(p[1]);
		errno = e;
		return -1;
	}
	c->fd = p[0];
	c->stream = stream;
	c->cb = cb;
	c->ctx = ctx;
	linebuf_init(&c->lb, CAPTURE_LINE_MAX);
	ev_io_init(&c->io, capture_read_cb, c->fd, EV_READ);
	c->io.data = c;
	ev_io_start(loop, &c->io);
	*child_fd = p[1];
	return 0;
}

void capture_close(capture_t *c, struct ev_loop *loop)
{
	if (c->fd < 0)
		return;
	ev_io_stop(loop, &c->io);
	linebuf_finish(&c->lb, capture_deliver, c);
	linebuf_free(&c->lb);
	close(c->fd);
	c->fd = -1;
}
