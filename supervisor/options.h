#ifndef DEVSUP_OPTIONS_H
#define DEVSUP_OPTIONS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/log.h"

#define OPTIONS_MAX_TUNNEL_BINS 8

/* The command line of SPEC §8. */
typedef struct {
	const char *db_url; /* --db, else DATABASE_URL, else NULL (persistence disabled) */
	size_t db_queue_max; /* --db-queue-max: transitions kept while Postgres is away */
	char runner_id[129];
	int port_lo;
	int port_hi;
	unsigned max_projects;
	size_t max_line;
	char reaper_path[4096];
	struct {
		const char *provider;
		const char *path;
	} tunnel_bins[OPTIONS_MAX_TUNNEL_BINS];
	unsigned n_tunnel_bins;
	const char *tunnel_default;
	int tty; /* -1: decide by isatty(0); 0: --no-tty; 1: --tty */
	log_level_t log_level;
	bool log_level_set; /* --log-level given: the front end keeps it, else it shows warnings only */
	bool migrate;
	const char *state_dir; /* --state-dir, else NULL: runner_lock.c picks the default */
	json_t *env_allow; /* --env-allow: the default inheritEnv (an array of names), else NULL */
	bool no_listen_trap; /* --no-listen-trap: readiness by polling only (SPEC §4.4) */
	uint64_t adopt_timeout_ms; /* --adopt-timeout: how long detached reapers wait (§11) */
	bool no_cgroup; /* --no-cgroup: containment by /proc walks only (SPEC §9) */
} options_t;

typedef enum {
	OPTIONS_OK,
	OPTIONS_EXIT_OK,  /* --help or --version was printed */
	OPTIONS_BAD,      /* message printed on stderr: exit 2 */
} options_result_t;

options_result_t options_parse(int argc, char **argv, options_t *o);
/* Frees what options_parse allocated. */
void options_free(options_t *o);

#endif
