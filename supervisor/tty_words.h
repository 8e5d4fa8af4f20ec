#ifndef DEVSUP_TTY_WORDS_H
#define DEVSUP_TTY_WORDS_H

#include <stddef.h>

#include "common/util.h"

/*
 * The words of the terminal front end's command language: a typed line split as a shell
 * would, the command names with their help, and suggestions for a mistyped word. Pure.
 */

/* Splits a line as a shell would, without expansions: blanks separate words, '...' is literal,
 * "..." keeps blanks and understands \" \\ \$ \`, a backslash outside quotes escapes the next
 * character. Returns the number of words and a NULL-terminated array (tty_argv_free), or -1
 * with err saying what is wrong (an unterminated quote). */
int tty_split(const char *line, char ***argv, char *err, size_t errlen) WUR;
void tty_argv_free(char **argv);

/* Edit distance (insertions, deletions, substitutions, swaps of neighbours); strings past 63
 * bytes count as far. */
size_t tty_distance(const char *a, const char *b);
/* The name of names that word most likely meant: the shortest one it begins, else the nearest
 * within 2 edits (1 for words of up to 3 letters), or NULL. */
const char *tty_suggest_among(const char *word, const char *const *names, size_t n);
/* The command name word most likely meant, or NULL. */
const char *tty_suggest(const char *word);

/* Help: every command (topic NULL) or one; NULL for an unknown topic. Static text. */
const char *tty_help(const char *topic);

/* The command names, in the order help lists them; *n says how many. */
const char *const *tty_command_names(size_t *n);

#endif
