#ifndef DEVSUP_TUNNEL_CONFIG_H
#define DEVSUP_TUNNEL_CONFIG_H

#include <jansson.h>
#include <stddef.h>

#include "supervisor/options.h"

/* The providers of SPEC §6 and --tunnel-bin/--tunnel-default. */
void tunnel_config_init(const options_t *opts);
/*
 * Resolves a start's `tunnel` field into what the reaper runs: {provider, argv (template with
 * {port}/{url}), pattern (POSIX ERE), require (substring a line must hold, or absent), fatal
 * (ERE of errors not worth retrying, or absent), timeoutMs, retries}. *out is NULL for no
 * tunnel. False with err naming the field for a bad one.
 */
bool tunnel_config_resolve(const json_t *tunnel, json_t **out, char *err, size_t errlen);

/* The built-in provider's URL pattern, line filter and fatal pattern (for tests). */
bool tunnel_config_provider(const char *name, const char **pattern, const char **require,
			    const char **fatal);

#endif
