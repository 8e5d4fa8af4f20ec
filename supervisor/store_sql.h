#ifndef DEVSUP_STORE_SQL_H
#define DEVSUP_STORE_SQL_H

/* The SQL the Postgres writer (store.c) sends; see store_sql.c for why each is shaped so. */

#define STORE_SQL_MIGRATION_LOCK "7435123901" /* pg_advisory_xact_lock key: "devsup" */

/* $1 project, $2 runner, $3 seq, $4 from, $5 to, $6 reason, $7 at, $8 port, $9 pid, $10 pgid,
 * $11 framework, $12 failure_reason, $13 failure_message, $14 tunnel_url
 * -> holder, holder_host, holder_status, top_seq when another alive runner holds the project */
extern const char store_sql_upsert[];
/* $1 project, $2 runner -> as store_sql_upsert */
extern const char store_sql_hold[];
/* $1 project, $2 seq, $3 tunnel_url */
extern const char store_sql_tunnel[];
extern const char store_sql_list[];
extern const char store_sql_lock_list[];
extern const char store_sql_floor[];
/* $1 runner, $2 host, $3 pid, $4 version, $5 started_at, $6 port_lo, $7 port_hi -> locked */
extern const char store_sql_runner[];
/* $1 runner */
extern const char store_sql_runner_stopped[];
/* $1 runner -> project_id, status, seq */
extern const char store_sql_leftover[];
/* $1 project -> runner_id, status, seq, host, alive */
extern const char store_sql_claim[];

#endif
