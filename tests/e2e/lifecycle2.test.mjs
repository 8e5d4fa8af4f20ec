// The master's lifecycle under every path (issue 12, master side): shutdown after crash recovery,
// orphans without the env marker, a reaper that never answers, memory of ended projects, a stop
// that overtakes a restart, and a stderr nobody reads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { openSync, closeSync, readSync, readFileSync, mkdtempSync, rmSync, constants as fsc } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  spawnDevsup, withDevsup, projectId, runnerId, serverCmd, runnerPids, reaperPids, isAlive, pollUntil,
  describePids, allPids, procCmdline, procStat, sleep, withTimeout, DEVSUP_BIN, SERVER, HEAVY, VALGRIND,
} from './lib/harness.mjs';
import { start, stop, startOk, stopOk, expectType, expectError, assertNothingAlive } from './lib/dev.mjs';
import { withPostgres } from './lib/pg.mjs';

const T = { timeout: 90000 };

/** Every live descendant of pid (zombies excluded), by the parent links in /proc. */
function descendants(pid) {
  const stats = allPids().map(procStat).filter((s) => s && s.state !== 'Z');
  const out = [];
  const walk = (p) => {
    for (const s of stats) {
      if (s.ppid === p) {
        out.push(s.pid);
        walk(s.pid);
      }
    }
  };
  walk(pid);
  return out;
}

/** Wait for devsup to exit; resolves with {code, signal}. */
function exitOf(d, ms, what) {
  return withTimeout(d.exited.then(() => d.exitInfo), ms, what);
}

// ---------------------------------------------------------------------------------------------
// #1: shutdown completes after crash recovery

/**
 * devsup A (runner R) is SIGKILLed while its server ignores SIGTERM; devsup B (runner R) finds
 * the leftovers and tears them down; a shutdown sent to B at once must be answered once they
 * are gone, and B must exit 0.
 */
async function shutdownAfterRecovery(extraArgs) {
  const rid = runnerId();
  const id = projectId('rec-sd');
  // long enough for the leftover to outlive B's start (slow under valgrind)
  const stopTimeoutMs = VALGRIND ? 8000 : 2000;
  const a = await spawnDevsup({ args: ['--runner-id', rid, ...extraArgs] });
  let b = null;
  try {
    const started = await startOk(a, { projectId: id, command: serverCmd('--ignore-sigterm'), stopTimeoutMs });
    if (extraArgs.length) {
      // the running row must be in the database, for B to find it left live
      for (let i = 0; i < 100; i++) {
        const st = await a.request({ type: 'status' });
        if (st.persistence && st.persistence.connected && st.persistence.queued === 0) break;
        await sleep(100);
      }
    }
    // A's own exit, not the client's `exited`, which waits for stderr, held by A's reaper
    const aExit = new Promise((resolve) => {
      if (a.proc.exitCode !== null || a.proc.signalCode !== null) resolve();
      else a.proc.once('exit', resolve);
    });
    a.kill('SIGKILL');
    await aExit;
    b = await spawnDevsup({ args: ['--runner-id', rid, ...extraArgs] });
    assert.equal(b.ready.recovered, 1, `B found A's project: ${JSON.stringify(b.ready)}`);
    assert.ok(isAlive(started.pid), 'the server ignoring SIGTERM is still alive when B starts');
    const t0 = performance.now();
    const done = await b.request({ type: 'shutdown' }, stopTimeoutMs + 10000);
    expectType(done, 'shutdown-complete', 'shutdown of B while it recovers');
    const info = await exitOf(b, 10000, `B's exit after shutdown-complete${b.context()}`);
    assert.equal(info.code, 0, `B's exit: ${JSON.stringify(info)}`);
    assert.ok(performance.now() - t0 < stopTimeoutMs + 10000);
    assert.ok(!isAlive(started.pid), 'the leftover server is gone');
    const left = runnerPids(rid, { includeSupervisor: true });
    assert.deepEqual(left, [], `processes of runner ${rid} alive after B's exit:\n    ${describePids(left)}`);
    if (extraArgs.length) {
      // the rows were closed before the shutdown finished (runner_restart)
      const tos = b.states(id).map((e) => [e.to, e.reason]);
      assert.deepEqual(tos, [['stopping', 'runner_restart'], ['stopped', 'runner_restart']],
        `B's transitions of ${id}: ${JSON.stringify(b.states(id))}`);
    }
  } catch (err) {
    try { err.message += (b ? b.context() : '') + a.context(); } catch { /* read-only */ }
    throw err;
  } finally {
    await a.dispose();
    if (b) await b.dispose();
  }
}

test('shutdown during recovery, with --db: shutdown-complete once the leftovers are gone, exit 0', T, () =>
  withPostgres((pg) => shutdownAfterRecovery(['--db', pg.url])));

test('shutdown during recovery, without a database: shutdown-complete, exit 0', T, () =>
  shutdownAfterRecovery([]));

// ---------------------------------------------------------------------------------------------
// #5: orphans without the env marker

test('a lost reaper: processes without DEVSUP_* (env -i, own session) are killed too', T, () =>
  withDevsup({}, async (d) => {
    const id = projectId('nomark');
    const tag = `${process.pid % 1000}${Math.floor(Math.random() * 1e6)}`;
    const a = `777.${tag}`;
    const b = `778.${tag}`;
    const cmd = `env -i sleep ${a} & setsid env -i sleep ${b} & exec node ${SERVER} --port {port}`;
    await startOk(d, { projectId: id, command: cmd });
    const sleepers = () => allPids().filter((p) => {
      const c = procCmdline(p) || [];
      return c[0] === 'sleep' && (c[1] === a || c[1] === b) && isAlive(p);
    });
    assert.ok(await pollUntil(() => sleepers().length === 2, 5000), `both sleepers started: ${describePids(sleepers())}`);
    const marked = sleepers().filter((p) => readFileSync(`/proc/${p}/environ`, 'latin1').includes('DEVSUP_'));
    assert.deepEqual(marked, [], 'env -i: the sleepers carry no DEVSUP_ marker');
    const reapers = reaperPids(d.proc.pid);
    assert.equal(reapers.length, 1);
    process.kill(reapers[0], 'SIGKILL');
    const ex = await d.next((e) => e.type === 'dev-server-exited' && e.projectId === id, 15000, 'dev-server-exited');
    assert.equal(ex.reason, 'reaper_lost');
    assert.match(ex.message, /processes were killed/);
    // the event says they were killed: they are
    assert.deepEqual(sleepers(), [], `alive after reaper_lost:\n    ${describePids(sleepers())}`);
    assert.deepEqual(descendants(d.proc.pid), [], `devsup's descendants after reaper_lost:\n    ${describePids(descendants(d.proc.pid))}`);
    await d.close();
    assert.deepEqual(sleepers(), [], 'alive after devsup exited');
  }));

// ---------------------------------------------------------------------------------------------
// #10: a reaper that never answers (SIGSTOPped)

test('a SIGSTOPped reaper: stop is answered (forced) within timeout + grace, nothing left', T, () =>
  withDevsup({}, async (d) => {
    const id = projectId('stopped-reaper');
    const stopTimeoutMs = 1000;
    const s = await startOk(d, { projectId: id, command: serverCmd('--children', '1'), stopTimeoutMs });
    const [reaper] = reaperPids(d.proc.pid);
    process.kill(reaper, 'SIGSTOP');
    try {
      const t0 = performance.now();
      const ev = await stop(d, id, {}, 15000);
      const took = performance.now() - t0;
      expectType(ev, 'dev-server-stopped', 'stop of a project whose reaper is stopped');
      assert.equal(ev.forced, true, JSON.stringify(ev));
      assert.equal(ev.reason, 'requested');
      assert.ok(took < stopTimeoutMs + 2000 + 4000, `answered after ${Math.round(took)} ms`);
      assert.ok(took >= stopTimeoutMs, `answered after ${Math.round(took)} ms: before the stop timeout`);
      assert.ok(!isAlive(reaper), 'the reaper was killed');
      assert.ok(!isAlive(s.pid), 'the server was killed');
      assertNothingAlive(id);
      assert.deepEqual(descendants(d.proc.pid), [], describePids(descendants(d.proc.pid)));
      assert.equal(d.states(id).at(-1).to, 'stopped');
      // and the project can run again
      await startOk(d, { projectId: id, command: serverCmd() });
      await stopOk(d, id);
    } finally {
      try { process.kill(reaper, 'SIGKILL'); } catch { /* gone */ }
    }
  }));

test('a SIGSTOPped reaper: shutdown completes and devsup exits 0', T, () =>
  withDevsup({}, async (d) => {
    const id = projectId('stopped-reaper-sd');
    const s = await startOk(d, { projectId: id, command: serverCmd('--ignore-sigterm'), stopTimeoutMs: 1000 });
    const [reaper] = reaperPids(d.proc.pid);
    process.kill(reaper, 'SIGSTOP');
    try {
      const done = await d.request({ type: 'shutdown' }, 12000);
      expectType(done, 'shutdown-complete');
      const info = await exitOf(d, 10000, 'exit after shutdown-complete');
      assert.equal(info.code, 0);
      assert.ok(!isAlive(s.pid), 'the server was killed');
      assertNothingAlive(id);
    } finally {
      try { process.kill(reaper, 'SIGKILL'); } catch { /* gone */ }
    }
  }));

// ---------------------------------------------------------------------------------------------
// #12: a stop overtakes a restart

test('restart, then stop while the restart stops: restart cancelled, stop requested, stays stopped', T, () =>
  withDevsup({}, async (d) => {
    const id = projectId('rs-stop');
    await startOk(d, { projectId: id, command: serverCmd('--ignore-sigterm'), stopTimeoutMs: 1500 });
    const restartP = d.request({ type: 'restart-dev-server', projectId: id }, 20000);
    await d.next((e) => e.type === 'dev-server-state' && e.projectId === id && e.to === 'stopping', 10000, 'stopping');
    const stopP = stop(d, id, {}, 20000);
    const [r, s] = await Promise.all([restartP, stopP]);
    expectError(r, 'cancelled', 'the restart overtaken by a stop');
    expectType(s, 'dev-server-stopped', 'the stop');
    assert.equal(s.reason, 'requested', JSON.stringify(s));
    await sleep(1000); // a restart that went on anyway would be starting by now
    const tos = d.states(id).map((e) => e.to);
    assert.deepEqual(tos, ['starting', 'running', 'stopping', 'stopped'], JSON.stringify(d.states(id)));
    assert.equal(d.states(id).at(-1).reason, 'requested');
    const st = await d.request({ type: 'status', projectId: id });
    assert.equal(st.projects[0].state, 'stopped');
    assertNothingAlive(id);
  }));

// ---------------------------------------------------------------------------------------------
// #11: memory of ended projects is bounded

function rssKiB(pid) {
  return Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+)/m)[1]);
}

test('300 distinct projects that fail with 500 KB of output: RSS stays bounded, status lists recent ones', { ...T, timeout: 180000, skip: HEAVY }, (t) =>
  withDevsup({}, async (d) => {
    // 500 lines of 1000 bytes each, then exit 1: an archive of ~500 KB per project
    const cmd = 'yes "$(printf %01000d 0)" | head -n 500; exit 1';
    const ids = Array.from({ length: 300 }, (_, i) => projectId(`mem${i}`));
    const before = rssKiB(d.proc.pid);
    for (let i = 0; i < ids.length; i += 10) {
      const answers = await Promise.all(ids.slice(i, i + 10).map((id) => start(d, { projectId: id, command: cmd }, 60000)));
      for (const a of answers) assert.equal(a.type, 'error', JSON.stringify(a).slice(0, 300));
    }
    const after = rssKiB(d.proc.pid);
    t.diagnostic(`master RSS ${before} -> ${after} KiB after 300 failed projects`);
    // 300 archives would take ~150 MB; the last 64 kept take ~35 MB
    if (!process.env.DEVSUP_SANITIZED) {
      assert.ok(after - before < 80000, `RSS ${before} -> ${after} KiB after 300 failed projects`);
    }
    const st = await d.request({ type: 'status' });
    const listed = new Set(st.projects.map((p) => p.projectId));
    for (const id of ids.slice(-50)) assert.ok(listed.has(id), `status lists ${id}`);
    const last = st.projects.find((p) => p.projectId === ids.at(-1));
    assert.equal(last.state, 'failed');
    // the latest archive is kept; an old one is forgotten (an empty answer, not an error)
    const recent = await d.request({ type: 'logs', projectId: ids.at(-1), lines: 5 });
    assert.equal(recent.lines.length, 5, JSON.stringify(recent).slice(0, 300));
    const old = await d.request({ type: 'logs', projectId: ids[0], lines: 5 });
    expectType(old, 'logs');
    assert.equal(old.lines.length, 0);
  }));

// ---------------------------------------------------------------------------------------------
// suspected: a blocking write to stderr

test('stderr a pipe nobody reads: devsup still answers ping at once, and says what it dropped', T, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'devsup-stderr-'));
  const fifo = path.join(dir, 'stderr');
  execFileSync('mkfifo', [fifo]);
  const rfd = openSync(fifo, fsc.O_RDONLY | fsc.O_NONBLOCK); // held, not read (yet)
  const wfd = openSync(fifo, fsc.O_WRONLY);
  const rid = runnerId();
  const child = spawn(DEVSUP_BIN, ['--no-tty', '--runner-id', rid, '--log-level', 'debug'], {
    stdio: ['pipe', 'pipe', wfd],
    env: { ...process.env, DATABASE_URL: '' },
  });
  closeSync(wfd);
  const events = [];
  const waiters = [];
  let buf = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (s) => {
    buf += s;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const ev = JSON.parse(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
      events.push(ev);
      for (const w of waiters.splice(0)) w();
    }
  });
  const waitFor = async (pred, ms, what) => {
    const end = performance.now() + ms;
    for (;;) {
      const ev = events.find(pred);
      if (ev) return ev;
      const left = end - performance.now();
      if (left <= 0) assert.fail(`timed out after ${ms} ms waiting for ${what}`);
      await new Promise((r) => { waiters.push(r); setTimeout(r, Math.min(left, 200)); });
    }
  };
  const drain = () => {
    let text = '';
    const b = Buffer.alloc(65536);
    for (;;) {
      let n = 0;
      try { n = readSync(rfd, b, 0, b.length, null); } catch (e) { if (e.code === 'EAGAIN') break; throw e; }
      if (n <= 0) break;
      text += b.subarray(0, n).toString('utf8');
    }
    return text;
  };
  try {
    await waitFor((e) => e.type === 'ready', 10000, 'ready');
    // each refused stop is logged at debug level (~200 bytes): 300 KB, five times the pipe
    const pad = 'x'.repeat(100);
    let lines = '';
    for (let i = 0; i < 1500; i++) lines += JSON.stringify({ type: 'stop-dev-server', id: `b${i}`, projectId: `nope-${pad}-${i}` }) + '\n';
    child.stdin.write(lines);
    await waitFor((e) => e.commandId === 'b1499', 20000, 'the answer to the last refused stop');
    const t0 = performance.now();
    child.stdin.write(JSON.stringify({ type: 'ping', id: 'p1' }) + '\n');
    await waitFor((e) => e.commandId === 'p1', 3000, 'pong while stderr is full');
    assert.ok(performance.now() - t0 < 3000);
    // the reader catches up: each next event makes devsup write what waited, then the count
    let said = '';
    for (let i = 0; i < 20 && !/log lines dropped/.test(said); i++) {
      said += drain();
      child.stdin.write(JSON.stringify({ type: 'ping', id: `p2-${i}` }) + '\n');
      await waitFor((e) => e.commandId === `p2-${i}`, 3000, 'pong');
      await sleep(50);
      said += drain();
    }
    assert.match(said, /\d+ log lines dropped/, `stderr said:\n${said.slice(-2000)}`);
    child.stdin.end();
    const code = await withTimeout(new Promise((r) => child.once('exit', (c) => r(c))), 10000, 'exit after stdin EOF');
    assert.equal(code, 0);
  } finally {
    try { child.kill('SIGKILL'); } catch { /* gone */ }
    closeSync(rfd);
    rmSync(dir, { recursive: true, force: true });
  }
});
