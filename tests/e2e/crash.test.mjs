// Losing the master or a reaper, shutting down with live projects, many projects at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  withDevsup, withTimeout, projectId, serverCmd, httpGet, projectPids, runnerPids, reaperPids,
  isAlive, pollUntil, describePids,
} from './lib/harness.mjs';
import {
  start, startOk, stopOk, expectType, expectError, assertNothingAlive, assertNothingAliveWithin,
  assertStateChain,
} from './lib/dev.mjs';

const T = { timeout: 90000 };

test('SIGKILL of the master: no project process outlives stop timeout + 1 s', T, () =>
  withDevsup({}, async (d) => {
    const ids = [projectId('mk-a'), projectId('mk-b'), projectId('mk-c')];
    await Promise.all([
      startOk(d, { projectId: ids[0], command: serverCmd() }),
      startOk(d, { projectId: ids[1], command: serverCmd('--ignore-sigterm'), stopTimeoutMs: 2000 }),
      startOk(d, { projectId: ids[2], command: serverCmd('--children', '2') }),
    ]);
    const reapers = reaperPids(d.proc.pid);
    assert.equal(reapers.length, 3, `expected 3 reapers under devsup ${d.proc.pid}, found ${reapers.join(' ')}`);
    const before = runnerPids(d.runnerId);
    assert.ok(before.length >= 5, `expected the servers and children to carry DEVSUP_RUNNER_ID:\n    ${describePids(before)}`);

    const t0 = performance.now();
    d.kill('SIGKILL');
    await d.exited;
    const clean = await pollUntil(() => runnerPids(d.runnerId, { includeSupervisor: true }).length === 0 &&
      reapers.every((p) => !isAlive(p)), 3500, 50);
    const took = performance.now() - t0;
    if (!clean) {
      const left = runnerPids(d.runnerId, { includeSupervisor: true });
      assert.fail(`3.5 s after SIGKILL of the master, still alive:\n    ${describePids(left)}` +
        `\n  reapers alive: ${reapers.filter(isAlive).join(' ') || 'none'}`);
    }
    assert.ok(took < 3500, `teardown took ${took} ms`);
    for (const id of ids) assertNothingAlive(id);
  }));

test('SIGKILL of a reaper while running: dev-server-exited reaper_lost, failed, nothing left', T, () =>
  withDevsup({}, async (d) => {
    const id = projectId('rl');
    const started = await startOk(d, { projectId: id, command: serverCmd('--children', '2') });
    const reapers = reaperPids(d.proc.pid);
    assert.equal(reapers.length, 1, `expected one reaper child of devsup ${d.proc.pid}: ${describePids(reapers)}`);
    process.kill(reapers[0], 'SIGKILL');
    const ex = await d.next((e) => e.type === 'dev-server-exited' && e.projectId === id, 15000, 'dev-server-exited after the reaper died');
    assert.equal(ex.reason, 'reaper_lost', JSON.stringify(ex));
    await d.next((e) => e.type === 'dev-server-state' && e.projectId === id && e.to === 'failed', 10000, 'state failed');
    const tos = d.states(id).map((e) => e.to);
    assert.equal(tos.at(-1), 'failed', `states: ${JSON.stringify(d.states(id))}`);
    assertStateChain(d, id, tos);
    await assertNothingAliveWithin(id, 5000, 'after reaper_lost');
    assert.ok(!isAlive(started.pid));

    // devsup carries on, and the project can be started again.
    expectType(await d.request({ type: 'ping' }), 'pong');
    const again = await startOk(d, { projectId: id, command: serverCmd() });
    assert.equal((await httpGet(again.url)).status, 200);
    await stopOk(d, id);
    assertNothingAlive(id);
  }));

test('SIGKILL of a reaper while starting: the start fails with reaper_lost', T, () =>
  withDevsup({}, async (d) => {
    const id = projectId('rls');
    const startP = start(d, { projectId: id, command: serverCmd('--listen-after', '100000') });
    await d.next((e) => e.type === 'dev-server-state' && e.projectId === id && e.to === 'starting', 10000, 'starting');
    const found = await pollUntil(() => reaperPids(d.proc.pid).length === 1 && projectPids(id).length >= 1, 5000);
    assert.ok(found, `no reaper + server for ${id}: reapers ${reaperPids(d.proc.pid)}, project ${projectPids(id)}`);
    process.kill(reaperPids(d.proc.pid)[0], 'SIGKILL');
    const e = await startP;
    expectError(e, 'reaper_lost', 'start whose reaper was killed');
    const tos = d.states(id).map((x) => x.to);
    await d.next((x) => x.type === 'dev-server-state' && x.projectId === id && x.to === 'failed', 10000, 'state failed');
    assertStateChain(d, id, d.states(id).map((x) => x.to));
    assert.ok(!tos.includes('running'), `states: ${JSON.stringify(d.states(id))}`);
    await assertNothingAliveWithin(id, 5000, 'after reaper_lost');
  }));

for (const how of ['stdin EOF', 'SIGTERM']) {
  test(`${how} with two servers running: both stopped, exit 0, nothing left`, T, () =>
    withDevsup({}, async (d) => {
      const a = projectId('eof-a');
      const b = projectId('eof-b');
      await Promise.all([
        startOk(d, { projectId: a, command: serverCmd('--children', '1') }),
        startOk(d, { projectId: b, command: serverCmd('--ignore-sigterm'), stopTimeoutMs: 1500 }),
      ]);
      if (how === 'SIGTERM') d.kill('SIGTERM');
      else d.proc.stdin.end();
      const x = await withTimeout(d.exited, 20000, `devsup exit after ${how}`);
      assertNothingAlive(a, 'at devsup exit');
      assertNothingAlive(b, 'at devsup exit');
      assert.deepEqual(x, { code: 0, signal: null });
      for (const id of [a, b]) {
        const ev = d.events.find((e) => e.type === 'dev-server-stopped' && e.projectId === id);
        assert.ok(ev, `no dev-server-stopped for ${id} before exit`);
        assertStateChain(d, id, ['starting', 'running', 'stopping', 'stopped']);
      }
      assert.equal(d.events.find((e) => e.type === 'dev-server-stopped' && e.projectId === b).forced, true);
      const gone = await pollUntil(() => runnerPids(d.runnerId, { includeSupervisor: true }).length === 0, 3000);
      assert.ok(gone, `left after exit: ${describePids(runnerPids(d.runnerId, { includeSupervisor: true }))}`);
      d.assertProtocolClean();
    }));
}

test('10 projects started concurrently: distinct ports, all serve, all stop cleanly', T, () =>
  withDevsup({}, async (d) => {
    const ids = Array.from({ length: 10 }, (_, i) => projectId(`many${i}`));
    const started = await Promise.all(ids.map((id) => startOk(d, { projectId: id, command: serverCmd() }, 60000)));
    const ports = started.map((s) => s.port);
    assert.equal(new Set(ports).size, 10, `ports are not distinct: ${ports}`);
    const pids = started.map((s) => s.pid);
    assert.equal(new Set(pids).size, 10, `pids are not distinct: ${pids}`);
    for (const s of started) {
      const r = await httpGet(s.url);
      assert.equal(r.status, 200, `${s.projectId} at ${s.url}`);
    }
    const st = await d.request({ type: 'status' });
    for (const id of ids) {
      assert.equal(st.projects.find((p) => p.projectId === id)?.state, 'running', `status of ${id}: ${JSON.stringify(st)}`);
    }
    const stopped = await Promise.all(ids.map((id) => stopOk(d, id)));
    for (const [i, s] of stopped.entries()) {
      assert.equal(s.forced, false, `${ids[i]} needed SIGKILL`);
      assertNothingAlive(ids[i]);
      assertStateChain(d, ids[i], ['starting', 'running', 'stopping', 'stopped']);
    }
    const gone = await pollUntil(() => reaperPids(d.proc.pid).length === 0, 3000);
    assert.ok(gone, `reapers left after all stops: ${describePids(reaperPids(d.proc.pid))}`);
  }));
