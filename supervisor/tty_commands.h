#ifndef DEVSUP_TTY_COMMANDS_H
#define DEVSUP_TTY_COMMANDS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/util.h"
#include "supervisor/tty_start.h"
#include "supervisor/tty_words.h"

/*
 * The terminal front end's command language: a line typed by a person (`start web --port 3000
 * -- npm run dev`) turned into the protocol commands the engine runs, plus help, typo
 * suggestions and completion candidates (start's options: tty_start.c). Pure but for reading
 * an --env-file, so the unit tests can pin it down.
 */

typedef enum {
	TTY_ACT_NONE,  /* an empty line */
	TTY_ACT_SEND,  /* hand `cmds` to the engine */
	TTY_ACT_PRINT, /* show `text` (help, or what is wrong with the line when `error`) */
	TTY_ACT_QUIT,  /* stop every project and exit, as Ctrl-D (`force`: without asking) */
	TTY_ACT_MUTE,  /* hide the `log` events of `ids` */
	TTY_ACT_UNMUTE,
	TTY_ACT_UP,   /* start the projects of the project file `file` */
	TTY_ACT_DOWN, /* stop them */
	TTY_ACT_TOP,  /* open the live view of CPU and memory (tty_top.c) */
} tty_act_t;

typedef struct {
	tty_act_t kind;
	json_t *cmds; /* SEND: an array of protocol commands, without ids, sent in order */
	bool raw;     /* SEND: typed as `json {...}`: its answers are shown as JSON */
	char *text;   /* PRINT: lines ending in '\n' */
	bool error;   /* PRINT: text says why the line was refused */
	bool merge;   /* SEND: several `logs` answers, shown merged by time */
	bool force;   /* QUIT: `quit!` */
	json_t *ids;  /* MUTE/UNMUTE: project ids */
	char *file;   /* UP/DOWN: the project file, absolute */
} tty_action_t;

/* What a line is read against: the directory, and the projects devsup knows (ids NULL: no
 * check, ids taken as typed; live[i]: ids[i] is starting, running or stopping). */
typedef struct {
	const char *cwd;
	const char *const *ids;
	const bool *live;
	size_t nids;
} tty_ctx_t;

/* Parses one typed line: `all` stands for every known (stop: live) project, an unknown id is
 * refused with a suggestion. Fills out (free it with tty_action_free). */
void tty_parse(const char *line, const tty_ctx_t *ctx, tty_action_t *out);
/* tty_parse without a registry: cwd is the default project directory of `start`. */
void tty_parse_line(const char *line, const char *cwd, tty_action_t *out);
/* "no project 'webb' — did you mean 'web'?" (or the list of projects) into err. */
void tty_no_project(const char *id, const char *const *ids, size_t nids, char *err,
		    size_t errlen);
/* False when line holds a control character (a key the editor passed through as text). */
bool tty_line_is_clean(const char *line);
void tty_action_free(tty_action_t *a);

/* Completion of the word `word` typed after `before` (the line up to the word): fills out with
 * up to max candidates (static strings or entries of ids, not copied) and returns how many, or
 * -1 when file names are the right completion (a directory, the command's own arguments). */
int tty_complete_words(const char *before, const char *word, const char *const *ids,
		       size_t nids, const char **out, size_t max);

#endif
