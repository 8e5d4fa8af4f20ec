/* The interactive front end: libedit's callback interface on the libev loop. */
#include "supervisor/tty.h"

#include <errno.h>
#include <fcntl.h>
#include <langinfo.h>
#include <limits.h>
#include <locale.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <editline/readline.h>

#include "common/linebuf.h"
#include "common/log.h"
#include "common/utf8.h"
#include "common/util.h"
#include "supervisor/command.h"
#include "supervisor/output.h"
#include "supervisor/project.h"
#include "supervisor/tty_commands.h"
#include "supervisor/tty_countdown.h"
#include "supervisor/tty_failures.h"
#include "supervisor/tty_format.h"
#include "supervisor/tty_history.h"
#include "supervisor/tty_top.h"
#include "supervisor/tty_up.h"

#define MAX_CANDIDATES 128
#define HELD_MAX (256 * 1024) /* text held while `top` has the screen */

static struct {
	struct ev_loop *loop;
	ev_io rio;
	ev_signal sigwinch;
	ev_signal sigcont;
	ev_prepare drained; /* waits, from state, for stdout to drain before a refresh */
	bool on;        /* tty_init ran and tty_stop did not */
	bool installed; /* libedit's handler is in place: the prompt and the line are on screen */
	bool busy;      /* running a typed line: its output comes before the next prompt */
	bool color;
	bool screen; /* stdout is the terminal: events are drawn above the line being typed */
	int cols;    /* its width (0: stdout is no terminal, lines are not fitted) */
	FILE *edit_out; /* the terminal libedit draws on when stdout is not it */
	bool asking;    /* "stop N projects and exit? [y/N]" waits for its answer */
	void (*on_quit)(void);
	void (*on_eof)(void);
	unsigned quits;
	unsigned long next_id;
	json_t *following;  /* projects whose output `logs -f` follows: id -> true */
	json_t *quiet_ids;  /* commands whose answers are not shown (the follow-logs of logs -f) */
	char follow_after[32]; /* after the answer to this command, say "following" */
	json_t *merging;    /* `logs` of several projects: ids still to come -> true */
	json_t *merged;     /* ... and the answers come so far */
	json_t *muted;      /* projects whose log events are hidden: id -> true */
	json_t *raw_ids;    /* ids of `json` commands: their answers are shown as JSON */
	char cwd[PATH_MAX];
	char prompt[512];
	int log_pipe[2];
	ev_io log_io;
	linebuf_t log_lb;
	bool printing; /* inside tty_print: a log line from there goes to stderr */
	const char *candidates[MAX_CANDIDATES];
	int ncandidates;
	char *held; /* what was printed while `top` had the screen, shown when it closes */
	size_t nheld;
	unsigned held_dropped;
} tty = {.log_pipe = {-1, -1}};

static void tty_refresh(void);
static void set_prompt(void);

/* --- printing above the prompt --------------------------------------------------------- */

static void write_text(const char *text)
{
	const char *p = text;
	while (*p) {
		const char *nl = strchr(p, '\n');
		if (!nl) {
			output_write_raw(p, strlen(p));
			break;
		}
		output_write_raw(p, (size_t)(nl - p));
		output_write_raw(tty.screen ? "\r\n" : "\n", tty.screen ? 2 : 1);
		p = nl + 1;
	}
}

/* Takes the prompt and the line being typed off the screen: every row of it, from the one
 * the cursor is on up to the prompt's (a line longer than the terminal is wide wraps). */
static void clear_edit_line(void)
{
	char seq[32];
	if (!tty.installed || !tty.screen)
		return;
	size_t point = rl_line_buffer && rl_point > 0 ? (size_t)rl_point : 0;
	size_t rows = tty_edit_rows(tty.prompt, rl_line_buffer ? rl_line_buffer : "", point,
				    tty.cols);
	int n = rows ? snprintf(seq, sizeof(seq), "\r\033[%zuA\033[J", rows)
		     : snprintf(seq, sizeof(seq), "\r\033[J");
	output_write_raw(seq, (size_t)n);
}

/* Prints lines above the prompt: the prompt and the line are cleared, the text written, and
 * the prompt with the half-typed line drawn again below it. Without a terminal on stdout the
 * text is written as it is: the prompt lives on the terminal, apart. */
static void tty_print(const char *text)
{
	if (tty_top_active()) {
		size_t n = strlen(text);
		if (tty.nheld + n > HELD_MAX) {
			tty.held_dropped++;
			return;
		}
		tty.held = xrealloc(tty.held, tty.nheld + n + 1);
		memcpy(tty.held + tty.nheld, text, n + 1);
		tty.nheld += n;
		return;
	}
	tty.printing = true;
	clear_edit_line();
	write_text(text);
	tty.printing = false;
	if (!tty.busy && tty.screen)
		tty_refresh();
}

static void tty_print_painted(const char *sgr, const char *text)
{
	if (!tty.color) {
		tty_print(text);
		return;
	}
	size_t n = strlen(text);
	bool nl = n > 0 && text[n - 1] == '\n';
	char *s = xmalloc(n + 32);
	snprintf(s, n + 32, "\033[%sm%.*s\033[0m%s", sgr, (int)(nl ? n - 1 : n), text,
		 nl ? "\n" : "");
	tty_print(s);
	free(s);
}

/* Text for a person, fitted to the terminal's width. */
static void tty_say(const char *sgr, const char *text)
{
	char *fitted = tty.cols > 0 ? tty_fit(text, tty.cols) : xstrdup(text);
	if (sgr)
		tty_print_painted(sgr, fitted);
	else
		tty_print(fitted);
	free(fitted);
}

static void __attribute__((format(printf, 2, 3))) tty_sayf(const char *sgr, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	utf8_vformat(buf, sizeof(buf), fmt, ap); /* cut, if it must be, between characters */
	va_end(ap);
	tty_say(sgr, buf);
}

static void redraw_prompt(void)
{
	if (!tty.installed || tty.busy) {
		set_prompt();
		return;
	}
	clear_edit_line();
	set_prompt();
	rl_forced_update_display();
}

/* --- the line editor ------------------------------------------------------------------- */

static void on_line(char *line);

static void set_prompt(void)
{
	char stops[256];
	size_t n = 0, k;
	json_t *v;
	const char *id;
	if (tty.asking) {
		snprintf(tty.prompt, sizeof(tty.prompt), "stop %u project%s and exit? [y/N] ",
			 projects_live_count(), projects_live_count() == 1 ? "" : "s");
	} else {
		n += (size_t)snprintf(tty.prompt, sizeof(tty.prompt), "devsup");
		if ((k = tty_countdown_text(stops, sizeof(stops))) > 0)
			n += (size_t)snprintf(tty.prompt + n, sizeof(tty.prompt) - n, " (%s)", stops);
		else if (tty.quits)
			n += (size_t)snprintf(tty.prompt + n, sizeof(tty.prompt) - n, " (stopping)");
		else if (json_object_size(tty.following) > 0) {
			size_t c = 0;
			n += (size_t)snprintf(tty.prompt + n, sizeof(tty.prompt) - n, " (following");
			json_object_foreach(tty.following, id, v)
			{
				if (n < sizeof(tty.prompt))
					n += (size_t)snprintf(tty.prompt + n, sizeof(tty.prompt) - n,
							      "%s %.64s", c++ ? "," : "", id);
			}
			if (n < sizeof(tty.prompt))
				n += (size_t)snprintf(tty.prompt + n, sizeof(tty.prompt) - n, ")");
		}
		if (n < sizeof(tty.prompt))
			snprintf(tty.prompt + n, sizeof(tty.prompt) - n, "> ");
	}
	if (tty.installed)
		rl_set_prompt(tty.prompt);
}

static void install(void)
{
	set_prompt();
	rl_callback_handler_install(tty.prompt, on_line);
	tty.installed = true;
	ev_io_start(tty.loop, &tty.rio);
}

static void uninstall(void)
{
	if (!tty.installed)
		return;
	ev_io_stop(tty.loop, &tty.rio);
	rl_callback_handler_remove();
	tty.installed = false;
}

/* Before the loop sleeps (so after every write of stdout): is what was printed out now? */
static void drained_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	(void)revents;
	if (output_pending() > 0)
		return;
	ev_prepare_stop(loop, w);
	tty_refresh();
}

/* Puts the prompt (and the line being typed) back on screen, once what was printed has left:
 * libedit writes to the terminal directly, so it must not overtake text still queued. */
static void tty_refresh(void)
{
	if (!tty.on || tty.busy || tty_top_active())
		return;
	if (tty.screen && output_pending() > 0) {
		ev_prepare_start(tty.loop, &tty.drained);
		return;
	}
	if (!tty.installed)
		install();
	else if (tty.screen)
		rl_forced_update_display();
}

static void tty_quit(void)
{
	tty.quits++;
	tty_print_painted("33", tty.quits == 1 ? "stopping every project… (Ctrl-D again to kill "
						 "them now)\n"
					       : "killing what is left…\n");
	set_prompt();
	tty.on_quit();
}

/* quit, quit! or Ctrl-D: with projects live, asked once first (never silently), unless
 * forced; while stopping, a second one kills what is left. */
static void request_quit(bool force)
{
	unsigned live = projects_live_count();
	if (tty.quits || force || live == 0) {
		tty_quit();
		return;
	}
	tty.asking = true;
	set_prompt();
}

static void answer_question(const char *line)
{
	const char *a = line ? line + strspn(line, " \t") : "y";
	tty.asking = false;
	if (!line || strcasecmp(a, "y") == 0 || strcasecmp(a, "yes") == 0) {
		tty_quit();
		return;
	}
	tty_say(NULL, "nothing stopped (quit! exits without asking)\n");
	set_prompt();
}

/* --- sending typed commands ------------------------------------------------------------ */

/* Sends cmd with an id of its own (returned, a new reference); set, if given, holds the id
 * before the command runs: its answers may come before command_handle_json returns. */
static json_t *send_one(json_t *cmd, bool raw, json_t *set)
{
	char id[32];
	snprintf(id, sizeof(id), "tty-%lu", ++tty.next_id);
	/* a command keeps an id it has: a raw one the person gave, to see it echoed, or the
	 * one an `up` gave its start */
	if (!json_object_get(cmd, "id"))
		json_object_set_new(cmd, "id", json_string(id));
	json_t *cid = json_incref(json_object_get(cmd, "id"));
	if (raw) {
		char *key = json_dumps(cid, JSON_ENCODE_ANY);
		json_object_set_new(tty.raw_ids, key, json_true());
		free(key);
	}
	const char *type = json_string_value(json_object_get(cmd, "type"));
	const char *pid = json_string_value(json_object_get(cmd, "projectId"));
	json_t *timeout = json_object_get(cmd, "timeoutMs");
	if (type && pid && strcmp(type, "stop-dev-server") == 0 && json_is_integer(timeout))
		tty_countdown_expect(pid, (uint64_t)json_integer_value(timeout));
	if (set && json_is_string(cid))
		json_object_set_new(set, json_string_value(cid), json_true());
	command_handle_json(cmd);
	return cid;
}

static void send_commands(const tty_action_t *a)
{
	size_t i, n = json_array_size(a->cmds);
	json_t *cmd;
	const char *last_type = n ? json_string_value(json_object_get(json_array_get(a->cmds, n - 1),
									"type"))
				  : NULL;
	bool follows = !a->raw && last_type && strcmp(last_type, "follow-logs") == 0;
	json_array_foreach(a->cmds, i, cmd)
	{
		const char *type = json_string_value(json_object_get(cmd, "type")) ?: "";
		const char *pid = json_string_value(json_object_get(cmd, "projectId"));
		bool follow = !a->raw && strcmp(type, "follow-logs") == 0;
		bool logs = !a->raw && strcmp(type, "logs") == 0;
		/* logs -f: the follow is asked at once, so no line falls between the last lines
		 * and the stream, but announced after the last lines have been shown; a muted
		 * project followed is heard again */
		if (follow && pid)
			json_object_del(tty.muted, pid);
		json_t *set = follow ? tty.quiet_ids : logs && a->merge ? tty.merging : NULL;
		json_t *cid = send_one(cmd, a->raw, set);
		if (logs && follows && json_is_string(cid))
			snprintf(tty.follow_after, sizeof(tty.follow_after), "%s",
				 json_string_value(cid));
		json_decref(cid);
	}
}

static void set_muted(const tty_action_t *a)
{
	size_t i;
	json_t *id;
	json_array_foreach(a->ids, i, id)
	{
		const char *s = json_string_value(id);
		if (a->kind == TTY_ACT_MUTE)
			json_object_set_new(tty.muted, s, json_true());
		else
			json_object_del(tty.muted, s);
		tty_sayf(NULL, "%s %s: %s\n", s, a->kind == TTY_ACT_MUTE ? "muted" : "unmuted",
			 a->kind == TTY_ACT_MUTE ? "its output is hidden, it keeps running (logs "
						   "shows it; unmute to see it again)"
						 : "its output shows again");
	}
}

/* --- up / down: the typed line's I/O for tty_up.c ----------------------------------------- */

static json_t *up_send(json_t *cmd)
{
	return send_one(cmd, false, NULL);
}

static const tty_up_io_t up_io = {.send = up_send, .say = tty_say};

/* `top` gave the screen back: what came meanwhile, then the prompt. */
static void top_closed(void)
{
	char *held = tty.held;
	tty.held = NULL;
	tty.nheld = 0;
	if (held)
		tty_print(held);
	free(held);
	if (tty.held_dropped) {
		tty_sayf(NULL, "(%u more events while top was open were not kept)\n",
			 tty.held_dropped);
		tty.held_dropped = 0;
	}
	tty_refresh();
}

/* The projects devsup knows go to the parser, for `all` and unknown ids. */
static void run_line(const char *line)
{
	const char *ids[1024];
	bool live[1024];
	size_t n = 0;
	for (project_t *p = project_first(); p && n < ARRAY_LEN(ids); p = p->next) {
		ids[n] = p->id;
		live[n++] = state_is_live(p->state);
	}
	tty_ctx_t ctx = {.cwd = tty.cwd, .ids = ids, .live = live, .nids = n};
	tty_action_t a;
	tty_parse(line, &ctx, &a);
	switch (a.kind) {
	case TTY_ACT_NONE:
		break;
	case TTY_ACT_PRINT:
		tty_say(a.error ? "31" : NULL, a.text);
		break;
	case TTY_ACT_QUIT:
		request_quit(a.force);
		break;
	case TTY_ACT_SEND:
		send_commands(&a);
		break;
	case TTY_ACT_MUTE:
	case TTY_ACT_UNMUTE:
		set_muted(&a);
		break;
	case TTY_ACT_UP:
		tty_up_run(a.file, &up_io);
		break;
	case TTY_ACT_DOWN:
		tty_up_down(a.file, &up_io);
		break;
	case TTY_ACT_TOP:
		tty_top_open(tty.loop, tty.color, top_closed);
		break;
	}
	tty_action_free(&a);
}

/* A whole line (Enter), or NULL for Ctrl-D on an empty line. libedit has left its editing
 * mode and moved to a new line; the handler goes back in place after the line has run. */
static void on_line(char *line)
{
	tty.installed = false;
	ev_io_stop(tty.loop, &tty.rio);
	tty.busy = true;
	if (tty.asking) {
		answer_question(line);
	} else if (!line) {
		/* libedit shows the ^D it read: say what it does instead */
		if (tty.screen) {
			output_write_raw("\r\033[K", 4);
			tty_print(tty.prompt);
			tty_print("quit\n");
		}
		request_quit(false);
	} else {
		/* what the editor let through as text (a control key) is neither run nor kept */
		if (tty_line_is_clean(line) && !tty_history_add(line))
			log_warn("cannot append to the history file: %s", strerror(errno));
		run_line(line);
	}
	free(line);
	tty.busy = false;
	tty_refresh();
}

static void read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	int avail = 0;
	(void)revents;
	/* Readable with nothing to read: the terminal is gone (or stdin ended). libedit would
	 * report nothing and the watcher would fire forever. */
	if (ioctl(w->fd, FIONREAD, &avail) == 0 && avail == 0) {
		ev_io_stop(loop, w);
		tty.installed = false;
		rl_callback_handler_remove();
		tty.on_eof();
		return;
	}
	rl_callback_read_char();
}

static void read_width(void)
{
	struct winsize ws;
	tty.cols = tty.screen && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 ? ws.ws_col : 0;
}

/* The terminal was resized: events and tables fit the new width from now on. */
static void sigwinch_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	read_width();
	if (tty_top_active())
		tty_top_resume();
	else if (tty.installed)
		rl_resize_terminal();
}

/* Back from Ctrl-Z: the shell has had the terminal and set its own modes. Put libedit's back
 * (it believes they are still in place: out of them and in again) and redraw the prompt and
 * the half-typed line. */
static void sigcont_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	read_width();
	if (tty_top_active()) {
		tty_top_resume();
		return;
	}
	if (!tty.installed)
		return;
	rl_deprep_terminal();
	rl_prep_terminal(1);
	tty_refresh();
}

/* --- completion ------------------------------------------------------------------------ */

static char *candidate_gen(const char *text, int state)
{
	static int next;
	(void)text;
	if (!state)
		next = 0;
	return next < tty.ncandidates ? strdup(tty.candidates[next++]) : NULL;
}

static char **complete(const char *text, int start, int end)
{
	const char *ids[MAX_CANDIDATES];
	size_t nids = 0;
	(void)end;
	for (project_t *p = project_first(); p && nids < MAX_CANDIDATES; p = p->next)
		ids[nids++] = p->id;
	char *before = xstrndup(rl_line_buffer, (size_t)(start > 0 ? start : 0));
	tty.ncandidates = tty_complete_words(before, text, ids, nids, tty.candidates,
					     MAX_CANDIDATES);
	free(before);
	if (tty.ncandidates < 0)
		return NULL; /* file names */
	rl_attempted_completion_over = 1;
	return tty.ncandidates > 0 ? rl_completion_matches(text, candidate_gen) : NULL;
}

/* --- events and log lines -------------------------------------------------------------- */

static bool is_final(const char *type)
{
	return type && strcmp(type, "dev-server-state") != 0 && strcmp(type, "log") != 0 &&
	       strcmp(type, "log-stream-ended") != 0 && strncmp(type, "tunnel-", 7) != 0;
}

/* What the front end tracks from the events, before they are shown: follows and stops (for
 * the prompt and its countdown). */
static void track(const json_t *ev, const char *type)
{
	const char *pid = json_string_value(json_object_get(ev, "projectId"));
	if (strcmp(type, "following") == 0 && pid) {
		if (json_is_true(json_object_get(ev, "follow")))
			json_object_set_new(tty.following, pid, json_true());
		else
			json_object_del(tty.following, pid);
		set_prompt();
	} else if (strcmp(type, "log-stream-ended") == 0 && pid) {
		json_object_del(tty.following, pid);
		set_prompt();
	} else if (strcmp(type, "dev-server-state") == 0 && pid) {
		const char *to = json_string_value(json_object_get(ev, "to"));
		if (to && strcmp(to, "stopping") == 0)
			tty_countdown_began(pid, tty.quits > 1);
		else
			tty_countdown_ended(pid);
	} else if (strcmp(type, "dev-server-stopped") == 0 && pid) {
		tty_countdown_ended(pid);
	}
}

/* A `logs` answer (or its error) of a merged `logs A B`: kept until the last one is in. */
static bool merge_answer(json_t *ev, const char *type, const char *cid)
{
	if (!cid || !json_object_get(tty.merging, cid))
		return false;
	bool logs = strcmp(type, "logs") == 0;
	json_object_del(tty.merging, cid);
	if (logs)
		json_array_append(tty.merged, ev);
	/* an error is shown as it comes (after the merged lines, when it was the last answer) */
	if (json_object_size(tty.merging) == 0) {
		char *text = tty_format_merged_logs(tty.merged, tty.color);
		char *fitted = tty.cols > 0 ? tty_fit(text, tty.cols) : xstrdup(text);
		tty_print(fitted);
		free(fitted);
		free(text);
		json_array_clear(tty.merged);
		if (tty.follow_after[0] && strcmp(cid, tty.follow_after) == 0) {
			tty.follow_after[0] = '\0';
			tty_print("  … following their output — Ctrl-C to stop\n");
		}
	}
	return logs;
}

static char *event_text(json_t *ev, const char *type, const char *key)
{
	if (strcmp(type, "status") == 0)
		tty_failures_fill(ev);
	if (!key || !json_object_get(tty.raw_ids, key))
		return tty_format_event(ev, tty.color, wall_ms(), tty.cols);
	char *s = json_dumps(ev, JSON_COMPACT);
	size_t n = s ? strlen(s) : 0;
	char *text = xmalloc(n + 2);
	snprintf(text, n + 2, "%s\n", s ? s : "");
	free(s);
	if (is_final(type))
		json_object_del(tty.raw_ids, key);
	return text;
}

static void on_event(json_t *ev)
{
	const char *type = json_string_value(json_object_get(ev, "type")) ?: "";
	const char *pid = json_string_value(json_object_get(ev, "projectId"));
	json_t *cid = json_object_get(ev, "commandId");
	const char *cid_s = json_string_value(cid);
	char *key = cid ? json_dumps(cid, JSON_ENCODE_ANY) : NULL;
	track(ev, type);
	tty_failures_note(ev, type);
	/* the follows of a `logs -f` speak through its `logs` answers (and their errors);
	 * a muted project's output is not shown */
	bool quiet = (cid_s && json_object_get(tty.quiet_ids, cid_s) &&
		      strcmp(type, "error") != 0) ||
		     (strcmp(type, "log") == 0 && pid && json_object_get(tty.muted, pid));
	if (cid_s && is_final(type))
		json_object_del(tty.quiet_ids, cid_s);
	if (!quiet && !merge_answer(ev, type, cid_s)) {
		char *text = event_text(ev, type, key);
		if (text)
			tty_print(text);
		free(text);
		if (cid_s && tty.follow_after[0] && strcmp(cid_s, tty.follow_after) == 0 &&
		    is_final(type)) {
			tty.follow_after[0] = '\0';
			if (json_object_size(tty.following) > 0)
				tty_print("  … following its output — Ctrl-C to stop\n");
		}
	}
	tty_up_answered(type, cid_s);
	free(key);
	json_decref(ev);
}

static void on_log(const char *line, size_t len)
{
	if (tty.printing) {
		/* a write of our own output failed and says so: not through that output again */
		(void)!write(2, line, len);
		return;
	}
	char *s = xstrndup(line, len);
	tty_say("2", s); /* fitted to the width, as events are */
	free(s);
}

static void reaper_log_line(void *ctx, const char *line, size_t len, bool overlong)
{
	(void)ctx;
	(void)overlong;
	char *s = xmalloc(len + 2);
	memcpy(s, line, len);
	memcpy(s + len, "\n", 2);
	on_log(s, len + 1);
	free(s);
}

static void log_pipe_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	char buf[4096];
	(void)loop;
	(void)revents;
	ssize_t r = fd_read(w->fd, buf, sizeof(buf));
	if (r > 0)
		linebuf_feed(&tty.log_lb, buf, (size_t)r, reaper_log_line, NULL);
	else if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
		ev_io_stop(loop, w);
}

static void open_log_pipe(void)
{
	/* Non-blocking at both ends: a reaper must never wait on its logging. */
	if (pipe2(tty.log_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		log_warn("reaper log pipe: %s; their messages go to the terminal as they are",
			 strerror(errno));
		tty.log_pipe[0] = tty.log_pipe[1] = -1;
		return;
	}
	linebuf_init(&tty.log_lb, 2048);
	ev_io_init(&tty.log_io, log_pipe_cb, tty.log_pipe[0], EV_READ);
	ev_io_start(tty.loop, &tty.log_io);
}

int tty_log_fd(void)
{
	return tty.log_pipe[1];
}

/* --- life cycle ------------------------------------------------------------------------ */

static void history_open(void)
{
	const char *home = getenv("HOME");
	char path[PATH_MAX];
	/* no home, no history: nothing is written anywhere else */
	if (home && *home)
		snprintf(path, sizeof(path), "%s/.devsup_history", home);
	tty_history_open(home && *home ? path : NULL);
}

/* Where libedit reads and draws. With stdout on the terminal, there; otherwise (`devsup --tty
 * | cat`, `> out.txt`) on the terminal itself, so the line is edited where it is typed while
 * the events go to stdout as plain lines. */
static void editor_streams(void)
{
	rl_instream = stdin;
	rl_outstream = stdout;
	if (tty.screen)
		return;
	int fd = open("/dev/tty", O_WRONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 && isatty(STDIN_FILENO))
		fd = fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3);
	if (fd >= 0 && !(tty.edit_out = fdopen(fd, "w")))
		close(fd);
	if (tty.edit_out)
		rl_outstream = tty.edit_out;
}

/* libedit reads and draws characters through the C library's LC_CTYPE, and in the "C"
 * locale (a program's until it chooses one, and LANG=C's) it drops every byte of a CJK or
 * accented letter typed. The terminal speaks UTF-8, as all devsup prints does, so the editor
 * gets a UTF-8 LC_CTYPE: the person's own if it is one, else C.UTF-8. Only the character
 * type changes: numbers and messages keep the C locale. */
static void editor_locale(void)
{
	if (setlocale(LC_CTYPE, "") && strcmp(nl_langinfo(CODESET), "UTF-8") == 0)
		return;
	if (setlocale(LC_CTYPE, "C.UTF-8") || setlocale(LC_CTYPE, "C.utf8"))
		return;
	setlocale(LC_CTYPE, "C");
	log_warn("no UTF-8 locale (C.UTF-8) on this system: only ASCII can be typed");
}

/* libedit's Ctrl-R (an incremental search) does not work through the callback interface:
 * its keys came back as a line of garbage. Ctrl-R searches back for a line starting with
 * what is typed instead, as the Up arrow of some shells. */
static void bind_keys(void)
{
	if (rl_parse_and_bind("bind ^R ed-search-prev-history") != 0)
		log_warn("cannot bind Ctrl-R to the history search");
}

void tty_init(struct ev_loop *loop, void (*on_quit)(void), void (*on_eof)(void))
{
	const char *no_color = getenv("NO_COLOR");
	tty.loop = loop;
	tty.on_quit = on_quit;
	tty.on_eof = on_eof;
	tty.on = true;
	tty.raw_ids = json_object();
	tty.following = json_object();
	tty.quiet_ids = json_object();
	tty.merging = json_object();
	tty.merged = json_array();
	tty.muted = json_object();
	tty_failures_init();
	tty.screen = isatty(STDOUT_FILENO);
	tty.color = tty.screen && !(no_color && *no_color);
	read_width();
	if (!getcwd(tty.cwd, sizeof(tty.cwd)))
		snprintf(tty.cwd, sizeof(tty.cwd), "/");
	/* Signals are the loop's (ev_signal): libedit must not install handlers of its own. */
	rl_catch_signals = 0;
	rl_readline_name = "devsup";
	editor_locale();
	editor_streams();
	rl_attempted_completion_function = complete;
	history_open();
	output_set_sink(on_event);
	log_set_sink(on_log);
	open_log_pipe();
	ev_io_init(&tty.rio, read_cb, STDIN_FILENO, EV_READ);
	ev_signal_init(&tty.sigwinch, sigwinch_cb, SIGWINCH);
	ev_signal_start(loop, &tty.sigwinch);
	ev_signal_init(&tty.sigcont, sigcont_cb, SIGCONT);
	ev_signal_start(loop, &tty.sigcont);
	ev_prepare_init(&tty.drained, drained_cb);
	tty_countdown_init(loop, tty.screen, redraw_prompt);
	install();
	bind_keys();
}

void tty_interrupt(void)
{
	if (!tty.on)
		return;
	if (tty_top_active()) { /* Ctrl-C leaves `top`, as q does */
		tty_top_close();
		return;
	}
	if (tty.screen)
		output_write_raw("^C\r\n", 4);
	/* the line editor goes and comes back: an empty line under a fresh prompt */
	uninstall();
	tty.asking = false;
	const char *id;
	json_t *v, *ids = json_deep_copy(tty.following);
	tty.busy = true;
	json_object_foreach(ids, id, v)
	{
		json_t *cmd = json_pack("{s:s, s:s, s:s, s:b}", "type", "follow-logs", "id", "tty-f",
					"projectId", id, "follow", 0);
		command_handle_json(cmd);
		json_decref(cmd);
	}
	json_decref(ids);
	tty.busy = false;
	tty_refresh();
}

void tty_stop(void)
{
	if (!tty.on)
		return;
	clear_edit_line();
	uninstall();
	ev_io_stop(tty.loop, &tty.rio);
	ev_signal_stop(tty.loop, &tty.sigwinch);
	ev_signal_stop(tty.loop, &tty.sigcont);
	ev_prepare_stop(tty.loop, &tty.drained);
	tty_countdown_stop();
	tty.on = false;
	tty_top_close(); /* the terminal's modes back; what it held is printed below */
	tty_print("every project is stopped; bye\n");
	output_set_sink(NULL);
	log_set_sink(NULL);
	if (tty.log_pipe[0] >= 0) {
		ev_io_stop(tty.loop, &tty.log_io);
		linebuf_free(&tty.log_lb);
		close(tty.log_pipe[0]);
		close(tty.log_pipe[1]);
		tty.log_pipe[0] = tty.log_pipe[1] = -1;
	}
	if (tty.edit_out) {
		/* the last prompt, left on the terminal apart from stdout, goes */
		fputs("\r\033[K", tty.edit_out);
		fclose(tty.edit_out);
		tty.edit_out = NULL;
		rl_outstream = stdout;
	}
	tty_up_stop();
	tty_failures_free();
	json_t **objs[] = {&tty.raw_ids,  &tty.following,     &tty.quiet_ids, &tty.merging,
			   &tty.merged,   &tty.muted};
	for (size_t i = 0; i < ARRAY_LEN(objs); i++) {
		json_decref(*objs[i]);
		*objs[i] = NULL;
	}
	free(tty.held);
	tty.held = NULL;
	tty.nheld = 0;
}
