/* linebuf: '\n'-split lines with a cap on one line's length. */
#include <stdlib.h>
#include <string.h>

#include "common/linebuf.h"
#include "tests/unit/suites.h"

#define MAX_GOT 64

typedef struct {
	char *data[MAX_GOT];
	size_t len[MAX_GOT];
	bool overlong[MAX_GOT];
	size_t n;
} got_t;

static void collect(void *ctx, const char *line, size_t len, bool overlong)
{
	got_t *g = ctx;
	ck_assert_uint_lt(g->n, MAX_GOT);
	g->data[g->n] = malloc(len + 1);
	memcpy(g->data[g->n], line, len);
	g->data[g->n][len] = '\0';
	g->len[g->n] = len;
	g->overlong[g->n] = overlong;
	g->n++;
}

static void got_free(got_t *g)
{
	for (size_t i = 0; i < g->n; i++)
		free(g->data[i]);
	g->n = 0;
}

static void feed_str(linebuf_t *lb, const char *s, got_t *g)
{
	linebuf_feed(lb, s, strlen(s), collect, g);
}

static void feed_bytewise(linebuf_t *lb, const char *s, size_t n, got_t *g)
{
	for (size_t i = 0; i < n; i++)
		linebuf_feed(lb, s + i, 1, collect, g);
}

static void expect_line(const got_t *g, size_t i, const char *text, bool overlong)
{
	ck_assert_uint_gt(g->n, i);
	ck_assert_uint_eq(g->len[i], strlen(text));
	ck_assert_mem_eq(g->data[i], text, strlen(text));
	ck_assert_int_eq(g->overlong[i], overlong);
}

/* --- splitting ------------------------------------------------------------------------- */

START_TEST(test_several_lines_one_feed)
{
	linebuf_t lb;
	got_t g = {0};
	linebuf_init(&lb, 64);
	feed_str(&lb, "alpha\nbeta\ngamma\n", &g);
	ck_assert_uint_eq(g.n, 3);
	expect_line(&g, 0, "alpha", false);
	expect_line(&g, 1, "beta", false);
	expect_line(&g, 2, "gamma", false);
	ck_assert_uint_eq(linebuf_pending(&lb), 0);
	got_free(&g);
	linebuf_free(&lb);
}
END_TEST

START_TEST(test_line_split_across_feeds)
{
	linebuf_t lb;
	got_t g = {0};
	linebuf_init(&lb, 64);
	feed_str(&lb, "hel", &g);
	ck_assert_uint_eq(g.n, 0);
	ck_assert_uint_eq(linebuf_pending(&lb), 3);
	feed_str(&lb, "lo wor", &g);
	ck_assert_uint_eq(g.n, 0);
	feed_str(&lb, "ld\nnext", &g);
	ck_assert_uint_eq(g.n, 1);
	expect_line(&g, 0, "hello world", false);
	ck_assert_uint_eq(linebuf_pending(&lb), 4);
	feed_str(&lb, "\n", &g);
	ck_assert_uint_eq(g.n, 2);
	expect_line(&g, 1, "next", false);
	got_free(&g);
	linebuf_free(&lb);
}
END_TEST

START_TEST(test_byte_by_byte)
{
	static const char in[] = "first line\nsecond\n\nthird\n";
	linebuf_t lb;
	got_t g = {0};
	linebuf_init(&lb, 64);
	feed_bytewise(&lb, in, sizeof(in) - 1, &g);
	ck_assert_uint_eq(g.n, 4);
	expect_line(&g, 0, "first line", false);
	expect_line(&g, 1, "second", false);
	expect_line(&g, 2, "", false);
	expect_line(&g, 3, "third", false);
	got_free(&g);
	linebuf_free(&lb);
}
END_TEST

START_TEST(test_empty_lines_len_zero)
{
	linebuf_t lb;
	got_t g = {0};
	linebuf_init(&lb, 16);
	feed_str(&lb, "\n\na\n\n", &g);
	ck_assert_uint_eq(g.n, 4);
	ck_assert_uint_eq(g.len[0], 0);
	ck_assert_uint_eq(g.len[1], 0);
	expect_line(&g, 2, "a", false);
	ck_assert_uint_eq(g.len[3], 0);
	for (size_t i = 0; i < g.n; i++)
		ck_assert(!g.overlong[i]);
	got_free(&g);
	linebuf_free(&lb);
}
END_TEST

START_TEST(test_nul_bytes_kept)
{
	static const char in[] = "a\0b\0\0c\nz\0\n";
	linebuf_t lb;
	got_t g = {0};
	linebuf_init(&lb, 64);
	linebuf_feed(&lb, in, sizeof(in) - 1, collect, &g);
	ck_assert_uint_eq(g.n, 2);
	ck_assert_uint_eq(g.len[0], 6);
	ck_assert_mem_eq(g.data[0], "a\0b\0\0c", 6);
	ck_assert_uint_eq(g.len[1], 2);
	ck_assert_mem_eq(g.data[1], "z\0", 2);
	got_free(&g);

	/* the same bytes fed one at a time, so they go through the buffer */
	feed_bytewise(&lb, in, sizeof(in) - 1, &g);
	ck_assert_uint_eq(g.n, 2);
	ck_assert_uint_eq(g.len[0], 6);
	ck_assert_mem_eq(g.data[0], "a\0b\0\0c", 6);
	got_free(&g);
	linebuf_free(&lb);
}
END_TEST

/* --- the length cap -------------------------------------------------------------------- */

START_TEST(test_line_exactly_max)
{
	linebuf_t lb;
	got_t g = {0};
	linebuf_init(&lb, 8);
	feed_str(&lb, "12345678\nafter\n", &g);
	ck_assert_uint_eq(g.n, 2);
	expect_line(&g, 0, "12345678", false);
	expect_line(&g, 1, "after", false);
	got_free(&g);

	/* the same, split so that the buffer holds exactly max bytes before the '\n' */
	feed_str(&lb, "1234", &g);
	feed_str(&lb, "5678", &g);
	ck_assert_uint_eq(g.n, 0);
	feed_str(&lb, "\nafter\n", &g);
	ck_assert_uint_eq(g.n, 2);
	expect_line(&g, 0, "12345678", false);
	expect_line(&g, 1, "after", false);
	got_free(&g);

	feed_bytewise(&lb, "abcdefgh\nok\n", 12, &g);
	ck_assert_uint_eq(g.n, 2);
	expect_line(&g, 0, "abcdefgh", false);
	expect_line(&g, 1, "ok", false);
	got_free(&g);
	linebuf_free(&lb);
}
END_TEST

START_TEST(test_line_max_plus_one)
{
	linebuf_t lb;
	got_t g = {0};
	linebuf_init(&lb, 8);
	feed_str(&lb, "123456789\nnext\n", &g);
	ck_assert_uint_eq(g.n, 2);
	expect_line(&g, 0, "12345678", true);
	expect_line(&g, 1, "next", false);
	got_free(&g);

	/* the extra byte arriving in a later feed than the first max */
	feed_str(&lb, "12345678", &g);
	feed_str(&lb, "9", &g);
	feed_str(&lb, "\nnext\n", &g);
	ck_assert_uint_eq(g.n, 2);
	expect_line(&g, 0, "12345678", true);
	expect_line(&g, 1, "next", false);
	got_free(&g);

	/* partly buffered, the rest and its '\n' in one feed */
	feed_str(&lb, "1234", &g);
	feed_str(&lb, "56789\nnext\n", &g);
	ck_assert_uint_eq(g.n, 2);
	expect_line(&g, 0, "12345678", true);
	expect_line(&g, 1, "next", false);
	got_free(&g);

	feed_bytewise(&lb, "123456789\nnext\n", 15, &g);
	ck_assert_uint_eq(g.n, 2);
	expect_line(&g, 0, "12345678", true);
	expect_line(&g, 1, "next", false);
	got_free(&g);
	linebuf_free(&lb);
}
END_TEST

START_TEST(test_overlong_across_many_feeds)
{
	linebuf_t lb;
	got_t g = {0};
	linebuf_init(&lb, 10);
	feed_str(&lb, "abcdef", &g);
	feed_str(&lb, "ghijkl", &g); /* passes max here: delivered once, cut */
	ck_assert_uint_eq(g.n, 1);
	expect_line(&g, 0, "abcdefghij", true);
	for (int i = 0; i < 50; i++)
		feed_str(&lb, "xxxxxxxxxxxxxxxxxxxx", &g); /* the discarded tail */
	ck_assert_uint_eq(g.n, 1);
	ck_assert_uint_eq(linebuf_pending(&lb), 0);
	feed_str(&lb, "tail-end\nintact", &g);
	ck_assert_uint_eq(g.n, 1);
	feed_str(&lb, "\n", &g);
	ck_assert_uint_eq(g.n, 2);
	expect_line(&g, 1, "intact", false);
	got_free(&g);

	feed_str(&lb, "short\n", &g);
	ck_assert_uint_eq(g.n, 1);
	expect_line(&g, 0, "short", false);
	got_free(&g);

	/* an overlong line whose tail ends exactly at the end of a feed, then an empty line */
	feed_str(&lb, "0123456789ABC", &g);
	feed_str(&lb, "DEF\n", &g);
	feed_str(&lb, "\nok\n", &g);
	ck_assert_uint_eq(g.n, 3);
	expect_line(&g, 0, "0123456789", true);
	expect_line(&g, 1, "", false);
	expect_line(&g, 2, "ok", false);
	got_free(&g);
	linebuf_free(&lb);
}
END_TEST

START_TEST(test_overlong_whole_in_one_feed)
{
	char big[1000];
	linebuf_t lb;
	got_t g = {0};
	memset(big, 'q', sizeof(big));
	big[sizeof(big) - 1] = '\n';
	linebuf_init(&lb, 100);
	linebuf_feed(&lb, big, sizeof(big), collect, &g);
	feed_str(&lb, "next\n", &g);
	ck_assert_uint_eq(g.n, 2);
	ck_assert_uint_eq(g.len[0], 100);
	ck_assert(g.overlong[0]);
	for (size_t i = 0; i < 100; i++)
		ck_assert_int_eq(g.data[0][i], 'q');
	expect_line(&g, 1, "next", false);
	got_free(&g);
	linebuf_free(&lb);
}
END_TEST

/* --- end of stream --------------------------------------------------------------------- */

START_TEST(test_finish_delivers_last_line)
{
	linebuf_t lb;
	got_t g = {0};
	linebuf_init(&lb, 64);
	feed_str(&lb, "one\ntwo without newline", &g);
	ck_assert_uint_eq(g.n, 1);
	linebuf_finish(&lb, collect, &g);
	ck_assert_uint_eq(g.n, 2);
	expect_line(&g, 1, "two without newline", false);
	ck_assert_uint_eq(linebuf_pending(&lb), 0);
	/* nothing left: a second finish delivers nothing */
	linebuf_finish(&lb, collect, &g);
	ck_assert_uint_eq(g.n, 2);
	got_free(&g);
	linebuf_free(&lb);
}
END_TEST

START_TEST(test_finish_after_complete_lines)
{
	linebuf_t lb;
	got_t g = {0};
	linebuf_init(&lb, 64);
	feed_str(&lb, "done\n", &g);
	linebuf_finish(&lb, collect, &g);
	ck_assert_uint_eq(g.n, 1);
	expect_line(&g, 0, "done", false);
	got_free(&g);
	linebuf_free(&lb);
}
END_TEST

START_TEST(test_finish_inside_overlong_tail)
{
	linebuf_t lb;
	got_t g = {0};
	linebuf_init(&lb, 4);
	feed_str(&lb, "abcdefgh", &g); /* overlong, no '\n' before the end of the stream */
	linebuf_finish(&lb, collect, &g);
	ck_assert_uint_eq(g.n, 1);
	expect_line(&g, 0, "abcd", true);
	got_free(&g);
	/* the buffer is usable afterwards: the next stream starts a fresh line */
	feed_str(&lb, "xy\n", &g);
	ck_assert_uint_eq(g.n, 1);
	expect_line(&g, 0, "xy", false);
	got_free(&g);
	linebuf_free(&lb);
}
END_TEST

Suite *linebuf_suite(void)
{
	Suite *s = suite_create("linebuf");
	TCase *tc = tcase_create("split");
	tcase_add_test(tc, test_several_lines_one_feed);
	tcase_add_test(tc, test_line_split_across_feeds);
	tcase_add_test(tc, test_byte_by_byte);
	tcase_add_test(tc, test_empty_lines_len_zero);
	tcase_add_test(tc, test_nul_bytes_kept);
	suite_add_tcase(s, tc);

	tc = tcase_create("max");
	tcase_add_test(tc, test_line_exactly_max);
	tcase_add_test(tc, test_line_max_plus_one);
	tcase_add_test(tc, test_overlong_across_many_feeds);
	tcase_add_test(tc, test_overlong_whole_in_one_feed);
	suite_add_tcase(s, tc);

	tc = tcase_create("finish");
	tcase_add_test(tc, test_finish_delivers_last_line);
	tcase_add_test(tc, test_finish_after_complete_lines);
	tcase_add_test(tc, test_finish_inside_overlong_tail);
	suite_add_tcase(s, tc);
	return s;
}
