// A fleet on one Postgres (SPEC §10): runners that can see each other (devsup_runners, liveness
// from a session advisory lock, no heartbeat) and a feed of every committed transition
// (NOTIFY devsup_transitions). Several devsups with different runner ids on one throwaway
// Postgres 15 (lib/pg.mjs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import os from 'node:os';
import {
  spawnDevsup, projectId, serverCmd, sleep, isAlive, reaperPids, allPids, procStat, runnerPids, describePids, httpGet,
  DEVSUP_BIN,
} from './lib/harness.mjs';
import { start, startOk, stopOk, expectType, expectError } from './lib/dev.mjs';
import { withPostgres } from './lib/pg.mjs';

const T = { timeout: 90000 };

async function eventually(what, fn, timeoutMs = 15000, intervalMs = 100) {
  const end = performance.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (performance.now() >= end) {
        try { err.message = `${what}: still not true after ${timeoutMs} ms:\n${err.message}`; } catch { /* read-only */ }
        throw err;
      }
    }
    await sleep(intervalMs);
  }
}

/** Several devsups on pg, each with its own runner id; always disposed. */
async function withRunners(pg, n, fn) {
  const ds = [];
  try {
    for (let i = 0; i < n; i++) ds.push(await spawnDevsup({ args: ['--db', pg.url] }));
    await fn(ds);
    for (const d of ds) d.assertProtocolClean();
  } catch (err) {
    try { err.message += ds.map((d) => d.context()).join(''); } catch { /* read-only */ }
    throw err;
  } finally {
    for (const d of ds) await d.dispose();
  }
}

async function runnerStatus(pg) {
  const rows = await pg.query('SELECT runner_id, host, pid, version, started_at IS NOT NULL, stopped_at IS NOT NULL, ' +
    'port_lo, port_hi, alive FROM devsup_runner_status ORDER BY runner_id');
  return new Map(rows.map(([id, host, pid, version, started, stopped, lo, hi, alive]) =>
    [id, { host, pid: Number(pid), version, started: started === 't', stopped: stopped === 't', lo: Number(lo), hi: Number(hi), alive: alive === 't' }]));
}

async function aliveOf(pg, d) {
  const s = (await runnerStatus(pg)).get(d.runnerId);
  assert.ok(s, `no devsup_runners row for ${d.runnerId}`);
  return s.alive;
}

const connected = (d) => eventually(`${d.runnerId} connected`, async () => {
  const st = expectType(await d.request({ type: 'status' }), 'status');
  assert.equal(st.persistence.connected, true, JSON.stringify(st.persistence));
});

test('three runners are alive; a SIGKILLed one is not within seconds; a clean exit records stopped_at', T, () =>
  withPostgres((pg) => withRunners(pg, 3, async ([a, b, c]) => {
    await Promise.all([a, b, c].map(connected));
    const st = await eventually('3 alive runners', async () => {
      const s = await runnerStatus(pg);
      for (const d of [a, b, c]) {
        const r = s.get(d.runnerId);
        assert.ok(r && r.alive, `${d.runnerId}: ${JSON.stringify(r)}`);
      }
      return s;
    });
    for (const d of [a, b, c]) {
      const r = st.get(d.runnerId);
      assert.equal(r.pid, d.proc.pid);
      assert.deepEqual([r.lo, r.hi], d.portRange);
      assert.equal(r.version, d.ready.version);
      assert.ok(r.host.length > 0 && r.started && !r.stopped, JSON.stringify(r));
    }
    const view = await pg.query('SELECT count(*) FROM devsup_projects');
    assert.equal(view[0][0], '0');

    // A killed process's socket closes at once: its session and lock end with it.
    const t0 = performance.now();
    a.kill('SIGKILL');
    await eventually('the SIGKILLed runner is not alive', async () => assert.equal(await aliveOf(pg, a), false), 5000);
    const ms = performance.now() - t0;
    assert.equal((await runnerStatus(pg)).get(a.runnerId).stopped, false, 'a SIGKILLed runner cannot record stopped_at');
    assert.equal(await aliveOf(pg, b), true);

    // A clean exit: stopped_at set, then not alive.
    await b.close();
    const rb = (await runnerStatus(pg)).get(b.runnerId);
    assert.equal(rb.stopped, true, JSON.stringify(rb));
    assert.equal(rb.alive, false, JSON.stringify(rb));
    assert.equal(await aliveOf(pg, c), true);
    process.stderr.write(`[fleet] alive went false ${Math.round(ms)} ms after SIGKILL\n`);
  })));

test('a runner whose connection is cut (pg_terminate_backend) takes its lock again on reconnect', T, () =>
  withPostgres((pg) => withRunners(pg, 2, async ([a, b]) => {
    await Promise.all([a, b].map(connected));
    await eventually('both alive', async () => assert.ok((await aliveOf(pg, a)) && (await aliveOf(pg, b))));
    const pid = Number((await pg.query(`SELECT pid FROM pg_stat_activity WHERE application_name = 'devsup' ` +
      `AND pid IN (SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1 AND granted ` +
      `AND classid = ((devsup_runner_lock_key('${a.runnerId}') >> 32) & 4294967295)::oid ` +
      `AND objid = (devsup_runner_lock_key('${a.runnerId}') & 4294967295)::oid)`))[0][0]);
    assert.ok(pid > 0);
    await pg.query(`SELECT pg_terminate_backend(${pid})`);
    // Back within the first backoff steps, on a new session, with the lock.
    await eventually('the cut runner is alive again, on a new session', async () => {
      assert.equal(await aliveOf(pg, a), true);
      const now = await pg.query("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'devsup' " +
        `AND pid = ${pid}`);
      assert.equal(now[0][0], '0');
    }, 10000);
    assert.match(a.stderr, /reconnecting/);
    // It keeps writing.
    const id = projectId('cut');
    await startOk(a, { projectId: id, command: serverCmd() });
    await stopOk(a, id);
    await eventually('written after the reconnect', async () => {
      const n = await pg.query(`SELECT count(*) FROM devsup_transitions WHERE project_id = '${id}'`);
      assert.equal(n[0][0], '4');
    });
    const rows = await pg.query(`SELECT runner_alive, runner_id FROM devsup_projects WHERE project_id = '${id}'`);
    assert.deepEqual(rows, [['t', a.runnerId]]);
  })));

/**
 * A LISTEN session through psql (no client library in the tests): psql prints notifications
 * when it next talks to the server, so it is poked with an empty query every 50 ms.
 */
function listen(pg, channel) {
  const proc = spawn('psql', ['-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', pg.url], { stdio: ['pipe', 'pipe', 'pipe'] });
  const got = [];
  let buf = '';
  let errText = '';
  let listening = false; // the LISTEN is in effect (the query after it answered)
  const re = new RegExp(`^Asynchronous notification "${channel}" with payload "(.*)" received from server process with PID \\d+\\.$`);
  proc.stdout.setEncoding('utf8');
  proc.stdout.on('data', (chunk) => {
    buf += chunk;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      const m = re.exec(line);
      if (m) got.push(JSON.parse(m[1]));
      if (line === 'listening') listening = true;
    }
  });
  proc.stderr.on('data', (c) => { errText += c; });
  proc.stdin.write(`LISTEN ${channel};\nSELECT 'listening';\n`);
  const poke = setInterval(() => proc.stdin.write('SELECT 1;\n'), 50);
  return {
    got,
    ready: () => eventually('psql listening', async () => assert.ok(listening && !errText, errText), 10000),
    close() {
      clearInterval(poke);
      try { proc.stdin.end('\\q\n'); } catch { /* gone */ }
      setTimeout(() => { try { proc.kill('SIGKILL'); } catch { /* gone */ } }, 2000).unref();
    },
  };
}

test('LISTEN devsup_transitions receives every transition of two runners, in commit order, matching its row', T, () =>
  withPostgres(async (pg) => {
    // The schema must exist before the LISTEN session's first query: one runner connects first.
    await withRunners(pg, 2, async ([a, b]) => {
      await Promise.all([a, b].map(connected));
      const l = listen(pg, 'devsup_transitions');
      try {
        await l.ready();
        const ids = { [a.runnerId]: [projectId('la'), projectId('lb')], [b.runnerId]: [projectId('lc')] };
        await Promise.all([a, b].map(async (d) => {
          for (const id of ids[d.runnerId]) {
            await startOk(d, { projectId: id, command: serverCmd() });
            await stopOk(d, id);
          }
        }));
        const all = [...ids[a.runnerId], ...ids[b.runnerId]];
        const rows = await eventually('every transition notified', async () => {
          const r = await pg.query('SELECT id, project_id, runner_id, seq, from_state, to_state, reason, ' +
            `to_json(at)#>>'{}' FROM devsup_transitions WHERE project_id IN (${all.map((x) => `'${x}'`).join(', ')}) ORDER BY id`);
          assert.equal(r.length, 12);
          assert.equal(l.got.filter((n) => all.includes(n.projectId)).length, 12, JSON.stringify(l.got));
          return r;
        });
        const notes = l.got.filter((n) => all.includes(n.projectId));
        // Each payload is its row, field for field.
        const byKey = new Map(rows.map(([, p, r, seq, from, to, reason, at]) =>
          [`${p}#${seq}`, { projectId: p, runnerId: r, seq: Number(seq), from, to, reason, at }]));
        for (const n of notes) {
          const row = byKey.get(`${n.projectId}#${n.seq}`);
          assert.ok(row, `a notification without its row: ${JSON.stringify(n)}`);
          assert.deepEqual({ ...n, at: new Date(n.at).getTime() }, { ...row, at: new Date(row.at).getTime() });
        }
        assert.equal(new Set(notes.map((n) => `${n.projectId}#${n.seq}`)).size, 12, 'a transition notified twice');
        // Commit order: one runner's batches commit one after another, so its notifications
        // come in the order of its rows (the id sequence); each project's seq increases.
        for (const d of [a, b]) {
          const mine = notes.filter((n) => n.runnerId === d.runnerId).map((n) => `${n.projectId}#${n.seq}`);
          const rowOrder = rows.filter((r) => r[2] === d.runnerId).map((r) => `${r[1]}#${r[3]}`);
          assert.deepEqual(mine, rowOrder);
          // and each matches what that runner said on stdout, in order
          const said = d.events.filter((e) => e.type === 'dev-server-state' && all.includes(e.projectId))
            .map((e) => `${e.projectId}#${e.seq}`);
          assert.deepEqual(mine, said);
        }
      } finally {
        l.close();
      }
    });
  }));

test('one live run per project: another alive runner refuses (owned_by_other_runner); a lost one is taken over (runner_lost)', T, () =>
  withPostgres((pg) => withRunners(pg, 2, async ([a, b]) => {
    await Promise.all([a, b].map(connected));
    const id = projectId('own');
    const sa = await startOk(a, { projectId: id, command: serverCmd() });
    await eventually('A\'s run is in the database', async () => {
      const r = await pg.query(`SELECT runner_id, status FROM devsup_dev_servers WHERE project_id = '${id}'`);
      assert.deepEqual(r, [[a.runnerId, 'running']]);
    });

    // B may not start it: refused before anything is spawned, naming A and its host.
    const err = expectError(await start(b, { projectId: id, command: serverCmd() }), 'owned_by_other_runner');
    assert.ok(err.error.includes(a.runnerId) && err.error.includes(os.hostname()), JSON.stringify(err));
    assert.ok(err.suggestion, JSON.stringify(err));
    assert.deepEqual(b.states(id), [], 'B made a transition for a refused start');
    assert.deepEqual(reaperPids(b.proc.pid), [], 'B spawned a reaper for a refused start');

    // A dies; its reapers tear its server down; its lock goes with its session.
    a.kill('SIGKILL');
    await eventually('A not alive and its server gone', async () => {
      assert.equal(isAlive(sa.pid), false);
      const r = await pg.query(`SELECT runner_alive FROM devsup_projects WHERE project_id = '${id}'`);
      assert.deepEqual(r, [['f']]);
    }, 10000);

    // B takes over: A's run is closed (failed, runner_lost), then B's run is recorded above it.
    await startOk(b, { projectId: id, command: serverCmd() });
    const rows = await eventually('the takeover in devsup_transitions', async () => {
      const r = await pg.query('SELECT runner_id, seq, from_state, to_state, reason FROM devsup_transitions ' +
        `WHERE project_id = '${id}' ORDER BY seq`);
      assert.equal(r.length, 5, JSON.stringify(r));
      return r;
    });
    assert.deepEqual(rows.map(([r, , f, t, why]) => [r, f, t, why]), [
      [a.runnerId, 'idle', 'starting', null],
      [a.runnerId, 'starting', 'running', null],
      [a.runnerId, 'running', 'failed', 'runner_lost'],
      [b.runnerId, 'idle', 'starting', null],
      [b.runnerId, 'starting', 'running', null],
    ]);
    const seqs = rows.map((r) => BigInt(r[1]));
    assert.ok(seqs.every((x, i) => i === 0 || x > seqs[i - 1]), `seq not increasing: ${seqs}`);
    const row = await pg.query(`SELECT runner_id, status, runner_alive FROM devsup_projects WHERE project_id = '${id}'`);
    assert.deepEqual(row, [[b.runnerId, 'running', 't']]);
    await stopOk(b, id);
  })));

// The ownership check is one round trip before anything is spawned (project.c, pending
// starts): a stop in that window cancels the start instead of answering not_running and
// letting it go ahead, and a database that does not answer holds a start back 2 s at most.
test('a stop during the ownership round trip cancels the start; a stuck database delays a start by its deadline only', T, () =>
  withPostgres((pg) => withRunners(pg, 1, async ([d]) => {
    await connected(d);
    // Hold the rows the check reads: its SELECT waits behind this lock.
    const locker = spawn('psql', ['-X', '-q', pg.url, '-c',
      'BEGIN; LOCK TABLE devsup_dev_servers IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(60);'],
      { stdio: 'ignore' });
    try {
      await eventually('the lock is held', async () => {
        const n = await pg.query("SELECT count(*) FROM pg_locks WHERE mode = 'AccessExclusiveLock' " +
          "AND relation = 'devsup_dev_servers'::regclass AND granted");
        assert.equal(n[0][0], '1');
      });
      const a = projectId('window');
      const startP = start(d, { projectId: a, command: serverCmd() });
      const stopEv = await d.request({ type: 'stop-dev-server', projectId: a });
      assert.equal(stopEv.type, 'dev-server-stopped', JSON.stringify(stopEv));
      expectError(await startP, 'cancelled');
      assert.deepEqual(reaperPids(d.proc.pid), [], 'nothing was spawned');

      const b = projectId('stuck');
      const t0 = performance.now();
      // the second is a retry (same fields) while the first still waits: it joins it
      const [ev, retry] = await Promise.all([
        startOk(d, { projectId: b, command: serverCmd() }),
        startOk(d, { projectId: b, command: serverCmd() }),
      ]);
      const ms = performance.now() - t0;
      assert.equal(retry.port, ev.port, 'the retry is answered like the start it joined');
      assert.equal(retry.pid, ev.pid);
      assert.notEqual(retry.commandId, ev.commandId);
      assert.ok(ms >= 1500, `the start waited ${Math.round(ms)} ms for the database's word`);
      assert.match(d.stderr, /did not say within 2000 ms/);
      assert.ok(ev.port > 0);
      await stopOk(d, b);
    } finally {
      locker.kill('SIGKILL');
    }
  })));

// Both runners start p while Postgres is down (starts never wait for it); when it comes back,
// the database decides: the run whose row commits first holds p, the other runner learns from
// the answer to its own write that it was recorded second and stops its run (docs/architecture.md,
// "A fleet").
test('two runs of one project started while Postgres is down: the one recorded second is stopped (owned_by_other_runner), nothing of it survives', T, () =>
  withPostgres((pg) => withRunners(pg, 2, async ([a, b]) => {
    await Promise.all([a, b].map(connected));
    await pg.stop('fast');
    const id = projectId('split');
    const [sa, sb] = await Promise.all([a, b].map((d) => startOk(d, { projectId: id, command: serverCmd() })));
    assert.notEqual(sa.port, sb.port);
    const t0 = performance.now();
    await pg.start();
    const t1 = performance.now();

    // Exactly one of them reports the end of its run.
    const { loser, winner, ev } = await eventually('one runner stops its run', async () => {
      const ended = [a, b].filter((d) => d.events.some((e) => e.type === 'dev-server-exited' && e.projectId === id));
      assert.equal(ended.length, 1, `runners that ended their run: ${ended.map((d) => d.runnerId)}`);
      const l = ended[0];
      return { loser: l, winner: l === a ? b : a, ev: l.events.find((e) => e.type === 'dev-server-exited' && e.projectId === id) };
    }, 30000);
    const [ls, ws] = loser === a ? [sa, sb] : [sb, sa];
    process.stderr.write(`[fleet] pg_ctl start took ${Math.round(t1 - t0)} ms; the run recorded second ended ` +
      `${Math.round(loser.arrivals[loser.events.indexOf(ev)] - t0)} ms after it was called\n`);
    assert.equal(ev.reason, 'owned_by_other_runner', JSON.stringify(ev));
    assert.ok(ev.message.includes(winner.runnerId) && ev.message.includes(os.hostname()), JSON.stringify(ev));
    // Through the ordinary stop: stopping, then stopped once its tree is gone.
    assert.deepEqual(loser.states(id).map((e) => [e.to, e.reason ?? null]), [
      ['starting', null], ['running', null], ['stopping', 'owned_by_other_runner'], ['stopped', 'owned_by_other_runner']]);
    // Nothing of the loser's run survives: its server, its process group, its reaper.
    assert.equal(isAlive(ls.pid), false, `the loser's server ${ls.pid} is alive`);
    const inGroup = allPids().filter((p) => { const st = procStat(p); return st && st.pgrp === ls.pgid && st.state !== 'Z'; });
    assert.deepEqual(inGroup, [], `processes left in the loser's group ${ls.pgid}:\n    ${describePids(inGroup)}`);
    assert.deepEqual(runnerPids(loser.runnerId), [], 'a process of the loser\'s runner is alive');
    assert.deepEqual(reaperPids(loser.proc.pid), [], 'the loser\'s reaper is alive');
    const lst = expectType(await loser.request({ type: 'status', projectId: id }), 'status').projects[0];
    assert.equal(lst.state, 'stopped');
    assert.equal(lst.lastFailure?.reason, 'owned_by_other_runner', JSON.stringify(lst));

    // Exactly one run stays: the winner's, untouched, and its server answers.
    assert.deepEqual(winner.states(id).map((e) => e.to), ['starting', 'running']);
    assert.equal(winner.events.some((e) => e.type === 'dev-server-exited'), false);
    const wst = expectType(await winner.request({ type: 'status', projectId: id }), 'status').projects[0];
    assert.equal(wst.state, 'running');
    assert.equal((await httpGet(ws.url)).status, 200);

    // The database shows the winner; the history holds both runs, every transition once, as each
    // runner said it on stdout, the loser's last ones above everything recorded before them.
    const rows = await eventually('both runs in devsup_transitions', async () => {
      assert.deepEqual(await pg.query(`SELECT runner_id, status, port FROM devsup_dev_servers WHERE project_id = '${id}'`),
        [[winner.runnerId, 'running', String(ws.port)]]);
      const r = await pg.query(`SELECT runner_id, seq, from_state, to_state, reason FROM devsup_transitions WHERE project_id = '${id}' ORDER BY seq`);
      assert.equal(r.length, 6, JSON.stringify(r));
      return r;
    });
    for (const d of [winner, loser]) {
      const said = d.states(id).map((e) => [d.runnerId, String(e.seq), e.from, e.to, e.reason ?? null]);
      assert.deepEqual(rows.filter((r) => r[0] === d.runnerId), said);
    }
    const firstFour = rows.filter((r) => r[3] === 'starting' || r[3] === 'running').map((r) => BigInt(r[1]));
    for (const r of rows.filter((x) => x[0] === loser.runnerId && (x[3] === 'stopping' || x[3] === 'stopped'))) {
      assert.ok(firstFour.every((s) => BigInt(r[1]) > s), `the loser's ${r[3]} (seq ${r[1]}) is not above the runs' seqs`);
    }
    // The winner's own stop lands too (its seqs never meet the loser's).
    await stopOk(winner, id);
    await eventually('the winner\'s stop in devsup_transitions', async () => {
      const r = await pg.query(`SELECT count(*), count(DISTINCT seq) FROM devsup_transitions WHERE project_id = '${id}'`);
      assert.deepEqual(r, [['8', '8']]);
      assert.deepEqual(await pg.query(`SELECT runner_id, status FROM devsup_dev_servers WHERE project_id = '${id}'`),
        [[winner.runnerId, 'stopped']]);
    });
  })));

// The rule of sql/003_owner.sql on its own, in one session (which holds runner A's liveness lock,
// so A is alive while B and C are not).
test('the ownership rule in SQL: a live row of an alive runner is never overwritten and names its holder; a dead holder is taken over (runner_lost), one that came back is not', T, () =>
  withPostgres(async (pg) => {
    await new Promise((resolve, reject) => execFile(DEVSUP_BIN, ['--migrate', '--db', pg.url], { timeout: 60000 },
      (err, _out, stderr) => (err ? reject(new Error(`devsup --migrate: ${err.message}\n${stderr}`)) : resolve())));
    const rec = (step, runner, seq, from, to, port = 'NULL') => `INSERT INTO v SELECT ${step}, * FROM devsup_record_transition(` +
      `'p', '${runner}', ${seq}, '${from}', '${to}', NULL, now(), ${port}, NULL, NULL, NULL, NULL, NULL, NULL);`;
    const res = await pg.query(`
      CREATE TEMP TABLE v (step int, holder text, host text, status text, top bigint);
      INSERT INTO devsup_runners VALUES ('A', 'host-a', 1, 'x', now(), NULL, 3000, 3999),
        ('B', 'host-b', 2, 'x', now(), NULL, 3000, 3999), ('C', 'host-c', 3, 'x', now(), NULL, 3000, 3999);
      SELECT pg_advisory_lock(devsup_runner_lock_key('A'));
      ${rec(1, 'A', 10, 'idle', 'starting', 3001)}
      ${rec(2, 'B', 20, 'idle', 'starting', 3002)}
      ${rec(3, 'B', 21, 'starting', 'running', 3002)}
      ${rec(4, 'A', 11, 'starting', 'running', 3001)}
      ${rec(5, 'B', 1021, 'running', 'stopping')}
      INSERT INTO v SELECT 6, * FROM devsup_project_holder('p', 'B');
      INSERT INTO v SELECT 7, * FROM devsup_project_holder('p', 'A');
      SELECT pg_advisory_unlock(devsup_runner_lock_key('A'));
      INSERT INTO v SELECT 8, * FROM devsup_project_holder('p', 'C');
      ${rec(9, 'C', 2000, 'idle', 'starting', 3003)}
      SELECT json_build_object(
        'verdicts', (SELECT json_agg(json_build_array(step, holder, host, status, top) ORDER BY step) FROM v),
        'row', (SELECT json_build_array(runner_id, status, seq, port) FROM devsup_dev_servers WHERE project_id = 'p'),
        'history', (SELECT json_agg(json_build_array(runner_id, seq, to_state, reason) ORDER BY seq)
                    FROM devsup_transitions WHERE project_id = 'p'))`);
    const got = JSON.parse(res[res.length - 1][0]); // psql prints every statement's result: ours is last
    assert.deepEqual(got.verdicts, [
      // B's writes while A, alive, holds p live: refused, naming A; its history rows land
      [2, 'A', 'host-a', 'starting', 20],
      [3, 'A', 'host-a', 'starting', 21],
      // A's own write goes through ("latest wins")
      [5, 'A', 'host-a', 'running', 1021],
      [6, 'A', 'host-a', 'running', 1021],
      // nothing holds it against A; with A's lock gone nothing holds it against C either, and
      // C's write takes it over, closing A's run (runner_lost, the row's seq + 1)
    ], JSON.stringify(got));
    assert.deepEqual(got.row, ['C', 'starting', 2000, 3003]);
    assert.deepEqual(got.history, [
      ['A', 10, 'starting', null], ['A', 11, 'running', null], ['A', 12, 'failed', 'runner_lost'],
      ['B', 20, 'starting', null], ['B', 21, 'running', null], ['B', 1021, 'stopping', null],
      ['C', 2000, 'starting', null]]);

    // A run closed as lost (runner_lost, written under the lost runner's id by the runner that
    // starts the project again) while that runner is back, on its own session: nothing is written.
    const holder = spawn('psql', ['-X', '-q', pg.url, '-c',
      "SELECT pg_advisory_lock(devsup_runner_lock_key('D')); SELECT pg_sleep(60);"],
    { stdio: 'ignore', env: { ...process.env, PGAPPNAME: 'e2e-runner-d' } });
    try {
      await eventually('D is alive on its own session', async () =>
        assert.deepEqual(await pg.query("SELECT devsup_runner_alive('D')"), [['t']]));
      await pg.query("SELECT * FROM devsup_record_transition('q', 'D', 5, 'running', 'failed', 'runner_lost', now(), " +
        'NULL, NULL, NULL, NULL, NULL, NULL, NULL)');
      assert.deepEqual(await pg.query("SELECT count(*) FROM devsup_transitions WHERE project_id = 'q'"), [['0']]);
      assert.deepEqual(await pg.query("SELECT count(*) FROM devsup_dev_servers WHERE project_id = 'q'"), [['0']]);
    } finally {
      await pg.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'e2e-runner-d'");
      holder.kill('SIGKILL');
    }
  }));

// The check-then-write race while connected: both ownership checks are held back (a lock on the
// rows they read) until both starts went ahead on their deadline, so both see the project free.
// Their `starting` writes then meet in the database: the one that commits first holds it, the
// other's start is answered owned_by_other_runner (it was still starting) and its tree stopped.
test('two connected runners that both passed the ownership check: the start recorded second is refused afterwards and stopped', T, () =>
  withPostgres((pg) => withRunners(pg, 2, async ([a, b]) => {
    await Promise.all([a, b].map(connected));
    const locker = spawn('psql', ['-X', '-q', pg.url, '-c',
      'BEGIN; LOCK TABLE devsup_dev_servers IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(60);'],
    { stdio: 'ignore', env: { ...process.env, PGAPPNAME: 'e2e-locker' } });
    const id = projectId('race');
    // a server that stays `starting` for the whole test: the verdict meets the start under way
    const fields = { projectId: id, command: serverCmd('--listen-after', '60000'), healthCheck: { timeoutMs: 60000 } };
    let answers;
    try {
      await eventually('the lock is held', async () => {
        const n = await pg.query("SELECT count(*) FROM pg_locks WHERE mode = 'AccessExclusiveLock' " +
          "AND relation = 'devsup_dev_servers'::regclass AND granted");
        assert.equal(n[0][0], '1');
      });
      answers = [a, b].map((d) => start(d, fields, 60000));
      await eventually('both started on their deadline', async () => {
        for (const d of [a, b]) assert.deepEqual(d.states(id).map((e) => e.to), ['starting']);
      }, 10000);
    } finally {
      // the backend sleeps on without noticing its client is gone: end it, and its lock
      await pg.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'e2e-locker'");
      locker.kill('SIGKILL');
    }
    const { loser, winner, err } = await eventually('one start is refused', async () => {
      const refused = [a, b].filter((d) => d.events.some((e) => e.type === 'error' && e.projectId === id));
      assert.equal(refused.length, 1, `refused: ${refused.map((d) => d.runnerId)}`);
      const l = refused[0];
      return { loser: l, winner: l === a ? b : a, err: l.events.find((e) => e.type === 'error' && e.projectId === id) };
    }, 20000);
    expectError(err, 'owned_by_other_runner');
    assert.ok(err.error.includes(winner.runnerId) && err.error.includes(os.hostname()), JSON.stringify(err));
    assert.equal((await answers[loser === a ? 0 : 1]).type, 'error');
    await eventually('the loser\'s run is stopped and nothing of it survives', async () => {
      assert.deepEqual(loser.states(id).map((e) => [e.to, e.reason ?? null]), [
        ['starting', null], ['stopping', 'owned_by_other_runner'], ['stopped', 'owned_by_other_runner']]);
      assert.deepEqual(runnerPids(loser.runnerId), []);
      assert.deepEqual(reaperPids(loser.proc.pid), []);
    });
    assert.deepEqual(winner.states(id).map((e) => e.to), ['starting']);
    assert.deepEqual(await pg.query(`SELECT runner_id, status FROM devsup_dev_servers WHERE project_id = '${id}'`),
      [[winner.runnerId, 'starting']]);
    const lst = expectType(await loser.request({ type: 'status', projectId: id }), 'status').projects[0];
    assert.equal(lst.lastFailure?.reason, 'owned_by_other_runner', JSON.stringify(lst));
    // the winner's start is still its own: a stop cancels it as usual
    await stopOk(winner, id);
    expectError(await answers[winner === a ? 0 : 1], 'cancelled');
  })));

// A partition: runner A's session ends and it cannot come back for a while (its role may not log
// in), so it is not alive; B starts p over it (A's run closed runner_lost). When A is back it
// takes its lock again and asks, for each project it runs, who holds it: B does, and A stops its
// run, although nothing of A's was queued for p.
test('a runner cut off long enough to be taken over stops its run when it is back (owned_by_other_runner)', T, () =>
  withPostgres(async (pg) => {
    await pg.query('CREATE ROLE runner_a LOGIN SUPERUSER');
    const urlA = pg.url.replace('user=postgres', 'user=runner_a');
    const ds = [];
    try {
      ds.push(await spawnDevsup({ args: ['--db', urlA] }), await spawnDevsup({ args: ['--db', pg.url] }));
      const [a, b] = ds;
      await Promise.all([a, b].map(connected));
      const id = projectId('cut');
      const sa = await startOk(a, { projectId: id, command: serverCmd() });
      await eventually('A\'s run is in the database', async () =>
        assert.deepEqual(await pg.query(`SELECT runner_id, status FROM devsup_dev_servers WHERE project_id = '${id}'`),
          [[a.runnerId, 'running']]));
      await pg.query('ALTER ROLE runner_a NOLOGIN');
      await pg.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'runner_a'");
      await eventually('A is not alive', async () => assert.equal(await aliveOf(pg, a), false));
      const sb = await startOk(b, { projectId: id, command: serverCmd() });
      assert.equal(isAlive(sa.pid), true, 'A\'s server runs on, cut off');

      await pg.query('ALTER ROLE runner_a LOGIN');
      const ev = await a.next((e) => e.type === 'dev-server-exited' && e.projectId === id, 20000);
      assert.equal(ev.reason, 'owned_by_other_runner', JSON.stringify(ev));
      assert.ok(ev.message.includes(b.runnerId), JSON.stringify(ev));
      assert.deepEqual(a.states(id).map((e) => e.to), ['starting', 'running', 'stopping', 'stopped']);
      assert.equal(isAlive(sa.pid), false);
      assert.deepEqual(runnerPids(a.runnerId), []);
      // B's run is the one that stays, and the row stays B's
      assert.equal((await httpGet(sb.url)).status, 200);
      assert.equal(b.events.some((e) => e.type === 'dev-server-exited'), false);
      await eventually('A\'s stop is in the history, the row is B\'s', async () => {
        const r = await pg.query(`SELECT runner_id, to_state, reason FROM devsup_transitions WHERE project_id = '${id}' ORDER BY seq`);
        assert.deepEqual(r, [
          [a.runnerId, 'starting', null], [a.runnerId, 'running', null], [a.runnerId, 'failed', 'runner_lost'],
          [b.runnerId, 'starting', null], [b.runnerId, 'running', null],
          [a.runnerId, 'stopping', 'owned_by_other_runner'], [a.runnerId, 'stopped', 'owned_by_other_runner']]);
        assert.deepEqual(await pg.query(`SELECT runner_id, status FROM devsup_dev_servers WHERE project_id = '${id}'`),
          [[b.runnerId, 'running']]);
      });
      await stopOk(b, id);
      for (const d of ds) d.assertProtocolClean();
    } catch (err) {
      try { err.message += ds.map((d) => d.context()).join(''); } catch { /* read-only */ }
      throw err;
    } finally {
      for (const d of ds) await d.dispose();
    }
  }));
