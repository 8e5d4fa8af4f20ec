/* The words of the terminal's command language: splitting a line, the commands and their
 * help, and what a mistyped word most likely meant. */
#include "supervisor/tty_words.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

static const char *const commands[] = {"start", "stop",  "restart", "status", "logs",
				       "mute",  "unmute", "up",     "down",   "ping",
				       "metrics", "json", "help",   "quit",   "detach", "top"};

static const char help_all[] =
	"commands:\n"
	"  start ID [options] -- CMD ARGS...  start a dev server (help start: the options)\n"
	"  stop ID...|all [--timeout SECONDS] stop: SIGTERM, SIGKILL after the timeout\n"
	"  restart ID...|all [options]        stop and start again, same command\n"
	"  status [ID]                        a table: state, port, url, restarts, failures\n"
	"  top                                live CPU and memory per project (c/m sort, q leaves)\n"
	"  logs ID...|all [-n N] [-f]         the last N lines of output; -f follows them\n"
	"  mute ID / unmute ID                hide / show a project's --logs stream\n"
	"  up [--file PATH] / down            start / stop the projects of devsup.json\n"
	"  ping                               is devsup alive?\n"
	"  metrics                            counters and start latencies\n"
	"  json {...}                         send a raw protocol command (docs/protocol.md)\n"
	"  help [COMMAND]                     this list, or one command in detail\n"
	"  quit                               stop every project and exit (also Ctrl-D);\n"
	"                                     quit! does not ask first\n"
	"  detach                             exit, leaving every project running for the next\n"
	"                                     devsup with this runner id (--adopt-timeout)\n"
	"Tab completes commands, options and project ids; Ctrl-R finds an earlier line that\n"
	"starts with what is typed. Ctrl-C clears the line or ends logs -f; a second Ctrl-D\n"
	"while stopping kills what is left.\n";

static const struct {
	const char *name;
	const char *text;
} help_topics[] = {
	{"start",
	 "start ID [--port N] [--strict-port] [--framework F] [--tunnel[=PROVIDER]] [--cwd DIR]\n"
	 "      [--env K=V]... [--env-file FILE] [--health-path PATH] [--health-timeout S]\n"
	 "      [--stop-timeout S] [--logs] [--memory SIZE] -- CMD ARGS...\n"
	 "  Runs CMD ARGS (without a shell) as project ID and says when it answers HTTP.\n"
	 "  {port} in the command becomes the port; PORT is set too (Vite ignores PORT:\n"
	 "  give it --port {port}). A single quoted command with blanks runs with sh -c.\n"
	 "  --port N            the port to ask for (default: one from devsup's --port-range)\n"
	 "  --strict-port       fail when that port is taken, instead of taking another\n"
	 "  --framework F       auto (default), next, vite or other\n"
	 "  --tunnel[=P]        open a public tunnel: cloudflared (default), ngrok, localtunnel\n"
	 "  --cwd DIR           the project's directory (default: the current directory)\n"
	 "  --env K=V           add K=V to its environment (repeatable)\n"
	 "  --env-file FILE     add the K=V lines of FILE (# comments; --env wins)\n"
	 "  --health-path PATH  the URL path asked to see that it answers (default /)\n"
	 "  --health-timeout S  seconds it may take to answer (default: by framework)\n"
	 "  --stop-timeout S    seconds between SIGTERM and SIGKILL when stopped (default 10)\n"
	 "  --logs              print its output as it comes (mute ID hides it again)\n"
	 "  --memory SIZE       stop it (memory_limit) when its tree uses more: 512M, 2G\n"
	 "example:\n"
	 "  start web --port 3000 -- npm run dev -- --port {port}\n"},
	{"stop",
	 "stop ID...|all [--timeout SECONDS]\n"
	 "  Stops the projects: SIGTERM to everything they started, SIGKILL to what is left\n"
	 "  after the timeout (default: the start's --stop-timeout, else 10 s). Answered once\n"
	 "  nothing of them is alive; meanwhile the prompt counts down to the SIGKILL.\n"
	 "example:\n"
	 "  stop web --timeout 2\n"},
	{"restart",
	 "restart ID...|all [start options] [-- CMD ARGS...]\n"
	 "  Stops the project if it runs, then starts it again with its last command and port;\n"
	 "  options given replace the last start's.\n"
	 "example:\n"
	 "  restart web --env DEBUG=1\n"},
	{"status",
	 "status [ID]\n"
	 "  A table of every project (or one): state, port, pid, url, tunnel, uptime, restarts,\n"
	 "  and for a failed one its last failure and exit code. Fits the terminal's width.\n"},
	{"logs",
	 "logs ID...|all [-n N] [-f]\n"
	 "  The last N lines of output (default 100), also after it stopped; with -f, then\n"
	 "  every new line as it comes, until Ctrl-C. Several projects are merged by time,\n"
	 "  each line after its project's name in the project's colour.\n"
	 "example:\n"
	 "  logs web api -n 20 -f\n"},
	{"mute",
	 "mute ID|all / unmute ID|all\n"
	 "  Hides (shows again) the output a project started with --logs prints, without\n"
	 "  stopping it; logs ID still shows it.\n"},
	{"unmute", "unmute ID|all\n  Shows a muted project's --logs output again.\n"},
	{"up",
	 "up [--file PATH]\n"
	 "  Starts every project of the project file (default: devsup.json in the current\n"
	 "  directory), each once the projects of its dependsOn are running. The file:\n"
	 "    {\"projects\": {\"api\": {\"command\": \"npm run dev\", \"cwd\": \"api\"},\n"
	 "                  \"web\": {\"command\": [\"vite\", \"--port\", \"{port}\"],\n"
	 "                          \"cwd\": \"web\", \"dependsOn\": [\"api\"]}}}\n"
	 "  Fields are the start command's (docs/protocol.md); cwd is relative to the file.\n"},
	{"down", "down [--file PATH]\n  Stops every project of the project file.\n"},
	{"ping", "ping\n  Answers pong, with devsup's version and uptime.\n"},
	{"metrics", "metrics\n  Starts, failures by reason, stops, forced kills, start latency.\n"},
	{"top",
	 "top\n"
	 "  A live view of every live project's CPU and memory, refreshed every second:\n"
	 "  c sorts by CPU, m by memory, q (or Ctrl-C) goes back to the prompt.\n"},
	{"json",
	 "json {...}\n"
	 "  Sends one protocol command as it is and shows its answers as JSON.\n"
	 "example:\n"
	 "  json {\"type\":\"status\"}\n"},
	{"help", "help [COMMAND]\n  The commands, or one in detail.\n"},
	{"detach",
	 "detach\n  Exits and leaves every project running: a devsup started with the same runner\n"
	 "  id within --adopt-timeout takes them over; after it they are stopped.\n"},
	{"quit",
	 "quit / quit!\n  Stops every project and exits, as Ctrl-D; with projects running it asks\n"
	 "  first (quit! does not). Ctrl-D again while stopping kills what is left.\n"},
};

const char *tty_help(const char *topic)
{
	if (!topic)
		return help_all;
	for (size_t i = 0; i < ARRAY_LEN(help_topics); i++)
		if (strcmp(topic, help_topics[i].name) == 0)
			return help_topics[i].text;
	return NULL;
}

/* --- splitting ------------------------------------------------------------------------- */

typedef struct {
	char **v;
	int n;
	int cap;
} words_t;

static void words_push(words_t *w, char *s)
{
	if (w->n + 2 > w->cap) {
		w->cap = w->cap ? w->cap * 2 : 8;
		w->v = xrealloc(w->v, (size_t)w->cap * sizeof(*w->v));
	}
	w->v[w->n++] = s;
	w->v[w->n] = NULL;
}

void tty_argv_free(char **argv)
{
	for (size_t i = 0; argv && argv[i]; i++)
		free(argv[i]);
	free(argv);
}

int tty_split(const char *line, char ***argv, char *err, size_t errlen)
{
	words_t w = {0};
	size_t len = strlen(line);
	char *cur = xmalloc(len + 1); /* a word is never longer than the line */
	size_t cl = 0;
	bool in_word = false;
	words_push(&w, NULL); /* an empty, terminated array even for an empty line */
	w.n = 0;
	for (const char *p = line; *p; p++) {
		char c = *p;
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
			if (in_word) {
				words_push(&w, xstrndup(cur, cl));
				cl = 0;
				in_word = false;
			}
			continue;
		}
		in_word = true;
		if (c == '\\') {
			if (p[1])
				cur[cl++] = *++p;
		} else if (c == '\'') {
			const char *end = strchr(p + 1, '\'');
			if (!end) {
				snprintf(err, errlen, "unterminated ' quote");
				goto bad;
			}
			memcpy(cur + cl, p + 1, (size_t)(end - p - 1));
			cl += (size_t)(end - p - 1);
			p = end;
		} else if (c == '"') {
			for (p++; *p && *p != '"'; p++) {
				if (*p == '\\' && p[1] && strchr("\"\\$`", p[1]))
					p++;
				cur[cl++] = *p;
			}
			if (!*p) {
				snprintf(err, errlen, "unterminated \" quote");
				goto bad;
			}
		} else {
			cur[cl++] = c;
		}
	}
	if (in_word)
		words_push(&w, xstrndup(cur, cl));
	free(cur);
	*argv = w.v;
	return w.n;
bad:
	free(cur);
	tty_argv_free(w.v);
	*argv = NULL;
	return -1;
}

/* --- suggestions ----------------------------------------------------------------------- */

size_t tty_distance(const char *a, const char *b)
{
	return text_distance(a, b);
}

const char *tty_suggest_among(const char *word, const char *const *names, size_t n)
{
	const char *best = NULL;
	size_t best_d = 3, wl = strlen(word);
	/* a beginning typed ("stat", "web" of "web-api") names what was meant better than any
	 * distance: the shortest such name wins */
	for (size_t i = 0; wl >= 2 && i < n; i++)
		if (strncmp(names[i], word, wl) == 0 && (!best || strlen(names[i]) < strlen(best)))
			best = names[i];
	if (best)
		return best;
	for (size_t i = 0; i < n; i++) {
		size_t d = tty_distance(word, names[i]);
		/* a short word is near everything within 2 edits: 1 for up to 3 letters */
		if (d < best_d && (d <= 1 || wl > 3)) {
			best_d = d;
			best = names[i];
		}
	}
	return best;
}

const char *tty_suggest(const char *word)
{
	return tty_suggest_among(word, commands, ARRAY_LEN(commands));
}

const char *const *tty_command_names(size_t *n)
{
	*n = ARRAY_LEN(commands);
	return commands;
}
