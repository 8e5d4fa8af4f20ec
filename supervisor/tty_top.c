/* The front end's live `top` view: a screen of usage, redrawn every second while open. */
#include "supervisor/tty_top.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "common/colwidth.h"
#include "common/util.h"
#include "supervisor/output.h"
#include "supervisor/project.h"
#include "supervisor/resources.h"
#include "supervisor/tty_format.h"

#define REFRESH_S 1.0

static struct {
	struct ev_loop *loop;
	bool open;
	bool color;
	tty_top_sort_t sort;
	struct termios saved; /* the terminal's modes when the view opened */
	bool have_saved;
	ev_io keys;
	ev_timer tick;
	void (*closed)(void);
} top;

static double usage_num(const json_t *p, const char *key)
{
	return json_number_value(json_object_get(json_object_get(p, "usage"), key));
}

static tty_top_sort_t sort_key;

static int by_usage(const void *a, const void *b)
{
	const json_t *x = *(const json_t *const *)a, *y = *(const json_t *const *)b;
	const char *key = sort_key == TTY_TOP_BY_CPU ? "cpuPercent" : "rssBytes";
	double dx = usage_num(x, key), dy = usage_num(y, key);
	if (dx != dy)
		return dx < dy ? 1 : -1;
	return strcmp(json_string_value(json_object_get(x, "projectId")) ?: "",
		      json_string_value(json_object_get(y, "projectId")) ?: "");
}

/* cpuPercent ("12.3") and rssBytes ("243.5 MiB") as cells; "-" for what usage lacks (null:
 * nothing alive yet). */
static void top_usage_cells(const json_t *usage, char *cpu, size_t cpulen, char *mem,
			    size_t memlen)
{
	json_t *pct = json_object_get(usage, "cpuPercent");
	json_t *rss = json_object_get(usage, "rssBytes");
	snprintf(cpu, cpulen, "-");
	snprintf(mem, memlen, "-");
	if (json_is_number(pct))
		snprintf(cpu, cpulen, "%.1f", json_number_value(pct));
	if (json_is_integer(rss) && json_integer_value(rss) >= 0)
		bytes_human((uint64_t)json_integer_value(rss), mem, memlen);
}

/* line cut to the width, by columns and never inside a character: a wrapped line would
 * scroll the screen */
static void cut_to(char *line, int cols)
{
	if (cols > 0)
		line[colwidth_cut(line, strlen(line), (size_t)cols, NULL)] = '\0';
}

char *tty_top_render(const json_t *projects, tty_top_sort_t sort, int cols, int rows,
		     bool color, const char *clock)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	size_t n = json_array_size(projects);
	const json_t **sorted = xcalloc(n ? n : 1, sizeof(*sorted));
	double cpu_sum = 0, mem_sum = 0;
	for (size_t i = 0; i < n; i++) {
		sorted[i] = json_array_get(projects, i);
		cpu_sum += usage_num(sorted[i], "cpuPercent");
		mem_sum += usage_num(sorted[i], "rssBytes");
	}
	sort_key = sort;
	qsort(sorted, n, sizeof(*sorted), by_usage);
	char total[32];
	bytes_human((uint64_t)mem_sum, total, sizeof(total));
	const char *bold = color ? "\033[1m" : "", *inv = color ? "\033[7m" : "",
		   *off = color ? "\033[0m" : "";
	char line[512];
	snprintf(line, sizeof(line), "devsup top — %zu live project%s, sorted by %s   %s", n,
		 n == 1 ? "" : "s", sort == TTY_TOP_BY_CPU ? "CPU" : "memory", clock);
	cut_to(line, cols);
	fprintf(f, "%s%s%s\033[K\r\n", bold, line, off);
	snprintf(line, sizeof(line), "CPU %.1f%%  memory %s   c: sort by CPU  m: by memory  q: back",
		 cpu_sum, total);
	cut_to(line, cols);
	fprintf(f, "%s\033[K\r\n\033[K\r\n", line);
	snprintf(line, sizeof(line), "%-24s %-9s %6s %6s %7s %11s %10s", "PROJECT", "STATE", "PORT",
		 "PROCS", "CPU%", "MEM", "CPU TIME");
	cut_to(line, cols);
	fprintf(f, "%s%s%s\033[K\r\n", inv, line, off);
	int room = rows > 5 ? rows - 5 : 1;
	for (size_t i = 0; i < n && (int)i < room; i++) {
		const json_t *p = sorted[i];
		const json_t *u = json_object_get(p, "usage");
		char cpu[32], mem[32], port[16] = "-", procs[16] = "-", time_s[32] = "-";
		top_usage_cells(u, cpu, sizeof(cpu), mem, sizeof(mem));
		if (json_integer_value(json_object_get(p, "port")) > 0)
			snprintf(port, sizeof(port), "%lld",
				 (long long)json_integer_value(json_object_get(p, "port")));
		if (json_is_object(u)) {
			snprintf(procs, sizeof(procs), "%d", (int)usage_num(p, "processes"));
			tty_format_uptime((uint64_t)usage_num(p, "cpuMs"), time_s, sizeof(time_s));
		}
		snprintf(line, sizeof(line), "%-24.24s %-9s %6s %6s %7s %11s %10s",
			 json_string_value(json_object_get(p, "projectId")) ?: "?",
			 json_string_value(json_object_get(p, "state")) ?: "?", port, procs, cpu, mem,
			 time_s);
		cut_to(line, cols);
		fprintf(f, "%s\033[K\r\n", line);
	}
	if (n == 0)
		fprintf(f, "no live project: q, then start one\033[K\r\n");
	else if ((int)n > room)
		fprintf(f, "… %zu more (a taller terminal shows them)\033[K\r\n", n - (size_t)room);
	fprintf(f, "\033[J");
	fclose(f);
	free(sorted);
	return out;
}

static void top_size(int *cols, int *rows)
{
	struct winsize ws;
	*cols = 80;
	*rows = 24;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0) {
		*cols = ws.ws_col;
		*rows = ws.ws_row;
	}
}

static void top_draw(void)
{
	json_t *projects = json_array();
	for (project_t *p = project_first(); p; p = p->next) {
		if (!state_is_live(p->state))
			continue;
		json_array_append_new(projects,
				      json_pack("{s:s, s:s, s:i, s:o}", "projectId", p->id, "state",
						state_name(p->state), "port", p->port, "usage",
						resources_usage_json(p)));
	}
	char clock[16];
	time_t now = time(NULL);
	struct tm tm;
	strftime(clock, sizeof(clock), "%H:%M:%S", localtime_r(&now, &tm));
	int cols, rows;
	top_size(&cols, &rows);
	char *screen = tty_top_render(projects, top.sort, cols, rows, top.color, clock);
	output_write_raw("\033[H", 3);
	output_write_raw(screen, strlen(screen));
	free(screen);
	json_decref(projects);
}

/* Keys one at a time, without echo; ISIG stays, so Ctrl-C and Ctrl-Z still work. */
static void top_modes(void)
{
	struct termios t;
	if (tcgetattr(STDIN_FILENO, &t) < 0)
		return;
	if (!top.have_saved) {
		top.saved = t;
		top.have_saved = true;
	}
	t.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	(void)tcsetattr(STDIN_FILENO, TCSANOW, &t);
	/* the alternate screen, cursor hidden: leaving gives back what was there */
	output_write_raw("\033[?1049h\033[?25l", 14);
}

static void top_keys_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	char buf[64];
	(void)loop;
	(void)revents;
	ssize_t n = fd_read(w->fd, buf, sizeof(buf));
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	if (n <= 0) { /* the terminal is gone: give it back; the editor sees the end */
		tty_top_close();
		return;
	}
	for (ssize_t i = 0; i < n && top.open; i++) {
		switch (buf[i]) {
		case 'q':
		case 'Q':
		case 27: /* Esc */
			tty_top_close();
			return;
		case 'c':
		case 'C':
			top.sort = TTY_TOP_BY_CPU;
			top_draw();
			break;
		case 'm':
		case 'M':
			top.sort = TTY_TOP_BY_MEMORY;
			top_draw();
			break;
		default:
			break;
		}
	}
}

static void top_tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	top_draw();
}

void tty_top_open(struct ev_loop *loop, bool color, void (*closed)(void))
{
	if (top.open)
		return;
	top.loop = loop;
	top.color = color;
	top.closed = closed;
	top.open = true;
	top.have_saved = false;
	top_modes();
	ev_io_init(&top.keys, top_keys_cb, STDIN_FILENO, EV_READ);
	ev_io_start(loop, &top.keys);
	ev_timer_init(&top.tick, top_tick_cb, REFRESH_S, REFRESH_S);
	ev_timer_start(loop, &top.tick);
	top_draw();
}

bool tty_top_active(void)
{
	return top.open;
}

void tty_top_close(void)
{
	if (!top.open)
		return;
	top.open = false;
	ev_io_stop(top.loop, &top.keys);
	ev_timer_stop(top.loop, &top.tick);
	output_write_raw("\033[?25h\033[?1049l", 14);
	if (top.have_saved)
		(void)tcsetattr(STDIN_FILENO, TCSANOW, &top.saved);
	if (top.closed)
		top.closed();
}

void tty_top_resume(void)
{
	if (!top.open)
		return;
	top_modes();
	top_draw();
}
