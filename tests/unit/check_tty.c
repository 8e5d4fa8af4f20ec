/* The terminal front end's pure parts: typed lines -> protocol commands, and events -> text. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "supervisor/tty_commands.h"
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
	ck_assert_uint_eq(tty_distance("strat", "start"), 2);
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
	expect_completions("", "", "start stop restart status logs ping metrics json help quit");
	expect_completions("help ", "re", "restart");
	expect_completions("stop ", "w", "web worker");
	expect_completions("logs ", "", "web api worker");
	expect_completions("start web ", "--p", "--port");
	expect_completions("start web --port 3000 ", "--s", "--strict-port");
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
	char *s = tty_format_event(ev, false, 0);
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
	char *s = tty_format_event(ev, true, 0);
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
	char *s = tty_format_event(ev, false, 0);
	ck_assert_msg(strstr(s, "immediate_crash") && strstr(s, "exited with code 1") &&
			      strstr(s, "Read the log tail.") && strstr(s, "│ Error: boom"),
		      "%s", s);
	/* the last few lines that say something, indented under the message */
	ck_assert_msg(!strstr(s, "l1") && strstr(s, "l2") && strstr(s, "l8"), "%s", s);
	ck_assert_msg(!strstr(s, "│ \n") && !strstr(s, "│   \n"), "blank tail lines shown: %s", s);
	ck_assert_msg(strstr(s, "\n          ") != NULL, "not indented: %s", s);
	free(s);
	s = tty_format_event(ev, true, 0);
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
	char *s = tty_format_event(ev, false, 0);
	ck_assert_msg(s && strstr(s, "idle → starting"), "%s", s ? s : "(null)");
	free(s);
	json_decref(ev);
	/* told with more detail by the event that follows it */
	ev = load("{\"type\":\"dev-server-state\",\"timestamp\":\"2026-11-26T12:00:00.000Z\","
		  "\"projectId\":\"web\",\"from\":\"starting\",\"to\":\"running\",\"seq\":2}");
	ck_assert_ptr_null(tty_format_event(ev, false, 0));
	json_decref(ev);
	ev = load("{\"type\":\"dev-server-stopped\",\"timestamp\":\"2026-11-26T12:00:00.000Z\","
		  "\"projectId\":\"web\",\"signal\":\"SIGTERM\",\"forced\":true,\"durationMs\":6,"
		  "\"reason\":\"requested\",\"escaped\":2}");
	s = tty_format_event(ev, false, 0);
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
	char *s = tty_format_status(projects, false, now);
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
	s = tty_format_status(none, false, now);
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
	char *s = tty_format_event(ev, false, 0);
	ck_assert_msg(strstr(s, "web") && strstr(s, "│ warn: x"), "%s", s);
	free(s);
	json_decref(ev);
	ev = load("{\"type\":\"something-new\",\"timestamp\":\"2026-11-26T12:00:00.000Z\","
		  "\"answer\":42}");
	s = tty_format_event(ev, false, 0);
	ck_assert_msg(strstr(s, "something-new") && strstr(s, "\"answer\":42"), "%s", s);
	free(s);
	json_decref(ev);
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
	suite_add_tcase(s, tc);
	return s;
}
