#ifndef DEVSUP_STATE_H
#define DEVSUP_STATE_H

#include <stdbool.h>

/* The project state machine of SPEC §2. */
typedef enum {
	STATE_IDLE,
	STATE_STARTING,
	STATE_RUNNING,
	STATE_STOPPING,
	STATE_STOPPED,
	STATE_FAILED,
	STATE_COUNT,
} state_t;

/* The wire name ("idle", "starting", ...). */
const char *state_name(state_t s);
/* The state for a wire name, or -1. */
int state_parse(const char *name);
/* True when SPEC §2 allows from -> to; every transition goes through this. */
bool state_can_transition(state_t from, state_t to);
/* True for starting, running and stopping: a reaper exists and owns processes. */
bool state_is_live(state_t s);

#endif
