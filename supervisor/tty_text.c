/* Text for the terminal: a string builder with colours, widths, folding and ellipses. */
#include "supervisor/tty_text.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/colwidth.h"
#include "common/utf8.h"
#include "common/util.h"

void sb_printf(sb_t *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n <= 0)
		return;
	if (b->len + (size_t)n + 1 > b->cap) {
		b->cap = (b->len + (size_t)n + 1) * 2;
		b->s = xrealloc(b->s, b->cap);
	}
	va_start(ap, fmt);
	vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void sb_puts(sb_t *b, const char *s)
{
	sb_printf(b, "%s", s);
}

void sb_paint(sb_t *b, const char *sgr, const char *text, int width)
{
	if (b->color && sgr)
		sb_printf(b, "\033[%sm%s\033[0m", sgr, text);
	else
		sb_puts(b, text);
	for (int pad = width - (int)tty_text_width(text, strlen(text)); pad > 0; pad--)
		sb_puts(b, " ");
}

/* The length of the CSI sequence (a colour) at s, or 0 if none starts there. */
static size_t csi_len(const char *s, size_t len)
{
	size_t i = 2;
	if (len < 2 || s[0] != '\033' || s[1] != '[')
		return 0;
	while (i < len && !(s[i] >= 0x40 && s[i] <= 0x7e))
		i++;
	return i < len ? i + 1 : len;
}

size_t tty_text_width(const char *s, size_t len)
{
	size_t col = 0;
	for (size_t i = 0; i < len;) {
		size_t esc = csi_len(s + i, len - i);
		i += esc ? esc : colwidth_step(s + i, len - i, &col);
	}
	return col;
}

const char *tty_state_color(const char *state)
{
	if (!state)
		return NULL;
	if (strcmp(state, "running") == 0)
		return C_GREEN;
	if (strcmp(state, "failed") == 0)
		return C_RED;
	if (strcmp(state, "starting") == 0 || strcmp(state, "stopping") == 0)
		return C_YELLOW;
	return C_DIM;
}


/* Where a folded line's continuation starts: under the text of an event line (after the
 * clock and the project), under the text of an indented line. */
static size_t hang_indent(const char *line, size_t len, int cols)
{
	char plain[10]; /* the first bytes of the text without its colours: is it a clock? */
	size_t pn = 0, col = 0, words = 0, indent = 0;
	bool in_word = false;
	for (size_t i = 0; i < len && pn < sizeof(plain) - 1;) {
		size_t esc = csi_len(line + i, len - i);
		if (!esc)
			plain[pn++] = line[i];
		i += esc ? esc : 1;
	}
	plain[pn] = '\0';
	bool clock = pn >= 9 && plain[2] == ':' && plain[5] == ':' && plain[8] == ' ';
	for (size_t i = 0; i < len;) {
		size_t esc = csi_len(line + i, len - i);
		if (esc) {
			i += esc;
			continue;
		}
		size_t at = col, n = colwidth_step(line + i, len - i, &col);
		bool sp = line[i] == ' ';
		if (!sp && !in_word && (++words == 3 || !clock)) {
			indent = at;
			/* a marker ("│ " of output lines, "→ " of suggestions: one character that
			 * is not ASCII, then a blank) belongs to the margin: continue under the
			 * text after it */
			if ((unsigned char)line[i] >= 0x80 && i + n < len && line[i + n] == ' ')
				indent = col + 1;
			break;
		}
		in_word = !sp;
		i += n;
	}
	return indent > (size_t)cols / 2 ? (size_t)cols / 2 : indent;
}

/* Whether s starts with punctuation no row may begin with (、。」 and the like: Japanese and
 * Chinese line breaking keep it after the character before it). */
static bool closes(const char *s, size_t len)
{
	static const char *const marks[] = {"、", "。", "，", "．", "：", "；", "！", "？",
					    "」", "』", "）", "】", "〕", "〉", "》", "ー", "…"};
	for (size_t i = 0; i < sizeof(marks) / sizeof(marks[0]); i++)
		if (len >= strlen(marks[i]) && memcmp(s, marks[i], strlen(marks[i])) == 0)
			return true;
	return false;
}

/* line (longer than cols) as rows of at most cols columns, broken at a blank or after a wide
 * character where there is one, never inside a character; the rows after the first under a
 * hanging indent. */
static void fold_line(sb_t *b, const char *line, size_t len, int cols)
{
	size_t indent = hang_indent(line, len, cols), pos = 0;
	bool first = true;
	while (pos < len) {
		size_t avail = first ? (size_t)cols : (size_t)cols - indent, col = 0, i = pos,
		       brk = 0, unit = 0;
		bool full = false;
		while (i < len) {
			size_t esc = csi_len(line + i, len - i), next = col;
			if (esc) {
				i += esc;
				continue;
			}
			size_t n = colwidth_step(line + i, len - i, &next);
			/* a wide character at the edge goes whole to the next row */
			if (next > avail) {
				full = true;
				unit = n;
				break;
			}
			if (line[i] == ' ' && col > 0)
				brk = i;
			else if (next - col == 2 && !closes(line + i + n, len - i - n))
				brk = i + n; /* CJK text breaks between any two ideographs */
			col = next;
			i += n;
		}
		if (!first)
			sb_printf(b, "%*s", (int)indent, "");
		if (!full) {
			sb_printf(b, "%.*s", (int)(len - pos), line + pos);
			break;
		}
		/* no room for even one unit (a ZWJ sequence wider than the row): it goes alone */
		size_t end = brk > pos ? brk : i > pos ? i : i + unit;
		sb_printf(b, "%.*s\n", (int)(end - pos), line + pos);
		pos = end;
		while (pos < len && line[pos] == ' ')
			pos++;
		first = false;
	}
}

char *tty_fit(const char *text, int cols)
{
	sb_t b = {0};
	const char *p = text;
	/* a fold needs room for some text after the hanging indent */
	if (cols < 20)
		return xstrdup(text);
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		if ((int)tty_text_width(p, len) <= cols)
			sb_printf(&b, "%.*s", (int)len, p);
		else
			fold_line(&b, p, len, cols);
		if (!nl)
			break;
		sb_puts(&b, "\n");
		p = nl + 1;
	}
	return b.s ? b.s : xstrdup("");
}

char *tty_ellipsize(const char *cell, int width)
{
	size_t len = strlen(cell), used;
	if ((int)tty_text_width(cell, len) <= width || width < 1)
		return xstrdup(cell);
	/* what fits before the ellipsis; a wide character that would straddle it stays out
	 * whole (the cell is then a column short: its padding fills it) */
	size_t n = colwidth_cut(cell, len, (size_t)width - 1, &used);
	char *s = xmalloc(n + 4);
	memcpy(s, cell, n);
	memcpy(s + n, "…", 4);
	return s;
}

char *tty_expand_tabs(const char *text)
{
	sb_t b = {0};
	size_t col = 0, len = strlen(text);
	for (size_t i = 0; i < len;) {
		size_t at = col, n = colwidth_step(text + i, len - i, &col);
		if (text[i] == '\t')
			sb_printf(&b, "%*s", (int)(col - at), "");
		else
			sb_printf(&b, "%.*s", (int)n, text + i);
		i += n;
	}
	return b.s ? b.s : xstrdup("");
}

/* Columns libedit gives the character cp at column h of a row: its own width (colwidth's
 * table is this glibc's wcwidth, libedit's measure), a tab to the next stop, a control key
 * as ^X. */
static size_t edit_width(uint32_t cp, size_t h)
{
	if (cp == '\t')
		return 8 - h % 8;
	if (cp < 0x20 || cp == 0x7f)
		return 2;
	return (size_t)colwidth_cp(cp);
}

size_t tty_edit_rows(const char *prompt, const char *line, size_t point, int cols)
{
	const char *parts[2] = {prompt, line};
	size_t lens[2] = {strlen(prompt), point}, h = 0, rows = 0;
	if (cols <= 0)
		return 0;
	for (int k = 0; k < 2; k++) {
		for (size_t i = 0, n; i < lens[k]; i += n) {
			uint32_t cp;
			n = utf8_decode((const unsigned char *)parts[k] + i, lens[k] - i, &cp);
			if (n == 0) { /* not from libedit, which only holds whole characters */
				n = 1;
				cp = 0xfffd;
			}
			size_t w = edit_width(cp, h);
			if (h + w > (size_t)cols) { /* does not fit: blanks, then the next row */
				rows++;
				h = 0;
			}
			h += w;
			if (h >= (size_t)cols) { /* a full row: libedit moves on to the next */
				rows++;
				h = 0;
			}
		}
	}
	return rows;
}
