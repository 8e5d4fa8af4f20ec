#ifndef DEVSUP_REAPER_HANDOVER_H
#define DEVSUP_REAPER_HANDOVER_H

#include <jansson.h>
#include <stdbool.h>

#include "reaper/reaper.h"

/*
 * Hand-over (SPEC §11, docs/control-channel.md "Hand-over"): the master detaches, this reaper
 * keeps its project and listens on a unix socket in the runner's adopt directory until a new
 * master of the same runner connects, or --adopt-timeout passes (then it tears down as if the
 * master had died).
 */

/* Protocol version of the control channel, carried in `hello`: a master adopts only reapers
 * that speak its own. */
#define HANDOVER_VERSION 1

/* The master's `detach`: listen, arm the timer, answer `detached` (or `detached` with an
 * `error`, and nothing armed). */
void handover_detach(reaper_t *r, const json_t *msg);
/* The master closed the channel: true if a hand-over is armed (the reaper waits for its
 * adopter instead of tearing down). */
bool handover_master_gone(reaper_t *r);
/* The new master confirmed the adoption (`adopt`): what happened while detached goes out. */
void handover_adopted(reaper_t *r);
/* A stop (or any teardown the master asks for) before the master left: no hand-over. */
void handover_disarm(reaper_t *r);
/* While detached (no master, or an adopter that has not confirmed): msg (stolen) is queued
 * for the adopter and true is returned; else false and msg is untouched. */
bool handover_queue(reaper_t *r, json_t *msg);
void handover_free(reaper_t *r);

#endif
