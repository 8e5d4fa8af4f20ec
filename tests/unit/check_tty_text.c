/* The front end's text on a terminal with wide characters: folds, ellipses, tabs and the
 * status table measured in columns (CJK 2, combining marks 0), never cutting a character. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "supervisor/tty_commands.h"
#include "supervisor/tty_file.h"
#include "supervisor/tty_format.h"
#include "supervisor/tty_table.h"
#include "supervisor/tty_text.h"
#include "tests/unit/suites.h"

#define KAN "\xe6\xbc\xa2"         /* 漢, 2 columns */
#define ACUTE "\xcc\x81"           /* combining acute, 0 columns */
#define ZWJ "\xe2\x80\x8d"
#define FAMILY "\xf0\x9f\x91\xa8" ZWJ "\xf0\x9f\x91\xa9" ZWJ "\xf0\x9f\x91\xa7"

/* Columns as a terminal draws the text of these tests, counted apart from the code under
 * test: colours none, a 3-byte character from U+3000 up (CJK) 2, other characters 1,
 * combining acute 0. */
static size_t columns(const char *s, size_t len)
{
	size_t w = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == 0x1b) {
			while (i < len && !((unsigned char)s[i] >= 0x40 && s[i] != '['))
				i++;
			continue;
		}
		if ((c & 0xc0) == 0x80)
			continue;
		if (c == 0xcc && i + 1 < len && (unsigned char)s[i + 1] == 0x81)
			continue;
		w += c >= 0xe3 && c <= 0xe9 ? 2 : 1;
	}
	return w;
}

/* Every line of s fits cols columns and is whole UTF-8. */
static void expect_lines_fit(const char *s, size_t cols)
{
	for (const char *p = s; *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		json_t *j = json_stringn(p, len);
		ck_assert_msg(j != NULL, "a character cut in half: [%.*s]\n%s", (int)len, p, s);
		json_decref(j);
		ck_assert_msg(columns(p, len) <= cols, "wider than %zu: [%.*s]\n%s", cols, (int)len,
			      p, s);
		p += len + (nl != NULL);
	}
}

START_TEST(test_width_counts_wide_and_combining)
{
	ck_assert_uint_eq(tty_text_width(KAN KAN "ab", strlen(KAN KAN "ab")), 6);
	ck_assert_uint_eq(tty_text_width("e" ACUTE, strlen("e" ACUTE)), 1);
	ck_assert_uint_eq(tty_text_width("\033[31m" KAN "\033[0m", strlen("\033[31m" KAN "\033[0m")),
			  2);
}
END_TEST

/* A wide character that does not fit the row goes whole to the next; the continuation hangs
 * under the text after the margin. */
START_TEST(test_fold_cjk_under_the_text)
{
	const char *head = "12:00:00 web       │ "; /* 21 columns */
	char line[512];
	snprintf(line, sizeof(line), "%s", head);
	for (int i = 0; i < 30; i++)
		strcat(line, KAN);
	strcat(line, "\n");
	char *s = tty_fit(line, 50);
	expect_lines_fit(s, 50);
	/* 29 columns after the head: 14 ideographs, the 50th column left blank */
	char want[512];
	snprintf(want, sizeof(want), "%s", head);
	for (int i = 0; i < 14; i++)
		strcat(want, KAN);
	strcat(want, "\n                     " KAN);
	ck_assert_msg(strncmp(s, want, strlen(want)) == 0, "got:\n%s", s);
	/* nothing lost: 30 ideographs in all */
	size_t n = 0;
	for (const char *p = s; (p = strstr(p, KAN)); p += 3)
		n++;
	ck_assert_uint_eq(n, 30);
	free(s);
}
END_TEST

/* A row never starts with 。 or 、: the break goes before the ideograph they follow. */
START_TEST(test_fold_keeps_closing_punctuation)
{
	const char *line = "12:00:00 vite       │ ポート5173は別のVite開発サーバーが使用中です。"
			   "終了してから、再起動してください";
	for (int cols = 24; cols <= 60; cols++) {
		char *s = tty_fit(line, cols);
		for (const char *p = strchr(s, '\n'); p; p = strchr(p + 1, '\n')) {
			const char *text = p + 1 + strspn(p + 1, " ");
			ck_assert_msg(strncmp(text, "。", 3) != 0 && strncmp(text, "、", 3) != 0,
				      "%d columns: a row starts with closing punctuation:\n%s", cols,
				      s);
		}
		expect_lines_fit(s, (size_t)cols);
		free(s);
	}
}
END_TEST

/* Folding at every width never cuts a character, an accent from its letter, or an emoji
 * sequence, and keeps every character. */
START_TEST(test_fold_never_splits)
{
	char line[1024] = "12:00:00 web       │ ";
	for (int i = 0; i < 6; i++)
		strcat(line, "caf" "e" ACUTE " " KAN KAN KAN " " FAMILY "x " KAN "y" KAN);
	size_t want = 0;
	for (const char *p = line; *p; p++)
		want += *p != ' ';
	for (int cols = 20; cols <= 70; cols++) {
		char *s = tty_fit(line, cols);
		size_t got = 0;
		for (const char *p = s; *p;) {
			const char *nl = strchr(p, '\n');
			size_t len = nl ? (size_t)(nl - p) : strlen(p);
			json_t *j = json_stringn(p, len);
			ck_assert_msg(j != NULL, "%d columns: cut in half: [%.*s]", cols, (int)len, p);
			json_decref(j);
			ck_assert_msg(tty_text_width(p, len) <= (size_t)cols, "%d columns: [%.*s]",
				      cols, (int)len, p);
			ck_assert_msg(len == 0 || ((unsigned char)p[0] != 0xcc &&
						   strncmp(p, ZWJ, 3) != 0),
				      "%d columns: a row starts with what joins the one before: %s",
				      cols, s);
			for (size_t i = 0; i < len; i++)
				got += p[i] != ' ';
			p += len + (nl != NULL);
		}
		ck_assert_msg(got == want, "%d columns: %zu of %zu bytes kept:\n%s", cols, got, want,
			      s);
		free(s);
	}
}
END_TEST

START_TEST(test_ellipsize_wide)
{
	char *s = tty_ellipsize(KAN KAN KAN KAN, 5);
	ck_assert_str_eq(s, KAN KAN "…");
	free(s);
	/* the second ideograph would straddle the ellipsis: left out whole */
	s = tty_ellipsize(KAN KAN KAN KAN, 4);
	ck_assert_str_eq(s, KAN "…");
	free(s);
	s = tty_ellipsize(KAN KAN, 1);
	ck_assert_str_eq(s, "…");
	free(s);
	s = tty_ellipsize(KAN KAN, 4); /* fits as it is */
	ck_assert_str_eq(s, KAN KAN);
	free(s);
	s = tty_ellipsize("e" ACUTE "e" ACUTE "e" ACUTE, 2);
	ck_assert_str_eq(s, "e" ACUTE "…");
	free(s);
	s = tty_ellipsize(FAMILY "ab", 3);
	ck_assert_str_eq(s, "…");
	free(s);
}
END_TEST

START_TEST(test_tabs_expand_to_stops)
{
	char *s = tty_expand_tabs("a\tb");
	ck_assert_str_eq(s, "a       b");
	free(s);
	s = tty_expand_tabs(KAN "\tx\t");
	ck_assert_str_eq(s, KAN "      x       ");
	free(s);
	s = tty_expand_tabs("");
	ck_assert_str_eq(s, "");
	free(s);
	/* a log line with tabs fits as measured: the terminal's tab stops play no part */
	json_t *ev = json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", "log", "timestamp",
			       "2026-11-26T12:00:00.000Z", "projectId", "web", "stream", "stdout",
			       "line", "\tat main\t(" KAN KAN ".js:1:1)\tand more words here");
	char *t = tty_format_event(ev, false, 0, 40);
	ck_assert_msg(strchr(t, '\t') == NULL, "a tab left:\n%s", t);
	expect_lines_fit(t, 40);
	free(t);
	json_decref(ev);
}
END_TEST

/* At 50 columns a row with CJK in its cells takes one line, its cells aligned by columns. */
START_TEST(test_status_cjk_fifty_columns)
{
	json_t *projects = json_pack(
		"[{s:s, s:s, s:i, s:i, s:s, s:s}, {s:s, s:s, s:n, s:n, s:n, s:{s:s, s:i}}]",
		"projectId", "web", "state", "running", "port", 30012, "pid", 81234, "url",
		"http://" KAN KAN KAN ".example:30012", "startedAt", "2026-11-26T12:00:00.000Z",
		"projectId", "api", "state", "failed", "port", "pid", "url", "lastFailure", "reason",
		KAN KAN KAN KAN KAN KAN KAN KAN KAN KAN KAN KAN, "exitCode", 1);
	ck_assert_ptr_nonnull(projects);
	uint64_t now = tty_parse_iso("2026-11-26T12:03:12.000Z");
	char *s = tty_format_status(projects, true, now, 50);
	expect_lines_fit(s, 50);
	size_t lines = 0;
	for (char *p = s; (p = strchr(p, '\n')); p++)
		lines++;
	ck_assert_msg(lines == 3, "one line per row expected:\n%s", s);
	free(s);
	/* wide open: the state column starts at the same column on every line */
	s = tty_format_status(projects, false, now, 0);
	const char *row1 = strstr(s, "\napi") + 1, *row2 = strstr(s, "\nweb") + 1;
	ck_assert_uint_eq(columns(row1, (size_t)(strstr(row1, "failed") - row1)),
			  columns(row2, (size_t)(strstr(row2, "running") - row2)));
	const char *url = strstr(row2, "http");
	const char *fail = strstr(row1, KAN);
	ck_assert_msg(url && fail, "%s", s);
	free(s);
	json_decref(projects);
}
END_TEST

static size_t rows_of(size_t n, const char *unit, size_t point_units, int cols)
{
	char line[1024] = "";
	for (size_t i = 0; i < n; i++)
		strcat(line, unit);
	return tty_edit_rows("devsup> ", line, point_units * strlen(unit), cols);
}

/* The row the cursor is on under a half-typed line, as libedit lays it out: the rows an
 * arriving event must clear (too few left the line's first rows duplicated above it). */
START_TEST(test_edit_rows_wide)
{
	ck_assert_uint_eq(rows_of(0, "x", 0, 40), 0);
	ck_assert_uint_eq(rows_of(31, "x", 31, 40), 0);
	ck_assert_uint_eq(rows_of(32, "x", 32, 40), 1); /* a full row: on the next */
	ck_assert_uint_eq(rows_of(16, KAN, 16, 40), 1);  /* 8 + 16 x 2 = 40 */
	ck_assert_uint_eq(rows_of(15, KAN, 15, 40), 0);
	/* 41 columns: the 41st of a row cannot hold an ideograph, which goes whole to the next;
	 * rows of 16, 20, 20, then the 57th on the fourth */
	ck_assert_uint_eq(rows_of(57, KAN, 57, 41), 3);
	ck_assert_uint_eq(rows_of(56, KAN, 56, 41), 2);
	/* the cursor moved back: its row, not the line's last */
	ck_assert_uint_eq(rows_of(57, KAN, 10, 41), 0);
	ck_assert_uint_eq(rows_of(57, KAN, 30, 41), 1);
	/* combining marks take no column, each emoji of a sequence its own (libedit's count) */
	ck_assert_uint_eq(rows_of(40, "e" ACUTE, 40, 40), 1);
	ck_assert_uint_eq(rows_of(5, FAMILY, 5, 40), 0);  /* 8 + 30 */
	ck_assert_uint_eq(rows_of(6, FAMILY, 6, 40), 1);
	/* a control key shows as ^X, a tab to the next stop */
	ck_assert_uint_eq(rows_of(16, "\x01", 16, 40), 1);
	ck_assert_uint_eq(rows_of(4, "\t", 4, 40), 1);
	ck_assert_uint_eq(tty_edit_rows("devsup> ", "abc", 3, 0), 0);
}
END_TEST

/* A typed word quoted in a message: cut between characters, and an id that no start could
 * create is said to be no id, not offered to `start`. */
START_TEST(test_typed_cjk_quoted_whole)
{
	char line[256] = "", word[200] = "";
	for (int i = 0; i < 30; i++)
		strcat(word, KAN);
	const char *forms[] = {"stop ", "status ", "", "help "};
	static const char *const ids[] = {"web"};
	static const bool live[] = {true};
	for (size_t f = 0; f < sizeof(forms) / sizeof(forms[0]); f++) {
		for (size_t nids = 0; nids < 2; nids++) {
			tty_ctx_t ctx = {.cwd = "/w", .ids = ids, .live = live, .nids = nids};
			tty_action_t a;
			snprintf(line, sizeof(line), "%s%s", forms[f], word);
			tty_parse(line, &ctx, &a);
			ck_assert_msg(a.kind == TTY_ACT_PRINT && a.error, "%s: not refused", line);
			json_t *j = json_string(a.text);
			ck_assert_msg(j != NULL, "%s: a character cut in half: %s", forms[f], a.text);
			json_decref(j);
			ck_assert_msg(strstr(a.text, KAN KAN), "%s: %s", forms[f], a.text);
			if (f < 2)
				ck_assert_msg(strstr(a.text, "a project id is") &&
						      !strstr(a.text, "start " KAN),
					      "%s: %s", line, a.text);
			tty_action_free(&a);
		}
	}
}
END_TEST

static bool env_file(const char *text, size_t len, json_t *env, char *err, size_t errlen)
{
	char path[] = "/tmp/devsup-envfile-XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
	close(fd);
	bool ok = tty_read_env_file(path, env, err, errlen);
	unlink(path);
	return ok;
}

/* An --env-file line too long for the reader, or not UTF-8, is refused by its line number:
 * the value was cut (its tail read as a line of its own) or the variable dropped unseen. */
START_TEST(test_env_file_refuses_what_it_cannot_keep)
{
	char err[256];
	size_t big = 9000;
	char *text = malloc(big + 64);
	strcpy(text, "A=1\nTOKEN=");
	size_t at = strlen(text);
	memset(text + at, 'x', big);
	strcpy(text + at + big, "=y\nB=2\n");
	json_t *env = json_object();
	ck_assert(!env_file(text, strlen(text), env, err, sizeof(err)));
	ck_assert_msg(strstr(err, "line 2: longer than"), "%s", err);
	json_decref(env);
	env = json_object();
	const char latin1[] = "A=1\nNAME=Jos\xe9\n";
	ck_assert(!env_file(latin1, strlen(latin1), env, err, sizeof(err)));
	ck_assert_msg(strstr(err, "line 2: not UTF-8"), "%s", err);
	json_decref(env);
	/* a UTF-8 value and a last line without its newline are kept */
	env = json_object();
	const char good[] = "GREETING=\xe3\x81\x93\xe3\x82\x93\nLAST=1";
	ck_assert_msg(env_file(good, strlen(good), env, err, sizeof(err)), "%s", err);
	ck_assert_str_eq(json_string_value(json_object_get(env, "GREETING")),
			 "\xe3\x81\x93\xe3\x82\x93");
	ck_assert_str_eq(json_string_value(json_object_get(env, "LAST")), "1");
	json_decref(env);
	free(text);
}
END_TEST

/* A project file naming an unknown CJK dependency: the message quotes it cut between
 * characters. */
START_TEST(test_project_file_quotes_cjk_whole)
{
	char text[512] = "{\"projects\":{\"a\":{\"command\":\"x\",\"dependsOn\":[\"", err[256];
	for (int i = 0; i < 30; i++)
		strcat(text, KAN);
	strcat(text, "\"]}}}");
	ck_assert_ptr_null(tty_plan_parse(text, "/", err, sizeof(err)));
	json_t *j = json_string(err);
	ck_assert_msg(j != NULL, "a character cut in half: %s", err);
	json_decref(j);
	ck_assert_msg(strstr(err, "project a depends on '" KAN KAN) && strstr(err, "does not list"),
		      "%s", err);
}
END_TEST

/* An event without the fields it usually has (an older or newer engine) is still shown. */
START_TEST(test_event_without_its_fields)
{
	json_t *ev = json_pack("{s:s, s:s}", "type", "log-stream-ended", "projectId", "web");
	char *s = tty_format_event(ev, false, 0, 0);
	ck_assert_msg(s && strstr(s, "no longer following its output"), "%s", s ? s : "(null)");
	free(s);
	json_decref(ev);
}
END_TEST

Suite *tty_text_suite(void)
{
	Suite *s = suite_create("tty_text");
	TCase *t = tcase_create("wide");
	tcase_add_test(t, test_width_counts_wide_and_combining);
	tcase_add_test(t, test_fold_cjk_under_the_text);
	tcase_add_test(t, test_fold_never_splits);
	tcase_add_test(t, test_fold_keeps_closing_punctuation);
	tcase_add_test(t, test_ellipsize_wide);
	tcase_add_test(t, test_tabs_expand_to_stops);
	tcase_add_test(t, test_status_cjk_fifty_columns);
	tcase_add_test(t, test_typed_cjk_quoted_whole);
	tcase_add_test(t, test_edit_rows_wide);
	tcase_add_test(t, test_env_file_refuses_what_it_cannot_keep);
	tcase_add_test(t, test_event_without_its_fields);
	tcase_add_test(t, test_project_file_quotes_cjk_whole);
	suite_add_tcase(s, t);
	return s;
}
