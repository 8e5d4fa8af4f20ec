/* The status table of the terminal front end, fitted to the terminal's width. */
#include "supervisor/tty_table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "supervisor/tty_format.h"
#include "supervisor/tty_text.h"

static int by_project_id(const void *a, const void *b)
{
	const char *x = json_str(*(const json_t *const *)a, "projectId");
	const char *y = json_str(*(const json_t *const *)b, "projectId");
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
	"PROJECT", "STATE", "PORT", "PID", "URL",         "TUNNEL",
	"UPTIME",  "↺",     "CPU",  "MEM", "LAST FAILURE"};

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
	const char *state = json_str(p, "state");
	buf[0] = '\0';
	if (!json_is_object(lf) || !state || strcmp(state, "failed") != 0)
		return;
	const char *reason = json_str(lf, "reason"), *sig = json_str(lf, "signal");
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
	const char *state = json_str(p, "state");
	json_int_t v;
	json_t *usage = json_object_get(p, "usage"), *j;
	uint64_t since = tty_parse_iso(json_str(p, "startedAt"));
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
	has[COL_TUNNEL] |= json_str(p, "tunnelUrl") != NULL;
	row[COL_PROJECT] = xstrdup(json_str(p, "projectId") ? json_str(p, "projectId") : "?");
	row[COL_STATE] = xstrdup(state ? state : "?");
	row[COL_PORT] = xstrdup(port);
	row[COL_PID] = xstrdup(pid);
	row[COL_URL] = xstrdup(json_str(p, "url") ? json_str(p, "url") : "-");
	row[COL_TUNNEL] = xstrdup(json_str(p, "tunnelUrl") ? json_str(p, "tunnelUrl") : "-");
	row[COL_UPTIME] = xstrdup(up);
	row[COL_RESTARTS] = xstrdup(restarts);
	row[COL_CPU] = xstrdup(cpu);
	row[COL_MEM] = xstrdup(mem);
	row[COL_FAILURE] = xstrdup(failure[0] ? failure : "-");
}

static const char *status_color(int col, char **row)
{
	if (col == COL_STATE)
		return tty_state_color(row[COL_STATE]);
	if (col == COL_URL && row[COL_URL][0] != '-')
		return C_CYAN;
	if (col == COL_TUNNEL && row[COL_TUNNEL][0] != '-')
		return C_MAGENTA;
	if (col == COL_FAILURE && row[COL_FAILURE][0] != '-')
		return C_RED;
	return NULL;
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
			if ((int)tty_text_width(row[c], strlen(row[c])) > width[c])
				width[c] = (int)tty_text_width(row[c], strlen(row[c]));
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
			char *t = tty_ellipsize(status_titles[c], width[c]);
			sb_paint(&b, C_BOLD, t, c == last ? 0 : width[c] + 2);
			free(t);
		}
	sb_puts(&b, "\n");
	for (size_t r = 0; r < n; r++) {
		char **row = cells + r * STATUS_COLS;
		for (int c = 0; c < STATUS_COLS; c++) {
			if (shown[c]) {
				char *t = tty_ellipsize(row[c], width[c]);
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
