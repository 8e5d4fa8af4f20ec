#ifndef DEVSUP_TTY_FILE_H
#define DEVSUP_TTY_FILE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/util.h"

/*
 * The terminal front end's project file (devsup.json): the projects a person starts together
 * with `up`, each with the start command's fields (docs/protocol.md) plus `dependsOn`:
 *
 *   {"projects": {"api": {"command": "npm run dev", "cwd": "api"},
 *                 "web": {"command": ["vite", "--port", "{port}"], "dependsOn": ["api"]}}}
 *
 * A plan is the file read and checked (unknown dependencies, cycles) and the progress of an
 * `up`: a project's start is sent once each of its dependencies runs; a dependency that fails
 * fails its dependents without starting them. No I/O but reading the file.
 */

typedef struct tty_plan tty_plan_t;

/* The plan of a project file's text; dir is the file's directory (a relative or missing cwd
 * is taken from there). NULL with err saying what is wrong (and where) otherwise. */
tty_plan_t *tty_plan_parse(const char *text, const char *dir, char *err, size_t errlen) WUR;
/* tty_plan_parse of the file at path (absolute). */
tty_plan_t *tty_plan_load(const char *path, char *err, size_t errlen) WUR;
void tty_plan_free(tty_plan_t *plan);

/* The project ids of the file, in its order. */
size_t tty_plan_count(const tty_plan_t *plan);
const char *tty_plan_id(const tty_plan_t *plan, size_t i);

/* Marks project id as running already (before the first step): it is not started again. */
void tty_plan_mark_running(tty_plan_t *plan, const char *id);
/* One step: appends to starts the start commands that may go now ({projectId, command...},
 * without an id; the caller gives each one and tells it with tty_plan_sent) and to failed one
 * message per project failed because a dependency did. */
void tty_plan_step(tty_plan_t *plan, json_t *starts, json_t *failed);
/* The start of project id went out with command id cid (copied). */
void tty_plan_sent(tty_plan_t *plan, const char *id, const char *cid);
/* The answer to start cid: running (ok) or failed. False when cid is not one of the plan's. */
bool tty_plan_answer(tty_plan_t *plan, const char *cid, bool ok);
/* Every project is running or failed: nothing more will be sent. */
bool tty_plan_done(const tty_plan_t *plan);

#endif
