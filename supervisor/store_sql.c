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

/* One statement per transition: the history row, its NOTIFY and the project's row, by the rule
 * of sql/003_owner.sql (one live run per project across the fleet, "latest wins" otherwise).
 * A row in the answer names the alive runner that holds the project: this write was refused. */
const char store_sql_upsert[] =
	"SELECT * FROM devsup_record_transition($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12,"
	" $13, $14)";

/* After a (re)connection, for each live project: does another alive runner hold it? (a
 * partition may have let one take it over while nothing of ours was queued for it) */
const char store_sql_hold[] = "SELECT * FROM devsup_project_holder($1, $2)";

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

/* Who has the project's row, and is that runner alive (one round trip before a start). The seq
 * is the project's highest anywhere: a run recorded second and stopped may have written its
 * last transitions above the row's (docs/architecture.md, "A fleet"). */
const char store_sql_claim[] =
	"SELECT s.runner_id, s.status, greatest(s.seq, (SELECT max(t.seq) FROM devsup_transitions t"
	" WHERE t.project_id = $1)), r.host, coalesce(r.alive, false)"
	" FROM devsup_dev_servers s LEFT JOIN devsup_runner_status r USING (runner_id)"
	" WHERE s.project_id = $1";
