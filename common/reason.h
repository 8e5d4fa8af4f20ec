#ifndef DEVSUP_REASON_H
#define DEVSUP_REASON_H

/* Failure reasons of SPEC §3: `reason` of `error` events, `failure_reason` in the database. */
typedef enum {
	REASON_NONE,
	REASON_PORT_IN_USE,
	REASON_COMMAND_NOT_FOUND,
	REASON_DIRECTORY_MISSING,
	REASON_PERMISSION_DENIED,
	REASON_IMMEDIATE_CRASH,
	REASON_CRASHED,
	REASON_HEALTH_CHECK_TIMEOUT,
	REASON_HEALTH_CHECK_FAILED,
	REASON_UNKNOWN,
	REASON_KILLED,
	REASON_TUNNEL_FAILED,
	REASON_CANCELLED,
	REASON_REAPER_LOST,
	REASON_RUNNER_RESTART,
	REASON_ALREADY_RUNNING,
	REASON_NOT_RUNNING,
	REASON_INVALID_JSON,
	REASON_INVALID_COMMAND,
	REASON_UNKNOWN_COMMAND,
	REASON_LINE_TOO_LONG,
	REASON_CAPACITY,
	REASON_RUNNER_ID_IN_USE,
	REASON_SHUTTING_DOWN,
	REASON_OWNED_BY_OTHER_RUNNER,
	REASON_RUNNER_LOST,
	REASON_MEMORY_LIMIT,
	REASON_COUNT,
} reason_t;

/* The wire name ("port_in_use", ...); "" for REASON_NONE. */
const char *reason_name(reason_t r);
/* The reason for a wire name, or -1. */
int reason_parse(const char *name);
/* A generic suggestion a person can act on, for when the caller has nothing more specific. */
const char *reason_suggestion(reason_t r);

#endif
