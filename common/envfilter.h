#ifndef DEVSUP_ENVFILTER_H
#define DEVSUP_ENVFILTER_H

#include <jansson.h>
#include <stdbool.h>

#include "common/util.h"

/*
 * What of devsup's environment reaches project code (SPEC §1). Entries are "KEY=VALUE"
 * strings (a bare "KEY" is accepted too).
 *
 * Never inherited: DATABASE_URL and every libpq variable (PG followed by an upper-case letter:
 * PGHOST, PGPASSWORD, PGSSLMODE, ... including ones libpq adds later), which belong to devsup
 * and its client; and devsup's own DEVSUP_* settings, except the markers devsup itself sets for
 * each spawn. A start's `env` may still set any of them on purpose.
 */

/* DATABASE_URL or a libpq PG* variable: kept from reapers and from project code. */
bool envfilter_is_secret(const char *entry);
/* A DEVSUP_* setting of devsup itself. */
bool envfilter_is_devsup(const char *entry);
/* One of PATH, HOME, USER, LOGNAME, SHELL, LANG, LC_*, TERM, TZ, TMPDIR: what
 * `inheritEnv: false` keeps. */
bool envfilter_is_basic(const char *entry);
/* True when a variable name is usable in `inheritEnv` / --env-allow: [A-Za-z_][A-Za-z0-9_]*,
 * optionally ending in one '*' (a prefix: "LC_*"). */
bool envfilter_name_valid(const char *name);
/* The array of names of a comma-separated list ("FOO,BAR,LC_*"; "" is the empty list), or
 * NULL with err naming the bad name. */
json_t *envfilter_parse_list(const char *list, char *err, size_t n) WUR;
/* Whether the policy `inherit` keeps entry (secrets and DEVSUP_* aside): NULL or true: all;
 * false: the basic set; an array of names (a trailing '*' matches a prefix): those only. */
bool envfilter_keeps(const json_t *inherit, const char *entry);
/* A malloc'd NULL-terminated copy of env without its secret entries (the strings are shared
 * with env: free only the array). */
char **envfilter_without_secrets(char *const *env) WUR;

#endif
