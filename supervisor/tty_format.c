/* Events as readable, coloured lines for the terminal front end. */
#include "supervisor/tty_format.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/util.h"

#define PROJECT_WIDTH 10 /* ids up to this long line their events up */
#define TAIL_LINES 8     /* non-blank lines of an error's logTail: enough to see the cause */

/* SGR codes */
#define C_DIM "2"
#define C_BOLD "1"
#define C_RED "31"
#define C_GREEN "32"
#define C_YELLOW "33"
#define C_MAGENTA "35"
#define C_CYAN "36"
#define C_BOLD_RED "1;31"

typedef struct {
	char *s;
	size_t len, cap;
	bool color;
} sb_t;

static void __attribute__((format(printf, 2, 3))) sb_printf(sb_t *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n <= 0)
		return;
	if (b->len + (size_t)n + 1 > b->cap) {
		b->cap = (b->len + (size_t)n + 1) * 2;
		b->s = xrealloc(b->s, b->cap);
	}
	va_start(ap, fmt);
	vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

static void sb_puts(sb_t *b, const char *s)
{
	sb_printf(b, "%s", s);
}

/* text in colour `sgr` when colours are on; `width` pads it with blanks (0: none) outside
 * the escape codes, so columns line up either way. */
static void sb_paint(sb_t *b, const char *sgr, const char *text, int width)
{
	if (b->color && sgr)
		sb_printf(b, "\033[%sm%s\033[0m", sgr, text);
	else
		sb_puts(b, text);
	for (int pad = width - (int)strlen(text); pad > 0; pad--)
		sb_puts(b, " ");
}

static const char *str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static const char *state_color(const char *state)
{
	if (!state)
		return NULL;
	if (strcmp(state, "running") == 0)
		return C_GREEN;
	if (strcmp(state, "failed") == 0)
		return C_RED;
	if (strcmp(state, "starting") == 0 || strcmp(state, "stopping") == 0)
		return C_YELLOW;
	return C_DIM;
}

uint64_t tty_parse_iso(const char *iso)
{
	struct tm tm = {0};
	int ms = 0;
	if (!iso || sscanf(iso, "%4d-%2d-%2dT%2d:%2d:%2d.%3d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
			   &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) < 6)
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	time_t t = timegm(&tm);
	return t < 0 ? 0 : (uint64_t)t * 1000 + (uint64_t)ms;
}

bool tty_format_clock(const char *iso, char *buf, size_t n)
{
	uint64_t ms = tty_parse_iso(iso);
	struct tm tm;
	time_t t = (time_t)(ms / 1000);
	if (!ms || !localtime_r(&t, &tm) || !strftime(buf, n, "%H:%M:%S", &tm)) {
		snprintf(buf, n, "--:--:--");
		return false;
	}
	return true;
}

void tty_format_uptime(uint64_t ms, char *buf, size_t n)
{
	uint64_t s = ms / 1000;
	if (s < 60)
		snprintf(buf, n, "%llus", (unsigned long long)s);
	else if (s < 3600)
		snprintf(buf, n, "%llum%02llus", (unsigned long long)(s / 60),
			 (unsigned long long)(s % 60));
	else if (s < 86400)
		snprintf(buf, n, "%lluh%02llum", (unsigned long long)(s / 3600),
			 (unsigned long long)(s / 60 % 60));
	else
		snprintf(buf, n, "%llud%02lluh", (unsigned long long)(s / 86400),
			 (unsigned long long)(s / 3600 % 24));
}

/* "12:00:03 web       " : the time and the project, the start of every event line. */
static void head(sb_t *b, const json_t *ev)
{
	char clock[16];
	tty_format_clock(str(ev, "timestamp"), clock, sizeof(clock));
	sb_paint(b, C_DIM, clock, 0);
	sb_puts(b, " ");
	const char *pid = str(ev, "projectId");
	if (pid) {
		sb_paint(b, C_BOLD, pid, PROJECT_WIDTH);
		sb_puts(b, " ");
	}
}

/* Continuation lines start under the text of the head line. */
static void indent(sb_t *b, const json_t *ev)
{
	const char *pid = str(ev, "projectId");
	int w = 9;
	if (pid)
		w += (strlen(pid) > PROJECT_WIDTH ? (int)strlen(pid) : PROJECT_WIDTH) + 1;
	sb_printf(b, "%*s", w, "");
}

static void transition(sb_t *b, const char *from, const char *to)
{
	sb_paint(b, state_color(from), from ? from : "?", 0);
	sb_puts(b, " → ");
	sb_paint(b, state_color(to), to ? to : "?", 0);
}

static bool blank(const char *line)
{
	return !line || line[strspn(line, " \t")] == '\0';
}

static void log_tail(sb_t *b, const json_t *ev)
{
	json_t *tail = json_object_get(ev, "logTail");
	size_t n = json_array_size(tail), first = n, shown = 0;
	/* the last few lines that say something: a crash often ends in blank lines */
	while (first > 0 && shown < TAIL_LINES)
		shown += !blank(json_string_value(json_array_get(tail, --first)));
	for (size_t i = first; i < n; i++) {
		const char *line = json_string_value(json_array_get(tail, i));
		if (blank(line))
			continue;
		indent(b, ev);
		sb_paint(b, C_DIM, "│ ", 0);
		sb_printf(b, "%s\n", line ? line : "");
	}
}

/* "exit 0" / "SIGTERM" */
static void exit_status(sb_t *b, const json_t *ev)
{
	json_t *code = json_object_get(ev, "exitCode");
	const char *sig = str(ev, "signal");
	if (sig)
		sb_puts(b, sig);
	else if (json_is_integer(code))
		sb_printf(b, "exit %lld", (long long)json_integer_value(code));
	else
		sb_puts(b, "gone");
}

static bool fmt_state(sb_t *b, const json_t *ev)
{
	const char *to = str(ev, "to"), *reason = str(ev, "reason");
	/* running and failed are told by dev-server-started / error / dev-server-exited, stopped
	 * by dev-server-stopped: one line per change, with its details */
	if (to && (strcmp(to, "running") == 0 || strcmp(to, "failed") == 0))
		return false;
	if (to && strcmp(to, "stopped") == 0 && !(reason && strcmp(reason, "runner_restart") == 0))
		return false;
	head(b, ev);
	transition(b, str(ev, "from"), to);
	if (reason)
		sb_printf(b, "  (%s)", reason);
	sb_puts(b, "\n");
	return true;
}

static void fmt_started(sb_t *b, const json_t *ev)
{
	const char *url = str(ev, "url"), *turl = str(ev, "tunnelUrl"), *terr = str(ev, "tunnelError");
	head(b, ev);
	transition(b, "starting", "running");
	sb_puts(b, "  ");
	sb_paint(b, C_CYAN, url ? url : "?", 0);
	if (turl) {
		sb_puts(b, "  tunnel ");
		sb_paint(b, C_MAGENTA, turl, 0);
	}
	sb_printf(b, "  in %lld ms", (long long)json_integer_value(json_object_get(ev, "startupMs")));
	if (str(ev, "framework"))
		sb_printf(b, " (%s)", str(ev, "framework"));
	sb_puts(b, "\n");
	if (terr) {
		indent(b, ev);
		sb_paint(b, C_YELLOW, "tunnel failed: ", 0);
		sb_printf(b, "%s\n", terr);
	}
}

static void fmt_stopped(sb_t *b, const json_t *ev)
{
	head(b, ev);
	transition(b, "stopping", "stopped");
	sb_puts(b, "  ");
	exit_status(b, ev);
	sb_printf(b, " after %lld ms",
		  (long long)json_integer_value(json_object_get(ev, "durationMs")));
	if (json_is_true(json_object_get(ev, "forced")))
		sb_paint(b, C_YELLOW, ", forced with SIGKILL", 0);
	json_int_t escaped = json_integer_value(json_object_get(ev, "escaped"));
	if (escaped > 0)
		sb_printf(b, ", %lld escaped process%s killed", (long long)escaped,
			  escaped == 1 ? "" : "es");
	sb_puts(b, "\n");
}

static void fmt_exited(sb_t *b, const json_t *ev)
{
	head(b, ev);
	transition(b, "running", "failed");
	sb_puts(b, "  ");
	sb_paint(b, C_BOLD_RED, str(ev, "reason") ? str(ev, "reason") : "exited", 0);
	const char *msg = str(ev, "message");
	if (msg) {
		sb_puts(b, ": ");
		sb_paint(b, C_RED, msg, 0);
	} else {
		sb_puts(b, " (");
		exit_status(b, ev);
		sb_puts(b, ")");
	}
	sb_puts(b, "\n");
	log_tail(b, ev);
}

static void fmt_error(sb_t *b, const json_t *ev)
{
	const char *reason = str(ev, "reason"), *msg = str(ev, "error");
	const char *sugg = str(ev, "suggestion");
	head(b, ev);
	sb_paint(b, C_BOLD_RED, "✗ ", 0);
	sb_paint(b, C_BOLD_RED, reason ? reason : "error", 0);
	sb_puts(b, ": ");
	sb_paint(b, C_RED, msg ? msg : "", 0);
	sb_puts(b, "\n");
	if (sugg && *sugg) {
		indent(b, ev);
		sb_printf(b, "→ %s\n", sugg);
	}
	log_tail(b, ev);
}

static void fmt_log_line(sb_t *b, const char *stream, const char *line)
{
	bool err = stream && strcmp(stream, "stderr") == 0;
	sb_paint(b, C_DIM, "│ ", 0);
	sb_paint(b, err ? C_YELLOW : NULL, line ? line : "", 0);
	sb_puts(b, "\n");
}

static void fmt_log(sb_t *b, const json_t *ev)
{
	json_int_t dropped = json_integer_value(json_object_get(ev, "dropped"));
	if (dropped > 0) {
		head(b, ev);
		sb_printf(b, "(%lld lines dropped: the terminal was behind)\n", (long long)dropped);
	}
	head(b, ev);
	fmt_log_line(b, str(ev, "stream"), str(ev, "line"));
}

static void fmt_logs(sb_t *b, const json_t *ev)
{
	json_t *lines = json_object_get(ev, "lines");
	size_t i, n = json_array_size(lines);
	json_t *l;
	head(b, ev);
	if (n == 0) {
		sb_puts(b, "no output yet\n");
		return;
	}
	sb_printf(b, "last %zu line%s of output:\n", n, n == 1 ? "" : "s");
	json_array_foreach(lines, i, l)
	{
		char clock[16];
		tty_format_clock(str(l, "timestamp"), clock, sizeof(clock));
		sb_puts(b, "  ");
		sb_paint(b, C_DIM, clock, 0);
		sb_puts(b, " ");
		fmt_log_line(b, str(l, "stream"), str(l, "line"));
	}
}

static void fmt_tunnel(sb_t *b, const json_t *ev, const char *what)
{
	head(b, ev);
	if (strcmp(what, "opened") == 0) {
		sb_puts(b, "tunnel open  ");
		sb_paint(b, C_MAGENTA, str(ev, "url") ? str(ev, "url") : "?", 0);
	} else if (strcmp(what, "closed") == 0) {
		sb_printf(b, "tunnel closed (%s)", str(ev, "reason") ? str(ev, "reason") : "-");
	} else {
		sb_paint(b, C_YELLOW, "tunnel failed: ", 0);
		sb_printf(b, "%s%s%s", str(ev, "reason") ? str(ev, "reason") : "",
			  str(ev, "message") ? ": " : "", str(ev, "message") ? str(ev, "message") : "");
	}
	sb_puts(b, "\n");
}

static void fmt_ready(sb_t *b, const json_t *ev)
{
	json_t *range = json_object_get(ev, "portRange");
	sb_paint(b, C_BOLD, "devsup", 0);
	sb_printf(b, " %s — runner %s", str(ev, "version"), str(ev, "runnerId"));
	if (str(ev, "runnerIdTaken")) /* another devsup holds the id asked for: we moved on */
		sb_printf(b, " (runner %s is in use by devsup pid %lld)", str(ev, "runnerIdTaken"),
			  (long long)json_integer_value(json_object_get(ev, "runnerIdTakenBy")));
	sb_printf(b, ", ports %lld-%lld, persistence %s",
		  (long long)json_integer_value(json_array_get(range, 0)),
		  (long long)json_integer_value(json_array_get(range, 1)), str(ev, "persistence"));
	json_int_t rec = json_integer_value(json_object_get(ev, "recovered"));
	if (rec > 0)
		sb_printf(b, ", %lld project%s of a previous run stopped", (long long)rec,
			  rec == 1 ? "" : "s");
	sb_puts(b, "\nType 'help' for the commands; Ctrl-D or 'quit' stops every project and "
		   "exits.\n");
}

/* Anything else: its fields as JSON, so nothing an event says is hidden. */
static void fmt_generic(sb_t *b, const json_t *ev)
{
	json_t *rest = json_deep_copy(ev);
	json_object_del(rest, "type");
	json_object_del(rest, "timestamp");
	json_object_del(rest, "projectId");
	json_object_del(rest, "commandId");
	char *s = json_dumps(rest, JSON_COMPACT | JSON_SORT_KEYS);
	head(b, ev);
	sb_printf(b, "%s %s\n", str(ev, "type") ? str(ev, "type") : "?", s ? s : "");
	free(s);
	json_decref(rest);
}

static void fmt_metrics(sb_t *b, const json_t *ev)
{
	const char *key;
	json_t *v;
	head(b, ev);
	sb_puts(b, "metrics\n");
	json_object_foreach((json_t *)ev, key, v)
	{
		if (strcmp(key, "type") == 0 || strcmp(key, "timestamp") == 0 ||
		    strcmp(key, "commandId") == 0)
			continue;
		char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
		sb_printf(b, "  %-18s %s\n", key, s ? s : "");
		free(s);
	}
}

static int by_project_id(const void *a, const void *b)
{
	const char *x = str(*(const json_t *const *)a, "projectId");
	const char *y = str(*(const json_t *const *)b, "projectId");
	return strcmp(x ? x : "", y ? y : "");
}

enum { STATUS_COLS = 7 };

/* One project's cells (malloc'd): project, state, port, pid, url, tunnel, uptime. */
static void status_row(const json_t *p, uint64_t now_ms, char **row)
{
	char port[32] = "-", pid[32] = "-", up[32] = "-";
	const char *state = str(p, "state");
	json_int_t v;
	uint64_t since = tty_parse_iso(str(p, "startedAt"));
	if (since && state && strcmp(state, "running") == 0)
		tty_format_uptime(now_ms > since ? now_ms - since : 0, up, sizeof(up));
	if ((v = json_integer_value(json_object_get(p, "port"))) > 0)
		snprintf(port, sizeof(port), "%lld", (long long)v);
	if ((v = json_integer_value(json_object_get(p, "pid"))) > 0)
		snprintf(pid, sizeof(pid), "%lld", (long long)v);
	row[0] = xstrdup(str(p, "projectId") ? str(p, "projectId") : "?");
	row[1] = xstrdup(state ? state : "?");
	row[2] = xstrdup(port);
	row[3] = xstrdup(pid);
	row[4] = xstrdup(str(p, "url") ? str(p, "url") : "-");
	row[5] = xstrdup(str(p, "tunnelUrl") ? str(p, "tunnelUrl") : "-");
	row[6] = xstrdup(up);
}

static const char *status_color(int col, char **row)
{
	if (col == 1)
		return state_color(row[1]);
	if (col == 4 && row[4][0] != '-')
		return C_CYAN;
	if (col == 5 && row[5][0] != '-')
		return C_MAGENTA;
	return NULL;
}

char *tty_format_status(const json_t *projects, bool color, uint64_t now_ms)
{
	static const char *const titles[STATUS_COLS] = {"PROJECT", "STATE",  "PORT",  "PID",
							"URL",     "TUNNEL", "UPTIME"};
	size_t n = json_array_size(projects);
	sb_t b = {.color = color};
	if (n == 0) {
		sb_puts(&b, "no projects yet: start one with  start ID -- CMD ARGS...\n");
		return b.s;
	}
	/* by project id: the registry's order (newest first) means nothing to a reader */
	const json_t **sorted = xcalloc(n, sizeof(*sorted));
	for (size_t r = 0; r < n; r++)
		sorted[r] = json_array_get(projects, r);
	qsort(sorted, n, sizeof(*sorted), by_project_id);
	char **cells = xcalloc(n * STATUS_COLS, sizeof(*cells));
	int width[STATUS_COLS];
	for (int c = 0; c < STATUS_COLS; c++)
		width[c] = (int)strlen(titles[c]);
	for (size_t r = 0; r < n; r++) {
		char **row = cells + r * STATUS_COLS;
		status_row(sorted[r], now_ms, row);
		for (int c = 0; c < STATUS_COLS; c++)
			if ((int)strlen(row[c]) > width[c])
				width[c] = (int)strlen(row[c]);
	}
	/* the last column is not padded: no trailing blanks */
	for (int c = 0; c < STATUS_COLS; c++)
		sb_paint(&b, C_BOLD, titles[c], c == STATUS_COLS - 1 ? 0 : width[c] + 2);
	sb_puts(&b, "\n");
	for (size_t r = 0; r < n; r++) {
		char **row = cells + r * STATUS_COLS;
		for (int c = 0; c < STATUS_COLS; c++) {
			sb_paint(&b, status_color(c, row), row[c],
				 c == STATUS_COLS - 1 ? 0 : width[c] + 2);
			free(row[c]);
		}
		sb_puts(&b, "\n");
	}
	free(cells);
	free(sorted);
	return b.s;
}

char *tty_format_event(const json_t *ev, bool color, uint64_t now_ms)
{
	const char *type = str(ev, "type");
	sb_t b = {.color = color};
	if (!type)
		type = "?";
	if (strcmp(type, "dev-server-state") == 0) {
		if (!fmt_state(&b, ev))
			return NULL;
	} else if (strcmp(type, "dev-server-started") == 0) {
		fmt_started(&b, ev);
	} else if (strcmp(type, "dev-server-stopped") == 0) {
		fmt_stopped(&b, ev);
	} else if (strcmp(type, "dev-server-exited") == 0) {
		fmt_exited(&b, ev);
	} else if (strcmp(type, "error") == 0) {
		fmt_error(&b, ev);
	} else if (strcmp(type, "log") == 0) {
		fmt_log(&b, ev);
	} else if (strcmp(type, "logs") == 0) {
		fmt_logs(&b, ev);
	} else if (strncmp(type, "tunnel-", 7) == 0) {
		fmt_tunnel(&b, ev, type + 7);
	} else if (strcmp(type, "status") == 0) {
		return tty_format_status(json_object_get(ev, "projects"), color, now_ms);
	} else if (strcmp(type, "pong") == 0) {
		char up[32];
		json_int_t ms = json_integer_value(json_object_get(ev, "uptimeMs"));
		tty_format_uptime(ms > 0 ? (uint64_t)ms : 0, up, sizeof(up));
		head(&b, ev);
		sb_printf(&b, "pong: devsup %s, up %s\n", str(ev, "version"), up);
	} else if (strcmp(type, "following") == 0) {
		head(&b, ev);
		sb_puts(&b, json_is_true(json_object_get(ev, "follow"))
				    ? "following its output — Ctrl-C to stop\n"
				    : "no longer following its output\n");
	} else if (strcmp(type, "metrics") == 0) {
		fmt_metrics(&b, ev);
	} else if (strcmp(type, "shutdown-complete") == 0) {
		head(&b, ev);
		sb_puts(&b, "every project is stopped\n");
	} else if (strcmp(type, "ready") == 0) {
		fmt_ready(&b, ev);
	} else {
		fmt_generic(&b, ev);
	}
	return b.s;
}
