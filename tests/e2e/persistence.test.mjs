// Postgres persistence (SPEC §7): migrations, one row per transition exactly once, the latest state
// per project, writes that survive Postgres crashes and cut connections, a database that appears
// after devsup, and recovery of what a SIGKILLed devsup left behind.
//
// Each test runs its own throwaway Postgres 15 (lib/pg.mjs). Without the binaries the suite fails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  spawnDevsup, withDevsup, projectId, runnerId, serverCmd, runnerPids, procStat, procEnviron, isAlive, pollUntil,
  describePids, sleep, freePort, DEVSUP_BIN, REPO, VALGRIND,
} from './lib/harness.mjs';
import { start, startOk, stopOk, expectType, expectError, assertStateChain } from './lib/dev.mjs';
import { preparePostgres, withPostgres } from './lib/pg.mjs';

const T = { timeout: 90000 };
const DB_WAIT_MS = 15000;

// ---------------------------------------------------------------------------------------------
// helpers

/** The migrations devsup must have applied: sql/NNN_name.sql, by version. */
const MIGRATIONS = readdirSync(path.join(REPO, 'sql'))
  .filter((f) => /^\d+_.*\.sql$/.test(f))
  .map((f) => ({ version: String(parseInt(f, 10)), file: f }))
  .sort((a, b) => Number(a.version) - Number(b.version));

/** Retry fn (async, throws while not satisfied) every intervalMs until it passes or timeoutMs. */
async function eventually(what, fn, timeoutMs = DB_WAIT_MS, intervalMs = 50) {
  const end = performance.now() + timeoutMs;
  let lastErr;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      lastErr = err;
    }
    if (performance.now() >= end) break;
    await sleep(intervalMs);
  }
  try {
    lastErr.message = `${what}: still not true after ${timeoutMs} ms:\n${lastErr.message}`;
  } catch { /* read-only */ }
  throw lastErr;
}

/** Run devsup as a one-shot command (--migrate); never throws. */
function runDevsup(args, { timeoutMs = 30000, env = {} } = {}) {
  const baseEnv = { ...process.env };
  delete baseEnv.DATABASE_URL;
  return new Promise((resolve) => {
    const t0 = performance.now();
    execFile(DEVSUP_BIN, args, { timeout: timeoutMs, env: { ...baseEnv, ...env } }, (err, stdout, stderr) => {
      resolve({
        code: err ? (typeof err.code === 'number' ? err.code : null) : 0,
        signal: err?.signal ?? null,
        stdout,
        stderr,
        ms: performance.now() - t0,
      });
    });
  });
}

const sqlList = (ids) => ids.map((id) => `'${id.replace(/'/g, "''")}'`).join(', ');
const bySeq = (a, b) => (BigInt(a.seq) < BigInt(b.seq) ? -1 : BigInt(a.seq) > BigInt(b.seq) ? 1 : 0);
const byProjectSeq = (a, b) => (a.project_id < b.project_id ? -1 : a.project_id > b.project_id ? 1 : bySeq(a, b));
const key = (t) => `${t.project_id}#${t.seq}`;

/** dev-server-state events of the given projects, from one or more devsups, as transition rows. */
function eventTransitions(ds, ids) {
  const out = [];
  for (const d of [].concat(ds)) {
    for (const e of d.events) {
      if (e.type !== 'dev-server-state' || !ids.includes(e.projectId)) continue;
      out.push({
        project_id: e.projectId,
        runner_id: d.runnerId,
        seq: String(e.seq),
        from_state: e.from,
        to_state: e.to,
        reason: e.reason ?? null,
      });
    }
  }
  return out.sort(byProjectSeq);
}

async function dbTransitions(pg, ids) {
  const rows = await pg.query(
    'SELECT project_id, runner_id, seq, from_state, to_state, reason, at IS NOT NULL FROM devsup_transitions ' +
    `WHERE project_id IN (${sqlList(ids)})`);
  return rows.map(([project_id, runner_id, seq, from_state, to_state, reason, hasAt]) => {
    assert.equal(hasAt, 't', `transition ${project_id} ${seq} has no "at"`);
    return { project_id, runner_id, seq, from_state, to_state, reason };
  }).sort(byProjectSeq);
}

/** devsup_transitions holds exactly the expected transitions: none missing, none twice, none extra. */
async function assertTransitionsInDb(pg, expected, ids) {
  const got = await dbTransitions(pg, ids);
  const counts = new Map();
  for (const r of got) counts.set(key(r), (counts.get(key(r)) || 0) + 1);
  const dups = [...counts].filter(([, n]) => n > 1).map(([k, n]) => `${k} ×${n}`);
  const gotKeys = new Set(got.map(key));
  const expKeys = new Set(expected.map(key));
  const missing = expected.filter((t) => !gotKeys.has(key(t)));
  const extra = got.filter((t) => !expKeys.has(key(t)));
  const expByKey = new Map(expected.map((t) => [key(t), t]));
  const differ = got.filter((t) => expByKey.has(key(t)) && JSON.stringify(t) !== JSON.stringify(expByKey.get(key(t))))
    .map((t) => `db ${JSON.stringify(t)} vs event ${JSON.stringify(expByKey.get(key(t)))}`);
  const show = (a) => a.slice(0, 8).map((t) => JSON.stringify(t)).join('\n      ') + (a.length > 8 ? `\n      … ${a.length - 8} more` : '');
  if (dups.length || missing.length || extra.length || differ.length || got.length !== expected.length) {
    assert.fail(`devsup_transitions (${got.length} rows) vs the ${expected.length} dev-server-state events:` +
      (dups.length ? `\n  duplicated (project_id, seq): ${dups.join(', ')}` : '') +
      (missing.length ? `\n  ${missing.length} missing:\n      ${show(missing)}` : '') +
      (extra.length ? `\n  ${extra.length} not seen on stdout:\n      ${show(extra)}` : '') +
      (differ.length ? `\n  ${differ.length} differ:\n      ${differ.slice(0, 8).join('\n      ')}` : ''));
  }
  assert.deepEqual(got, expected);
}

async function dbServers(pg, ids) {
  const rows = await pg.query(
    'SELECT project_id, runner_id, status, port, pid, pgid, tunnel_url, failure_reason, failure_message, seq, ' +
    `updated_at IS NOT NULL FROM devsup_dev_servers WHERE project_id IN (${sqlList(ids)})`);
  const m = new Map();
  for (const [project_id, runner_id, status, port, pid, pgid, tunnel_url, failure_reason, failure_message, seq, hasUpdated] of rows) {
    assert.ok(!m.has(project_id), `two devsup_dev_servers rows for ${project_id}`);
    m.set(project_id, { project_id, runner_id, status, port, pid, pgid, tunnel_url, failure_reason, failure_message, seq, hasUpdated });
  }
  return m;
}

/**
 * The devsup_dev_servers row of each project shows its latest transition (from `expected`, the
 * transitions of eventTransitions). `started`: projectId → dev-server-started, for running rows.
 */
async function assertRowsLatest(pg, expected, ids, started = {}) {
  const rows = await dbServers(pg, ids);
  for (const id of ids) {
    const last = expected.filter((t) => t.project_id === id).at(-1);
    assert.ok(last, `no dev-server-state event for ${id}`);
    const row = rows.get(id);
    assert.ok(row, `no devsup_dev_servers row for ${id}`);
    const w = `devsup_dev_servers row ${JSON.stringify(row)} (latest event: ${JSON.stringify(last)})`;
    assert.equal(row.status, last.to_state, `status: ${w}`);
    assert.equal(row.seq, last.seq, `seq: ${w}`);
    assert.equal(row.runner_id, last.runner_id, `runner_id: ${w}`);
    assert.equal(row.hasUpdated, 't', `updated_at: ${w}`);
    if (row.status === 'stopped') {
      for (const f of ['port', 'pid', 'pgid', 'tunnel_url']) assert.equal(row[f], null, `${f} must be NULL when stopped: ${w}`);
    }
    if (row.status === 'running' && started[id]) {
      const s = started[id];
      assert.equal(row.port, String(s.port), `port: ${w} vs ${JSON.stringify(s)}`);
      assert.equal(row.pid, String(s.pid), `pid: ${w} vs ${JSON.stringify(s)}`);
      assert.equal(row.pgid, String(s.pgid), `pgid: ${w} vs ${JSON.stringify(s)}`);
    }
    if (row.status === 'failed') {
      assert.equal(row.failure_reason, last.reason, `failure_reason: ${w}`);
      assert.ok(row.failure_message && row.failure_message.trim().length > 0, `failure_message empty: ${w}`);
    }
  }
  return rows;
}

/** Everything seen on stdout for ids is in the database, and each row is the latest. */
async function assertDbMatches(pg, ds, ids, started) {
  const expected = eventTransitions(ds, ids);
  await assertTransitionsInDb(pg, expected, ids);
  await assertRowsLatest(pg, expected, ids, started);
  return expected;
}

function assertPersistenceShape(p, where, enabled = true) {
  assert.ok(p && typeof p === 'object', `${where}: no persistence object`);
  assert.equal(p.enabled, enabled, `${where}: persistence.enabled in ${JSON.stringify(p)}`);
  assert.equal(typeof p.connected, 'boolean', `${where}: persistence.connected in ${JSON.stringify(p)}`);
  assert.ok(Number.isInteger(p.queued) && p.queued >= 0, `${where}: persistence.queued in ${JSON.stringify(p)}`);
  assert.ok(p.oldestQueuedMs === null || p.oldestQueuedMs === undefined || typeof p.oldestQueuedMs === 'number',
    `${where}: persistence.oldestQueuedMs in ${JSON.stringify(p)}`);
  if (enabled && p.queued > 0) {
    assert.ok(typeof p.oldestQueuedMs === 'number' && p.oldestQueuedMs >= 0,
      `${where}: writes are queued but oldestQueuedMs is ${JSON.stringify(p.oldestQueuedMs)}`);
  }
  return p;
}

async function persistence(d, what = 'status') {
  const st = expectType(await d.request({ type: 'status' }), 'status');
  return assertPersistenceShape(st.persistence, what);
}

/** status and metrics both say: connected, nothing queued. */
async function assertDrained(d) {
  await eventually('devsup reports persistence connected with nothing queued', async () => {
    const p = await persistence(d);
    assert.equal(p.connected, true, `status.persistence ${JSON.stringify(p)}`);
    assert.equal(p.queued, 0, `status.persistence ${JSON.stringify(p)}`);
  });
  const m = expectType(await d.request({ type: 'metrics' }), 'metrics');
  assertPersistenceShape(m.persistence, 'metrics');
  assert.equal(m.persistence.connected, true, `metrics.persistence ${JSON.stringify(m.persistence)}`);
}

/** Every project's seq strictly increases over its events (any number of devsups, in order). */
function assertSeqIncreasing(ds, ids) {
  for (const id of ids) {
    let prev = null;
    for (const d of [].concat(ds)) {
      for (const e of d.states(id)) {
        assert.ok(Number.isSafeInteger(e.seq), `seq is not an integer: ${JSON.stringify(e)}`);
        if (prev !== null) assert.ok(e.seq > prev.seq, `seq not strictly increasing for ${id}: ${JSON.stringify(prev)} then ${JSON.stringify(e)}`);
        prev = e;
      }
    }
  }
}

/**
 * Cycle start/stop of each project at least minCycles times, and until disrupt() has finished,
 * while pinging devsup every 100 ms. disrupt(counts) runs alongside.
 */
async function churn(d, ids, minCycles, disrupt) {
  const counts = ids.map(() => 0);
  const pongMs = [];
  let disrupting = true;
  let failed = false;
  const loops = ids.map(async (id, i) => {
    while (!failed && (counts[i] < minCycles || disrupting)) {
      await startOk(d, { projectId: id, command: serverCmd() });
      await stopOk(d, id);
      counts[i]++;
    }
  });
  let looping = true;
  let pingErr = null;
  const pinger = (async () => {
    while (looping && !failed) {
      const t0 = performance.now();
      expectType(await d.request({ type: 'ping' }, 10000), 'pong');
      pongMs.push(performance.now() - t0);
      await sleep(100);
    }
  })().catch((err) => { pingErr = err; });
  const dis = (async () => {
    try { await disrupt(counts); } finally { disrupting = false; }
  })();
  try {
    await Promise.all([dis, ...loops]);
  } catch (err) {
    failed = true;
    throw err;
  } finally {
    looping = false;
    disrupting = false;
    await pinger;
  }
  if (pingErr) throw pingErr;
  const slow = pongMs.filter((ms) => ms > 1000);
  assert.ok(pongMs.length >= 10, `only ${pongMs.length} pings answered during the churn`);
  assert.deepEqual(slow.map(Math.round), [], `pongs slower than 1000 ms (of ${pongMs.length}; max ${Math.round(Math.max(...pongMs))} ms)`);
  return { counts, pongMs };
}

async function waitUntil(what, pred, timeoutMs) {
  const ok = await pollUntil(pred, timeoutMs, 20);
  assert.ok(ok, `timed out after ${timeoutMs} ms: ${what}`);
}

// ---------------------------------------------------------------------------------------------
// tests

test('without --db or DATABASE_URL persistence is disabled', T, () =>
  withDevsup({}, async (d) => {
    assert.equal(d.ready.persistence, 'disabled', `ready: ${JSON.stringify(d.ready)}`);
    const st = expectType(await d.request({ type: 'status' }), 'status');
    assert.ok(st.persistence && typeof st.persistence === 'object', `status without persistence: ${JSON.stringify(st)}`);
    assert.equal(st.persistence.enabled, false, `status.persistence: ${JSON.stringify(st.persistence)}`);
    const m = expectType(await d.request({ type: 'metrics' }), 'metrics');
    assert.ok(m.persistence && typeof m.persistence === 'object', `metrics without persistence: ${JSON.stringify(m)}`);
    assert.equal(m.persistence.enabled, false, `metrics.persistence: ${JSON.stringify(m.persistence)}`);
    // Still a working supervisor.
    const id = projectId('nodb');
    await startOk(d, { projectId: id, command: serverCmd() });
    await stopOk(d, id);
  }));

test('--migrate creates the schema once; again is a no-op; no server is exit 1', T, () =>
  withPostgres(async (pg) => {
    assert.ok(MIGRATIONS.length >= 1, 'no sql/NNN_*.sql file in the repository');
    const first = await runDevsup(['--db', pg.url, '--migrate']);
    assert.equal(first.code, 0, `devsup --migrate exited ${first.code} (signal ${first.signal}):\n${first.stderr}`);

    const cols = await pg.query(
      "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public' " +
      "AND table_name IN ('devsup_dev_servers', 'devsup_transitions', 'devsup_schema_migrations')");
    const have = new Set(cols.map(([t, c]) => `${t}.${c}`));
    const need = {
      devsup_dev_servers: ['project_id', 'runner_id', 'status', 'port', 'pid', 'pgid', 'tunnel_url',
        'failure_reason', 'failure_message', 'seq', 'updated_at'],
      devsup_transitions: ['project_id', 'runner_id', 'seq', 'from_state', 'to_state', 'reason', 'at'],
      devsup_schema_migrations: ['version', 'name', 'applied_at'],
    };
    const lacking = Object.entries(need).flatMap(([t, cs]) => cs.map((c) => `${t}.${c}`)).filter((tc) => !have.has(tc));
    assert.deepEqual(lacking, [], `columns missing after --migrate (have: ${[...have].sort().join(', ')})`);

    const q = 'SELECT version, name, applied_at FROM devsup_schema_migrations ORDER BY version';
    const rows1 = await pg.query(q);
    assert.deepEqual(rows1.map((r) => r[0]), MIGRATIONS.map((m) => m.version),
      `devsup_schema_migrations versions vs sql/ (${MIGRATIONS.map((m) => m.file).join(', ')}): ${JSON.stringify(rows1)}`);
    for (const r of rows1) {
      assert.ok(r[1] && r[1].length > 0, `migration without a name: ${JSON.stringify(r)}`);
      assert.ok(r[2], `migration without applied_at: ${JSON.stringify(r)}`);
    }

    const second = await runDevsup(['--db', pg.url, '--migrate']);
    assert.equal(second.code, 0, `second devsup --migrate exited ${second.code}:\n${second.stderr}`);
    assert.deepEqual(await pg.query(q), rows1, 'a second --migrate changed devsup_schema_migrations');

    // A devsup started with DATABASE_URL (no --db) uses it and changes nothing either.
    const d = await spawnDevsup({ env: { DATABASE_URL: pg.url } });
    try {
      assert.equal(d.ready.persistence, 'postgres', `DATABASE_URL set: ready ${JSON.stringify(d.ready)}`);
      await eventually('devsup with DATABASE_URL connects', async () => {
        const p = await persistence(d);
        assert.equal(p.connected, true, JSON.stringify(p));
      });
      assert.deepEqual(await pg.query(q), rows1, 'devsup start-up re-applied migrations');
      d.assertProtocolClean();
    } finally {
      await d.dispose();
    }

    // Nothing listening on the URL: exit 1 with a message.
    const nowhere = preparePostgres();
    try {
      const r = await runDevsup(['--db', nowhere.url, '--migrate'], { timeoutMs: 30000 });
      assert.equal(r.code, 1, `--migrate with no server exited ${r.code} (signal ${r.signal}) after ${Math.round(r.ms)} ms:\n${r.stderr}`);
      assert.ok(r.stderr.trim().length > 0, '--migrate with no server: no message on stderr');
    } finally {
      await nowhere.dispose();
    }
  }));

test('rows and transitions match the dev-server-state events, seq for seq', T, () =>
  withPostgres((pg) => withDevsup({ args: ['--db', pg.url] }, async (d) => {
    assert.equal(d.ready.persistence, 'postgres', `ready: ${JSON.stringify(d.ready)}`);
    const a = projectId('pa'); // started, then stopped
    const b = projectId('pb'); // running, then crashes: failed crashed
    const c = projectId('pc'); // command_not_found
    const ids = [a, b, c];
    const [sa, sb] = await Promise.all([
      startOk(d, { projectId: a, command: serverCmd() }),
      startOk(d, { projectId: b, command: serverCmd('--listen-after', '0', '--exit-code', '5', '--exit-after', '1500') }),
    ]);
    assert.ok(sb.pid > 0);

    // While a runs, its row carries port, pid and pgid of dev-server-started.
    await eventually(`row of ${a} running with the port, pid and pgid of dev-server-started`, async () => {
      const exp = eventTransitions(d, [a]);
      assert.equal(exp.at(-1).to_state, 'running');
      await assertTransitionsInDb(pg, exp, [a]);
      const rows = await assertRowsLatest(pg, exp, [a], { [a]: sa });
      assert.equal(rows.get(a).status, 'running');
      assert.equal(rows.get(a).tunnel_url, null, 'no tunnel was asked for');
    });

    await stopOk(d, a);
    const ex = await d.next((e) => e.type === 'dev-server-exited' && e.projectId === b, 15000, `dev-server-exited of ${b}`);
    assert.equal(ex.reason, 'crashed', JSON.stringify(ex));
    await d.next((e) => e.type === 'dev-server-state' && e.projectId === b && e.to === 'failed', 10000, `${b} failed`);
    expectError(await start(d, { projectId: c, command: ['devsup-e2e-no-such-command-xyz'] }), 'command_not_found');
    await d.next((e) => e.type === 'dev-server-state' && e.projectId === c && e.to === 'failed', 10000, `${c} failed`);

    assertStateChain(d, a, ['starting', 'running', 'stopping', 'stopped']);
    assertStateChain(d, b, ['starting', 'running', 'failed']);
    assertStateChain(d, c, ['starting', 'failed']);
    assert.equal(d.states(b).at(-1).reason, 'crashed', JSON.stringify(d.states(b)));
    assert.equal(d.states(c).at(-1).reason, 'command_not_found', JSON.stringify(d.states(c)));
    assertSeqIncreasing(d, ids);

    await eventually('devsup_transitions and devsup_dev_servers match the events', () => assertDbMatches(pg, d, ids));
    const rows = await dbServers(pg, ids);
    assert.equal(rows.get(a).status, 'stopped');
    assert.equal(rows.get(b).status, 'failed');
    assert.equal(rows.get(b).failure_reason, 'crashed');
    assert.equal(rows.get(c).status, 'failed');
    assert.equal(rows.get(c).failure_reason, 'command_not_found');
    // Nothing else was written.
    const others = await pg.query(`SELECT count(*) FROM devsup_transitions WHERE project_id NOT IN (${sqlList(ids)})`);
    assert.equal(others[0][0], '0', 'transitions of projects this test never started');
    await assertDrained(d);
  })));

test('Postgres crash (immediate stop) during activity: every transition lands exactly once', T, () =>
  withPostgres((pg) => withDevsup({ args: ['--db', pg.url] }, async (d) => {
    assert.equal(d.ready.persistence, 'postgres');
    await eventually('devsup connects', async () => assert.equal((await persistence(d)).connected, true));
    const ids = [projectId('ca'), projectId('cb'), projectId('cc')];
    const samples = [];
    let atCrash = null;
    let atRestart = null;
    const { counts } = await churn(d, ids, 10, async (cnt) => {
      await waitUntil('every project did 2 cycles', () => cnt.every((n) => n >= 2), 30000);
      await pg.stop('immediate');
      atCrash = [...cnt];
      // At least 3 s down, and until every project cycled again meanwhile (a cycle takes
      // seconds under valgrind on a loaded machine), 60 s at most.
      const t0 = performance.now();
      const cycled = () => cnt.every((n, i) => n > atCrash[i]);
      while (performance.now() - t0 < 3000 || (!cycled() && performance.now() - t0 < 60000)) {
        samples.push(await persistence(d, 'status while Postgres is down'));
        await sleep(100);
      }
      atRestart = [...cnt];
      await pg.start();
    });
    assert.ok(atRestart.every((n, i) => n > atCrash[i]),
      `projects did not keep cycling while Postgres was down: ${JSON.stringify(atCrash)} → ${JSON.stringify(atRestart)}`);
    assert.ok(samples.some((p) => p.connected === false),
      `status.persistence never said connected: false while Postgres was down: ${JSON.stringify(samples)}`);
    assert.ok(samples.some((p) => p.queued > 0),
      `status.persistence never had queued > 0 while Postgres was down: ${JSON.stringify(samples)}`);
    assert.ok(counts.every((n) => n >= 10));
    for (const id of ids) assert.equal(d.states(id).at(-1).to, 'stopped');
    assertSeqIncreasing(d, ids);

    await eventually('every transition seen on stdout is in the database exactly once', () => assertDbMatches(pg, d, ids), 20000);
    await assertDrained(d);
    const n = eventTransitions(d, ids).length;
    assert.ok(n >= 3 * 10 * 4, `only ${n} transitions`);
  })));

test('pg_terminate_backend of devsup\'s connection, twice: every transition lands exactly once', T, () =>
  withPostgres((pg) => withDevsup({ args: ['--db', pg.url] }, async (d) => {
    await eventually('devsup connects', async () => assert.equal((await persistence(d)).connected, true));
    const ids = [projectId('ta'), projectId('tb'), projectId('tc')];
    const killed = [];
    await churn(d, ids, 10, async (cnt) => {
      for (const after of [2, 5]) {
        await waitUntil(`every project did ${after} cycles`, () => cnt.every((n) => n >= after), 30000);
        // devsup is (or soon is again) connected with application_name=devsup.
        killed.push(await eventually(`a backend with application_name=devsup to terminate (after ${after} cycles)`, async () => {
          const n = await pg.terminateDevsup();
          assert.ok(n >= 1, 'no backend with application_name = devsup');
          return n;
        }, 10000));
      }
    });
    assert.equal(killed.length, 2);
    for (const id of ids) assert.equal(d.states(id).at(-1).to, 'stopped');
    assertSeqIncreasing(d, ids);
    await eventually('every transition seen on stdout is in the database exactly once', () => assertDbMatches(pg, d, ids), 20000);
    await assertDrained(d);
  })));

test('devsup started before its database exists writes everything once it appears', T, () =>
  withPostgres(async (pg) => {
    const t0 = performance.now();
    await withDevsup({ args: ['--db', pg.url] }, async (d) => {
      const readyMs = performance.now() - t0;
      assert.equal(d.ready.persistence, 'postgres', `ready with the database absent: ${JSON.stringify(d.ready)}`);
      assert.ok(readyMs < 5000, `ready took ${Math.round(readyMs)} ms with the database absent`);
      const id = projectId('late');
      await startOk(d, { projectId: id, command: serverCmd() });
      await stopOk(d, id);
      assertStateChain(d, id, ['starting', 'running', 'stopping', 'stopped']);
      const p = await persistence(d, 'status with no database');
      assert.equal(p.connected, false, `no server yet: ${JSON.stringify(p)}`);
      assert.ok(p.queued > 0, `4 transitions and nothing queued: ${JSON.stringify(p)}`);

      await sleep(500);
      await pg.start(); // initdb + start on the socket directory of the URL
      await eventually('the queued transitions reach the new database', async () => {
        const mig = await pg.query('SELECT version FROM devsup_schema_migrations ORDER BY version');
        assert.deepEqual(mig.map((r) => r[0]), MIGRATIONS.map((m) => m.version), 'migrations not applied');
        await assertDbMatches(pg, d, [id]);
      });
      await assertDrained(d);
    });
  }, { started: false }));

test('recovery: a SIGKILLed devsup\'s projects are torn down and their rows stopped (runner_restart)', T, () =>
  withPostgres(async (pg) => {
    const rid = runnerId();
    const ids = [projectId('ra'), projectId('rb')];
    const stopTimeoutMs = 5000;
    const a = await spawnDevsup({ args: ['--runner-id', rid, '--db', pg.url] });
    let b = null;
    try {
      const started = {};
      for (const s of await Promise.all(ids.map((id) =>
        startOk(a, { projectId: id, command: serverCmd('--ignore-sigterm', '--children', '1'), stopTimeoutMs })))) {
        started[s.projectId] = s;
      }
      for (const id of ids) {
        const env = procEnviron(started[id].pid) || {};
        assert.equal(env.DEVSUP_RUNNER_ID, rid, `DEVSUP_RUNNER_ID of ${id}'s server`);
        assert.equal(env.DEVSUP_STOP_TIMEOUT_MS, String(stopTimeoutMs), `DEVSUP_STOP_TIMEOUT_MS of ${id}'s server`);
      }
      await eventually('A\'s transitions and running rows are in the database', () => assertDbMatches(pg, a, ids, started));
      const aPids = ids.map((id) => started[id].pid);
      const aSeqMax = Object.fromEntries(ids.map((id) => [id, Math.max(...a.states(id).map((e) => e.seq))]));

      // SIGKILL A; start B with the same runner id as soon as A is dead. A's reapers see EOF and
      // tear down with the 5 s stop timeout, so the SIGTERM-ignoring servers are still alive.
      const tKill = performance.now();
      const aExit = new Promise((resolve) => {
        if (a.proc.exitCode !== null || a.proc.signalCode !== null) resolve();
        else a.proc.once('exit', resolve);
      });
      a.kill('SIGKILL');
      await aExit;
      b = await spawnDevsup({ args: ['--runner-id', rid, '--db', pg.url] });
      const bootMs = performance.now() - tKill;
      assert.ok(aPids.every(isAlive), `the servers died before B started (${Math.round(bootMs)} ms after the SIGKILL)`);
      assert.equal(b.ready.persistence, 'postgres');
      assert.equal(b.ready.runnerId, rid);
      assert.equal(b.ready.recovered, 2, `ready.recovered (B ready ${Math.round(bootMs)} ms after A's SIGKILL): ${JSON.stringify(b.ready)}`);

      // Within the stop timeout plus a few seconds nothing of runner R is left but B itself.
      const leftovers = () => runnerPids(rid, { includeSupervisor: true }).filter((p) => p !== b.proc.pid && procStat(p)?.ppid !== b.proc.pid);
      // an exiting server's environ reads empty before its state turns Z: wait for both
      await pollUntil(() => leftovers().length === 0 && aPids.every((p) => !isAlive(p)), stopTimeoutMs + 4000);
      const left = leftovers();
      assert.deepEqual(left, [], `${Math.round(performance.now() - tKill)} ms after A's SIGKILL, processes of runner ${rid} alive:\n    ${describePids(left)}`);
      assert.ok(aPids.every((p) => !isAlive(p)));

      // B fixes the rows: running → stopping → stopped, reason runner_restart, on stdout and in the db.
      for (const id of ids) {
        await b.next((e) => e.type === 'dev-server-state' && e.projectId === id && e.to === 'stopped', 20000, `B: ${id} stopped`);
        const evs = b.states(id);
        assert.deepEqual(evs.map((e) => [e.from, e.to, e.reason]),
          [['running', 'stopping', 'runner_restart'], ['stopping', 'stopped', 'runner_restart']],
          `B's dev-server-state events for ${id}: ${JSON.stringify(evs)}`);
        for (const e of evs) {
          assert.equal(e.commandId, undefined, `recovery event with a commandId: ${JSON.stringify(e)}`);
          assert.ok(e.seq > aSeqMax[id], `B's seq ${e.seq} not above A's ${aSeqMax[id]} for ${id}`);
        }
      }
      assertSeqIncreasing([a, b], ids);
      await eventually('A\'s and B\'s transitions all in the database, rows stopped', async () => {
        const exp = await assertDbMatches(pg, [a, b], ids);
        for (const id of ids) {
          const mine = exp.filter((t) => t.project_id === id);
          assert.deepEqual(mine.slice(-2).map((t) => [t.from_state, t.to_state, t.reason]),
            [['running', 'stopping', 'runner_restart'], ['stopping', 'stopped', 'runner_restart']]);
        }
      });
      const rows = await dbServers(pg, ids);
      for (const id of ids) assert.equal(rows.get(id).status, 'stopped');

      // Starting the same project again under B continues its seq.
      const again = await startOk(b, { projectId: ids[0], command: serverCmd() });
      const bStates = b.states(ids[0]);
      const newStart = bStates.find((e) => e.to === 'starting');
      assert.ok(newStart, `no starting event from B for ${ids[0]}: ${JSON.stringify(bStates)}`);
      const earlier = [...a.states(ids[0]), ...bStates.slice(0, bStates.indexOf(newStart))];
      const maxEarlier = Math.max(...earlier.map((e) => e.seq));
      assert.ok(newStart.seq > maxEarlier, `B's new start of ${ids[0]} has seq ${newStart.seq}, not above earlier ${maxEarlier}`);
      await eventually('the new start is in the database', () => assertDbMatches(pg, [a, b], ids, { [ids[0]]: again }));
      await stopOk(b, ids[0]);
      assertSeqIncreasing([a, b], ids);
      await eventually('everything in the database', () => assertDbMatches(pg, [a, b], ids));
      await assertDrained(b);
      b.assertProtocolClean();
    } catch (err) {
      try { err.message += (b ? b.context() : '') + a.context(); } catch { /* read-only */ }
      throw err;
    } finally {
      if (b) await b.dispose();
      await a.dispose();
    }
  }));

test('a transition the database refuses for good is dropped, and never blocks the others', T, () =>
  withPostgres((pg) => withDevsup({ args: ['--db', pg.url, '--runner-id', runnerId()] }, async (d) => {
    // Schema first (a start makes devsup connect and migrate), then a rule that refuses one project.
    const first = projectId('pre');
    await startOk(d, { projectId: first, command: serverCmd() });
    await stopOk(d, first);
    await eventually('schema applied and first project written', () => assertDbMatches(pg, d, [first]));
    const bad = projectId('poison');
    await pg.query(`ALTER TABLE devsup_transitions ADD CONSTRAINT e2e_refuse CHECK (project_id <> '${bad}')`);
    const good = projectId('good');
    await Promise.all([
      startOk(d, { projectId: bad, command: serverCmd() }),
      startOk(d, { projectId: good, command: serverCmd() }),
    ]);
    await Promise.all([stopOk(d, bad), stopOk(d, good)]);
    // Every transition of the good project lands, in spite of the refused ones around it.
    await eventually('the good project is fully written', () => assertDbMatches(pg, d, [good]));
    await eventually('nothing stays queued behind the refused rows', () => assertDrained(d));
    const refused = await pg.query(`SELECT count(*) FROM devsup_transitions WHERE project_id = '${bad}'`);
    assert.equal(refused[0][0], '0');
    assert.match(d.stderr, /dropping transition/);
    const pong = await d.request({ type: 'ping' });
    assert.equal(pong.type, 'pong');
  })));

// ---------------------------------------------------------------------------------------------
// roles, URLs, resolvers, poolers (issue 12, #6-#9)

/** pg.url as another role (trust authentication: no password). */
const urlAs = (pg, role) => pg.url.replace('user=postgres', `user=${role}`);

/** A login role that may read and write devsup's tables; `create`: also CREATE on public. */
async function writerRole(pg, role, { create = false, exists = false } = {}) {
  await pg.query(`${exists ? '' : `CREATE ROLE ${role} LOGIN; `}GRANT USAGE ON SCHEMA public TO ${role}; ` +
    `GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO ${role}; ` +
    `GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO ${role}` +
    (create ? `; GRANT CREATE ON SCHEMA public TO ${role}` : ''));
}

async function cycle(d, ids) {
  await Promise.all(ids.map((id) => startOk(d, { projectId: id, command: serverCmd() })));
  await Promise.all(ids.map((id) => stopOk(d, id)));
}

test('a privilege revoked for a moment delays transitions, never loses them (SQLSTATE 42501 is retried)', T, () =>
  withPostgres(async (pg) => {
    const mig = await runDevsup(['--db', pg.url, '--migrate']);
    assert.equal(mig.code, 0, mig.stderr);
    // CREATE too, so that nothing but the revoked INSERT stands in the way.
    await writerRole(pg, 'e2e_w', { create: true });
    await withDevsup({ args: ['--db', urlAs(pg, 'e2e_w')] }, async (d) => {
      await eventually('devsup connects as e2e_w', async () => assert.equal((await persistence(d)).connected, true));
      const before = [projectId('rv0')];
      await cycle(d, before);
      await eventually('written before the revoke', () => assertDbMatches(pg, d, before));

      await pg.query('REVOKE INSERT ON devsup_transitions FROM e2e_w');
      const ids = [projectId('rv1'), projectId('rv2'), projectId('rv3')];
      await cycle(d, ids);
      await eventually('the refused writes wait in the outbox', async () => {
        const p = await persistence(d);
        assert.ok(p.queued >= 12, `12 transitions made while INSERT is revoked, queued: ${JSON.stringify(p)}`);
      });
      await sleep(1000); // a few refused attempts
      assert.equal((await pg.query(`SELECT count(*) FROM devsup_transitions WHERE project_id IN (${sqlList(ids)})`))[0][0], '0');
      await pg.query('GRANT INSERT ON devsup_transitions TO e2e_w');
      await eventually('every transition lands exactly once after the GRANT', () => assertDbMatches(pg, d, [...before, ...ids]), 20000);
      await assertDrained(d);
      assert.doesNotMatch(d.stderr, /dropping transition/);
    });
  }));

test('a role with table privileges but no CREATE writes without DDL; behind, it says to run --migrate', T, () =>
  withPostgres(async (pg) => {
    // Behind: no schema, and the role may not create it. Clear words in status and the log.
    await pg.query('CREATE ROLE e2e_nocreate LOGIN');
    await withDevsup({ args: ['--db', urlAs(pg, 'e2e_nocreate')] }, async (d) => {
      const id = projectId('behind');
      await cycle(d, [id]);
      const p = await eventually('status.persistence says why nothing is written', async () => {
        const q = await persistence(d);
        assert.equal(q.connected, false);
        assert.match(q.problem || '', /behind.*0 of \d+ migrations.*e2e_nocreate.*permission denied.*devsup --migrate/s, JSON.stringify(q));
        return q;
      });
      assert.equal(p.queued, 4, JSON.stringify(p));
      assert.match(d.stderr, /devsup --migrate/);

      // An owner migrates; the writer then catches up on its own (no restart), without DDL.
      const mig = await runDevsup(['--db', pg.url, '--migrate']);
      assert.equal(mig.code, 0, mig.stderr);
      await writerRole(pg, 'e2e_nocreate', { exists: true });
      await eventually('the queued transitions land once the schema is current', () => assertDbMatches(pg, d, [id]), 20000);
      await assertDrained(d);
      const q = await persistence(d);
      assert.equal(q.problem, undefined, `problem still reported once writing: ${JSON.stringify(q)}`);
    });
    // A fresh devsup of the same role connects and writes straight away.
    await withDevsup({ args: ['--db', urlAs(pg, 'e2e_nocreate')] }, async (d) => {
      const id = projectId('current');
      await cycle(d, [id]);
      await eventually('written by a role without CREATE', () => assertDbMatches(pg, d, [id]));
    });
  }));

test('--db-queue-max bounds the outbox while Postgres is away: the oldest are shed, counted and logged', T, () =>
  withPostgres(async (pg) => {
    await withDevsup({ args: ['--db', pg.url, '--db-queue-max', '5'] }, async (d) => {
      const ids = [projectId('qa'), projectId('qb')];
      for (const id of ids) await cycle(d, [id]);
      const p = await persistence(d);
      assert.equal(p.connected, false);
      assert.equal(p.queued, 5, JSON.stringify(p));
      assert.equal(p.shed, 3, JSON.stringify(p));
      assert.equal(p.queueMax, 5, JSON.stringify(p));
      assert.match(d.stderr, /outbox is full \(5, --db-queue-max\): shedding transition/);
      const m = expectType(await d.request({ type: 'metrics' }), 'metrics');
      assert.equal(m.persistence.shed, 3, JSON.stringify(m.persistence));

      await pg.start();
      // What is written: the last five transitions, and each project's row is its latest state.
      const all = eventTransitions(d, ids);
      const order = d.events.filter((e) => e.type === 'dev-server-state' && ids.includes(e.projectId))
        .map((e) => `${e.projectId}#${e.seq}`);
      const kept = new Set(order.slice(-5));
      await eventually('the five kept transitions land', async () => {
        await assertTransitionsInDb(pg, all.filter((t) => kept.has(key(t))), ids);
        await assertRowsLatest(pg, all, ids);
      });
      await assertDrained(d);
    });
  }, { started: false }));

test('settings in the URL win over devsup\'s: options=-c search_path puts the tables in that schema', T, () =>
  withPostgres(async (pg) => {
    await pg.query('CREATE SCHEMA devsup_schema');
    const url = `${pg.url}&options=${encodeURIComponent('-c search_path=devsup_schema')}&application_name=devsup`;
    await withDevsup({ args: ['--db', url] }, async (d) => {
      const id = projectId('sp');
      await cycle(d, [id]);
      await eventually('the transitions are in devsup_schema', async () => {
        const n = await pg.query(`SELECT count(*) FROM devsup_schema.devsup_transitions WHERE project_id = '${id}'`);
        assert.equal(n[0][0], '4');
      });
      const pub = await pg.query("SELECT to_regclass('public.devsup_transitions') IS NULL, " +
        "to_regclass('devsup_schema.devsup_schema_migrations') IS NOT NULL");
      assert.deepEqual(pub, [['t', 't']], 'tables created outside the schema of the URL');
      await assertDrained(d);
    });
  }));

/** The LD_PRELOAD slow DNS built beside devsup (tests/fixtures/slow_resolver.c). */
function slowResolver() {
  for (const dir of [path.dirname(DEVSUP_BIN), path.join(REPO, 'build')]) {
    const f = path.join(dir, 'slow-resolver.so');
    if (existsSync(f)) return f;
  }
  throw new Error('build/slow-resolver.so is missing: run make all');
}

test('a slow host-name look-up never delays ready or pongs (resolved off the loop, passed as hostaddr)',
  { ...T, skip: VALGRIND && 'LD_PRELOAD would apply to valgrind itself' }, async () => {
    const port = await freePort(); // nothing listens: each attempt resolves, then is refused
    const slowMs = 3000;
    const env = {
      LD_PRELOAD: slowResolver(),
      DEVSUP_SLOW_RESOLVER_MS: String(slowMs),
      // ASan wants to be first in the library list; the shim is not instrumented
      ASAN_OPTIONS: `${process.env.ASAN_OPTIONS || ''}:verify_asan_link_order=0`,
    };
    const t0 = performance.now();
    await withDevsup({ args: ['--db', `postgresql://postgres@db.devsup-slow.test:${port}/postgres`], env }, async (d) => {
      const readyMs = performance.now() - t0;
      assert.ok(readyMs < slowMs - 500, `ready took ${Math.round(readyMs)} ms with a ${slowMs} ms resolver`);
      const pongs = [];
      const end = performance.now() + 2.5 * slowMs;
      while (performance.now() < end) {
        const t = performance.now();
        expectType(await d.request({ type: 'ping' }, 10000), 'pong');
        pongs.push(performance.now() - t);
        await sleep(100);
      }
      const slow = pongs.filter((ms) => ms > 1000);
      assert.deepEqual(slow.map(Math.round), [], `pongs slower than 1 s of ${pongs.length}`);
      // libpq was given the address (hostaddr): had it resolved the name itself, its message
      // would read "db.devsup-slow.test" (127.0.0.1).
      await eventually('a connection attempt to the resolved address', () =>
        assert.match(d.stderr, new RegExp(`server at "127\\.0\\.0\\.1", port ${port} failed`)), 10000);
    });
  });

/** PgBouncer in transaction pooling in front of pg, on a unix socket in pg.dir; {url, stop}. */
async function startPgBouncer(pg) {
  const bin = ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer'].find((f) => existsSync(f));
  if (!bin) return null;
  const port = 6432;
  const ini = path.join(pg.dir, 'pgbouncer.ini');
  const users = path.join(pg.dir, 'userlist.txt');
  writeFileSync(users, '"postgres" ""\n');
  writeFileSync(ini, [
    '[databases]', `postgres = host=${pg.dir} dbname=postgres user=postgres`,
    '[pgbouncer]', 'listen_addr =', `listen_port = ${port}`, `unix_socket_dir = ${pg.dir}`,
    'auth_type = trust', `auth_file = ${users}`, 'pool_mode = transaction',
    // every transaction then sees a session with no prepared statements, as on a busy pool
    'server_reset_query = DISCARD ALL', 'server_reset_query_always = 1',
    // a pooler cannot pass per-client settings; devsup's are then the server's business
    'ignore_startup_parameters = options,extra_float_digits',
    `logfile = ${path.join(pg.dir, 'pgbouncer.log')}`, `pidfile = ${path.join(pg.dir, 'pgbouncer.pid')}`,
  ].join('\n') + '\n');
  const asPg = process.getuid() === 0 ? ['runuser', ['-u', 'postgres', '--', bin, '-d', ini]] : [bin, ['-d', ini]];
  if (process.getuid() === 0) execFileSync('chown', ['postgres:', ini, users]);
  execFileSync(asPg[0], asPg[1]);
  return {
    url: `postgresql:///postgres?host=${pg.dir}&port=${port}&user=postgres`,
    stop() {
      try {
        const pid = Number(readFileSync(path.join(pg.dir, 'pgbouncer.pid'), 'utf8'));
        process.kill(pid, 'SIGTERM');
      } catch { /* gone */ }
    },
  };
}

test('through PgBouncer in transaction pooling: every transition lands exactly once', T, async (t) => {
  await withPostgres(async (pg) => {
    const bouncer = await startPgBouncer(pg);
    if (!bouncer) {
      t.skip('pgbouncer is not installed (tests/deps.sh installs it)');
      return;
    }
    try {
      await withDevsup({ args: ['--db', bouncer.url] }, async (d) => {
        const ids = [projectId('pb1'), projectId('pb2')];
        for (let i = 0; i < 3; i++) await cycle(d, ids);
        await eventually('every transition through the pooler, once', () => assertDbMatches(pg, d, ids), 20000);
        await assertDrained(d);
        // The first prepared statement vanishes (SQLSTATE 26000): one reconnect, unnamed
        // statements from then on, no reconnect loop.
        assert.match(d.stderr, /sending unnamed statements from now on/);
        const reconnects = d.stderr.match(/reconnecting in/g) || [];
        assert.equal(reconnects.length, 1, `reconnects behind the pooler:\n${d.stderr}`);
      });
    } finally {
      bouncer.stop();
    }
  });
});

test('a wall clock stepped back since the last run: seq continues above the database\'s rows', T, () =>
  withPostgres(async (pg) => {
    const mig = await runDevsup(['--db', pg.url, '--migrate']);
    assert.equal(mig.code, 0, mig.stderr);
    // A previous run, on a clock one day ahead of this one, left p stopped.
    const id = projectId('clk');
    const ahead = BigInt(Date.now()) + 86400000n;
    await pg.query('INSERT INTO devsup_dev_servers (project_id, runner_id, status, seq, updated_at) ' +
      `VALUES ('${id}', 'e2e-old', 'stopped', ${ahead}, now())`);
    await withDevsup({ args: ['--db', pg.url] }, async (d) => {
      await eventually('devsup connects', async () => assert.equal((await persistence(d)).connected, true));
      await cycle(d, [id]);
      const seqs = d.states(id).map((e) => e.seq);
      assert.ok(seqs.every((s) => BigInt(s) > ahead), `seq ${seqs} not above the database's ${ahead}`);
      await eventually('the row follows the new run', () => assertDbMatches(pg, d, [id]));
    });
  }));
