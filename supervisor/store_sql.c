/* The statements of the Postgres writer, each shaped for a reason given beside it. */
#include "supervisor/store_sql.h"

/* Behind: take the migration lock (serialising several runners starting together), make sure
 * the migrations table exists, and read it again under the lock. One implicit transaction. */
const char store_sql_lock_list[] =
	"SELECT pg_advisory_xact_lock(" STORE_SQL_MIGRATION_LOCK ");"
	" CREATE TABLE IF NOT EXISTS devsup_schema_migrations ("
	"  version integer PRIMARY KEY, name text NOT NULL,"
	"  applied_at timestamptz NOT NULL DEFAULT now());"
	" SELECT version FROM devsup_schema_migrations ORDER BY version";

/* One statement per transition: the history row (a re-send is a no-op thanks to
 * UNIQUE (project_id, seq)), its NOTIFY (from RETURNING, so only a row really inserted is
 * announced, at commit, in commit order) and the current row ("latest wins": never back to an
 * older seq). */
const char store_sql_upsert[] =
	"WITH t AS ("
	" INSERT INTO devsup_transitions (project_id, runner_id, seq, from_state, to_state, reason, at)"
	" VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (project_id, seq) DO NOTHING"
	" RETURNING pg_notify('devsup_transitions', json_build_object('projectId', project_id,"
	" 'runnerId', runner_id, 'seq', seq, 'from', from_state, 'to', to_state, 'reason', reason,"
	" 'at', at)::text)) "
	"INSERT INTO devsup_dev_servers AS c (project_id, runner_id, status, port, pid, pgid,"
	" tunnel_url, framework, failure_reason, failure_message, seq, updated_at)"
	" VALUES ($1, $2, $5, $8, $9, $10, $14, $11, $12, $13, $3, $7)"
	" ON CONFLICT (project_id) DO UPDATE SET runner_id = EXCLUDED.runner_id,"
	" status = EXCLUDED.status, port = EXCLUDED.port, pid = EXCLUDED.pid, pgid = EXCLUDED.pgid,"
	" tunnel_url = EXCLUDED.tunnel_url, framework = EXCLUDED.framework,"
	" failure_reason = EXCLUDED.failure_reason, failure_message = EXCLUDED.failure_message,"
	" seq = EXCLUDED.seq, updated_at = EXCLUDED.updated_at"
	" WHERE c.seq < EXCLUDED.seq";

/* A tunnel reopened with a new URL (or closed) while the row's state stays the same. */
const char store_sql_tunnel[] =
	"UPDATE devsup_dev_servers SET tunnel_url = $3 WHERE project_id = $1 AND seq = $2";

/* Read-only: a role that may write the tables but not create any still gets this far. */
const char store_sql_list[] = "SELECT version FROM devsup_schema_migrations";

/* Every seq this devsup hands out from now on is above what the database holds, whatever the
 * wall clock did since the rows were written (docs/architecture.md, "seq"). */
const char store_sql_floor[] = "SELECT coalesce(max(seq), 0) FROM devsup_dev_servers";

/* This runner's row (SPEC §10), and its liveness lock for as long as this session lasts. Not
 * pg_advisory_lock: a second devsup with the same id elsewhere must not hang the writer. */
const char store_sql_runner[] =
	"WITH u AS (INSERT INTO devsup_runners AS r (runner_id, host, pid, version, started_at,"
	" stopped_at, port_lo, port_hi) VALUES ($1, $2, $3, $4, $5, NULL, $6, $7)"
	" ON CONFLICT (runner_id) DO UPDATE SET host = EXCLUDED.host, pid = EXCLUDED.pid,"
	" version = EXCLUDED.version, started_at = EXCLUDED.started_at, stopped_at = NULL,"
	" port_lo = EXCLUDED.port_lo, port_hi = EXCLUDED.port_hi RETURNING runner_id)"
	" SELECT pg_try_advisory_lock(devsup_runner_lock_key(runner_id)) FROM u";

const char store_sql_runner_stopped[] =
	"UPDATE devsup_runners SET stopped_at = now() WHERE runner_id = $1";

const char store_sql_leftover[] =
	"SELECT project_id, status, seq FROM devsup_dev_servers"
	" WHERE runner_id = $1 AND status IN ('starting', 'running', 'stopping')"
	" ORDER BY project_id";

/* Who has the project's row, and is that runner alive (one round trip before a start). */
const char store_sql_claim[] =
	"SELECT s.runner_id, s.status, s.seq, r.host, coalesce(r.alive, false)"
	" FROM devsup_dev_servers s LEFT JOIN devsup_runner_status r USING (runner_id)"
	" WHERE s.project_id = $1";
