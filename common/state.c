#include "common/state.h"

#include <string.h>

static const char *const state_names[STATE_COUNT] = {
	[STATE_IDLE] = "idle",         [STATE_STARTING] = "starting", [STATE_RUNNING] = "running",
	[STATE_STOPPING] = "stopping", [STATE_STOPPED] = "stopped",   [STATE_FAILED] = "failed",
};

/* [from][to]: the only transitions SPEC §2 allows. Anything else is a bug. */
static const bool state_table[STATE_COUNT][STATE_COUNT] = {
	[STATE_IDLE] = {[STATE_STARTING] = true},
	[STATE_STOPPED] = {[STATE_STARTING] = true},
	[STATE_FAILED] = {[STATE_STARTING] = true},
	[STATE_STARTING] = {[STATE_RUNNING] = true, [STATE_FAILED] = true, [STATE_STOPPING] = true},
	[STATE_RUNNING] = {[STATE_STOPPING] = true, [STATE_FAILED] = true},
	[STATE_STOPPING] = {[STATE_STOPPED] = true},
};

const char *state_name(state_t s)
{
	return (unsigned)s < STATE_COUNT ? state_names[s] : "invalid";
}

int state_parse(const char *name)
{
	for (int i = 0; i < STATE_COUNT; i++)
		if (strcmp(name, state_names[i]) == 0)
			return i;
	return -1;
}

bool state_can_transition(state_t from, state_t to)
{
	if ((unsigned)from >= STATE_COUNT || (unsigned)to >= STATE_COUNT)
		return false;
	return state_table[from][to];
}

bool state_is_live(state_t s)
{
	return s == STATE_STARTING || s == STATE_RUNNING || s == STATE_STOPPING;
}
