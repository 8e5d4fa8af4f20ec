/* The terminal front end's pure parts: typed lines -> protocol commands, and events -> text. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <stdio.h>
#include <unistd.h>

#include "supervisor/tty_commands.h"
#include "supervisor/tty_file.h"
#include "supervisor/tty_history.h"
#include "supervisor/tty_format.h"
#include "tests/unit/suites.h"

static json_t *load(const char *text)
{
	json_error_t jerr;
	json_t *j = json_loads(text, 0, &jerr);
	ck_assert_msg(j != NULL, "bad test JSON %s: %s", text, jerr.text);
	return j;
}

/* Splits line, asserting the words are exactly the NULL-terminated list expected. */
static void expect_split(const char *line, const char *const *expected)
{
	char err[128], **argv;
	int n = tty_split(line, &argv, err, sizeof(err));
	int want = 0;
	while (expected[want])
		want++;
	ck_assert_msg(n == want, "%s: %d words, expected %d (%s)", line, n, want, n < 0 ? err : "");
	for (int i = 0; i < n; i++)
		ck_assert_msg(strcmp(argv[i], expected[i]) == 0, "%s: word %d is [%s], expected [%s]",
			      line, i, argv[i], expected[i]);
	ck_assert_ptr_null(argv[n]);
	tty_argv_free(argv);
}

/* --- splitting ------------------------------------------------------------------------- */

START_TEST(test_split_words)
{
	expect_split("  start   web\t--port 3000 ", (const char *[]){"start", "web", "--port", "3000",
								     NULL});
	expect_split("", (const char *[]){NULL});
	expect_split("   ", (const char *[]){NULL});
}
END_TEST

START_TEST(test_split_quotes)
{
	expect_split("a 'b c' \"d e\"", (const char *[]){"a", "b c", "d e", NULL});
	expect_split("x'y z'w", (const char *[]){"xy zw", NULL});
	expect_split("'' \"\"", (const char *[]){"", "", NULL});
	/* single quotes keep backslashes; double quotes understand \" \\ \$ \` only */
	expect_split("'a\\b' \"c\\\"d\\\\e\\nf\"", (const char *[]){"a\\b", "c\"d\\e\\nf", NULL});
	expect_split("\"it's\" 'say \"hi\"'", (const char *[]){"it's", "say \"hi\"", NULL});
}
END_TEST

START_TEST(test_split_escapes)
{
	expect_split("a\\ b c\\'d", (const char *[]){"a b", "c'd", NULL});
	expect_split("--env A=\\$HOME", (const char *[]){"--env", "A=$HOME", NULL});
}
END_TEST

START_TEST(test_split_dashes_are_a_word)
{
	expect_split("start web -- npm run dev", (const char *[]){"start", "web", "--", "npm", "run",
								  "dev", NULL});
	expect_split("start web '--'", (const char *[]){"start", "web", "--", NULL});
}
END_TEST

START_TEST(test_split_unterminated)
{
	char err[128] = "", **argv = (char **)1;
	ck_assert_int_eq(tty_split("echo 'abc", &argv, err, sizeof(err)), -1);
	ck_assert_ptr_null(argv);
	ck_assert_msg(strstr(err, "unterminated") != NULL, "err: %s", err);
	ck_assert_int_eq(tty_split("echo \"abc", &argv, err, sizeof(err)), -1);
}
END_TEST

/* --- building commands ----------------------------------------------------------------- */

/* The first command of the typed line as compact JSON with sorted keys ("" if none sent). */
static char *first_command(const char *line)
{
	tty_action_t a;
	tty_parse_line(line, "/home/me/app", &a);
	ck_assert_msg(a.kind == TTY_ACT_SEND, "%s: not sent (%s)", line, a.text ? a.text : "");
	char *s = json_dumps(json_array_get(a.cmds, 0), JSON_COMPACT | JSON_SORT_KEYS);
	tty_action_free(&a);
	return s;
}

static void expect_command(const char *line, const char *json)
{
	char *got = first_command(line);
	json_t *want = load(json);
	char *w = json_dumps(want, JSON_COMPACT | JSON_SORT_KEYS);
	ck_assert_msg(strcmp(got, w) == 0, "%s\n  got  %s\n  want %s", line, got, w);
	free(got);
	free(w);
	json_decref(want);
}

/* The line is refused with a message containing `needle`. */
static void expect_refused(const char *line, const char *needle)
{
	tty_action_t a;
	tty_parse_line(line, "/home/me/app", &a);
	ck_assert_msg(a.kind == TTY_ACT_PRINT && a.error, "%s: not refused", line);
	ck_assert_msg(strstr(a.text, needle) != NULL, "%s: message [%s] lacks [%s]", line, a.text,
		      needle);
	tty_action_free(&a);
}

START_TEST(test_start_minimal_defaults_cwd)
{
	expect_command("start web -- npm run dev",
		       "{\"type\":\"start-dev-server\",\"projectId\":\"web\",\"cwd\":\"/home/me/app\","
		       "\"command\":[\"npm\",\"run\",\"dev\"]}");
}
END_TEST

START_TEST(test_start_every_flag)
{
	expect_command("start web --port 3000 --strict-port --framework vite --tunnel "
		       "--cwd /srv/web --env A=1 --env B=two=2 --logs -- node server.mjs --port {port}",
		       "{\"type\":\"start-dev-server\",\"projectId\":\"web\",\"port\":3000,"
		       "\"strictPort\":true,\"framework\":\"vite\",\"tunnel\":true,\"cwd\":\"/srv/web\","
		       "\"env\":{\"A\":\"1\",\"B\":\"two=2\"},\"logs\":true,"
		       "\"command\":[\"node\",\"server.mjs\",\"--port\",\"{port}\"]}");
}
END_TEST

START_TEST(test_start_flag_forms)
{
	/* --flag=value as well as --flag value; --tunnel=PROVIDER; a relative --cwd */
	expect_command("start web --port=4000 --tunnel=ngrok --cwd=sub/dir -- vite",
		       "{\"type\":\"start-dev-server\",\"projectId\":\"web\",\"port\":4000,"
		       "\"tunnel\":{\"provider\":\"ngrok\"},\"cwd\":\"/home/me/app/sub/dir\","
		       "\"command\":[\"vite\"]}");
}
END_TEST

START_TEST(test_start_command_forms)
{
	/* without `--` the first word that is not an option starts the command */
	expect_command("start web npm run dev",
		       "{\"type\":\"start-dev-server\",\"projectId\":\"web\",\"cwd\":\"/home/me/app\","
		       "\"command\":[\"npm\",\"run\",\"dev\"]}");
	/* after `--`, options belong to the command */
	expect_command("start web -- --weird --logs",
		       "{\"type\":\"start-dev-server\",\"projectId\":\"web\",\"cwd\":\"/home/me/app\","
		       "\"command\":[\"--weird\",\"--logs\"]}");
	/* one quoted command line with blanks: a shell command */
	expect_command("start web -- 'npm run dev | tee log'",
		       "{\"type\":\"start-dev-server\",\"projectId\":\"web\",\"cwd\":\"/home/me/app\","
		       "\"command\":\"npm run dev | tee log\"}");
}
END_TEST

START_TEST(test_start_refused)
{
	expect_refused("start", "needs a project id");
	expect_refused("start --port 3000 -- x", "needs a project id");
	expect_refused("start web", "needs the command");
	expect_refused("start web --port", "--port needs a value");
	expect_refused("start web --port 70000 -- x", "expected a port");
	expect_refused("start web --port abc -- x", "expected a port");
	expect_refused("start web --env NOEQUALS -- x", "NAME=VALUE");
	expect_refused("start web --prot 3000 -- x", "did you mean '--port'?");
	expect_refused("start web 'unterminated", "unterminated");
}
END_TEST

START_TEST(test_build_start_direct)
{
	char err[256] = "";
	char *argv[] = {"restart", "web", "--port", "3100", NULL};
	json_t *cmd = tty_build_start(4, argv, "/x", true, err, sizeof(err));
	ck_assert_msg(cmd != NULL, "refused: %s", err);
	ck_assert_str_eq(json_string_value(json_object_get(cmd, "type")), "restart-dev-server");
	ck_assert_int_eq(json_integer_value(json_object_get(cmd, "port")), 3100);
	/* a restart keeps the last start's command and directory unless given */
	ck_assert_ptr_null(json_object_get(cmd, "command"));
	ck_assert_ptr_null(json_object_get(cmd, "cwd"));
	json_decref(cmd);
}
END_TEST

START_TEST(test_other_commands)
{
	expect_command("stop web", "{\"type\":\"stop-dev-server\",\"projectId\":\"web\"}");
	expect_command("stop web --timeout 1.5",
		       "{\"type\":\"stop-dev-server\",\"projectId\":\"web\",\"timeoutMs\":1500}");
	expect_command("restart web", "{\"type\":\"restart-dev-server\",\"projectId\":\"web\"}");
	expect_command("status", "{\"type\":\"status\"}");
	expect_command("status web", "{\"type\":\"status\",\"projectId\":\"web\"}");
	expect_command("logs web", "{\"type\":\"logs\",\"projectId\":\"web\"}");
	expect_command("ping", "{\"type\":\"ping\"}");
	expect_command("metrics", "{\"type\":\"metrics\"}");
	expect_refused("stop", "needs a project id");
	expect_refused("stop web --timeout soon", "expected seconds");
	expect_refused("logs web -n zero", "expected a number");
	expect_refused("ping now", "takes no arguments");
}
END_TEST

START_TEST(test_logs_follow_sends_two)
{
	tty_action_t a;
	tty_parse_line("logs web -n 20 -f", "/", &a);
	ck_assert_int_eq(a.kind, TTY_ACT_SEND);
	ck_assert_int_eq(json_array_size(a.cmds), 2);
	json_t *logs = json_array_get(a.cmds, 0), *follow = json_array_get(a.cmds, 1);
	ck_assert_str_eq(json_string_value(json_object_get(logs, "type")), "logs");
	ck_assert_int_eq(json_integer_value(json_object_get(logs, "lines")), 20);
	ck_assert_str_eq(json_string_value(json_object_get(follow, "type")), "follow-logs");
	ck_assert_str_eq(json_string_value(json_object_get(follow, "projectId")), "web");
	ck_assert(json_is_true(json_object_get(follow, "follow")));
	tty_action_free(&a);
}
END_TEST

START_TEST(test_json_raw)
{
	tty_action_t a;
	tty_parse_line("  json {\"type\":\"status\", \"projectId\":\"a b\"}", "/", &a);
	ck_assert_int_eq(a.kind, TTY_ACT_SEND);
	ck_assert(a.raw);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(a.cmds, 0), "projectId")),
			 "a b");
	tty_action_free(&a);
	expect_refused("json", "needs a command object");
	expect_refused("json {nope", "json:");
	expect_refused("json [1]", "object");
}
END_TEST

START_TEST(test_help_quit_empty)
{
	tty_action_t a;
	tty_parse_line("help", "/", &a);
	ck_assert_int_eq(a.kind, TTY_ACT_PRINT);
	ck_assert(!a.error);
	for (const char *const *c = (const char *[]){"start", "stop", "restart", "status", "logs",
						     "ping", "metrics", "json", "quit", NULL};
	     *c; c++)
		ck_assert_msg(strstr(a.text, *c) != NULL, "help lacks %s", *c);
	tty_action_free(&a);
	tty_parse_line("help start", "/", &a);
	ck_assert_msg(strstr(a.text, "--strict-port") && strstr(a.text, "example:") &&
			      strstr(a.text, "start web --port 3000 -- npm run dev"),
		      "help start: %s", a.text);
	tty_action_free(&a);
	expect_refused("help strat", "did you mean 'start'?");
	tty_parse_line("quit", "/", &a);
	ck_assert_int_eq(a.kind, TTY_ACT_QUIT);
	tty_action_free(&a);
	tty_parse_line("   ", "/", &a);
	ck_assert_int_eq(a.kind, TTY_ACT_NONE);
	tty_action_free(&a);
}
END_TEST

/* --- typos ----------------------------------------------------------------------------- */

START_TEST(test_distance)
{
	ck_assert_uint_eq(tty_distance("start", "start"), 0);
	/* a swap of neighbours is one edit (Damerau) */
	ck_assert_uint_eq(tty_distance("strat", "start"), 1);
	ck_assert_uint_eq(tty_distance("stauts", "status"), 1);
	ck_assert_uint_eq(tty_distance("stauts", "start"), 2);
	ck_assert_uint_eq(tty_distance("stat", "start"), 1);
	ck_assert_uint_eq(tty_distance("", "ping"), 4);
	ck_assert_uint_eq(tty_distance("kitten", "sitting"), 3);
}
END_TEST

START_TEST(test_suggest)
{
	ck_assert_str_eq(tty_suggest("strat"), "start");
	ck_assert_str_eq(tty_suggest("stpo"), "stop");
	ck_assert_str_eq(tty_suggest("statsu"), "status");
	ck_assert_str_eq(tty_suggest("lgos"), "logs");
	ck_assert_str_eq(tty_suggest("pnig"), "ping");
	ck_assert_ptr_null(tty_suggest("deploy"));
	/* the cases a person met: a swap, and a beginning */
	ck_assert_str_eq(tty_suggest("stauts"), "status");
	ck_assert_str_eq(tty_suggest("stat"), "status");
	expect_refused("help stat", "did you mean 'status'?");
	static const char *const ids[] = {"web", "api", "web-admin"};
	ck_assert_str_eq(tty_suggest_among("webb", ids, 3), "web");
	ck_assert_str_eq(tty_suggest_among("ap", ids, 3), "api");
	ck_assert_ptr_null(tty_suggest_among("zzz", ids, 3));
	expect_refused("strat web", "unknown command 'strat' — did you mean 'start'?");
	/* nothing near: the list of commands */
	expect_refused("deploy", "commands: start, stop");
}
END_TEST

/* --- completion ------------------------------------------------------------------------ */

static char *completions(const char *before, const char *word)
{
	static const char *const ids[] = {"web", "api", "worker"};
	const char *out[32];
	int n = tty_complete_words(before, word, ids, 3, out, 32);
	if (n < 0)
		return strdup("<files>");
	char buf[512] = "";
	for (int i = 0; i < n; i++) {
		strcat(buf, i ? " " : "");
		strcat(buf, out[i]);
	}
	return strdup(buf);
}

static void expect_completions(const char *before, const char *word, const char *want)
{
	char *got = completions(before, word);
	ck_assert_msg(strcmp(got, want) == 0, "[%s|%s]: got [%s], want [%s]", before, word, got,
		      want);
	free(got);
}

START_TEST(test_completion)
{
	expect_completions("", "st", "start stop status");
	expect_completions("", "",
			   "start stop restart status logs mute unmute up down ping metrics json help "
			   "quit detach top");
	expect_completions("help ", "re", "restart");
	expect_completions("stop ", "w", "web worker");
	expect_completions("logs ", "", "web api worker all");
	expect_completions("logs web ", "a", "api all");
	expect_completions("mute ", "w", "web worker");
	expect_completions("start web ", "--stop", "--stop-timeout");
	expect_completions("up ", "-", "--file");
	expect_completions("up --file ", "", "<files>");
	expect_completions("start web ", "--p", "--port");
	expect_completions("start web --port 3000 ", "--st", "--strict-port --stop-timeout");
	expect_completions("stop web ", "-", "--timeout");
	expect_completions("logs web ", "-", "-n -f");
	expect_completions("start web --framework ", "v", "vite");
	expect_completions("start web --tunnel=", "n", "ngrok");
	expect_completions("start web --cwd ", "sr", "<files>");
	expect_completions("start web -- ", "ser", "<files>");
	expect_completions("ping ", "", "");
}
END_TEST

/* --- formatting ------------------------------------------------------------------------ */

static void utc(void)
{
	setenv("TZ", "UTC", 1);
	tzset();
}

static const char started[] =
	"{\"type\":\"dev-server-started\",\"timestamp\":\"2026-11-26T12:00:03.250Z\","
	"\"projectId\":\"web\",\"commandId\":\"tty-1\",\"port\":3000,\"pid\":812,\"pgid\":812,"
	"\"url\":\"http://localhost:3000\",\"framework\":\"vite\",\"startupMs\":412,"
	"\"tunnelUrl\":\"https://a-b-c.trycloudflare.com\"}";

START_TEST(test_format_started_plain)
{
	utc();
	json_t *ev = load(started);
	char *s = tty_format_event(ev, false, 0, 0);
	ck_assert_ptr_nonnull(s);
	ck_assert_msg(strncmp(s, "12:00:03 web", 12) == 0, "%s", s);
	ck_assert_msg(strstr(s, "starting → running") && strstr(s, "http://localhost:3000") &&
			      strstr(s, "412 ms") && strstr(s, "https://a-b-c.trycloudflare.com"),
		      "%s", s);
	ck_assert_msg(strchr(s, '\033') == NULL, "colour without asking: %s", s);
	ck_assert_msg(strchr(s, '\n') == s + strlen(s) - 1, "not one line: %s", s);
	free(s);
	json_decref(ev);
}
END_TEST

START_TEST(test_format_started_colour)
{
	utc();
	json_t *ev = load(started);
	char *s = tty_format_event(ev, true, 0, 0);
	ck_assert_msg(strstr(s, "\033[32mrunning\033[0m") != NULL, "running not green: %s", s);
	ck_assert_msg(strstr(s, "web") && strstr(s, "http://localhost:3000") && strstr(s, "412 ms"),
		      "%s", s);
	free(s);
	json_decref(ev);
}
END_TEST

START_TEST(test_format_error)
{
	utc();
	json_t *ev = load("{\"type\":\"error\",\"timestamp\":\"2026-11-26T12:00:00.000Z\","
			  "\"projectId\":\"web\",\"error\":\"'node x.js' exited with code 1\","
			  "\"reason\":\"immediate_crash\",\"suggestion\":\"Read the log tail.\","
			  "\"logTail\":[\"l1\",\"l2\",\"l3\",\"l4\",\"l5\",\"l6\",\"l7\",\"l8\","
			  "\"\",\"Error: boom\",\"  \"]}");
	char *s = tty_format_event(ev, false, 0, 0);
	ck_assert_msg(strstr(s, "immediate_crash") && strstr(s, "exited with code 1") &&
			      strstr(s, "Read the log tail.") && strstr(s, "│ Error: boom"),
		      "%s", s);
	/* the line naming the error and the one before it, and how many there are in all */
	ck_assert_msg(!strstr(s, "l7") && strstr(s, "l8") &&
			      strstr(s, "(2 of 9 lines shown; logs web shows them all)"),
		      "%s", s);
	ck_assert_msg(!strstr(s, "│ \n") && !strstr(s, "│   \n"), "blank tail lines shown: %s", s);
	ck_assert_msg(strstr(s, "\n          ") != NULL, "not indented: %s", s);
	free(s);
	s = tty_format_event(ev, true, 0, 0);
	ck_assert_msg(strstr(s, "\033[31m") != NULL, "error not red: %s", s);
	free(s);
	json_decref(ev);
}
END_TEST

START_TEST(test_format_states)
{
	utc();
	json_t *ev = load("{\"type\":\"dev-server-state\",\"timestamp\":\"2026-11-26T12:00:00.000Z\","
			  "\"projectId\":\"web\",\"from\":\"idle\",\"to\":\"starting\",\"seq\":1}");
	char *s = tty_format_event(ev, false, 0, 0);
	ck_assert_msg(s && strstr(s, "idle → starting"), "%s", s ? s : "(null)");
	free(s);
	json_decref(ev);
	/* told with more detail by the event that follows it */
	ev = load("{\"type\":\"dev-server-state\",\"timestamp\":\"2026-11-26T12:00:00.000Z\","
		  "\"projectId\":\"web\",\"from\":\"starting\",\"to\":\"running\",\"seq\":2}");
	ck_assert_ptr_null(tty_format_event(ev, false, 0, 0));
	json_decref(ev);
	ev = load("{\"type\":\"dev-server-stopped\",\"timestamp\":\"2026-11-26T12:00:00.000Z\","
		  "\"projectId\":\"web\",\"signal\":\"SIGTERM\",\"forced\":true,\"durationMs\":6,"
		  "\"reason\":\"requested\",\"escaped\":2}");
	s = tty_format_event(ev, false, 0, 0);
	ck_assert_msg(strstr(s, "stopping → stopped") && strstr(s, "SIGTERM") &&
			      strstr(s, "6 ms") && strstr(s, "SIGKILL") && strstr(s, "2 escaped"),
		      "%s", s);
	free(s);
	json_decref(ev);
}
END_TEST

START_TEST(test_format_uptime)
{
	char b[32];
	tty_format_uptime(0, b, sizeof(b));
	ck_assert_str_eq(b, "0s");
	tty_format_uptime(45999, b, sizeof(b));
	ck_assert_str_eq(b, "45s");
	tty_format_uptime(192000, b, sizeof(b));
	ck_assert_str_eq(b, "3m12s");
	tty_format_uptime((2 * 3600 + 5 * 60 + 7) * 1000ull, b, sizeof(b));
	ck_assert_str_eq(b, "2h05m");
	tty_format_uptime((3 * 86400 + 4 * 3600) * 1000ull, b, sizeof(b));
	ck_assert_str_eq(b, "3d04h");
}
END_TEST

START_TEST(test_format_clock)
{
	char b[16];
	utc();
	ck_assert(tty_format_clock("2026-11-26T12:34:56.789Z", b, sizeof(b)));
	ck_assert_str_eq(b, "12:34:56");
	ck_assert(!tty_format_clock("yesterday", b, sizeof(b)));
	ck_assert_uint_eq(tty_parse_iso("1970-01-01T00:00:01.500Z"), 1500);
}
END_TEST

START_TEST(test_format_status_table)
{
	json_t *projects = load(
		"[{\"projectId\":\"web\",\"state\":\"running\",\"port\":3000,\"pid\":812,"
		"\"url\":\"http://localhost:3000\",\"tunnelUrl\":null,"
		"\"startedAt\":\"2026-11-26T12:00:00.000Z\"},"
		"{\"projectId\":\"api-server\",\"state\":\"stopped\",\"port\":null,\"pid\":null,"
		"\"url\":null,\"tunnelUrl\":null,\"startedAt\":null}]");
	uint64_t now = tty_parse_iso("2026-11-26T12:03:12.000Z");
	char *s = tty_format_status(projects, false, now, 0);
	char *rows[3];
	char *save = NULL;
	rows[0] = strtok_r(s, "\n", &save);
	rows[1] = strtok_r(NULL, "\n", &save);
	rows[2] = strtok_r(NULL, "\n", &save);
	ck_assert_msg(rows[2] && !strtok_r(NULL, "\n", &save), "three lines expected");
	ck_assert_msg(strncmp(rows[0], "PROJECT", 7) == 0 && strstr(rows[0], "UPTIME"), "%s",
		      rows[0]);
	/* sorted by project id, whatever the registry's order */
	ck_assert_msg(strncmp(rows[1], "api-server ", 11) == 0, "%s", rows[1]);
	ck_assert_msg(strstr(rows[2], "web") && strstr(rows[2], "running") &&
			      strstr(rows[2], "3000") && strstr(rows[2], "3m12s"),
		      "%s", rows[2]);
	/* columns line up: STATE starts where each row's state starts */
	size_t col = (size_t)(strstr(rows[0], "STATE") - rows[0]);
	ck_assert_msg(strncmp(rows[2] + col, "running", 7) == 0, "%s", rows[2]);
	ck_assert_msg(strncmp(rows[1] + col, "stopped", 7) == 0, "%s", rows[1]);
	col = (size_t)(strstr(rows[0], "PID") - rows[0]);
	ck_assert_msg(strncmp(rows[2] + col, "812", 3) == 0, "%s", rows[2]);
	free(s);
	json_decref(projects);
	json_t *none = json_array();
	s = tty_format_status(none, false, now, 0);
	ck_assert_msg(strstr(s, "no projects"), "%s", s);
	free(s);
	json_decref(none);
}
END_TEST

START_TEST(test_format_log_and_generic)
{
	utc();
	json_t *ev = load("{\"type\":\"log\",\"timestamp\":\"2026-11-26T12:00:00.000Z\","
			  "\"projectId\":\"web\",\"stream\":\"stderr\",\"line\":\"warn: x\"}");
	char *s = tty_format_event(ev, false, 0, 0);
	ck_assert_msg(strstr(s, "web") && strstr(s, "│ warn: x"), "%s", s);
	free(s);
	json_decref(ev);
	ev = load("{\"type\":\"something-new\",\"timestamp\":\"2026-11-26T12:00:00.000Z\","
		  "\"answer\":42}");
	s = tty_format_event(ev, false, 0, 0);
	ck_assert_msg(strstr(s, "something-new") && strstr(s, "\"answer\":42"), "%s", s);
	free(s);
	json_decref(ev);
}
END_TEST


/* --- fitting the terminal's width -------------------------------------------------------- */

/* Each line of s is at most cols columns wide. */
static void expect_fits(const char *s, int cols)
{
	for (const char *p = s; *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		ck_assert_msg((int)tty_text_width(p, len) <= cols, "line wider than %d: [%.*s]\n%s",
			      cols, (int)len, p, s);
		p += len + (nl != NULL);
	}
}

START_TEST(test_fit_folds_under_the_text)
{
	utc();
	json_t *ev = load("{\"type\":\"error\",\"timestamp\":\"2026-11-26T12:00:00.000Z\","
			  "\"projectId\":\"web\",\"reason\":\"health_check_timeout\",\"error\":"
			  "\"no HTTP answer on port 3000 within 15000 ms although the server kept "
			  "running\",\"suggestion\":\"Check that it listens on the port.\"}");
	char *s = tty_format_event(ev, true, 0, 50);
	expect_fits(s, 50);
	/* continuation lines start under the text, after the clock and the project */
	ck_assert_msg(strstr(s, "\n                    ") != NULL, "no hanging indent:\n%s", s);
	ck_assert_msg(strstr(s, "within") && strstr(s, "running"), "words lost:\n%s", s);
	free(s);
	json_decref(ev);
	/* an output line continues under its text, not under the │ */
	char *o = tty_fit("                    │     at Function.executeUserEntryPoint [as runMain] "
			  "(node:internal/modules/run_main:164:12)\n", 80);
	ck_assert_msg(strstr(o, "\n                      (node:internal") != NULL, "%s", o);
	free(o);
	char *t = tty_fit("short\n", 50);
	ck_assert_str_eq(t, "short\n");
	free(t);
	ck_assert_uint_eq(tty_text_width("\033[1;31m✗ x\033[0m", strlen("\033[1;31m✗ x\033[0m")), 3);
}
END_TEST

START_TEST(test_status_fits_fifty_columns)
{
	json_t *projects = load(
		"[{\"projectId\":\"web\",\"state\":\"running\",\"port\":30012,\"pid\":81234,"
		"\"url\":\"http://localhost:30012\",\"tunnelUrl\":null,\"restarts\":2,"
		"\"startedAt\":\"2026-11-26T12:00:00.000Z\","
		"\"usage\":{\"cpuPercent\":12.4,\"rssBytes\":104857600}},"
		"{\"projectId\":\"api\",\"state\":\"failed\",\"port\":null,\"pid\":null,\"url\":null,"
		"\"restarts\":0,\"lastFailure\":{\"reason\":\"immediate_crash\",\"message\":\"x\","
		"\"exitCode\":1,\"at\":\"2026-11-26T12:00:00.000Z\"}}]");
	uint64_t now = tty_parse_iso("2026-11-26T12:03:12.000Z");
	char *wide = tty_format_status(projects, false, now, 0);
	/* wide: every column that says something, the failure with its exit code */
	ck_assert_msg(strstr(wide, "immediate_crash, exit 1") && strstr(wide, "12%") &&
			      strstr(wide, "100M") && strstr(wide, "↺") && strstr(wide, "3m12s"),
		      "%s", wide);
	char *narrow = tty_format_status(projects, true, now, 50);
	expect_fits(narrow, 50);
	size_t lines = 0;
	for (char *p = narrow; (p = strchr(p, '\n')); p++)
		lines++;
	ck_assert_msg(lines == 3, "one line per row expected at 50 columns:\n%s", narrow);
	ck_assert_msg(strstr(narrow, "immediate_crash") && strstr(narrow, "web"), "%s", narrow);
	char *tiny = tty_format_status(projects, false, now, 30);
	expect_fits(tiny, 30);
	ck_assert_msg(strstr(tiny, "…"), "nothing cut at 30 columns:\n%s", tiny);
	free(wide);
	free(narrow);
	free(tiny);
	json_decref(projects);
}
END_TEST

START_TEST(test_humanize)
{
	static const char *const cases[][2] = {
		{"Stop the project first, or use restart-dev-server.",
		 "Stop the project first, or use restart ID."},
		{"Stop the process holding the port, or start without strictPort so another port "
		 "is chosen.",
		 "Stop the process holding the port, or start it without --strict-port to take "
		 "another port."},
		{"read logTail for its error.", "its last lines of output are below."},
		{"field 'projectId' is missing", "the project id is missing"},
		{"check the port, or raise healthCheck.timeoutMs.",
		 "check the port, or start it with a longer --health-timeout SECONDS."},
	};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		char *h = tty_humanize(cases[i][0]);
		ck_assert_str_eq(h, cases[i][1]);
		free(h);
	}
}
END_TEST

START_TEST(test_tail_names_the_error)
{
	/* Vite's port conflict: the line that says what is wrong is in the middle */
	json_t *tail = load("[\"> dev\",\"> vite\",\"\",\"node:internal/process/esm_loader\","
			    "\"  internalBinding\",\"error when starting dev server:\","
			    "\"Error: Port 5173 is already in use\",\"    at a\",\"    at b\",\"    at c\","
			    "\"    at d\",\"    at e\",\"    at f\",\"    at g\",\"    at h\",\"Node.js v20\"]");
	size_t first, end = tty_tail_window(tail, &first);
	ck_assert_uint_eq(first, 4); /* one line before the first naming the error */
	ck_assert_uint_eq(end, 12);
	json_decref(tail);
	tail = load("[\"a\",\"b\",\"c\"]");
	end = tty_tail_window(tail, &first);
	ck_assert_uint_eq(first, 0);
	ck_assert_uint_eq(end, 3);
	json_decref(tail);
}
END_TEST

START_TEST(test_merged_logs)
{
	utc();
	json_t *answers = load(
		"[{\"type\":\"logs\",\"projectId\":\"web\",\"lines\":["
		"{\"timestamp\":\"2026-11-26T12:00:01.000Z\",\"stream\":\"stdout\",\"line\":\"w1\"},"
		"{\"timestamp\":\"2026-11-26T12:00:03.000Z\",\"stream\":\"stdout\",\"line\":\"w2\"}]},"
		"{\"type\":\"logs\",\"projectId\":\"api\",\"lines\":["
		"{\"timestamp\":\"2026-11-26T12:00:02.000Z\",\"stream\":\"stderr\",\"line\":\"a1\"}]}]");
	char *s = tty_format_merged_logs(answers, false);
	ck_assert_str_eq(s, "12:00:01 web │ w1\n12:00:02 api │ a1\n12:00:03 web │ w2\n");
	free(s);
	s = tty_format_merged_logs(answers, true);
	ck_assert_msg(strstr(s, tty_project_color("web")) && strstr(s, tty_project_color("api")),
		      "%s", s);
	free(s);
	json_decref(answers);
}
END_TEST

/* --- the registry: all, unknown ids ---------------------------------------------------- */

static void parse_known(const char *line, tty_action_t *a)
{
	static const char *const ids[] = {"web", "api", "old"};
	static const bool live[] = {true, true, false};
	tty_ctx_t ctx = {.cwd = "/w", .ids = ids, .live = live, .nids = 3};
	tty_parse(line, &ctx, a);
}

static char *projects_of(const tty_action_t *a)
{
	char buf[256] = "";
	size_t i;
	json_t *c;
	json_array_foreach(a->cmds, i, c)
	{
		strcat(buf, i ? " " : "");
		strcat(buf, json_string_value(json_object_get(c, "type")));
		strcat(buf, ":");
		strcat(buf, json_string_value(json_object_get(c, "projectId")));
	}
	return strdup(buf);
}

static void expect_sends(const char *line, const char *want)
{
	tty_action_t a;
	parse_known(line, &a);
	ck_assert_msg(a.kind == TTY_ACT_SEND, "%s: not sent (%s)", line, a.text ? a.text : "");
	char *got = projects_of(&a);
	ck_assert_msg(strcmp(got, want) == 0, "%s: got [%s] want [%s]", line, got, want);
	free(got);
	tty_action_free(&a);
}

static void expect_refused_known(const char *line, const char *needle)
{
	tty_action_t a;
	parse_known(line, &a);
	ck_assert_msg(a.kind == TTY_ACT_PRINT && a.error && strstr(a.text, needle),
		      "%s: [%s] lacks [%s]", line, a.text ? a.text : "(sent)", needle);
	tty_action_free(&a);
}

START_TEST(test_all_and_unknown_ids)
{
	/* all: the live ones, oldest first (the registry is newest first) */
	expect_sends("stop all", "stop-dev-server:api stop-dev-server:web");
	expect_sends("stop web api --timeout 2", "stop-dev-server:web stop-dev-server:api");
	expect_sends("restart all", "restart-dev-server:old restart-dev-server:api "
				    "restart-dev-server:web");
	expect_sends("logs all -f", "logs:old logs:api logs:web follow-logs:old follow-logs:api "
				    "follow-logs:web");
	expect_sends("status web", "status:web");
	/* a project named twice (or by all and by name) gets its command once */
	expect_sends("stop all web", "stop-dev-server:api stop-dev-server:web");
	expect_sends("restart all web", "restart-dev-server:old restart-dev-server:api "
					"restart-dev-server:web");
	expect_sends("logs web web", "logs:web");
	expect_refused_known("stop webb", "no project 'webb' — did you mean 'web'?");
	expect_refused_known("status nope", "no project 'nope'; the projects are web, api, old");
	expect_refused_known("logs web zzz", "no project 'zzz'");
	tty_action_t a;
	parse_known("logs web api -n 5", &a);
	ck_assert(a.merge);
	tty_action_free(&a);
	parse_known("mute web", &a);
	ck_assert_int_eq(a.kind, TTY_ACT_MUTE);
	ck_assert_str_eq(json_string_value(json_array_get(a.ids, 0)), "web");
	tty_action_free(&a);
	parse_known("up --file stack.json", &a);
	ck_assert_int_eq(a.kind, TTY_ACT_UP);
	ck_assert_str_eq(a.file, "/w/stack.json");
	tty_action_free(&a);
	parse_known("quit!", &a);
	ck_assert(a.kind == TTY_ACT_QUIT && a.force);
	tty_action_free(&a);
	/* what Ctrl-R typed into the line in older versions: never run */
	expect_refused_known("\nbck:\004cra", "control characters");
}
END_TEST

START_TEST(test_start_person_options)
{
	char path[] = "/tmp/devsup-envXXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	const char *text = "# a comment\n\nexport A=1\nB=\"two words\"\nC='x'\n";
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	char line[512];
	snprintf(line, sizeof(line), "start web --env-file %s --env A=9 --health-path /ok "
				     "--health-timeout 30 --stop-timeout 2.5 -- vite",
		 path);
	expect_command(line, "{\"type\":\"start-dev-server\",\"projectId\":\"web\","
			     "\"env\":{\"A\":\"9\",\"B\":\"two words\",\"C\":\"x\"},"
			     "\"healthCheck\":{\"path\":\"/ok\",\"timeoutMs\":30000},"
			     "\"stopTimeoutMs\":2500,\"cwd\":\"/home/me/app\",\"command\":[\"vite\"]}");
	unlink(path);
	expect_refused("start web --env-file /nonexistent/x -- vite", "/nonexistent/x");
	expect_refused("start web --health-path ok -- vite", "starting with /");
	expect_refused("start web --health-timeout 0 -- vite", "--health-timeout");
}
END_TEST

/* --- the project file ------------------------------------------------------------------ */

START_TEST(test_project_file_order)
{
	char err[256] = "";
	tty_plan_t *plan = tty_plan_parse(
		"{\"projects\":{\"web\":{\"command\":\"vite\",\"dependsOn\":[\"api\"]},"
		"\"api\":{\"command\":[\"node\",\"api.js\"],\"cwd\":\"api\",\"dependsOn\":[\"db\"]},"
		"\"db\":{\"command\":\"pg\",\"cwd\":\"/abs\"},\"docs\":{\"command\":\"x\"}}}",
		"/proj", err, sizeof(err));
	ck_assert_msg(plan != NULL, "%s", err);
	json_t *starts = json_array(), *failed = json_array();
	tty_plan_step(plan, starts, failed);
	/* first what depends on nothing */
	ck_assert_uint_eq(json_array_size(starts), 2);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(starts, 0), "projectId")),
			 "db");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(starts, 0), "cwd")),
			 "/abs");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(starts, 1), "cwd")),
			 "/proj");
	ck_assert_ptr_null(json_object_get(json_array_get(starts, 0), "dependsOn"));
	tty_plan_sent(plan, "db", "c1");
	tty_plan_sent(plan, "docs", "c2");
	json_array_clear(starts);
	ck_assert(tty_plan_answer(plan, "c1", true));
	tty_plan_step(plan, starts, failed);
	ck_assert_uint_eq(json_array_size(starts), 1);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(starts, 0), "cwd")),
			 "/proj/api");
	tty_plan_sent(plan, "api", "c3");
	json_array_clear(starts);
	/* api fails: web is never started, and says why */
	ck_assert(tty_plan_answer(plan, "c3", false));
	ck_assert(!tty_plan_answer(plan, "nope", true));
	tty_plan_step(plan, starts, failed);
	ck_assert_uint_eq(json_array_size(starts), 0);
	ck_assert_uint_eq(json_array_size(failed), 1);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(failed, 0), "message")),
			 "web not started: it depends on api, which failed");
	ck_assert(!tty_plan_done(plan)); /* docs still starting */
	ck_assert(tty_plan_answer(plan, "c2", true));
	ck_assert(tty_plan_done(plan));
	json_decref(starts);
	json_decref(failed);
	tty_plan_free(plan);
}
END_TEST

START_TEST(test_project_file_refused)
{
	char err[256];
	ck_assert_ptr_null(tty_plan_parse("{\"projects\":{\"a\":{\"command\":\"x\",\"dependsOn\":"
					  "[\"b\"]},\"b\":{\"command\":\"x\",\"dependsOn\":[\"c\"]},"
					  "\"c\":{\"command\":\"x\",\"dependsOn\":[\"b\"]}}}",
					  "/", err, sizeof(err)));
	ck_assert_str_eq(err, "dependsOn has a cycle: b → c → b");
	ck_assert_ptr_null(tty_plan_parse("{\"projects\":{\"a\":{\"command\":\"x\",\"dependsOn\":"
					  "[\"zz\"]}}}", "/", err, sizeof(err)));
	ck_assert_msg(strstr(err, "project a depends on 'zz', which the file does not list"), "%s",
		      err);
	ck_assert_ptr_null(tty_plan_parse("{\"projects\":[]}", "/", err, sizeof(err)));
	ck_assert_ptr_null(tty_plan_parse("{", "/", err, sizeof(err)));
	ck_assert_ptr_null(tty_plan_load("/nonexistent/devsup.json", err, sizeof(err)));
	ck_assert_msg(strstr(err, "--file"), "%s", err);
}
END_TEST

START_TEST(test_history_tail)
{
	size_t kept;
	/* libedit's own format (older devsups): decoded; a garbled line dropped */
	char *t = tty_history_tail("_HiStOrY_V2_\nstart\\040web\nping\n\\012bck:\\^Dcra\n", 10,
				   &kept);
	ck_assert_str_eq(t, "start web\nping\n");
	free(t);
	t = tty_history_tail("_HiStOrY_V2_\n\\012bck\n", 10, &kept);
	ck_assert_uint_eq(kept, 0);
	free(t);
	t = tty_history_tail("a\nb\nc\nd\n", 2, &kept);
	ck_assert_str_eq(t, "c\nd\n");
	ck_assert_uint_eq(kept, 2);
	free(t);
}
END_TEST

Suite *tty_suite(void)
{
	Suite *s = suite_create("tty");
	TCase *tc = tcase_create("split");
	tcase_add_test(tc, test_split_words);
	tcase_add_test(tc, test_split_quotes);
	tcase_add_test(tc, test_split_escapes);
	tcase_add_test(tc, test_split_dashes_are_a_word);
	tcase_add_test(tc, test_split_unterminated);
	suite_add_tcase(s, tc);
	tc = tcase_create("commands");
	tcase_add_test(tc, test_start_minimal_defaults_cwd);
	tcase_add_test(tc, test_start_every_flag);
	tcase_add_test(tc, test_start_flag_forms);
	tcase_add_test(tc, test_start_command_forms);
	tcase_add_test(tc, test_start_refused);
	tcase_add_test(tc, test_build_start_direct);
	tcase_add_test(tc, test_other_commands);
	tcase_add_test(tc, test_logs_follow_sends_two);
	tcase_add_test(tc, test_json_raw);
	tcase_add_test(tc, test_help_quit_empty);
	suite_add_tcase(s, tc);
	tc = tcase_create("typos");
	tcase_add_test(tc, test_distance);
	tcase_add_test(tc, test_suggest);
	suite_add_tcase(s, tc);
	tc = tcase_create("completion");
	tcase_add_test(tc, test_completion);
	suite_add_tcase(s, tc);
	tc = tcase_create("format");
	tcase_add_test(tc, test_format_started_plain);
	tcase_add_test(tc, test_format_started_colour);
	tcase_add_test(tc, test_format_error);
	tcase_add_test(tc, test_format_states);
	tcase_add_test(tc, test_format_uptime);
	tcase_add_test(tc, test_format_clock);
	tcase_add_test(tc, test_format_status_table);
	tcase_add_test(tc, test_format_log_and_generic);
	tcase_add_test(tc, test_fit_folds_under_the_text);
	tcase_add_test(tc, test_status_fits_fifty_columns);
	tcase_add_test(tc, test_humanize);
	tcase_add_test(tc, test_tail_names_the_error);
	tcase_add_test(tc, test_merged_logs);
	suite_add_tcase(s, tc);
	tc = tcase_create("registry");
	tcase_add_test(tc, test_all_and_unknown_ids);
	tcase_add_test(tc, test_start_person_options);
	suite_add_tcase(s, tc);
	tc = tcase_create("files");
	tcase_add_test(tc, test_project_file_order);
	tcase_add_test(tc, test_project_file_refused);
	tcase_add_test(tc, test_history_tail);
	suite_add_tcase(s, tc);
	return s;
}
