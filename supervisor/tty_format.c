/* Events as readable, coloured lines for the terminal front end. */
#include "supervisor/tty_format.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/util.h"
#include "supervisor/tty_table.h"
#include "supervisor/tty_text.h"

#define PROJECT_WIDTH 10 /* ids up to this long line their events up */
#define TAIL_LINES 8     /* non-blank lines of an error's logTail: enough to see the cause */

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
	tty_format_clock(json_str(ev, "timestamp"), clock, sizeof(clock));
	sb_paint(b, C_DIM, clock, 0);
	sb_puts(b, " ");
	const char *pid = json_str(ev, "projectId");
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
	const char *pid = json_str(ev, "projectId");
	int w = 9;
	if (pid)
		w += (strlen(pid) > PROJECT_WIDTH ? (int)strlen(pid) : PROJECT_WIDTH) + 1;
	sb_printf(b, "%*s", w, "");
}

static void transition(sb_t *b, const char *from, const char *to)
{
	sb_paint(b, tty_state_color(from), from ? from : "?", 0);
	sb_puts(b, " → ");
	sb_paint(b, tty_state_color(to), to ? to : "?", 0);
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
		char *text = tty_expand_tabs(line);
		indent(b, ev);
		sb_paint(b, C_DIM, "│ ", 0);
		sb_paint(b, names_error(line) ? C_RED : NULL, text, 0);
		sb_puts(b, "\n");
		free(text);
	}
	if (shown < nonblank) {
		indent(b, ev);
		sb_printf(b, "(%zu of %zu lines shown; logs %s shows them all)\n", shown, nonblank,
			  json_str(ev, "projectId") ? json_str(ev, "projectId") : "ID");
	}
}

/* "exit 0" / "SIGTERM" */
static void exit_status(sb_t *b, const json_t *ev)
{
	json_t *code = json_object_get(ev, "exitCode");
	const char *sig = json_str(ev, "signal");
	if (sig)
		sb_puts(b, sig);
	else if (json_is_integer(code))
		sb_printf(b, "exit %lld", (long long)json_integer_value(code));
	else
		sb_puts(b, "gone");
}

static bool fmt_state(sb_t *b, const json_t *ev)
{
	const char *to = json_str(ev, "to"), *reason = json_str(ev, "reason");
	/* running and failed are told by dev-server-started / error / dev-server-exited, stopped
	 * by dev-server-stopped: one line per change, with its details */
	if (to && (strcmp(to, "running") == 0 || strcmp(to, "failed") == 0))
		return false;
	if (to && strcmp(to, "stopped") == 0 && !(reason && strcmp(reason, "runner_restart") == 0))
		return false;
	head(b, ev);
	transition(b, json_str(ev, "from"), to);
	if (reason)
		sb_printf(b, "  (%s)", reason);
	sb_puts(b, "\n");
	return true;
}

static void fmt_started(sb_t *b, const json_t *ev)
{
	const char *url = json_str(ev, "url"), *turl = json_str(ev, "tunnelUrl");
	const char *terr = json_str(ev, "tunnelError");
	head(b, ev);
	transition(b, "starting", "running");
	sb_puts(b, "  ");
	sb_paint(b, C_CYAN, url ? url : "?", 0);
	if (turl) {
		sb_puts(b, "  tunnel ");
		sb_paint(b, C_MAGENTA, turl, 0);
	}
	sb_printf(b, "  in %lld ms", (long long)json_integer_value(json_object_get(ev, "startupMs")));
	if (json_str(ev, "framework"))
		sb_printf(b, " (%s)", json_str(ev, "framework"));
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
	sb_paint(b, C_BOLD_RED, json_str(ev, "reason") ? json_str(ev, "reason") : "exited", 0);
	if (json_str(ev, "message")) {
		char *msg = tty_humanize(json_str(ev, "message"));
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
	const char *reason = json_str(ev, "reason");
	char *msg = tty_humanize(json_str(ev, "error") ? json_str(ev, "error") : "");
	char *sugg = tty_humanize(json_str(ev, "suggestion") ? json_str(ev, "suggestion") : "");
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
	char *text = tty_expand_tabs(line ? line : "");
	sb_paint(b, C_DIM, "│ ", 0);
	sb_paint(b, err ? C_YELLOW : NULL, text, 0);
	sb_puts(b, "\n");
	free(text);
}

static void fmt_log(sb_t *b, const json_t *ev)
{
	json_int_t dropped = json_integer_value(json_object_get(ev, "dropped"));
	if (dropped > 0) {
		head(b, ev);
		sb_printf(b, "(%lld lines dropped: the terminal was behind)\n", (long long)dropped);
	}
	head(b, ev);
	fmt_log_line(b, json_str(ev, "stream"), json_str(ev, "line"));
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
		tty_format_clock(json_str(l, "timestamp"), clock, sizeof(clock));
		sb_puts(b, "  ");
		sb_paint(b, C_DIM, clock, 0);
		sb_puts(b, " ");
		fmt_log_line(b, json_str(l, "stream"), json_str(l, "line"));
	}
}

static void fmt_tunnel(sb_t *b, const json_t *ev, const char *what)
{
	head(b, ev);
	if (strcmp(what, "opened") == 0) {
		sb_puts(b, "tunnel open  ");
		sb_paint(b, C_MAGENTA, json_str(ev, "url") ? json_str(ev, "url") : "?", 0);
	} else if (strcmp(what, "closed") == 0) {
		const char *reason = json_str(ev, "reason");
		sb_printf(b, "tunnel closed (%s)", reason ? reason : "-");
	} else {
		sb_paint(b, C_YELLOW, "tunnel failed: ", 0);
		const char *reason = json_str(ev, "reason"), *msg = json_str(ev, "message");
		sb_printf(b, "%s%s%s", reason ? reason : "", msg ? ": " : "", msg ? msg : "");
	}
	sb_puts(b, "\n");
}

static void fmt_ready(sb_t *b, const json_t *ev)
{
	json_t *range = json_object_get(ev, "portRange");
	sb_paint(b, C_BOLD, "devsup", 0);
	sb_printf(b, " %s — runner %s", json_str(ev, "version"), json_str(ev, "runnerId"));
	const char *taken = json_str(ev, "runnerIdTaken");
	if (taken) /* another devsup holds the id asked for: we moved on */
		sb_printf(b, " (runner %s is in use by devsup pid %lld)", taken,
			  (long long)json_integer_value(json_object_get(ev, "runnerIdTakenBy")));
	sb_printf(b, ", ports %lld-%lld, persistence %s",
		  (long long)json_integer_value(json_array_get(range, 0)),
		  (long long)json_integer_value(json_array_get(range, 1)),
		  json_str(ev, "persistence"));
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
	sb_printf(b, "%s %s\n", json_str(ev, "type") ? json_str(ev, "type") : "?", s ? s : "");
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

/* --- merged logs ------------------------------------------------------------------------ */

static int by_line_time(const void *a, const void *b)
{
	const json_t *x = *(const json_t *const *)a, *y = *(const json_t *const *)b;
	const char *tx = json_str(x, "timestamp"), *ty = json_str(y, "timestamp");
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
		const char *pid = json_str(ans, "projectId") ? json_str(ans, "projectId") : "?";
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
		const char *pid = json_str(sorted[i], "projectId");
		tty_format_clock(json_str(sorted[i], "timestamp"), clock, sizeof(clock));
		sb_paint(&b, C_DIM, clock, 0);
		sb_puts(&b, " ");
		sb_paint(&b, tty_project_color(pid), pid, (int)width);
		sb_puts(&b, " ");
		fmt_log_line(&b, json_str(sorted[i], "stream"), json_str(sorted[i], "line"));
	}
	free(sorted);
	json_decref(all);
	return b.s;
}

static char *format_event(const json_t *ev, bool color, uint64_t now_ms, int cols);

char *tty_format_event(const json_t *ev, bool color, uint64_t now_ms, int cols)
{
	char *text = format_event(ev, color, now_ms, cols);
	const char *type = json_str(ev, "type");
	if (!text || cols <= 0 || (type && strcmp(type, "status") == 0))
		return text;
	char *fitted = tty_fit(text, cols);
	free(text);
	return fitted;
}

static char *format_event(const json_t *ev, bool color, uint64_t now_ms, int cols)
{
	const char *type = json_str(ev, "type");
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
		sb_printf(&b, "pong: devsup %s, up %s\n", json_str(ev, "version"), up);
	} else if (strcmp(type, "following") == 0) {
		head(&b, ev);
		sb_puts(&b, json_is_true(json_object_get(ev, "follow"))
				    ? "following its output — Ctrl-C to stop\n"
				    : "no longer following its output\n");
	} else if (strcmp(type, "log-stream-ended") == 0) {
		/* (unfollowed: the `following` answer said so already) */
		const char *reason = json_str(ev, "reason");
		if (!reason || strcmp(reason, "unfollowed") != 0) {
			head(&b, ev);
			sb_printf(&b, "no longer following its output (%s)\n",
				  reason ? reason : "it ended");
		}
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
