/* A run recorded second is stopped: what this runner does with the database's verdicts. */
#include "supervisor/owner.h"

#include <stdio.h>

#include "common/log.h"
#include "common/reason.h"
#include "common/state.h"
#include "supervisor/project.h"
#include "supervisor/store.h"

static const char *own_runner_id = "";

void owner_init(const char *runner_id)
{
	own_runner_id = runner_id;
}

void owner_lost(const store_lost_t *v)
{
	project_t *p = project_find(v->project_id);
	if (!p || (p->state != STATE_STARTING && p->state != STATE_RUNNING))
		return; /* already ending: what it still writes is refused the row too, and lands in
			 * the history */
	if (v->seq < p->run_seq)
		return; /* about a run of ours that has ended since; this one is asked on its own */
	/* What this run still writes (stopping, stopped) goes above everything recorded, and far
	 * enough above that the holder's next transitions stay below it (OWNER_SEQ_GAP). */
	if (p->seq < v->top + OWNER_SEQ_GAP)
		p->seq = v->top + OWNER_SEQ_GAP;
	char msg[1024];
	snprintf(msg, sizeof(msg),
		 "project %s is %s on runner %s (host %s), whose run the database recorded first; "
		 "this run (runner %s, seq %llu) was recorded second and is stopped",
		 p->id, v->status, v->runner_id, v->host[0] ? v->host : "unknown",
		 own_runner_id, (unsigned long long)p->run_seq);
	log_warn("%s", msg);
	project_stop_for(p, REASON_OWNED_BY_OTHER_RUNNER, msg);
}

void owner_hold_all(void)
{
	for (project_t *p = project_first(); p; p = p->next)
		if (p->state == STATE_STARTING || p->state == STATE_RUNNING)
			store_hold(p->id, p->seq);
}
