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
	for (int pad = width - (int)tty_text_width(text, strlen(text)); pad > 0; pad--)
		sb_puts(b, " ");
}

size_t tty_text_width(const char *s, size_t len)
{
	size_t w = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\033' && i + 1 < len && s[i + 1] == '[') {
			/* a CSI sequence (colours): no width, up to its final byte */
			for (i += 2; i < len && !(s[i] >= 0x40 && s[i] <= 0x7e); i++)
				;
			continue;
		}
		/* one column per character: every byte but UTF-8 continuation bytes */
		w += ((unsigned char)s[i] & 0xc0) != 0x80;
	}
	return w;
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
		sb_paint(b, tty_project_color(pid), pid, PROJECT_WIDTH);
		sb_puts(b, " ");
	}
}

const char *tty_project_color(const char *id)
{
	/* bright colours, none of the states' green, red and yellow: a project keeps its own
	 * across lines, as pm2 shows merged logs */
	static const char *const palette[] = {"1;36", "1;35", "1;34", "1;96", "1;95", "1;94"};
	uint32_t h = 2166136261u; /* FNV-1a */
	for (const unsigned char *p = (const unsigned char *)id; *p; p++)
		h = (h ^ *p) * 16777619u;
	return palette[h % ARRAY_LEN(palette)];
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

/* The first line that names the error: Node's "Error: ...", npm's "ERR!", "failed to ...". */
static bool names_error(const char *line)
{
	return line && (strstr(line, "Error") || strstr(line, "error") || strstr(line, "ERR!") ||
			strstr(line, "failed") || strstr(line, "Failed"));
}

size_t tty_tail_window(const json_t *tail, size_t *first)
{
	size_t n = json_array_size(tail), shown = 0, i;
	for (i = 0; i < n; i++)
		if (names_error(json_string_value(json_array_get(tail, i))))
			break;
	if (i < n) {
		/* the error line, a line of context before it, and what follows it (a stack) */
		size_t start = i, before = 0;
		while (start > 0 && before < 1)
			before += !blank(json_string_value(json_array_get(tail, --start)));
		*first = start;
		size_t end = start;
		for (shown = 0; end < n && shown < TAIL_LINES; end++)
			shown += !blank(json_string_value(json_array_get(tail, end)));
		return end;
	}
	/* nothing names it: the last few lines that say something (a crash often ends in blank
	 * lines) */
	*first = n;
	while (*first > 0 && shown < TAIL_LINES)
		shown += !blank(json_string_value(json_array_get(tail, --*first)));
	return n;
}

static void log_tail(sb_t *b, const json_t *ev)
{
	json_t *tail = json_object_get(ev, "logTail");
	size_t n = json_array_size(tail), first, end = tty_tail_window(tail, &first), nonblank = 0,
	       shown = 0;
	for (size_t i = 0; i < n; i++) {
		bool some = !blank(json_string_value(json_array_get(tail, i)));
		nonblank += some;
		shown += some && i >= first && i < end;
	}
	for (size_t i = first; i < end; i++) {
		const char *line = json_string_value(json_array_get(tail, i));
		if (blank(line))
			continue;
		indent(b, ev);
		sb_paint(b, C_DIM, "│ ", 0);
		sb_paint(b, names_error(line) ? C_RED : NULL, line ? line : "", 0);
		sb_puts(b, "\n");
	}
	if (shown < nonblank) {
		indent(b, ev);
		sb_printf(b, "(%zu of %zu lines shown; logs %s shows them all)\n", shown, nonblank,
			  str(ev, "projectId") ? str(ev, "projectId") : "ID");
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
	if (str(ev, "message")) {
		char *msg = tty_humanize(str(ev, "message"));
		sb_puts(b, ": ");
		sb_paint(b, C_RED, msg, 0);
		free(msg);
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
	const char *reason = str(ev, "reason");
	char *msg = tty_humanize(str(ev, "error") ? str(ev, "error") : "");
	char *sugg = tty_humanize(str(ev, "suggestion") ? str(ev, "suggestion") : "");
	head(b, ev);
	sb_paint(b, C_BOLD_RED, "✗ ", 0);
	sb_paint(b, C_BOLD_RED, reason ? reason : "error", 0);
	sb_puts(b, ": ");
	sb_paint(b, C_RED, msg, 0);
	sb_puts(b, "\n");
	if (*sugg) {
		indent(b, ev);
		sb_printf(b, "→ %s\n", sugg);
	}
	log_tail(b, ev);
	free(msg);
	free(sugg);
}

/* Protocol words in the engine's messages, and what a person types instead. Longest first
 * where one contains another. */
static const struct {
	const char *from, *to;
} human_words[] = {
	{"or raise healthCheck.timeoutMs", "or start it with a longer --health-timeout SECONDS"},
	{"raise healthCheck.timeoutMs", "start it with a longer --health-timeout SECONDS"},
	{"field 'healthCheck.timeoutMs'", "--health-timeout"},
	{"field 'healthCheck.path'", "--health-path"},
	{"healthCheck.timeoutMs", "--health-timeout"},
	{"healthCheck.path", "--health-path"},
	{"field 'stopTimeoutMs'", "--stop-timeout"},
	{"stopTimeoutMs", "--stop-timeout"},
	{"field 'projectId'", "the project id"},
	{"field 'command'", "the command"},
	{"field 'cwd'", "--cwd"},
	{"field 'env'", "--env"},
	{"field 'port'", "--port"},
	{"field 'framework'", "--framework"},
	{"field 'tunnel'", "--tunnel"},
	{"use restart-dev-server", "use restart ID"},
	{"restart-dev-server", "restart"},
	{"start-dev-server", "start"},
	{"stop-dev-server", "stop"},
	{"start without strictPort so another port is chosen",
	 "start it without --strict-port to take another port"},
	{"without strictPort", "without --strict-port"},
	{"strictPort", "--strict-port"},
	{"read logTail for its error", "its last lines of output are below"},
	{"Read logTail", "Read its output (logs ID)"},
	{"logTail", "its output"},
	{"Check that cwd is the absolute path of an existing project directory",
	 "Check the --cwd directory (default: the directory devsup was started in)"},
	{"see docs/protocol.md for each command's fields", "help start lists the options"},
	{"or raise --max-line", "or start devsup with a larger --max-line"},
};

char *tty_humanize(const char *text)
{
	sb_t b = {0};
	const char *p = text;
	sb_puts(&b, "");
	while (*p) {
		size_t i;
		for (i = 0; i < ARRAY_LEN(human_words); i++) {
			size_t n = strlen(human_words[i].from);
			if (strncmp(p, human_words[i].from, n) == 0) {
				sb_puts(&b, human_words[i].to);
				p += n;
				break;
			}
		}
		if (i == ARRAY_LEN(human_words))
			sb_printf(&b, "%c", *p++);
	}
	return b.s ? b.s : xstrdup("");
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

enum {
	COL_PROJECT,
	COL_STATE,
	COL_PORT,
	COL_PID,
	COL_URL,
	COL_TUNNEL,
	COL_UPTIME,
	COL_RESTARTS,
	COL_CPU,
	COL_MEM,
	COL_FAILURE,
	STATUS_COLS
};

static const char *const status_titles[STATUS_COLS] = {
	"PROJECT", "STATE", "PORT", "PID", "URL", "TUNNEL", "UPTIME", "↺", "CPU", "MEM", "LAST FAILURE"};

/* Dropped first when the terminal is too narrow: what another column or `status ID` says
 * too (the pid, the url beside the port), then the rest. */
static const int drop_order[] = {COL_PID,  COL_CPU,     COL_MEM,    COL_RESTARTS,
				 COL_URL,  COL_TUNNEL,  COL_UPTIME, COL_PORT};

static void format_bytes(uint64_t n, char *buf, size_t len)
{
	if (n >= 10ull << 30)
		snprintf(buf, len, "%lluG", (unsigned long long)(n >> 30));
	else if (n >= 1ull << 30)
		snprintf(buf, len, "%.1fG", (double)n / (1 << 30));
	else if (n >= 1ull << 20)
		snprintf(buf, len, "%lluM", (unsigned long long)(n >> 20));
	else
		snprintf(buf, len, "%lluK", (unsigned long long)(n >> 10));
}

/* "immediate_crash, exit 1" of a failed project's lastFailure. */
static void last_failure(const json_t *p, char *buf, size_t n)
{
	const json_t *lf = json_object_get(p, "lastFailure");
	const char *state = str(p, "state");
	buf[0] = '\0';
	if (!json_is_object(lf) || !state || strcmp(state, "failed") != 0)
		return;
	const char *reason = str(lf, "reason"), *sig = str(lf, "signal");
	json_t *code = json_object_get(lf, "exitCode");
	size_t k = (size_t)snprintf(buf, n, "%s", reason ? reason : "failed");
	if (sig && k < n)
		snprintf(buf + k, n - k, ", %s", sig);
	else if (json_is_integer(code) && k < n)
		snprintf(buf + k, n - k, ", exit %lld", (long long)json_integer_value(code));
}

/* One project's cells (malloc'd); has[c] is set for a column some project fills. */
static void status_row(const json_t *p, uint64_t now_ms, char **row, bool *has)
{
	char port[32] = "-", pid[32] = "-", up[32] = "-", restarts[32] = "-", cpu[32] = "-",
	     mem[32] = "-", failure[256];
	const char *state = str(p, "state");
	json_int_t v;
	json_t *usage = json_object_get(p, "usage"), *j;
	uint64_t since = tty_parse_iso(str(p, "startedAt"));
	if (since && state && strcmp(state, "running") == 0)
		tty_format_uptime(now_ms > since ? now_ms - since : 0, up, sizeof(up));
	if ((v = json_integer_value(json_object_get(p, "port"))) > 0)
		snprintf(port, sizeof(port), "%lld", (long long)v);
	if ((v = json_integer_value(json_object_get(p, "pid"))) > 0)
		snprintf(pid, sizeof(pid), "%lld", (long long)v);
	if (json_is_integer(j = json_object_get(p, "restarts"))) {
		snprintf(restarts, sizeof(restarts), "%lld", (long long)json_integer_value(j));
		has[COL_RESTARTS] = true;
	}
	if (json_is_number(j = json_object_get(usage, "cpuPercent"))) {
		snprintf(cpu, sizeof(cpu), "%.0f%%", json_number_value(j));
		has[COL_CPU] = true;
	}
	if (json_is_number(j = json_object_get(usage, "rssBytes"))) {
		format_bytes((uint64_t)json_number_value(j), mem, sizeof(mem));
		has[COL_MEM] = true;
	}
	last_failure(p, failure, sizeof(failure));
	has[COL_FAILURE] |= failure[0] != '\0';
	has[COL_TUNNEL] |= str(p, "tunnelUrl") != NULL;
	row[COL_PROJECT] = xstrdup(str(p, "projectId") ? str(p, "projectId") : "?");
	row[COL_STATE] = xstrdup(state ? state : "?");
	row[COL_PORT] = xstrdup(port);
	row[COL_PID] = xstrdup(pid);
	row[COL_URL] = xstrdup(str(p, "url") ? str(p, "url") : "-");
	row[COL_TUNNEL] = xstrdup(str(p, "tunnelUrl") ? str(p, "tunnelUrl") : "-");
	row[COL_UPTIME] = xstrdup(up);
	row[COL_RESTARTS] = xstrdup(restarts);
	row[COL_CPU] = xstrdup(cpu);
	row[COL_MEM] = xstrdup(mem);
	row[COL_FAILURE] = xstrdup(failure[0] ? failure : "-");
}

static const char *status_color(int col, char **row)
{
	if (col == COL_STATE)
		return state_color(row[COL_STATE]);
	if (col == COL_URL && row[COL_URL][0] != '-')
		return C_CYAN;
	if (col == COL_TUNNEL && row[COL_TUNNEL][0] != '-')
		return C_MAGENTA;
	if (col == COL_FAILURE && row[COL_FAILURE][0] != '-')
		return C_RED;
	return NULL;
}

/* cell cut to width columns, its last one an ellipsis (malloc'd). */
static char *ellipsize(const char *cell, int width)
{
	size_t len = strlen(cell);
	if ((int)tty_text_width(cell, len) <= width || width < 1)
		return xstrdup(cell);
	size_t i = 0;
	for (int w = 0; i < len; i++) {
		if (((unsigned char)cell[i] & 0xc0) != 0x80 && ++w == width)
			break;
	}
	char *s = xmalloc(i + 4);
	memcpy(s, cell, i);
	memcpy(s + i, "…", 4);
	return s;
}

static int table_width(const int *width, const bool *shown)
{
	int total = 0, n = 0;
	for (int c = 0; c < STATUS_COLS; c++)
		if (shown[c]) {
			total += width[c];
			n++;
		}
	return total + 2 * (n > 0 ? n - 1 : 0);
}

/* Fits the table into cols (0: any width): drops columns in drop_order, then cuts the widest
 * of the project, failure, url and tunnel columns. */
static void fit_columns(int *width, bool *shown, int cols)
{
	for (size_t i = 0; cols > 0 && i < ARRAY_LEN(drop_order); i++) {
		if (table_width(width, shown) <= cols)
			return;
		shown[drop_order[i]] = false;
	}
	while (cols > 0 && table_width(width, shown) > cols) {
		static const int cuttable[] = {COL_FAILURE, COL_PROJECT, COL_URL, COL_TUNNEL};
		int widest = -1;
		for (size_t i = 0; i < ARRAY_LEN(cuttable); i++) {
			int c = cuttable[i];
			if (shown[c] && width[c] > 4 && (widest < 0 || width[c] > width[widest]))
				widest = c;
		}
		if (widest < 0)
			return; /* as narrow as it gets */
		width[widest]--;
	}
}

char *tty_format_status(const json_t *projects, bool color, uint64_t now_ms, int cols)
{
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
	bool shown[STATUS_COLS] = {[COL_PROJECT] = true, [COL_STATE] = true, [COL_PORT] = true,
				   [COL_PID] = true,     [COL_URL] = true,   [COL_TUNNEL] = true,
				   [COL_UPTIME] = true};
	bool has[STATUS_COLS] = {0};
	for (int c = 0; c < STATUS_COLS; c++)
		width[c] = (int)tty_text_width(status_titles[c], strlen(status_titles[c]));
	for (size_t r = 0; r < n; r++) {
		char **row = cells + r * STATUS_COLS;
		status_row(sorted[r], now_ms, row, has);
		for (int c = 0; c < STATUS_COLS; c++)
			if ((int)strlen(row[c]) > width[c])
				width[c] = (int)strlen(row[c]);
	}
	for (int c = COL_RESTARTS; c < STATUS_COLS; c++)
		shown[c] = has[c];
	/* a tunnel column of dashes says nothing: the first to go when narrow */
	if (!has[COL_TUNNEL] && cols > 0 && table_width(width, shown) > cols)
		shown[COL_TUNNEL] = false;
	fit_columns(width, shown, cols);
	int last = 0;
	for (int c = 0; c < STATUS_COLS; c++)
		if (shown[c])
			last = c;
	/* the last column is not padded: no trailing blanks */
	for (int c = 0; c < STATUS_COLS; c++)
		if (shown[c]) {
			char *t = ellipsize(status_titles[c], width[c]);
			sb_paint(&b, C_BOLD, t, c == last ? 0 : width[c] + 2);
			free(t);
		}
	sb_puts(&b, "\n");
	for (size_t r = 0; r < n; r++) {
		char **row = cells + r * STATUS_COLS;
		for (int c = 0; c < STATUS_COLS; c++) {
			if (shown[c]) {
				char *t = ellipsize(row[c], width[c]);
				sb_paint(&b, status_color(c, row), t,
					 c == last ? 0 : width[c] + 2);
				free(t);
			}
			free(row[c]);
		}
		sb_puts(&b, "\n");
	}
	free(cells);
	free(sorted);
	return b.s;
}

/* --- fitting lines to the terminal ------------------------------------------------------ */

/* Where a folded line's continuation starts: under the text of an event line (after the
 * clock and the project), under the text of an indented line. */
static size_t hang_indent(const char *line, size_t len, int cols)
{
	size_t col = 0, i = 0, words = 0;
	bool clock = false, in_word = false;
	/* the plain text's first columns decide: skip colours */
	char plain[64];
	size_t pn = 0;
	for (; i < len && pn < sizeof(plain) - 1; i++) {
		if (line[i] == '\033') {
			while (i < len && !(line[i] >= 0x40 && line[i] <= 0x7e && line[i] != '['))
				i++;
			continue;
		}
		if (((unsigned char)line[i] & 0xc0) == 0x80)
			continue;
		plain[pn++] = line[i];
	}
	plain[pn] = '\0';
	clock = pn >= 9 && plain[2] == ':' && plain[5] == ':' && plain[8] == ' ';
	for (i = 0; i < pn; i++) {
		bool sp = plain[i] == ' ';
		if (!sp && !in_word) {
			words++;
			if (!clock || words == 3)
				break;
		}
		in_word = !sp;
	}
	col = i < pn ? i : 0;
	/* a marker ("│ " of output lines, "→ " of suggestions; one multibyte character, its
	 * lead byte here) belongs to the margin: continue under the text after it */
	if (i + 1 < pn && (unsigned char)plain[i] >= 0xc0 && plain[i + 1] == ' ')
		col += 2;
	return col > (size_t)cols / 2 ? (size_t)cols / 2 : col;
}

static void fold_line(sb_t *b, const char *line, size_t len, int cols)
{
	size_t indent = hang_indent(line, len, cols), pos = 0;
	bool first = true;
	while (pos < len) {
		size_t avail = first ? (size_t)cols : (size_t)cols - indent, col = 0, i = pos,
		       brk = 0;
		bool full = false;
		while (i < len) {
			if (line[i] == '\033' && i + 1 < len && line[i + 1] == '[') {
				for (i += 2; i < len && !(line[i] >= 0x40 && line[i] <= 0x7e); i++)
					;
				i++;
				continue;
			}
			if (((unsigned char)line[i] & 0xc0) != 0x80) {
				if (col == avail) {
					full = true;
					break;
				}
				col++;
				if (line[i] == ' ' && col > 1)
					brk = i;
			}
			i++;
		}
		if (!first)
			sb_printf(b, "%*s", (int)indent, "");
		if (!full) {
			sb_printf(b, "%.*s", (int)(len - pos), line + pos);
			break;
		}
		size_t end = brk > pos ? brk : i;
		sb_printf(b, "%.*s\n", (int)(end - pos), line + pos);
		pos = end;
		while (pos < len && line[pos] == ' ')
			pos++;
		first = false;
	}
}

char *tty_fit(const char *text, int cols)
{
	sb_t b = {0};
	const char *p = text;
	/* a fold needs room for some text after the hanging indent */
	if (cols < 20)
		return xstrdup(text);
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		if ((int)tty_text_width(p, len) <= cols)
			sb_printf(&b, "%.*s", (int)len, p);
		else
			fold_line(&b, p, len, cols);
		if (!nl)
			break;
		sb_puts(&b, "\n");
		p = nl + 1;
	}
	return b.s ? b.s : xstrdup("");
}

/* --- merged logs ------------------------------------------------------------------------ */

static int by_line_time(const void *a, const void *b)
{
	const json_t *x = *(const json_t *const *)a, *y = *(const json_t *const *)b;
	const char *tx = str(x, "timestamp"), *ty = str(y, "timestamp");
	int c = strcmp(tx ? tx : "", ty ? ty : "");
	/* equal times keep their order: qsort is not stable, the index is */
	return c ? c : (int)(json_integer_value(json_object_get(x, "i")) -
			     json_integer_value(json_object_get(y, "i")));
}

char *tty_format_merged_logs(const json_t *answers, bool color)
{
	sb_t b = {.color = color};
	json_t *all = json_array(), *ans;
	size_t i, j, width = 0;
	json_array_foreach(answers, i, ans)
	{
		const char *pid = str(ans, "projectId") ? str(ans, "projectId") : "?";
		json_t *l;
		if (strlen(pid) > width)
			width = strlen(pid);
		json_array_foreach(json_object_get(ans, "lines"), j, l)
		{
			json_t *e = json_deep_copy(l);
			json_object_set_new(e, "projectId", json_string(pid));
			json_object_set_new(e, "i", json_integer((json_int_t)json_array_size(all)));
			json_array_append_new(all, e);
		}
	}
	size_t n = json_array_size(all);
	const json_t **sorted = xcalloc(n ? n : 1, sizeof(*sorted));
	for (i = 0; i < n; i++)
		sorted[i] = json_array_get(all, i);
	qsort(sorted, n, sizeof(*sorted), by_line_time);
	if (n == 0)
		sb_puts(&b, "no output yet\n");
	for (i = 0; i < n; i++) {
		char clock[16];
		const char *pid = str(sorted[i], "projectId");
		tty_format_clock(str(sorted[i], "timestamp"), clock, sizeof(clock));
		sb_paint(&b, C_DIM, clock, 0);
		sb_puts(&b, " ");
		sb_paint(&b, tty_project_color(pid), pid, (int)width);
		sb_puts(&b, " ");
		fmt_log_line(&b, str(sorted[i], "stream"), str(sorted[i], "line"));
	}
	free(sorted);
	json_decref(all);
	return b.s;
}

static char *format_event(const json_t *ev, bool color, uint64_t now_ms, int cols);

char *tty_format_event(const json_t *ev, bool color, uint64_t now_ms, int cols)
{
	char *text = format_event(ev, color, now_ms, cols);
	const char *type = str(ev, "type");
	if (!text || cols <= 0 || (type && strcmp(type, "status") == 0))
		return text;
	char *fitted = tty_fit(text, cols);
	free(text);
	return fitted;
}

static char *format_event(const json_t *ev, bool color, uint64_t now_ms, int cols)
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
		return tty_format_status(json_object_get(ev, "projects"), color, now_ms, cols);
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
