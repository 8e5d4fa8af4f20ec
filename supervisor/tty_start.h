#ifndef DEVSUP_TTY_START_H
#define DEVSUP_TTY_START_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/util.h"

/*
 * `start ID [options] -- CMD ARGS...` and `restart` as a person types them, turned into the
 * protocol's start-dev-server / restart-dev-server. Pure but for reading an --env-file.
 */

/* Adds the NAME=VALUE lines of an env file (# comments, blank lines, `export `, quoted
 * values) to env; false with err naming the file (and line) if it cannot be read, has a line
 * longer than 8 KiB or is not UTF-8. */
bool tty_read_env_file(const char *path, json_t *env, char *err, size_t errlen) WUR;

/* `start ID [flags] -- CMD ARGS...` (argv[0] is the command word) as a start-dev-server
 * command (new reference), or NULL with err; for `restart` (is_restart) the command and the
 * directory are optional overrides and the type is restart-dev-server. */
json_t *tty_build_start(int argc, char **argv, const char *cwd, bool is_restart, char *err,
			size_t errlen) WUR;

#endif
