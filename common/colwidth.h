#ifndef DEVSUP_COLWIDTH_H
#define DEVSUP_COLWIDTH_H

#include <stddef.h>
#include <stdint.h>

/*
 * Columns text takes on a terminal, without the C library's locale: devsup may run under
 * LANG=C, where wcwidth() knows no CJK, yet the terminal shows UTF-8. The table is glibc
 * 2.36's wcwidth under C.UTF-8 (Unicode 14): 2 for East Asian Wide/Fullwidth characters and
 * emoji, 0 for combining marks and format characters (ZWJ, variation selectors), 1 for the
 * rest. Pure.
 */

/* Columns of one code point: 0, 1 or 2 (C0/C1 controls 0: they draw nothing). */
int colwidth_cp(uint32_t cp);

/* The unit of text at s[0] (len > 0) that must not be cut: a character with what joins it
 * (combining marks, variation selectors, a ZWJ and the emoji after it, skin-tone modifiers),
 * or one invalid byte (drawn as one U+FFFD). Returns its length in bytes, at least 1; *col
 * goes from the column the unit starts at to the one after it: a tab to the next multiple
 * of 8, a character by the sum of its code points (what a terminal drawing them one by one
 * shows), at least 2 for one that VS16 asks to draw as an emoji (what other terminals show),
 * so text measured here never takes more room than counted. */
size_t colwidth_step(const char *s, size_t len, size_t *col);

/* Columns of s[0..len) from column 0, as colwidth_step counts them. */
size_t colwidth_str(const char *s, size_t len);

/* The longest prefix of s[0..len) that fits in cols columns from column 0, never cutting a
 * unit of colwidth_step (a wide character that does not fit is left out whole). Returns its
 * length in bytes; *used (if not NULL) gets the columns it takes. */
size_t colwidth_cut(const char *s, size_t len, size_t cols, size_t *used);

#endif
