/* The interactive front end: libedit's callback interface on the libev loop. */
#include "supervisor/tty.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <editline/readline.h>

#include "common/linebuf.h"
#include "common/log.h"
#include "common/util.h"
#include "supervisor/command.h"
#include "supervisor/output.h"
#include "supervisor/project.h"
#include "supervisor/tty_commands.h"
#include "supervisor/tty_format.h"

#define HISTORY_MAX 1000
#define MAX_CANDIDATES 128

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
	bool crlf; /* a terminal in libedit's mode may not turn '\n' into CR LF itself */
	void (*on_quit)(void);
	void (*on_eof)(void);
	unsigned quits;
	unsigned long next_id;
	char *following;  /* the project `logs -f` follows */
	char follow_logs_id[32]; /* the `logs` of a `logs -f`: "following" is said after it */
	char follow_id[32];      /* ... and its follow-logs, whose own answer is not shown */
	json_t *raw_ids;  /* ids of `json` commands: their answers are shown as JSON */
	char history[PATH_MAX];
	char cwd[PATH_MAX];
	char prompt[256];
	int log_pipe[2];
	ev_io log_io;
	linebuf_t log_lb;
	bool printing; /* inside tty_print: a log line from there goes to stderr */
	const char *candidates[MAX_CANDIDATES];
	int ncandidates;
} tty = {.log_pipe = {-1, -1}};

static void tty_refresh(void);

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
		output_write_raw(tty.crlf ? "\r\n" : "\n", tty.crlf ? 2 : 1);
		p = nl + 1;
	}
}

/* Prints lines above the prompt: the prompt line is cleared, the text written, and the prompt
 * with the half-typed line drawn again below it. */
static void tty_print(const char *text)
{
	tty.printing = true;
	if (tty.installed)
		output_write_raw("\r\033[K", 4);
	write_text(text);
	tty.printing = false;
	if (!tty.busy)
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

/* --- the line editor ------------------------------------------------------------------- */

static void on_line(char *line);

static void set_prompt(void)
{
	if (tty.quits)
		snprintf(tty.prompt, sizeof(tty.prompt), "devsup (stopping)> ");
	else if (tty.following)
		snprintf(tty.prompt, sizeof(tty.prompt), "devsup (following %.64s)> ", tty.following);
	else
		snprintf(tty.prompt, sizeof(tty.prompt), "devsup> ");
	if (tty.installed)
		rl_set_prompt(tty.prompt);
}

static void install(void)
{
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
	if (!tty.on || tty.busy)
		return;
	if (output_pending() > 0) {
		ev_prepare_start(tty.loop, &tty.drained);
		return;
	}
	if (!tty.installed)
		install();
	else
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

static void send_commands(const tty_action_t *a)
{
	size_t i;
	json_t *cmd;
	json_array_foreach(a->cmds, i, cmd)
	{
		char id[32];
		snprintf(id, sizeof(id), "tty-%lu", ++tty.next_id);
		/* a raw command keeps an id the person gave it, to see it echoed */
		if (!a->raw || !json_object_get(cmd, "id"))
			json_object_set_new(cmd, "id", json_string(id));
		if (a->raw) {
			char *key = json_dumps(json_object_get(cmd, "id"), JSON_ENCODE_ANY);
			json_object_set_new(tty.raw_ids, key, json_true());
			free(key);
		}
		/* logs -f: the follow is asked at once, so no line falls between the last lines
		 * and the stream, but announced after the last lines have been shown */
		const char *type = json_string_value(json_object_get(cmd, "type"));
		if (i > 0 && strcmp(type, "follow-logs") == 0) {
			snprintf(tty.follow_id, sizeof(tty.follow_id), "%s", id);
			snprintf(tty.follow_logs_id, sizeof(tty.follow_logs_id), "tty-%lu",
				 tty.next_id - 1);
		}
		command_handle_json(cmd);
	}
}

static void run_line(const char *line)
{
	tty_action_t a;
	tty_parse_line(line, tty.cwd, &a);
	switch (a.kind) {
	case TTY_ACT_NONE:
		break;
	case TTY_ACT_PRINT:
		if (a.error)
			tty_print_painted("31", a.text);
		else
			tty_print(a.text);
		break;
	case TTY_ACT_QUIT:
		tty_quit();
		break;
	case TTY_ACT_SEND:
		send_commands(&a);
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
	if (!line) {
		/* libedit shows the ^D it read: say what it does instead */
		output_write_raw("\r\033[K", 4);
		tty_print(tty.prompt);
		tty_print("quit\n");
		tty_quit();
	} else {
		HIST_ENTRY *last = history_length > 0 ? history_get(history_base + history_length - 1)
						      : NULL;
		if (line[strspn(line, " \t")] && !(last && strcmp(last->line, line) == 0))
			add_history(line);
		run_line(line);
		free(line);
	}
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

static void sigwinch_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	if (tty.installed)
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
	       strncmp(type, "tunnel-", 7) != 0;
}

static void on_event(json_t *ev)
{
	const char *type = json_string_value(json_object_get(ev, "type"));
	json_t *cid = json_object_get(ev, "commandId");
	char *key = cid ? json_dumps(cid, JSON_ENCODE_ANY) : NULL;
	bool raw = key && json_object_get(tty.raw_ids, key);
	if (type && strcmp(type, "following") == 0) {
		free(tty.following);
		tty.following = json_is_true(json_object_get(ev, "follow"))
					? xstrdup(json_string_value(json_object_get(ev, "projectId")))
					: NULL;
		set_prompt();
	}
	const char *cid_s = json_string_value(cid);
	/* the follow of a `logs -f` speaks through its `logs` answer (and its error, if any) */
	if (cid_s && strcmp(cid_s, tty.follow_id) == 0) {
		json_decref(ev);
		free(key);
		return;
	}
	char *text;
	if (raw) {
		char *s = json_dumps(ev, JSON_COMPACT);
		size_t n = s ? strlen(s) : 0;
		text = xmalloc(n + 2);
		snprintf(text, n + 2, "%s\n", s ? s : "");
		free(s);
		if (is_final(type))
			json_object_del(tty.raw_ids, key);
	} else {
		text = tty_format_event(ev, tty.color, wall_ms());
	}
	if (text)
		tty_print(text);
	if (type && cid_s && strcmp(cid_s, tty.follow_logs_id) == 0 && is_final(type)) {
		tty.follow_logs_id[0] = '\0';
		if (tty.following)
			tty_print("  … following its output — Ctrl-C to stop\n");
	}
	free(text);
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
	tty_print_painted("2", s);
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
	using_history();
	stifle_history(HISTORY_MAX);
	if (!home || !*home)
		return; /* no home, no history: nothing is written anywhere else */
	snprintf(tty.history, sizeof(tty.history), "%s/.devsup_history", home);
	(void)read_history(tty.history);
}

void tty_init(struct ev_loop *loop, void (*on_quit)(void), void (*on_eof)(void))
{
	const char *no_color = getenv("NO_COLOR");
	tty.loop = loop;
	tty.on_quit = on_quit;
	tty.on_eof = on_eof;
	tty.on = true;
	tty.raw_ids = json_object();
	tty.color = isatty(STDOUT_FILENO) && !(no_color && *no_color);
	tty.crlf = isatty(STDOUT_FILENO);
	if (!getcwd(tty.cwd, sizeof(tty.cwd)))
		snprintf(tty.cwd, sizeof(tty.cwd), "/");
	/* Signals are the loop's (ev_signal): libedit must not install handlers of its own. */
	rl_catch_signals = 0;
	rl_readline_name = "devsup";
	rl_instream = stdin;
	rl_outstream = stdout;
	rl_attempted_completion_function = complete;
	history_open();
	set_prompt();
	output_set_sink(on_event);
	log_set_sink(on_log);
	open_log_pipe();
	ev_io_init(&tty.rio, read_cb, STDIN_FILENO, EV_READ);
	ev_signal_init(&tty.sigwinch, sigwinch_cb, SIGWINCH);
	ev_signal_start(loop, &tty.sigwinch);
	ev_signal_init(&tty.sigcont, sigcont_cb, SIGCONT);
	ev_signal_start(loop, &tty.sigcont);
	ev_prepare_init(&tty.drained, drained_cb);
	install();
}

void tty_interrupt(void)
{
	if (!tty.on)
		return;
	output_write_raw(tty.crlf ? "^C\r\n" : "^C\n", tty.crlf ? 4 : 3);
	/* the line editor goes and comes back: an empty line under a fresh prompt */
	uninstall();
	if (tty.following) {
		tty.busy = true;
		json_t *cmd = json_pack("{s:s, s:s, s:s, s:b}", "type", "follow-logs", "id", "tty-f",
					"projectId", tty.following, "follow", 0);
		command_handle_json(cmd);
		json_decref(cmd);
		tty.busy = false;
	}
	tty_refresh();
}

void tty_stop(void)
{
	if (!tty.on)
		return;
	if (tty.installed)
		output_write_raw("\r\033[K", 4);
	uninstall();
	ev_io_stop(tty.loop, &tty.rio);
	ev_signal_stop(tty.loop, &tty.sigwinch);
	ev_signal_stop(tty.loop, &tty.sigcont);
	ev_prepare_stop(tty.loop, &tty.drained);
	tty.on = false;
	tty_print("every project is stopped; bye\n");
	output_set_sink(NULL);
	log_set_sink(NULL);
	int err = tty.history[0] ? write_history(tty.history) : 0;
	if (err)
		log_warn("cannot save the history in %s: %s", tty.history, strerror(err));
	if (tty.log_pipe[0] >= 0) {
		ev_io_stop(tty.loop, &tty.log_io);
		linebuf_free(&tty.log_lb);
		close(tty.log_pipe[0]);
		close(tty.log_pipe[1]);
		tty.log_pipe[0] = tty.log_pipe[1] = -1;
	}
	json_decref(tty.raw_ids);
	tty.raw_ids = NULL;
	free(tty.following);
	tty.following = NULL;
}
