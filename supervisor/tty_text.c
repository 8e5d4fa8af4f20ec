/* Text for the terminal: a string builder with colours, widths, folding and ellipses. */
#include "supervisor/tty_text.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

size_t tty_text_width(const char *s, size_t len)
{
	size_t w = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\033' && i + 1 < len && s[i + 1] == '[') {
			/* a CSI sequence (colours): no width, up to its final byte */
			for (i += 2; i < len && !(s[i] >= 0x40 && s[i] <= 0x7e); i++)
				;
			continue;
		}
		/* one column per character: every byte but UTF-8 continuation bytes */
		w += ((unsigned char)s[i] & 0xc0) != 0x80;
	}
	return w;
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
	size_t col = 0, i = 0, words = 0;
	bool clock = false, in_word = false;
	/* the plain text's first columns decide: skip colours */
	char plain[64];
	size_t pn = 0;
	for (; i < len && pn < sizeof(plain) - 1; i++) {
		if (line[i] == '\033') {
			while (i < len && !(line[i] >= 0x40 && line[i] <= 0x7e && line[i] != '['))
				i++;
			continue;
		}
		if (((unsigned char)line[i] & 0xc0) == 0x80)
			continue;
		plain[pn++] = line[i];
	}
	plain[pn] = '\0';
	clock = pn >= 9 && plain[2] == ':' && plain[5] == ':' && plain[8] == ' ';
	for (i = 0; i < pn; i++) {
		bool sp = plain[i] == ' ';
		if (!sp && !in_word) {
			words++;
			if (!clock || words == 3)
				break;
		}
		in_word = !sp;
	}
	col = i < pn ? i : 0;
	/* a marker ("│ " of output lines, "→ " of suggestions; one multibyte character, its
	 * lead byte here) belongs to the margin: continue under the text after it */
	if (i + 1 < pn && (unsigned char)plain[i] >= 0xc0 && plain[i + 1] == ' ')
		col += 2;
	return col > (size_t)cols / 2 ? (size_t)cols / 2 : col;
}

static void fold_line(sb_t *b, const char *line, size_t len, int cols)
{
	size_t indent = hang_indent(line, len, cols), pos = 0;
	bool first = true;
	while (pos < len) {
		size_t avail = first ? (size_t)cols : (size_t)cols - indent, col = 0, i = pos,
		       brk = 0;
		bool full = false;
		while (i < len) {
			if (line[i] == '\033' && i + 1 < len && line[i + 1] == '[') {
				for (i += 2; i < len && !(line[i] >= 0x40 && line[i] <= 0x7e); i++)
					;
				i++;
				continue;
			}
			if (((unsigned char)line[i] & 0xc0) != 0x80) {
				if (col == avail) {
					full = true;
					break;
				}
				col++;
				if (line[i] == ' ' && col > 1)
					brk = i;
			}
			i++;
		}
		if (!first)
			sb_printf(b, "%*s", (int)indent, "");
		if (!full) {
			sb_printf(b, "%.*s", (int)(len - pos), line + pos);
			break;
		}
		size_t end = brk > pos ? brk : i;
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

/* cell cut to width columns, its last one an ellipsis (malloc'd). */
char *tty_ellipsize(const char *cell, int width)
{
	size_t len = strlen(cell);
	if ((int)tty_text_width(cell, len) <= width || width < 1)
		return xstrdup(cell);
	size_t i = 0;
	for (int w = 0; i < len; i++) {
		if (((unsigned char)cell[i] & 0xc0) != 0x80 && ++w == width)
			break;
	}
	char *s = xmalloc(i + 4);
	memcpy(s, cell, i);
	memcpy(s + i, "…", 4);
	return s;
}
