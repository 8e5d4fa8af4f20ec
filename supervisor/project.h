#ifndef DEVSUP_PROJECT_H
#define DEVSUP_PROJECT_H

#include <ev.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/chan.h"
#include "common/proc.h"
#include "common/reason.h"
#include "common/ring.h"
#include "common/state.h"
#include "supervisor/options.h"

/* One project known to this master: its state machine, its reaper, and the commands waiting
 * for an answer. Kept after it stops (for seq, status and logs). */
typedef struct project {
	struct project *next;
	char *id;
	state_t state;
	uint64_t seq;
	uint64_t run_seq; /* seq of the current run's first transition (idle/stopped -> starting) */

	json_t *request; /* the start command's fields as validated (for restart) */
	json_t *spec;    /* the start message sent to the reaper */
	char *framework;
	char *failure_message; /* of the last failure, for the database row */

	/* the reaper: alive until reaped; its channel open until EOF */
	pid_t reaper_pid; /* 0 once reaped */
	chan_t chan;
	bool cleaning; /* the reaper died without finishing: killing its orphans */
	/* A stop was sent: the reaper must end by then (its stop timeout + a grace), else it is
	 * killed and its tree taken down by structure (reaper_link.c). */
	ev_timer reaper_deadline;
	uint64_t reaper_deadline_ms; /* monotonic; 0: none */
	bool reaper_killed; /* we killed it at its deadline: not a crash */

	/* the dev server */
	pid_t pid;
	pid_t pgid;
	int port;
	char *tunnel_url; /* the tunnel's current public URL, or NULL */
	char url[96];     /* where it answered its health check (SPEC §4.4), while running */
	char scheme[8];   /* "http" or "https" */
	int last_port; /* where it last ran: a restart asks for it again */
	unsigned port_retries; /* starts retried on another port after a port conflict */
	uint64_t started_at_ms;  /* wall clock, when it became running */
	json_int_t startup_ms;   /* of the run under way, for a retried start's answer */
	json_t *good_request; /* the last start fields that reached running: a restart's base */
	json_t *last_failure; /* {reason, message, exitCode | signal, at} of the last failure */
	unsigned restarts;    /* restart-dev-server commands accepted */
	uint64_t start_mono_ms;  /* when the start was accepted */
	uint64_t stop_mono_ms;   /* when the stop was accepted */

	/* commands waiting for their answer */
	bool start_waiting;
	json_t *start_id;  /* NULL when the command had no id */
	json_t *stop_ids;  /* array of ids (null for none) of stops waiting */
	char *stop_reason;
	/* The stop under way is devsup's own decision about a running server (the fleet gave the
	 * project to another runner): its end is reported as dev-server-exited with this reason
	 * and failure_message. REASON_NONE otherwise. */
	reason_t end_reason;
	json_t *restart_spec; /* a restart waiting for its stop to finish */
	json_t *restart_request;
	json_t *restart_id;
	bool restart_waiting;
	json_t *joined_ids; /* ids (null for none) of retried starts answered with this start */
	json_t *stop_cmd_id; /* id of the command that began the stop under way (NULL: none) */
	json_t *log_requests; /* reqId -> {"id": ..., "lines": [...]} */
	uint64_t next_req;

	/* usage (SPEC §9): where the tree lives, and the last measurement for cpuPercent */
	char *cgroup;          /* its cgroup directory (from the reaper), or NULL: /proc */
	uint64_t usage_cpu_ms; /* cpuMs at the last measurement */
	uint64_t usage_at_ms;  /* when (monotonic); 0: not measured since the start */

	bool following; /* a client follows its output (follow-logs): log events are streamed */
	json_t *follow_id; /* that follow's commandId (json null when it had none) */
	ring_t archive; /* the output, kept once the reaper is gone (bounded: project.c) */
	uint64_t ended; /* order in which it last became stopped/failed (0: never) */
	uint64_t logs_dropped; /* log lines not sent since the last one that was */
	json_t *log_held; /* the newest line not sent while stdout was behind: reaper_link.c */

	/* hand-over (adopt.c) */
	bool handed_over; /* the reaper keeps the project for the next master */
	bool adopt_unconfirmed; /* adopted before ready: told to go on once ready is out */
	bool adopted_reaper; /* the reaper was adopted: not our child, its tree not below us */
	int reaper_pidfd; /* an adopted reaper (not our child): readable when it exits; or -1 */
	proc_info_t *adopted_roots; /* its children at adoption (server, tunnel…): adopt_tree.c */
	size_t adopted_nroots;
	ev_io reaper_exit;
} project_t;

/* Sets up the registry; opts must outlive it. */
void projects_init(struct ev_loop *loop, const options_t *opts);
void projects_free(void);
project_t *project_find(const char *id);

/* The commands, fields already validated (spec: see command.c). */
void project_cmd_start(json_t *request, json_t *spec, json_t *id);
void project_cmd_stop(const char *project_id, json_t *timeout, const char *reason, json_t *id);
void project_cmd_restart(const char *project_id, json_t *overrides, json_t *id);
void project_cmd_status(const char *project_id, json_t *id);
void project_cmd_logs(const char *project_id, size_t lines, json_t *id);
/* Turns the streaming of p's output as `log` events on or off, for this run and the next
 * starts of the project, whatever the start's `logs` said; answered by `following`. */
void project_cmd_follow_logs(const char *project_id, bool follow, json_t *id);

/* devsup itself stops p (starting or running) for reason: a start still waiting gets its error
 * with reason and message, a running server's end is reported as dev-server-exited; lastFailure
 * shows it. The stop is the ordinary one (whole tree, tunnel, port). */
void project_stop_for(project_t *p, reason_t reason, const char *message);
/* Answers a restart waiting for its stop with `cancelled` (why: what cancelled it). */
void project_cancel_restart(project_t *p, const char *why);
/* Stops every live project in parallel (shutdown, stdin EOF, signals); force: no grace. id:
 * the shutdown command's, carried by the state events it causes (NULL: none). */
void projects_stop_all(const char *reason, json_t *timeout_ms, bool force, json_t *id);
/* True when no reaper is alive and no orphan is being cleaned up. */
bool projects_quiescent(void);
/* Rows a previous devsup of this runner left live ([{projectId, status, seq}]): each is moved
 * to stopped through stopping, reason runner_restart, once recovery has torn their processes
 * down (kept until then; projects_apply_leftover_rows, called after every event, applies
 * them as soon as recover_active() is false). */
void projects_leftover_rows(json_t *rows);
void projects_apply_leftover_rows(void);
/* The database's highest seq (at each connection): every seq handed out later is above it. */
void projects_seq_floor(uint64_t floor);
/* The master's SIGCHLD: any child reaped (reapers and orphans re-parented to us). */
void projects_child_reaped(pid_t pid, int status);
/* A port held by a live project. */
bool projects_port_taken(int port);
unsigned projects_live_count(void);
/* While false (shutting down), starts are refused. */
void projects_set_accepting(bool accepting);

/* Shared with reaper_link.c, which turns the reaper's messages into transitions. */
/* Moves p to `to` through the table of SPEC §2 and emits dev-server-state; refuses (and logs
 * a bug) anything else. */
bool project_transition(project_t *p, state_t to, const char *reason, json_t *cmd_id);
/* Hands over the id of the waiting start (caller owns it; may be NULL). */
void project_take_start_id(project_t *p, json_t **id);
void project_reply_logs(const project_t *p, json_t *id, json_t *lines);
void project_flush_log_requests(project_t *p);
void project_resume_restart(project_t *p);
/* Sends the start message (p->spec) to p's reaper. */
void project_send_start(project_t *p);
bool project_has_reaper(const project_t *p);
/* What a detached reaper keeps of p for the next master (the `state` of `detach`). */
json_t *project_handover_state(const project_t *p);
/* A project taken over from a detached reaper's `hello`: state, seq, port, pid, url, tunnel
 * and framework as the previous master left them (no transition, nothing written). */
project_t *project_adopt(const json_t *hello);
/* Detach: every live project's reaper holds it for the next master (or is gone). */
bool projects_handed_over(void);
/* The dev-server-started event of p's run under way, answering id (new reference). */
json_t *project_started_event(const project_t *p, json_t *id);
/* Answers every retried start that joined p's start with a copy of answer (borrowed; its
 * commandId replaced by theirs). */
void project_answer_joined(project_t *p, const json_t *answer);
/* The same for a start that failed: each gets the error (extra borrowed). */
void project_fail_joined(project_t *p, reason_t reason, const char *message,
			 const char *suggestion, const json_t *extra);
/* Remembers the failure for status' lastFailure; msg: the reaper's message with exitCode or
 * signal (may be NULL). */
void project_note_failure(project_t *p, const char *reason, const char *message,
			  const json_t *msg);
/* The id of the command a state event of p is caused by, during a stop (borrowed). */
json_t *project_stop_cmd_id(const project_t *p);
/* Reaper message `spawned`: the framework is known from the spawn on. */
void project_set_framework(project_t *p, const char *framework);
/* The registry, newest first; walk it with ->next (status, completion of project ids). */
project_t *project_first(void);

#endif
