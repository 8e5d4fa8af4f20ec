#ifndef DEVSUP_TTY_TEXT_H
#define DEVSUP_TTY_TEXT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/*
 * Text for the terminal front end: a string builder that paints with ANSI colours only when
 * asked, and the measures of a line on screen (columns, folding, ellipses). Pure.
 */

/* SGR codes */
#define C_DIM "2"
#define C_BOLD "1"
#define C_RED "31"
#define C_GREEN "32"
#define C_YELLOW "33"
#define C_MAGENTA "35"
#define C_CYAN "36"
#define C_BOLD_RED "1;31"

typedef struct {
	char *s; /* NULL until something is added; the caller frees it */
	size_t len, cap;
	bool color;
} sb_t;

void sb_printf(sb_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_puts(sb_t *b, const char *s);
/* text in colour `sgr` when colours are on; `width` pads it with blanks (0: none) outside
 * the escape codes, so columns line up either way. */
void sb_paint(sb_t *b, const char *sgr, const char *text, int width);

/* A string field of a JSON object, or NULL. */
static inline const char *json_str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* The colour of a state: running green, failed red, starting/stopping yellow, others dim. */
const char *tty_state_color(const char *state);
/* Columns text takes on a terminal: colour sequences none, the rest as colwidth counts it
 * (CJK and emoji 2, combining marks 0, tabs to the next multiple of 8). */
size_t tty_text_width(const char *s, size_t len);
/* text with each line longer than cols folded at a blank, under a hanging indent (the text
 * column of an event line), never inside a character; colours pass through. cols < 20: text
 * as it is. */
char *tty_fit(const char *text, int cols);
/* cell (no colours) cut to at most width columns, the last an ellipsis, never inside a
 * character (malloc'd). */
char *tty_ellipsize(const char *cell, int width);
/* text (one line of a dev server's output) with its tabs as blanks to the next multiple of
 * 8 columns: the width of a tab is then the same wherever the line is shown (malloc'd). */
char *tty_expand_tabs(const char *text);
/* The row, counted from the prompt's, that libedit's cursor is on with prompt and line drawn
 * in cols columns and the cursor at byte point of line: wide characters that do not fit a
 * row's end go to the next, a row filled to its last column moves the cursor down. */
size_t tty_edit_rows(const char *prompt, const char *line, size_t point, int cols);

#endif
