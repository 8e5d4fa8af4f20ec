#ifndef DEVSUP_STORE_CONN_H
#define DEVSUP_STORE_CONN_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/util.h"

/*
 * How the Postgres writer reaches its server without blocking the loop: the connection
 * parameters (devsup's defaults under the URL's own settings) and host-name resolution on a
 * thread, handed to libpq as `hostaddr` so PQconnectStartParams never calls the resolver.
 */

#define CONN_MAX_PARAMS 48

typedef struct {
	size_t n;
	char *keys[CONN_MAX_PARAMS + 1]; /* NULL-terminated, as PQconnectStartParams wants */
	char *vals[CONN_MAX_PARAMS + 1];
} conn_params_t;

/* Builds params for url: devsup's defaults first, then every setting the URL gives (those win),
 * with `options` merged (ours, then the URL's, so a `-c` of the URL overrides ours). False with
 * a message in err when libpq cannot parse the URL. */
bool conn_params_build(conn_params_t *p, const char *url, char *err, size_t errlen) WUR;
/* The value of key, or NULL when unset. */
const char *conn_params_get(const conn_params_t *p, const char *key);
void conn_params_free(conn_params_t *p);

/* True when a connection with p would make libpq resolve a host name (a `host` entry that is
 * neither a socket directory nor a numeric address, with no `hostaddr`). */
bool conn_needs_resolution(const conn_params_t *p);

/* Called on the loop once the resolution is done: p now holds `hostaddr` (and `host`/`port`
 * expanded to one entry per address), or ok is false with a message naming the host. */
typedef void (*conn_resolved_cb)(bool ok, const char *err);

/* Resolves p's host names on a thread; done is called from the loop. Only one resolution runs
 * at a time: while one is running, another request adopts it (its result goes to the newest
 * params). False (errno) when no thread or pipe could be made. */
bool conn_resolve_start(struct ev_loop *loop, conn_params_t *p, conn_resolved_cb done) WUR;
/* The caller no longer waits (deadline, shutdown): a late result is discarded. */
void conn_resolve_cancel(void);
/* Stops the watcher; a thread still resolving is left to finish (its memory is its own). */
void conn_resolve_free(void);

#endif
