/* colwidth: the columns text takes on a terminal, whatever the locale, and cuts that never
 * split a character or what joins it. */
#include <jansson.h>
#include <string.h>

#include "common/colwidth.h"
#include "tests/unit/suites.h"

#define KAN "\xe6\xbc\xa2"               /* 漢 U+6F22, wide */
#define JI "\xe5\xad\x97"                /* 字 U+5B57, wide */
#define ACUTE "\xcc\x81"                 /* U+0301 combining acute accent */
#define GRIN "\xf0\x9f\x98\x80"          /* 😀 U+1F600 */
#define SUN "\xe2\x98\x80"               /* ☀ U+2600, text presentation: narrow */
#define VS16 "\xef\xb8\x8f"              /* U+FE0F: draw the one before as an emoji */
#define ZWJ "\xe2\x80\x8d"               /* U+200D zero width joiner */
#define MAN "\xf0\x9f\x91\xa8"           /* 👨 */
#define WOMAN "\xf0\x9f\x91\xa9"         /* 👩 */
#define GIRL "\xf0\x9f\x91\xa7"          /* 👧 */
#define THUMB "\xf0\x9f\x91\x8d"         /* 👍 */
#define TONE "\xf0\x9f\x8f\xbd"          /* U+1F3FD skin tone */
#define KEYCAP "\xe2\x83\xa3"            /* U+20E3 combining enclosing keycap */
#define FAMILY MAN ZWJ WOMAN ZWJ GIRL

START_TEST(test_cp_widths)
{
	ck_assert_int_eq(colwidth_cp('a'), 1);
	ck_assert_int_eq(colwidth_cp(0xe9), 1);     /* é */
	ck_assert_int_eq(colwidth_cp(0x6f22), 2);   /* 漢 */
	ck_assert_int_eq(colwidth_cp(0x3042), 2);   /* あ */
	ck_assert_int_eq(colwidth_cp(0xac00), 2);   /* 가 */
	ck_assert_int_eq(colwidth_cp(0xff21), 2);   /* fullwidth Ａ */
	ck_assert_int_eq(colwidth_cp(0x3000), 2);   /* ideographic space */
	ck_assert_int_eq(colwidth_cp(0x20000), 2);  /* CJK extension B */
	ck_assert_int_eq(colwidth_cp(0x1f600), 2);  /* 😀 */
	ck_assert_int_eq(colwidth_cp(0x1f680), 2);  /* 🚀 */
	ck_assert_int_eq(colwidth_cp(0x2600), 1);   /* ☀ text presentation */
	ck_assert_int_eq(colwidth_cp(0x2026), 1);   /* … */
	ck_assert_int_eq(colwidth_cp(0x2502), 1);   /* │ the front end's margin */
	ck_assert_int_eq(colwidth_cp(0x0301), 0);   /* combining acute */
	ck_assert_int_eq(colwidth_cp(0x0e31), 0);   /* Thai vowel sign */
	ck_assert_int_eq(colwidth_cp(0x200d), 0);   /* ZWJ */
	ck_assert_int_eq(colwidth_cp(0xfe0f), 0);   /* VS16 */
	ck_assert_int_eq(colwidth_cp(0x07), 0);     /* BEL draws nothing */
	ck_assert_int_eq(colwidth_cp(0x9b), 0);     /* C1 CSI */
}
END_TEST

START_TEST(test_str_widths)
{
	ck_assert_uint_eq(colwidth_str("", 0), 0);
	ck_assert_uint_eq(colwidth_str("a" KAN "b", strlen("a" KAN "b")), 4);
	ck_assert_uint_eq(colwidth_str("e" ACUTE, strlen("e" ACUTE)), 1);
	ck_assert_uint_eq(colwidth_str(GRIN, strlen(GRIN)), 2);
	/* VS16: narrow where drawn as text, wide where drawn as emoji: counted wide */
	ck_assert_uint_eq(colwidth_str(SUN, strlen(SUN)), 1);
	ck_assert_uint_eq(colwidth_str(SUN VS16, strlen(SUN VS16)), 2);
	ck_assert_uint_eq(colwidth_str("1" VS16 KEYCAP, strlen("1" VS16 KEYCAP)), 2);
	/* a ZWJ sequence: as wide as its emoji drawn one by one (one glyph elsewhere is less) */
	ck_assert_uint_eq(colwidth_str(FAMILY, strlen(FAMILY)), 6);
	ck_assert_uint_eq(colwidth_str(THUMB TONE, strlen(THUMB TONE)), 4);
	/* tabs to the next multiple of 8 */
	ck_assert_uint_eq(colwidth_str("a\tb", 3), 9);
	ck_assert_uint_eq(colwidth_str(KAN "\t", strlen(KAN "\t")), 8);
	ck_assert_uint_eq(colwidth_str("12345678\t", 9), 16);
	/* invalid bytes: one replacement character each */
	ck_assert_uint_eq(colwidth_str("\xff", 1), 1);
	ck_assert_uint_eq(colwidth_str("a\xe6\xbc", 3), 3);
}
END_TEST

/* What joins a character is one unit: never cut apart. */
START_TEST(test_step_units)
{
	size_t col = 0;
	ck_assert_uint_eq(colwidth_step("e" ACUTE "x", strlen("e" ACUTE "x"), &col), 3);
	ck_assert_uint_eq(col, 1);
	col = 0;
	ck_assert_uint_eq(colwidth_step(FAMILY "x", strlen(FAMILY "x"), &col), strlen(FAMILY));
	ck_assert_uint_eq(col, 6);
	col = 0;
	ck_assert_uint_eq(colwidth_step(THUMB TONE KAN, strlen(THUMB TONE KAN), &col),
			  strlen(THUMB TONE));
	col = 0;
	ck_assert_uint_eq(colwidth_step(SUN VS16 "!", strlen(SUN VS16 "!"), &col),
			  strlen(SUN VS16));
	ck_assert_uint_eq(col, 2);
	/* a ZWJ at the end of the text, a control after a character: not joined */
	col = 0;
	ck_assert_uint_eq(colwidth_step(MAN ZWJ, strlen(MAN ZWJ), &col), strlen(MAN ZWJ));
	col = 0;
	ck_assert_uint_eq(colwidth_step("a\tb", 3, &col), 1);
	/* a cut character: its bytes one at a time */
	col = 0;
	ck_assert_uint_eq(colwidth_step("\xe6\xbc", 2, &col), 1);
	ck_assert_uint_eq(col, 1);
	/* a tab from column 3 */
	col = 3;
	ck_assert_uint_eq(colwidth_step("\t", 1, &col), 1);
	ck_assert_uint_eq(col, 8);
}
END_TEST

START_TEST(test_cut_wide)
{
	const char *s = "ab" KAN JI;
	size_t len = strlen(s), used;
	ck_assert_uint_eq(colwidth_cut(s, len, 3, &used), 2); /* 漢 does not fit in 1 */
	ck_assert_uint_eq(used, 2);
	ck_assert_uint_eq(colwidth_cut(s, len, 4, &used), 5);
	ck_assert_uint_eq(used, 4);
	ck_assert_uint_eq(colwidth_cut(s, len, 5, &used), 5);
	ck_assert_uint_eq(colwidth_cut(s, len, 6, &used), len);
	ck_assert_uint_eq(colwidth_cut(s, len, 100, &used), len);
	ck_assert_uint_eq(used, 6);
	ck_assert_uint_eq(colwidth_cut(FAMILY, strlen(FAMILY), 5, &used), 0);
	ck_assert_uint_eq(colwidth_cut("e" ACUTE ACUTE "f", strlen("e" ACUTE ACUTE "f"), 1, NULL),
			  strlen("e" ACUTE ACUTE));
}
END_TEST

/* Every cut of mixed text at every width: a prefix that is valid UTF-8, fits, and loses no
 * column it could have kept but for a wide unit. */
START_TEST(test_cut_every_width)
{
	const char *s = "x" KAN "e" ACUTE GRIN "\t" FAMILY SUN VS16 JI "y" THUMB TONE "z";
	size_t len = strlen(s), total = colwidth_str(s, len);
	for (size_t cols = 0; cols <= total + 1; cols++) {
		size_t used, n = colwidth_cut(s, len, cols, &used);
		json_t *j = json_stringn(s, n);
		ck_assert_msg(j != NULL, "cut at %zu columns splits a character", cols);
		json_decref(j);
		ck_assert_uint_le(used, cols);
		ck_assert_uint_eq(used, colwidth_str(s, n));
		if (n < len) { /* what comes next did not fit */
			size_t col = used;
			colwidth_step(s + n, len - n, &col);
			ck_assert_uint_gt(col, cols);
		}
	}
}
END_TEST

Suite *colwidth_suite(void)
{
	Suite *s = suite_create("colwidth");
	TCase *t = tcase_create("widths");
	tcase_add_test(t, test_cp_widths);
	tcase_add_test(t, test_str_widths);
	suite_add_tcase(s, t);
	t = tcase_create("cuts");
	tcase_add_test(t, test_step_units);
	tcase_add_test(t, test_cut_wide);
	tcase_add_test(t, test_cut_every_width);
	suite_add_tcase(s, t);
	return s;
}
