#ifndef DEVSUP_OWNER_H
#define DEVSUP_OWNER_H

#include "supervisor/store_claim.h"

/*
 * One live run per project across a fleet, after the fact (SPEC §10, docs/architecture.md
 * "A fleet"): when the database refuses a write of this runner because another alive runner's
 * run of the project was recorded first, this runner's run is the one recorded second, and it
 * is stopped (owned_by_other_runner). The start-time check is in project.c (start_owner_ok).
 */

/* How far above the project's highest recorded seq the loser numbers what its run still
 * writes: room for the holder's own next transitions below it, so that neither run's history
 * row ever takes the other's seq. */
#define OWNER_SEQ_GAP 1000

/* runner_id: this runner's (for messages); must outlive the module. */
void owner_init(const char *runner_id);
/* The store's verdict (on_lost): stops the run if it is still the one the refused write was
 * about, and still starting or running. */
void owner_lost(const store_lost_t *v);
/* The writer is ready on a new connection (on_connected): asks the database, for every project
 * starting or running here, whether another runner holds it now (a partition may have let one
 * take it over while nothing of ours was queued for it). */
void owner_hold_all(void);

#endif
