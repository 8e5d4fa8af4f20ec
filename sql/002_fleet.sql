-- A fleet on one Postgres (SPEC §10): which runners exist, which are alive, where each project
-- runs. Applied like 001 (one transaction under the migration lock).

-- One row per runner id, upserted by devsup at each connection; stopped_at set on a clean exit
-- and cleared again by the next connection.
CREATE TABLE IF NOT EXISTS devsup_runners (
    runner_id   text        PRIMARY KEY,
    host        text        NOT NULL,
    pid         integer     NOT NULL,
    version     text        NOT NULL,
    started_at  timestamptz NOT NULL,
    stopped_at  timestamptz,
    port_lo     integer     NOT NULL,
    port_hi     integer     NOT NULL
);

-- The session advisory lock a connected devsup holds (pg_advisory_lock(bigint)): the first 64
-- bits of md5('devsup-runner:' || runner_id), as a signed bigint. Liveness needs no heartbeat:
-- the lock goes when the session ends (a killed process at once, a vanished host after the TCP
-- keepalives, about 25 s with devsup's settings).
CREATE OR REPLACE FUNCTION devsup_runner_lock_key(runner_id text) RETURNS bigint
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT ('x' || substr(md5('devsup-runner:' || runner_id), 1, 16))::bit(64)::bigint $$;

-- alive: that lock is held now. pg_locks shows a one-bigint advisory lock as classid = high 32
-- bits, objid = low 32 bits, objsubid = 1.
CREATE OR REPLACE VIEW devsup_runner_status AS
SELECT r.*,
       EXISTS (
           SELECT 1 FROM pg_locks l
           WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
             AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
             AND l.classid = ((devsup_runner_lock_key(r.runner_id) >> 32) & 4294967295)::oid
             AND l.objid = (devsup_runner_lock_key(r.runner_id) & 4294967295)::oid
       ) AS alive
FROM devsup_runners r;

-- Where each project runs, and whether that runner is alive.
CREATE OR REPLACE VIEW devsup_projects AS
SELECT s.*, coalesce(rs.alive, false) AS runner_alive
FROM devsup_dev_servers s LEFT JOIN devsup_runner_status rs USING (runner_id);
