-- One live run per project, decided by Postgres (SPEC §10, docs/architecture.md "A fleet"):
-- the run whose write reaches a project's row first holds the project; a live run of another
-- runner that is alive is never overwritten, and the runner that wrote second learns it from
-- the answer to its own write. Applied like 001 (one transaction under the migration lock).

-- The backend holding a runner's liveness lock now, or NULL: the runner is alive when there is
-- one (as devsup_runner_status.alive).
CREATE OR REPLACE FUNCTION devsup_runner_session(rid text) RETURNS integer
    LANGUAGE sql STABLE STRICT
    AS $$
    SELECT l.pid FROM pg_locks l
    WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND l.classid = ((devsup_runner_lock_key(rid) >> 32) & 4294967295)::oid
      AND l.objid = (devsup_runner_lock_key(rid) & 4294967295)::oid
    LIMIT 1
    $$;

CREATE OR REPLACE FUNCTION devsup_runner_alive(rid text) RETURNS boolean
    LANGUAGE sql STABLE STRICT
    AS $$ SELECT devsup_runner_session(rid) IS NOT NULL $$;

-- The rule, in one place. Who holds project p against runner r: the row's runner when the row
-- is live (starting/running/stopping), belongs to another runner, and that runner is alive.
-- No row: nobody. top_seq: the project's highest seq in the history (the row's or above), so
-- the loser can number what it still writes above everything recorded.
CREATE OR REPLACE FUNCTION devsup_project_holder(p text, r text)
    RETURNS TABLE (holder text, holder_host text, holder_status text, top_seq bigint)
    LANGUAGE sql STABLE STRICT
    AS $$
    SELECT s.runner_id, coalesce(rr.host, ''), s.status,
           greatest(s.seq, (SELECT max(t.seq) FROM devsup_transitions t WHERE t.project_id = p))
    FROM devsup_dev_servers s LEFT JOIN devsup_runners rr USING (runner_id)
    WHERE s.project_id = p AND s.runner_id <> r
      AND s.status IN ('starting', 'running', 'stopping')
      AND devsup_runner_alive(s.runner_id)
    $$;

-- One history row (a re-send is a no-op thanks to UNIQUE (project_id, seq)) and its NOTIFY, only
-- when the row was really inserted: delivered at commit, in commit order.
CREATE OR REPLACE FUNCTION devsup_record_history(
    p text, r text, p_seq bigint, p_from text, p_to text, p_reason text, p_at timestamptz)
    RETURNS void
    LANGUAGE plpgsql VOLATILE
    AS $$
DECLARE
    payload text;
BEGIN
    INSERT INTO devsup_transitions (project_id, runner_id, seq, from_state, to_state, reason, at)
    VALUES (p, r, p_seq, p_from, p_to, p_reason, p_at)
    ON CONFLICT (project_id, seq) DO NOTHING
    RETURNING json_build_object('projectId', project_id, 'runnerId', runner_id, 'seq', seq,
                                'from', from_state, 'to', to_state, 'reason', reason,
                                'at', at)::text INTO payload;
    IF payload IS NOT NULL THEN
        PERFORM pg_notify('devsup_transitions', payload);
    END IF;
END
$$;

-- One transition of runner r (the writer's only write of a transition). Always: the history
-- row and its NOTIFY (as devsup_record_history). Then the project's row, under
-- its row lock, so that of two runners writing at once the one whose transaction commits first
-- decides and the other sees its committed row:
--   - no row: created;
--   - held by another alive runner (devsup_project_holder): left alone, and the holder is
--     returned: the caller's run, if still live, was recorded second and must stop;
--   - live on another runner that is not alive: that run is closed in the history (failed,
--     runner_lost, seq = the row's + 1, when that is below this write's seq), then taken over;
--   - otherwise "latest wins": only a higher seq replaces the row.
-- Returns no row when this write was not refused.
CREATE OR REPLACE FUNCTION devsup_record_transition(
    p text, r text, p_seq bigint, p_from text, p_to text, p_reason text, p_at timestamptz,
    p_port integer, p_pid integer, p_pgid integer, p_framework text, p_failure_reason text,
    p_failure_message text, p_tunnel_url text)
    RETURNS TABLE (holder text, holder_host text, holder_status text, top_seq bigint)
    LANGUAGE plpgsql VOLATILE
    AS $$
DECLARE
    c devsup_dev_servers%ROWTYPE;
    payload text;
BEGIN
    -- A lost runner's run closed by the runner starting the project again (its start check found
    -- r not alive), while r has since come back on another session: r's run is not lost. Nothing
    -- is written; the new run's own write then meets r's live row and is refused.
    IF p_reason = 'runner_lost' THEN
        IF devsup_runner_session(r) <> pg_backend_pid() THEN
            RETURN;
        END IF;
    END IF;
    -- devsup_record_history written out: this is the writer's hot path, and a nested plpgsql
    -- call here cost about a tenth of its burst rate (store-bench)
    INSERT INTO devsup_transitions (project_id, runner_id, seq, from_state, to_state, reason, at)
    VALUES (p, r, p_seq, p_from, p_to, p_reason, p_at)
    ON CONFLICT (project_id, seq) DO NOTHING
    RETURNING json_build_object('projectId', project_id, 'runnerId', runner_id, 'seq', seq,
                                'from', from_state, 'to', to_state, 'reason', reason,
                                'at', at)::text INTO payload;
    IF payload IS NOT NULL THEN
        PERFORM pg_notify('devsup_transitions', payload);
    END IF;

    -- The common case in one statement: no row, the runner's own row, or a row that is not
    -- live, and a higher seq. ON CONFLICT acts on the latest committed version of the row and
    -- locks it even when its WHERE says no.
    INSERT INTO devsup_dev_servers AS d (project_id, runner_id, status, port, pid, pgid,
        tunnel_url, framework, failure_reason, failure_message, seq, updated_at)
    VALUES (p, r, p_to, p_port, p_pid, p_pgid, p_tunnel_url, p_framework, p_failure_reason,
            p_failure_message, p_seq, p_at)
    ON CONFLICT (project_id) DO UPDATE SET runner_id = EXCLUDED.runner_id,
        status = EXCLUDED.status, port = EXCLUDED.port, pid = EXCLUDED.pid, pgid = EXCLUDED.pgid,
        tunnel_url = EXCLUDED.tunnel_url, framework = EXCLUDED.framework,
        failure_reason = EXCLUDED.failure_reason, failure_message = EXCLUDED.failure_message,
        seq = EXCLUDED.seq, updated_at = EXCLUDED.updated_at
    WHERE d.seq < EXCLUDED.seq
      AND (d.runner_id = EXCLUDED.runner_id OR d.status NOT IN ('starting', 'running', 'stopping'));
    IF FOUND THEN
        RETURN;
    END IF;
    -- Not written: an older seq (a re-send), or another runner's live row. Locked already by
    -- the statement above; read as committed (READ COMMITTED: a new snapshot per statement).
    SELECT * INTO c FROM devsup_dev_servers d WHERE d.project_id = p FOR UPDATE;
    IF NOT FOUND OR c.runner_id = r OR c.status NOT IN ('starting', 'running', 'stopping') THEN
        RETURN;
    END IF;
    IF devsup_runner_alive(c.runner_id) THEN
        RETURN QUERY SELECT * FROM devsup_project_holder(p, r);
        RETURN;
    END IF;
    IF c.seq >= p_seq THEN
        RETURN; -- a dead runner's row with a higher seq: see "seq" in docs/architecture.md
    END IF;
    IF c.seq + 1 < p_seq THEN
        PERFORM devsup_record_history(p, c.runner_id, c.seq + 1, c.status, 'failed',
                                      'runner_lost', p_at);
    END IF;
    UPDATE devsup_dev_servers d SET runner_id = r, status = p_to, port = p_port,
        pid = p_pid, pgid = p_pgid, tunnel_url = p_tunnel_url, framework = p_framework,
        failure_reason = p_failure_reason, failure_message = p_failure_message,
        seq = p_seq, updated_at = p_at
    WHERE d.project_id = p;
END
$$;
