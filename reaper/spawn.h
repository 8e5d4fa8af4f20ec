#ifndef DEVSUP_SPAWN_H
#define DEVSUP_SPAWN_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/util.h"
#include "reaper/failure.h"

/* What to exec, worked out before the fork so errors can be exact. */
typedef struct {
	char **argv;  /* NULL-terminated, {port} already substituted */
	char *path;   /* the resolved executable */
	char **envp;  /* NULL-terminated */
	bool shell;   /* argv is /bin/sh -c STRING */
	char *display; /* the command as a person would write it, for messages */
	bool listen_trap; /* install the listen trap in the child (reaper/listen_trap.h) */
	int cgroup_fd; /* cgroup.procs of the project's group, joined before exec; <= 0: none */
} spawn_plan_t;

/*
 * Pre-flight of SPEC §4.2 and building the plan: cwd exists and is a directory, the
 * executable resolves on PATH and is executable. `command` is an array of strings or a string
 * (run by /bin/sh -c). The environment is the reaper's without DATABASE_URL, PG* and DEVSUP_*,
 * narrowed by ids->inherit_env; then `env` (object of strings, may be NULL) is added with PORT,
 * DEVSUP_PROJECT_ID, DEVSUP_RUNNER_ID and DEVSUP_STOP_TIMEOUT_MS. On failure fills *f and
 * returns false.
 */
typedef struct {
	const char *project_id;
	const char *runner_id;
	uint64_t stop_timeout_ms;
	/* the start's inheritEnv as the master resolved it: NULL or true, false, or an array of
	 * names (common/envfilter.h) */
	const json_t *inherit_env;
	int cgroup_fd; /* see spawn_plan_t; 0 when the project has no cgroup */
} spawn_ids_t;

bool spawn_prepare(const json_t *command, const char *cwd, int port, const json_t *env,
		   const spawn_ids_t *ids, spawn_plan_t *plan, failure_t *f) WUR;
void spawn_plan_free(spawn_plan_t *plan);

/*
 * Forks and execs the plan in a new process group (pgid = pid), in cwd, with stdin /dev/null
 * and stdout/stderr on out_fd/err_fd. *exec_fd receives a close-on-exec SOCK_SEQPACKET socket:
 * EOF means exec succeeded; each message is a spawn_error_t: SPAWN_STAGE_TRAP first when the
 * plan asked for the listen trap (err 0 with its fd attached, or why it could not be
 * installed), then an exec error if any. Read it with spawn_read_report. Returns the pid or -1.
 */
pid_t spawn_start(const spawn_plan_t *plan, const char *cwd, int out_fd, int err_fd,
		  int *exec_fd) WUR;

/* What the child writes to the exec pipe when it cannot exec. */
typedef struct {
	int stage; /* SPAWN_STAGE_* */
	int err;   /* errno */
} spawn_error_t;

enum { SPAWN_STAGE_CHDIR = 1, SPAWN_STAGE_STDIO, SPAWN_STAGE_EXEC, SPAWN_STAGE_TRAP,
       SPAWN_STAGE_CGROUP };

/* Reads one report from the exec channel: returns its size (sizeof(*e) for a report, 0 at
 * EOF) or -1 with errno (EAGAIN: not yet). *passed_fd gets an fd that came with it, else -1. */
ssize_t spawn_read_report(int exec_fd, spawn_error_t *e, int *passed_fd) WUR;

/* Turns a child's report into the failure of SPEC §3. */
void spawn_classify_error(const spawn_plan_t *plan, const char *cwd, const spawn_error_t *e,
			  failure_t *f);
/* A shell command that exited 127/126 means command_not_found/permission_denied. */
bool spawn_classify_shell_exit(const spawn_plan_t *plan, int status, failure_t *f);

#endif
