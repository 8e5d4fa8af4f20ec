/* The terminal front end's commands: typed words -> protocol commands, help, suggestions. */
#include "supervisor/tty_commands.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

static const char *const commands[] = {"start", "stop",    "restart", "status", "logs",
				       "ping",  "metrics", "json",    "help",   "quit"};

static const char *const start_flags[] = {"--port", "--strict-port", "--framework", "--tunnel",
					  "--cwd",  "--env",         "--logs",      "--"};
static const char *const stop_flags[] = {"--timeout"};
static const char *const logs_flags[] = {"-n", "-f"};
static const char *const frameworks[] = {"auto", "next", "vite", "other"};
static const char *const providers[] = {"cloudflared", "ngrok", "localtunnel"};

static const char help_all[] =
	"commands:\n"
	"  start ID [options] -- CMD ARGS...  start a dev server (help start: the options)\n"
	"  stop ID [--timeout SECONDS]        stop it: SIGTERM, SIGKILL after the timeout\n"
	"  restart ID [options]               stop it and start it again, same command\n"
	"  status [ID]                        a table: project, state, port, pid, url, tunnel\n"
	"  logs ID [-n N] [-f]                its last N lines of output; -f follows them\n"
	"  ping                               is devsup alive?\n"
	"  metrics                            counters and start latencies\n"
	"  json {...}                         send a raw protocol command (docs/protocol.md)\n"
	"  help [COMMAND]                     this list, or one command in detail\n"
	"  quit                               stop every project and exit (also Ctrl-D)\n"
	"Tab completes commands, options and project ids. Ctrl-C clears the line or ends\n"
	"logs -f; a second Ctrl-D while stopping kills what is left.\n";

static const struct {
	const char *name;
	const char *text;
} help_topics[] = {
	{"start",
	 "start ID [--port N] [--strict-port] [--framework F] [--tunnel[=PROVIDER]] [--cwd DIR]\n"
	 "      [--env K=V]... [--logs] -- CMD ARGS...\n"
	 "  Runs CMD ARGS (without a shell; {port} becomes the port) as project ID and says\n"
	 "  when it answers HTTP. A single quoted command with blanks runs with /bin/sh -c.\n"
	 "  --port N          the port to ask for (default: one from devsup's --port-range)\n"
	 "  --strict-port     fail when that port is taken, instead of taking another\n"
	 "  --framework F     auto (default), next, vite or other\n"
	 "  --tunnel[=P]      open a public tunnel: cloudflared (default), ngrok, localtunnel\n"
	 "  --cwd DIR         the project's directory (default: the current directory)\n"
	 "  --env K=V         add K=V to its environment (repeatable)\n"
	 "  --logs            print its output as it comes\n"
	 "example:\n"
	 "  start web --port 3000 -- npm run dev\n"},
	{"stop",
	 "stop ID [--timeout SECONDS]\n"
	 "  Stops project ID: SIGTERM to everything it started, SIGKILL to what is left after\n"
	 "  the timeout (default: 10 s). Answered once nothing of it is alive.\n"
	 "example:\n"
	 "  stop web --timeout 2\n"},
	{"restart",
	 "restart ID [start options] [-- CMD ARGS...]\n"
	 "  Stops project ID if it runs, then starts it again with its last command and port;\n"
	 "  options given replace the last start's.\n"
	 "example:\n"
	 "  restart web --env DEBUG=1\n"},
	{"status",
	 "status [ID]\n"
	 "  A table of every project (or one): state, port, pid, url, tunnel, uptime.\n"},
	{"logs",
	 "logs ID [-n N] [-f]\n"
	 "  The last N lines of its output (default 100), also after it stopped; with -f, then\n"
	 "  every new line as it comes, until Ctrl-C.\n"
	 "example:\n"
	 "  logs web -n 20 -f\n"},
	{"ping", "ping\n  Answers pong, with devsup's version and uptime.\n"},
	{"metrics", "metrics\n  Starts, failures by reason, stops, forced kills, start latency.\n"},
	{"json",
	 "json {...}\n"
	 "  Sends one protocol command as it is and shows its answers as JSON.\n"
	 "example:\n"
	 "  json {\"type\":\"status\"}\n"},
	{"help", "help [COMMAND]\n  The commands, or one in detail.\n"},
	{"quit",
	 "quit\n  Stops every project and exits, as Ctrl-D; Ctrl-D again while stopping kills\n"
	 "  what is left.\n"},
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
	size_t la = strlen(a), lb = strlen(b);
	size_t row[64];
	if (la > 63 || lb > 63)
		return 64;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t best = diag + (a[i - 1] != b[j - 1]);
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

static const char *nearest(const char *word, const char *const *names, size_t n)
{
	const char *best = NULL;
	size_t best_d = 3;
	for (size_t i = 0; i < n; i++) {
		size_t d = tty_distance(word, names[i]);
		if (d < best_d) {
			best_d = d;
			best = names[i];
		}
	}
	return best;
}

const char *tty_suggest(const char *word)
{
	return nearest(word, commands, ARRAY_LEN(commands));
}

/* --- building commands ----------------------------------------------------------------- */

static bool parse_int(const char *s, long long lo, long long hi, long long *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (!*s || *end || errno || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

/* Seconds, fractions allowed ("1.5"), as milliseconds. */
static bool parse_seconds_ms(const char *s, long long max_s, long long *ms)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (!*s || *end || errno || !(v >= 0 && v <= (double)max_s))
		return false;
	*ms = (long long)(v * 1000 + 0.5);
	return true;
}

/* "--port=3000" and "--port 3000" alike: the value of flag name, taking the next word if
 * needed; NULL (with err) when it is missing. */
static const char *flag_value(int argc, char **argv, int *i, const char *name, char *err,
			      size_t errlen)
{
	const char *a = argv[*i];
	size_t n = strlen(name);
	if (a[n] == '=')
		return a + n + 1;
	if (*i + 1 >= argc) {
		snprintf(err, errlen, "%s needs a value", name);
		return NULL;
	}
	return argv[++*i];
}

static bool flag_is(const char *arg, const char *name)
{
	size_t n = strlen(name);
	return strncmp(arg, name, n) == 0 && (arg[n] == '\0' || arg[n] == '=');
}

static bool unknown_flag(const char *arg, const char *cmd, const char *const *flags, size_t n,
			 char *err, size_t errlen)
{
	char name[64];
	snprintf(name, sizeof(name), "%.*s", (int)strcspn(arg, "="), arg);
	const char *near = nearest(name, flags, n);
	if (near)
		snprintf(err, errlen, "unknown option '%s' for %s — did you mean '%s'?", name, cmd,
			 near);
	else
		snprintf(err, errlen, "unknown option '%s' for %s (help %s)", name, cmd, cmd);
	return false;
}

/* A directory as typed: absolute as it is, ~/ from HOME, anything else below cwd. */
static char *absolute_dir(const char *dir, const char *cwd)
{
	char buf[4096];
	const char *home = getenv("HOME");
	if (dir[0] == '/')
		return xstrdup(dir);
	if ((strcmp(dir, "~") == 0 || strncmp(dir, "~/", 2) == 0) && home && *home)
		snprintf(buf, sizeof(buf), "%s%s", home, dir + 1);
	else if (strcmp(dir, ".") == 0)
		snprintf(buf, sizeof(buf), "%s", cwd);
	else
		snprintf(buf, sizeof(buf), "%s%s%s", cwd, cwd[strlen(cwd) - 1] == '/' ? "" : "/",
			 strncmp(dir, "./", 2) == 0 ? dir + 2 : dir);
	return xstrdup(buf);
}

/* One option of start/restart into cmd; false with err for a bad or unknown one. */
static bool start_option(json_t *cmd, int argc, char **argv, int *i, const char *cwd,
			 char *err, size_t errlen)
{
	const char *a = argv[*i], *v;
	long long num;
	if (flag_is(a, "--port")) {
		if (!(v = flag_value(argc, argv, i, "--port", err, errlen)))
			return false;
		if (!parse_int(v, 1, 65535, &num)) {
			snprintf(err, errlen, "--port '%s': expected a port from 1 to 65535", v);
			return false;
		}
		json_object_set_new(cmd, "port", json_integer((json_int_t)num));
	} else if (strcmp(a, "--strict-port") == 0) {
		json_object_set_new(cmd, "strictPort", json_true());
	} else if (flag_is(a, "--framework")) {
		if (!(v = flag_value(argc, argv, i, "--framework", err, errlen)))
			return false;
		json_object_set_new(cmd, "framework", json_string(v));
	} else if (strcmp(a, "--tunnel") == 0) {
		json_object_set_new(cmd, "tunnel", json_true());
	} else if (strncmp(a, "--tunnel=", 9) == 0) {
		if (!a[9]) {
			snprintf(err, errlen, "--tunnel=PROVIDER: cloudflared, ngrok or localtunnel");
			return false;
		}
		json_object_set_new(cmd, "tunnel", json_pack("{s:s}", "provider", a + 9));
	} else if (flag_is(a, "--cwd")) {
		if (!(v = flag_value(argc, argv, i, "--cwd", err, errlen)))
			return false;
		char *dir = absolute_dir(v, cwd);
		json_object_set_new(cmd, "cwd", json_string(dir));
		free(dir);
	} else if (flag_is(a, "--env")) {
		if (!(v = flag_value(argc, argv, i, "--env", err, errlen)))
			return false;
		const char *eq = strchr(v, '=');
		if (!eq || eq == v) {
			snprintf(err, errlen, "--env '%s': expected NAME=VALUE", v);
			return false;
		}
		json_t *env = json_object_get(cmd, "env");
		if (!env) {
			env = json_object();
			json_object_set_new(cmd, "env", env);
		}
		char *name = xstrndup(v, (size_t)(eq - v));
		json_object_set_new(env, name, json_string(eq + 1));
		free(name);
	} else if (strcmp(a, "--logs") == 0) {
		json_object_set_new(cmd, "logs", json_true());
	} else {
		return unknown_flag(a, argv[0], start_flags, ARRAY_LEN(start_flags), err, errlen);
	}
	return true;
}

json_t *tty_build_start(int argc, char **argv, const char *cwd, bool is_restart, char *err,
			size_t errlen)
{
	const char *verb = argv[0];
	if (argc < 2 || argv[1][0] == '-') {
		snprintf(err, errlen, "%s needs a project id first: %s ID%s (help %s)", verb, verb,
			 is_restart ? "" : " [options] -- CMD ARGS...", verb);
		return NULL;
	}
	json_t *cmd = json_pack("{s:s, s:s}", "type",
				is_restart ? "restart-dev-server" : "start-dev-server", "projectId",
				argv[1]);
	int i = 2;
	for (; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		}
		if (argv[i][0] != '-')
			break; /* the command itself, without a `--` */
		if (!start_option(cmd, argc, argv, &i, cwd, err, errlen))
			goto bad;
	}
	if (i < argc) {
		/* One quoted word with blanks is a shell command line, as a person means it. */
		if (argc - i == 1 && strpbrk(argv[i], " \t"))
			json_object_set_new(cmd, "command", json_string(argv[i]));
		else {
			json_t *words = json_array();
			for (; i < argc; i++)
				json_array_append_new(words, json_string(argv[i]));
			json_object_set_new(cmd, "command", words);
		}
	} else if (!is_restart) {
		snprintf(err, errlen, "start needs the command to run after --, e.g. start %s -- npm "
				      "run dev",
			 argv[1]);
		goto bad;
	}
	if (!is_restart && !json_object_get(cmd, "cwd"))
		json_object_set_new(cmd, "cwd", json_string(cwd));
	return cmd;
bad:
	json_decref(cmd);
	return NULL;
}

static json_t *build_stop(int argc, char **argv, char *err, size_t errlen)
{
	if (argc < 2 || argv[1][0] == '-') {
		snprintf(err, errlen, "stop needs a project id: stop ID [--timeout SECONDS]");
		return NULL;
	}
	json_t *cmd = json_pack("{s:s, s:s}", "type", "stop-dev-server", "projectId", argv[1]);
	for (int i = 2; i < argc; i++) {
		const char *v;
		long long ms;
		if (!flag_is(argv[i], "--timeout")) {
			unknown_flag(argv[i], "stop", stop_flags, ARRAY_LEN(stop_flags), err, errlen);
			goto bad;
		}
		if (!(v = flag_value(argc, argv, &i, "--timeout", err, errlen)))
			goto bad;
		if (!parse_seconds_ms(v, 3600, &ms)) {
			snprintf(err, errlen, "--timeout '%s': expected seconds from 0 to 3600", v);
			goto bad;
		}
		json_object_set_new(cmd, "timeoutMs", json_integer((json_int_t)ms));
	}
	return cmd;
bad:
	json_decref(cmd);
	return NULL;
}

/* `logs ID [-n N] [-f]`: the logs command, then follow-logs when -f. */
static json_t *build_logs(int argc, char **argv, char *err, size_t errlen)
{
	if (argc < 2 || argv[1][0] == '-') {
		snprintf(err, errlen, "logs needs a project id: logs ID [-n N] [-f]");
		return NULL;
	}
	json_t *logs = json_pack("{s:s, s:s}", "type", "logs", "projectId", argv[1]);
	bool follow = false;
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i], *v;
		long long n;
		if (strcmp(a, "-f") == 0 || strcmp(a, "--follow") == 0) {
			follow = true;
		} else if (strcmp(a, "-n") == 0 || flag_is(a, "--lines")) {
			if (!(v = flag_value(argc, argv, &i, a[1] == 'n' ? "-n" : "--lines", err,
					     errlen)))
				goto bad;
			if (!parse_int(v, 1, 100000, &n)) {
				snprintf(err, errlen, "-n '%s': expected a number of lines from 1 to "
						      "100000",
					 v);
				goto bad;
			}
			json_object_set_new(logs, "lines", json_integer((json_int_t)n));
		} else {
			unknown_flag(a, "logs", logs_flags, ARRAY_LEN(logs_flags), err, errlen);
			goto bad;
		}
	}
	json_t *cmds = json_pack("[o]", logs);
	if (follow)
		json_array_append_new(cmds, json_pack("{s:s, s:s, s:b}", "type", "follow-logs",
						      "projectId", argv[1], "follow", 1));
	return cmds;
bad:
	json_decref(logs);
	return NULL;
}

static void act_print(tty_action_t *out, const char *text, bool error)
{
	out->kind = TTY_ACT_PRINT;
	out->error = error;
	size_t n = strlen(text);
	out->text = xmalloc(n + 2);
	memcpy(out->text, text, n + 1);
	if (n == 0 || text[n - 1] != '\n')
		strcpy(out->text + n, "\n");
}

static void act_send(tty_action_t *out, json_t *cmd)
{
	out->kind = TTY_ACT_SEND;
	out->cmds = json_is_array(cmd) ? cmd : json_pack("[o]", cmd);
}

static void unknown_command(tty_action_t *out, const char *word)
{
	char msg[512];
	const char *near = tty_suggest(word);
	if (near) {
		snprintf(msg, sizeof(msg), "unknown command '%.64s' — did you mean '%s'?", word,
			 near);
	} else {
		size_t n = (size_t)snprintf(msg, sizeof(msg), "unknown command '%.64s'; commands:",
					    word);
		for (size_t i = 0; i < ARRAY_LEN(commands) && n < sizeof(msg); i++)
			n += (size_t)snprintf(msg + n, sizeof(msg) - n, "%s %s", i ? "," : "",
					      commands[i]);
	}
	act_print(out, msg, true);
}

/* `json {...}`: the text after the word, parsed as it is (a shell split would mangle it). */
static void parse_json_command(const char *line, tty_action_t *out)
{
	const char *p = line + strspn(line, " \t");
	p += 4;
	p += strspn(p, " \t");
	if (!*p) {
		act_print(out, "json needs a command object, e.g. json {\"type\":\"ping\"}", true);
		return;
	}
	json_error_t jerr;
	json_t *cmd = json_loads(p, JSON_REJECT_DUPLICATES, &jerr);
	if (!cmd || !json_is_object(cmd)) {
		char msg[300];
		snprintf(msg, sizeof(msg), "json: %s", cmd ? "a command is a JSON object {...}"
							   : jerr.text);
		json_decref(cmd);
		act_print(out, msg, true);
		return;
	}
	act_send(out, cmd);
	out->raw = true;
}

static bool no_args(int argc, char **argv, tty_action_t *out)
{
	if (argc == 1)
		return true;
	char msg[128];
	snprintf(msg, sizeof(msg), "%s takes no arguments", argv[0]);
	act_print(out, msg, true);
	return false;
}

void tty_parse_line(const char *line, const char *cwd, tty_action_t *out)
{
	char err[512] = "", **argv;
	memset(out, 0, sizeof(*out));
	const char *first = line + strspn(line, " \t");
	if (strncmp(first, "json", 4) == 0 && (first[4] == '\0' || strchr(" \t", first[4]))) {
		parse_json_command(line, out);
		return;
	}
	int argc = tty_split(line, &argv, err, sizeof(err));
	if (argc < 0) {
		act_print(out, err, true);
		return;
	}
	json_t *cmd = NULL;
	const char *verb = argc > 0 ? argv[0] : "";
	if (argc == 0) {
		out->kind = TTY_ACT_NONE;
	} else if (strcmp(verb, "start") == 0 || strcmp(verb, "restart") == 0) {
		cmd = tty_build_start(argc, argv, cwd, verb[0] == 'r', err, sizeof(err));
	} else if (strcmp(verb, "stop") == 0) {
		cmd = build_stop(argc, argv, err, sizeof(err));
	} else if (strcmp(verb, "logs") == 0) {
		cmd = build_logs(argc, argv, err, sizeof(err));
	} else if (strcmp(verb, "status") == 0) {
		if (argc > 2)
			act_print(out, "status takes at most one project id", true);
		else
			cmd = argc == 2 ? json_pack("{s:s, s:s}", "type", "status", "projectId",
						    argv[1])
					: json_pack("{s:s}", "type", "status");
	} else if (strcmp(verb, "ping") == 0 || strcmp(verb, "metrics") == 0) {
		if (no_args(argc, argv, out))
			cmd = json_pack("{s:s}", "type", verb);
	} else if (strcmp(verb, "help") == 0 || strcmp(verb, "?") == 0) {
		const char *text = tty_help(argc > 1 ? argv[1] : NULL);
		if (text) {
			act_print(out, text, false);
		} else {
			const char *near = tty_suggest(argv[1]);
			snprintf(err, sizeof(err), "no help for '%.64s'%s%s%s", argv[1],
				 near ? " — did you mean '" : "", near ? near : "", near ? "'?" : "");
			act_print(out, err, true);
		}
	} else if (strcmp(verb, "quit") == 0 || strcmp(verb, "exit") == 0) {
		if (no_args(argc, argv, out))
			out->kind = TTY_ACT_QUIT;
	} else {
		unknown_command(out, verb);
	}
	if (cmd)
		act_send(out, cmd);
	else if (out->kind == TTY_ACT_NONE && argc > 0)
		act_print(out, err, true);
	tty_argv_free(argv);
}

void tty_action_free(tty_action_t *a)
{
	json_decref(a->cmds);
	free(a->text);
	memset(a, 0, sizeof(*a));
}

/* --- completion ------------------------------------------------------------------------ */

static int add_matches(const char *word, const char *const *names, size_t n, const char **out,
		       size_t max, int count)
{
	size_t wl = strlen(word);
	for (size_t i = 0; i < n && (size_t)count < max; i++)
		if (strncmp(names[i], word, wl) == 0)
			out[count++] = names[i];
	return count;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && strcmp(s + a - b, suffix) == 0;
}

int tty_complete_words(const char *before, const char *word, const char *const *ids,
		       size_t nids, const char **out, size_t max)
{
	char err[64], **argv;
	int argc = tty_split(before, &argv, err, sizeof(err));
	int count = 0;
	if (argc < 0)
		return 0; /* inside a quote */
	const char *verb = argc > 0 ? argv[0] : NULL;
	const char *prev = argc > 0 ? argv[argc - 1] : "";
	bool starts = verb && (strcmp(verb, "start") == 0 || strcmp(verb, "restart") == 0);
	bool glued = before[0] && !strchr(" \t", before[strlen(before) - 1]);
	bool after_dashes = false;
	for (int i = 1; i < argc; i++)
		after_dashes = after_dashes || (starts && strcmp(argv[i], "--") == 0);
	if (!verb) {
		count = add_matches(word, commands, ARRAY_LEN(commands), out, max, 0);
	} else if (after_dashes) {
		count = -1; /* the command's own arguments: file names */
	} else if (glued && ends_with(before, "--tunnel=")) {
		count = add_matches(word, providers, ARRAY_LEN(providers), out, max, 0);
	} else if (glued && ends_with(before, "--framework=")) {
		count = add_matches(word, frameworks, ARRAY_LEN(frameworks), out, max, 0);
	} else if (glued && ends_with(before, "--cwd=")) {
		count = -1;
	} else if (starts && strcmp(prev, "--framework") == 0) {
		count = add_matches(word, frameworks, ARRAY_LEN(frameworks), out, max, 0);
	} else if (starts && strcmp(prev, "--cwd") == 0) {
		count = -1;
	} else if (strcmp(verb, "help") == 0 && argc == 1) {
		count = add_matches(word, commands, ARRAY_LEN(commands), out, max, 0);
	} else if (word[0] == '-' && starts) {
		count = add_matches(word, start_flags, ARRAY_LEN(start_flags), out, max, 0);
	} else if (word[0] == '-' && strcmp(verb, "stop") == 0) {
		count = add_matches(word, stop_flags, ARRAY_LEN(stop_flags), out, max, 0);
	} else if (word[0] == '-' && strcmp(verb, "logs") == 0) {
		count = add_matches(word, logs_flags, ARRAY_LEN(logs_flags), out, max, 0);
	} else if (argc == 1 && (starts || strcmp(verb, "stop") == 0 ||
				 strcmp(verb, "status") == 0 || strcmp(verb, "logs") == 0)) {
		count = add_matches(word, ids, nids, out, max, 0);
	}
	tty_argv_free(argv);
	return count;
}
