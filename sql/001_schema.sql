-- devsup's state in Postgres (SPEC §7). Applied once, in one transaction, under an advisory
-- lock, by devsup at start-up (or `devsup --migrate`); recorded in devsup_schema_migrations.

-- One row per project: its latest state. Written with "latest wins" upserts keyed by seq, so a
-- re-sent write changes nothing and a row never goes back to an older seq.
CREATE TABLE IF NOT EXISTS devsup_dev_servers (
    project_id      text        PRIMARY KEY,
    runner_id       text        NOT NULL,
    status          text        NOT NULL
                    CHECK (status IN ('idle', 'starting', 'running', 'stopping', 'stopped', 'failed')),
    port            integer     CHECK (port BETWEEN 1 AND 65535),
    pid             integer,
    pgid            integer,
    tunnel_url      text,
    framework       text,
    failure_reason  text,
    failure_message text,
    seq             bigint      NOT NULL,
    updated_at      timestamptz NOT NULL,
    -- SPEC: on stopped, the resources are released together
    CHECK (status <> 'stopped' OR (port IS NULL AND pid IS NULL AND pgid IS NULL AND tunnel_url IS NULL))
);

CREATE INDEX IF NOT EXISTS devsup_dev_servers_runner_live
    ON devsup_dev_servers (runner_id) WHERE status IN ('starting', 'running', 'stopping');

-- Every transition, append-only. UNIQUE (project_id, seq) makes a re-sent write a no-op.
CREATE TABLE IF NOT EXISTS devsup_transitions (
    id          bigserial   PRIMARY KEY,
    project_id  text        NOT NULL,
    runner_id   text        NOT NULL,
    seq         bigint      NOT NULL,
    from_state  text        NOT NULL,
    to_state    text        NOT NULL,
    reason      text,
    at          timestamptz NOT NULL,
    UNIQUE (project_id, seq)
);

-- "Failures by reason over time"
CREATE INDEX IF NOT EXISTS devsup_transitions_failures
    ON devsup_transitions (reason, at) WHERE to_state = 'failed';
