/* sanitize_line: one line of a dev server's output made safe to show and to put in JSON. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/sanitize.h"
#include "tests/unit/suites.h"

#define FFFD "\xef\xbf\xbd"

/* s[0..n) printable for a failure message: bytes outside ASCII 0x20-0x7e as \xNN. */
static void show(const char *s, size_t n, char *buf, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < n && o + 5 < cap; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c < 0x7f && c != '\\')
			buf[o++] = (char)c;
		else
			o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", c);
	}
	buf[o] = '\0';
}

/* Sanitizes in[0..n) into a buffer of outcap bytes and checks the result is expected; also
 * checks nothing was written past outcap. */
static void expect_n(const char *in, size_t n, size_t outcap, const char *expected)
{
	char out[512];
	ck_assert_uint_le(outcap, sizeof(out));
	memset(out, 'Z', sizeof(out));
	size_t len = sanitize_line(in, n, out, outcap);
	char shown_in[512], shown_out[512], shown_exp[512];
	show(in, n, shown_in, sizeof(shown_in));
	show(out, len, shown_out, sizeof(shown_out));
	show(expected, strlen(expected), shown_exp, sizeof(shown_exp));
	ck_assert_msg(len == strlen(expected) && memcmp(out, expected, len) == 0,
		      "sanitize(\"%s\", outcap %zu) = \"%s\", expected \"%s\"", shown_in, outcap,
		      shown_out, shown_exp);
	ck_assert_uint_lt(len, outcap);
	ck_assert_int_eq(out[len], '\0');
	for (size_t i = outcap; i < sizeof(out); i++)
		ck_assert_int_eq(out[i], 'Z');
}

static void expect(const char *in, const char *expected)
{
	expect_n(in, strlen(in), 256, expected);
}

/* A strict UTF-8 check (no overlongs, no surrogates, nothing past U+10FFFF). */
static bool utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned char c = s[i];
		size_t len;
		uint32_t cp, min;
		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			len = 2, cp = c & 0x1f, min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			len = 3, cp = c & 0x0f, min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			len = 4, cp = c & 0x07, min = 0x10000;
		} else {
			return false;
		}
		if (i + len > n)
			return false;
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += len;
	}
	return true;
}

/* --- escape sequences ------------------------------------------------------------------ */

START_TEST(test_csi_colours_removed)
{
	expect("\x1b[32mready\x1b[39m", "ready");
	expect("\x1b[1m\x1b[38;5;208mVITE\x1b[0m v5 \x1b[2mready in\x1b[22m 300 ms",
	       "VITE v5 ready in 300 ms");
	expect("\x1b[2K\x1b[1Gprogress", "progress"); /* erase line, cursor to column 1 */
	expect("\x1b[?25lhidden cursor\x1b[?25h", "hidden cursor");
}
END_TEST

START_TEST(test_osc_removed)
{
	expect("\x1b]0;my title\x07" "after", "after");          /* BEL-terminated */
	expect("\x1b]2;my title\x1b\\after", "after");        /* ST-terminated */
	expect("\x1b]8;;http://localhost:3000\x1b\\link\x1b]8;;\x1b\\ done", "link done");
	expect("before\x1b]0;title\x07", "before");
}
END_TEST

START_TEST(test_two_byte_escape_removed)
{
	expect("\x1b" "7saved\x1b" "8", "saved"); /* DECSC / DECRC */
	expect("a\x1b", "a");                     /* a lone ESC at the end */
}
END_TEST

START_TEST(test_charset_escape_removed)
{
	/* `tput sgr0` on xterm: ESC ( B (designate G0 = ASCII, an nF escape) then CSI m. Its
	 * final byte must not leak into the line as a visible 'B'. */
	expect("\x1b(B\x1b[mready", "ready");
}
END_TEST

/* --- control characters ---------------------------------------------------------------- */

START_TEST(test_trailing_cr_dropped)
{
	expect("compiled\r", "compiled");
	expect("\r", "");
}
END_TEST

START_TEST(test_controls_removed_tab_kept)
{
	expect("a\tb", "a\tb");
	expect("a\x01" "b\x07" "c\x08" "d\x7f" "e", "abcde");
	expect("50%\r75%\r100%", "50%75%100%");
	expect_n("a\0b", 3, 256, "ab");
}
END_TEST

/* --- UTF-8 ----------------------------------------------------------------------------- */

START_TEST(test_valid_multibyte_kept)
{
	expect("caf\xc3\xa9", "caf\xc3\xa9");                     /* é */
	expect("\xe2\x9e\x9c  Local: http://x", "\xe2\x9e\x9c  Local: http://x"); /* ➜ */
	expect("ok \xf0\x9f\x98\x80", "ok \xf0\x9f\x98\x80");     /* 😀 */
	expect("\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf");           /* U+10FFFF */
}
END_TEST

START_TEST(test_invalid_bytes_replaced)
{
	expect("a\xff" "b", "a" FFFD "b");
	expect("a\x80" "b", "a" FFFD "b");                 /* a lone continuation byte */
	expect("a\xc0\xaf" "b", "a" FFFD FFFD "b");        /* overlong '/' */
	expect("a\xed\xa0\x80" "b", "a" FFFD FFFD FFFD "b"); /* the surrogate U+D800 */
	expect("a\xf4\x90\x80\x80" "b", "a" FFFD FFFD FFFD FFFD "b"); /* past U+10FFFF */
}
END_TEST

START_TEST(test_truncated_sequence_at_end)
{
	/* the first two bytes of ➜: replaced (one U+FFFD, or one per byte, are both fine),
	 * and nothing of the broken character kept */
	char out[64];
	size_t len = sanitize_line("ok\xe2\x9e", 4, out, sizeof(out));
	ck_assert_uint_ge(len, 5);
	ck_assert_mem_eq(out, "ok", 2);
	ck_assert_uint_eq((len - 2) % 3, 0);
	for (size_t i = 2; i < len; i += 3)
		ck_assert_mem_eq(out + i, FFFD, 3);
	ck_assert_int_eq(out[len], '\0');
	ck_assert(utf8_valid((const unsigned char *)out, len));
}
END_TEST

START_TEST(test_output_always_valid)
{
	/* whatever comes in, what goes out is valid UTF-8 without control characters other
	 * than TAB, shorter than outcap and NUL-terminated */
	uint32_t seed = 12345;
	unsigned char in[200];
	char out[300];
	for (int round = 0; round < 2000; round++) {
		size_t n = (size_t)(round % 200);
		for (size_t i = 0; i < n; i++) {
			seed = seed * 1103515245u + 12345u;
			in[i] = (unsigned char)(seed >> 16);
		}
		size_t outcap = 4 + (size_t)round % 290;
		memset(out, 'Z', sizeof(out));
		size_t len = sanitize_line((const char *)in, n, out, outcap);
		/* plain checks, one assertion per round: Check's asserts are slow in a loop */
		bool ok = len < outcap && out[len] == '\0' &&
			  utf8_valid((const unsigned char *)out, len);
		for (size_t i = 0; ok && i < len; i++) {
			unsigned char c = (unsigned char)out[i];
			ok = c == '\t' || (c >= 0x20 && c != 0x7f);
		}
		for (size_t i = outcap; ok && i < sizeof(out); i++)
			ok = out[i] == 'Z';
		if (!ok) {
			char shown_in[1024], shown_out[1024];
			show((const char *)in, n, shown_in, sizeof(shown_in));
			show(out, len < sizeof(out) ? len : sizeof(out), shown_out, sizeof(shown_out));
			ck_abort_msg("round %d, outcap %zu: \"%s\" -> \"%s\" (len %zu)", round, outcap,
				     shown_in, shown_out, len);
		}
	}
}
END_TEST

/* --- output size ----------------------------------------------------------------------- */

START_TEST(test_small_outcap_truncates)
{
	expect_n("abcdef", 6, 4, "abc");
	expect_n("abc", 3, 4, "abc");
	expect_n("", 0, 4, "");
}
END_TEST

START_TEST(test_small_outcap_never_cuts_a_character)
{
	expect_n("h\xc3\xa9llo", 6, 4, "h\xc3\xa9");      /* 3 bytes fit */
	expect_n("ab\xc3\xa9", 4, 4, "ab");               /* é would need bytes 3-4 */
	expect_n("\xf0\x9f\x98\x80", 4, 4, "");           /* 😀 needs 4 + NUL */
	expect_n("\xf0\x9f\x98\x80", 4, 5, "\xf0\x9f\x98\x80");
	expect_n("a\xe2\x9e\x9c", 4, 4, "a");
	expect_n("\xff\xff", 2, 5, FFFD);                 /* the replacement is not cut either */
	expect_n("\xff\xff", 2, 7, FFFD FFFD);
	expect_n("\x1b[31mab\x1b[0mcd", 13, 4, "abc");    /* escapes cost nothing */
}
END_TEST

Suite *sanitize_suite(void)
{
	Suite *s = suite_create("sanitize");
	TCase *tc = tcase_create("escapes");
	tcase_add_test(tc, test_csi_colours_removed);
	tcase_add_test(tc, test_osc_removed);
	tcase_add_test(tc, test_two_byte_escape_removed);
	tcase_add_test(tc, test_charset_escape_removed);
	suite_add_tcase(s, tc);

	tc = tcase_create("controls");
	tcase_add_test(tc, test_trailing_cr_dropped);
	tcase_add_test(tc, test_controls_removed_tab_kept);
	suite_add_tcase(s, tc);

	tc = tcase_create("utf8");
	tcase_add_test(tc, test_valid_multibyte_kept);
	tcase_add_test(tc, test_invalid_bytes_replaced);
	tcase_add_test(tc, test_truncated_sequence_at_end);
	tcase_add_test(tc, test_output_always_valid);
	suite_add_tcase(s, tc);

	tc = tcase_create("size");
	tcase_add_test(tc, test_small_outcap_truncates);
	tcase_add_test(tc, test_small_outcap_never_cuts_a_character);
	suite_add_tcase(s, tc);
	return s;
}
