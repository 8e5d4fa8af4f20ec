#ifndef DEVSUP_TTY_COMMANDS_H
#define DEVSUP_TTY_COMMANDS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/util.h"

/*
 * The terminal front end's command language: a line typed by a person (`start web --port 3000
 * -- npm run dev`) turned into the protocol commands the engine runs, plus help, typo
 * suggestions and completion candidates. Pure: no I/O, so the unit tests can pin it down.
 */

typedef enum {
	TTY_ACT_NONE,  /* an empty line */
	TTY_ACT_SEND,  /* hand `cmds` to the engine */
	TTY_ACT_PRINT, /* show `text` (help, or what is wrong with the line when `error`) */
	TTY_ACT_QUIT,  /* stop every project and exit, as Ctrl-D */
} tty_act_t;

typedef struct {
	tty_act_t kind;
	json_t *cmds; /* SEND: an array of protocol commands, without ids, sent in order */
	bool raw;     /* SEND: typed as `json {...}`: its answers are shown as JSON */
	char *text;   /* PRINT: lines ending in '\n' */
	bool error;   /* PRINT: text says why the line was refused */
} tty_action_t;

/* Parses one typed line; cwd is the default project directory of `start`. Fills out (free it
 * with tty_action_free). */
void tty_parse_line(const char *line, const char *cwd, tty_action_t *out);
void tty_action_free(tty_action_t *a);

/* Splits a line as a shell would, without expansions: blanks separate words, '...' is literal,
 * "..." keeps blanks and understands \" \\ \$ \`, a backslash outside quotes escapes the next
 * character. Returns the number of words and a NULL-terminated array (tty_argv_free), or -1
 * with err saying what is wrong (an unterminated quote). */
int tty_split(const char *line, char ***argv, char *err, size_t errlen) WUR;
void tty_argv_free(char **argv);

/* `start ID [flags] -- CMD ARGS...` (argv[0] is the command word) as a start-dev-server
 * command (new reference), or NULL with err; for `restart` (is_restart) the command and the
 * directory are optional overrides and the type is restart-dev-server. */
json_t *tty_build_start(int argc, char **argv, const char *cwd, bool is_restart, char *err,
			size_t errlen) WUR;

/* Edit distance (insertions, deletions, substitutions); strings past 63 bytes count as far. */
size_t tty_distance(const char *a, const char *b);
/* The command name nearest to word within 2 edits, or NULL. */
const char *tty_suggest(const char *word);

/* Help: every command (topic NULL) or one; NULL for an unknown topic. Static text. */
const char *tty_help(const char *topic);

/* Completion of the word `word` typed after `before` (the line up to the word): fills out with
 * up to max candidates (static strings or entries of ids, not copied) and returns how many, or
 * -1 when file names are the right completion (a directory, the command's own arguments). */
int tty_complete_words(const char *before, const char *word, const char *const *ids,
		       size_t nids, const char **out, size_t max);

#endif
