// Hand-over (SPEC §11): `shutdown` with detach leaves every project running with its reaper; a
// devsup started with the same runner id adopts them before ready, unchanged; no adopter within
// --adopt-timeout, or an adopter that dies, and nothing of the projects survives.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import {
  spawnDevsup, projectId, runnerId, serverCmd, FIXTURES, httpGet, projectPids, runnerPids,
  isAlive, pollUntil, sleep, withTimeout, HEAVY, allPids, procCmdline,
} from './lib/harness.mjs';
import { startOk, stopOk, expectType, expectError, assertNothingAliveWithin } from './lib/dev.mjs';
import { withPostgres } from './lib/pg.mjs';
import { DevsupError } from '../../supervisor/client/index.js';

const T = { timeout: 90000 };

/** Live devsup-reaper processes of these projects (reapers carry no marker in their env). */
const reapersOf = (ids) => allPids().filter((pid) => {
  const argv = procCmdline(pid);
  return argv && argv.length === 2 && argv[0].endsWith('devsup-reaper') && ids.includes(argv[1]) && isAlive(pid);
});

const TUNNELS = path.join(FIXTURES, 'tunnels');
const CF_URL = 'https://buffalo-marco-cardiff-motel.trycloudflare.com';

/** A server that prints a line every 100 ms (a project whose logs stream). */
const TICKER = `
const http = require('node:http');
let n = 0;
setInterval(() => console.log('tick ' + (++n)), 100);
http.createServer((q, r) => r.end('ok')).listen(Number(process.argv[1]), '127.0.0.1');
`;

/** GETs every url each 50 ms until stop() is called; resolves with the failures. */
function probe(urls) {
  let running = true;
  const failures = [];
  let count = 0;
  const loops = urls.map(async (url) => {
    while (running) {
      try {
        const r = await httpGet(url, { timeoutMs: 3000 });
        if (r.status !== 200) failures.push(`${url}: HTTP ${r.status}`);
      } catch (err) {
        failures.push(`${url}: ${err.message}`);
      }
      count++;
      await sleep(50);
    }
  });
  return {
    stop: async () => { running = false; await Promise.all(loops); return { failures, count }; },
  };
}

/** Detach d; resolves once it has exited 0. */
async function detach(d) {
  const ev = await d.request({ type: 'shutdown', detach: true });
  expectType(ev, 'shutdown-complete', 'detach');
  const info = await withTimeout(d.exited, 15000, `exit after detach${d.context()}`);
  assert.equal(info.code, 0, `devsup exit code after detach${d.context()}`);
}

const statusOf = async (d) => {
  const ev = await d.request({ type: 'status' });
  return new Map(ev.projects.map((p) => [p.projectId, p]));
};

/**
 * Runs fn({ d1, successor, rid }) with a devsup d1 of a fresh runner id; successor() spawns
 * another devsup of that runner id and port range (the adopter). Every devsup is disposed of
 * at the end (d1 last: its dispose kills whatever of the runner is left).
 */
async function withRunner(extraArgs, fn) {
  const rid = runnerId();
  const args = ['--runner-id', rid, ...extraArgs];
  const d1 = await spawnDevsup({ args });
  const later = [];
  const successor = async () => {
    const d = await spawnDevsup({ args: [...args, '--port-range', d1.portRange.join('-')] });
    later.push(d);
    return d;
  };
  try {
    await fn({ d1, successor, rid, args });
  } finally {
    for (const d of later) await d.dispose();
    await d1.dispose();
  }
}

test('detach keeps 5 projects answering; a new devsup adopts them unchanged; stop leaves nothing', { ...T, skip: HEAVY }, () =>
  withRunner(['--tunnel-bin', `cloudflared=${path.join(TUNNELS, 'cloudflared')}`], async ({ d1, successor, rid }) => {
    const ids = [0, 1, 2, 3, 4].map((i) => projectId(`ho${i}`));
    const started = [];
    for (const [i, id] of ids.entries()) {
      const fields = { projectId: id, command: serverCmd() };
      if (i === 1) Object.assign(fields, { tunnel: true, env: { FAKE_TUNNEL_MODE: 'cloudflared-ok' } });
      if (i === 2) Object.assign(fields, { command: ['node', '-e', TICKER, '{port}'], logs: true });
      started.push(await startOk(d1, fields, 60000));
    }
    assert.equal(started[1].tunnelUrl, CF_URL);
    await d1.next((e) => e.type === 'log' && e.projectId === ids[2], 10000, 'a streamed log line');
    const before = await statusOf(d1);
    const probes = probe(started.map((s) => s.url));
    await sleep(300);
    await detach(d1);
    // the projects run on without any devsup
    await sleep(1000);
    for (const s of started) assert.ok(isAlive(s.pid), `server ${s.pid} alive while detached`);

    const d2 = await successor();
    assert.equal(d2.ready.adopted, 5, `ready.adopted${d2.context()}`);
    assert.equal(d2.ready.recovered, 0, 'nothing was a leftover to kill');
    assert.equal(d2.client.adopted, 5, 'the client exposes adopted');
    await sleep(500);
    const { failures, count } = await probes.stop();
    assert.deepEqual(failures, [], `probes failed across the hand-over (${count} probes)`);
    assert.ok(count > 40, `too few probes: ${count}`);

    const after = await statusOf(d2);
    for (const [i, id] of ids.entries()) {
      const a = after.get(id);
      const b = before.get(id);
      assert.ok(a, `${id} listed after adoption`);
      assert.equal(a.state, 'running');
      for (const k of ['port', 'pid', 'url', 'scheme', 'tunnelUrl', 'framework', 'startedAt', 'seq']) {
        assert.deepEqual(a[k], b[k], `${id}: ${k} unchanged by the hand-over`);
      }
      assert.equal(a.pid, started[i].pid);
    }
    // the streaming project's output keeps coming, to the new devsup
    await d2.next((e) => e.type === 'log' && e.projectId === ids[2], 10000, 'a log line after adoption');
    // logs work on an adopted project: its ring was kept
    const logs = await d2.request({ type: 'logs', projectId: ids[2], lines: 1000 });
    assert.ok(logs.lines.length > 10, `logs of the adopted project: ${JSON.stringify(logs).slice(0, 300)}`);

    // restart works on an adopted project: same command, a new pid
    const re = expectType(await d2.request({ type: 'restart-dev-server', projectId: ids[3] }, 60000), 'dev-server-started');
    assert.notEqual(re.pid, started[3].pid);
    assert.equal((await httpGet(re.url)).status, 200);

    for (const [i, id] of ids.entries()) {
      const st = await stopOk(d2, id);
      const chain = d2.states(id);
      const tail = i === 3 ? ['stopping', 'stopped', 'starting', 'running', 'stopping', 'stopped'] : ['stopping', 'stopped'];
      assert.deepEqual(chain.map((e) => e.to), tail);
      assert.equal(chain[0].from, 'running');
      assert.ok(chain[0].seq > before.get(id).seq, 'the seq chain goes on');
      assert.ok(st.durationMs >= 0);
      await assertNothingAliveWithin(id, 3000, `after stop of adopted ${id}`);
    }
    assert.deepEqual(runnerPids(rid), [], 'nothing of the runner left');
  }));

test('a project that crashes while detached is reported after adoption, with its log tail', T, () =>
  withRunner([], async ({ d1, successor }) => {
    const id = projectId('hocrash');
    const s = await startOk(d1, {
      projectId: id,
      command: serverCmd('--listen-after', '0', '--exit-after', '2500', '--exit-code', '3', '--say', 'last words before the crash'),
    }, 60000);
    await detach(d1);
    await pollUntil(() => !isAlive(s.pid), 15000);
    assert.ok(!isAlive(s.pid), 'the server crashed while detached');
    await sleep(200);
    const d2 = await successor();
    assert.equal(d2.ready.adopted, 1);
    const ex = await d2.next((e) => e.type === 'dev-server-exited' && e.projectId === id, 10000);
    assert.equal(ex.reason, 'crashed');
    assert.equal(ex.exitCode, 3);
    assert.ok(ex.logTail.some((l) => l.includes('last words before the crash')), JSON.stringify(ex.logTail));
    const st = d2.states(id);
    assert.deepEqual(st.map((e) => [e.from, e.to]), [['running', 'failed']]);
    // its output stays readable
    const logs = await d2.request({ type: 'logs', projectId: id });
    assert.ok(logs.lines.some((l) => l.line.includes('last words')), JSON.stringify(logs).slice(0, 400));
    assert.deepEqual(projectPids(id), []);
  }));

test('a stop under way at the hand-over finishes and is reported to the adopter', T, () =>
  withRunner([], async ({ d1, successor }) => {
    const id = projectId('hostop');
    const s = await startOk(d1, { projectId: id, command: serverCmd('--ignore-sigterm'), stopTimeoutMs: 2500 }, 60000);
    d1.send({ type: 'stop-dev-server', projectId: id, id: 'the-stop' });
    await d1.next((e) => e.type === 'dev-server-state' && e.projectId === id && e.to === 'stopping', 10000);
    await detach(d1);
    assert.ok(isAlive(s.pid), 'still in its grace period');
    const d2 = await successor();
    assert.equal(d2.ready.adopted, 1);
    const st = await d2.request({ type: 'status', projectId: id });
    assert.equal(st.projects[0].state, 'stopping');
    const stopped = await d2.next((e) => e.type === 'dev-server-stopped' && e.projectId === id, 15000);
    assert.equal(stopped.forced, true, 'SIGKILL after the grace period');
    assert.deepEqual(d2.states(id).map((e) => [e.from, e.to]), [['stopping', 'stopped']]);
    assert.ok(d2.states(id)[0].seq > d1.states(id).at(-1).seq);
    assert.deepEqual(projectPids(id), []);
  }));

test('no adopter within --adopt-timeout: everything is torn down', T, () =>
  withRunner(['--adopt-timeout', '2'], async ({ d1, successor, rid }) => {
    const ids = [projectId('hoto'), projectId('hoto')];
    const pids = [];
    for (const id of ids) pids.push((await startOk(d1, { projectId: id, command: serverCmd() }, 60000)).pid);
    await detach(d1);
    await sleep(1000);
    for (const p of pids) assert.ok(isAlive(p), 'alive within the adopt timeout');
    // 2 s, then the teardown (the servers end on SIGTERM at once)
    await pollUntil(() => runnerPids(rid, { includeSupervisor: true }).length === 0, 8000);
    for (const id of ids) assert.deepEqual(projectPids(id), [], `${id} torn down`);
    await pollUntil(() => reapersOf(ids).length === 0, 3000);
    assert.deepEqual(reapersOf(ids), [], 'reapers gone');
    // and a late devsup finds nothing to adopt
    assert.equal((await successor()).ready.adopted, 0);
  }));

test('SIGKILL of the adopting devsup: nothing survives the stop timeout + 1 s', T, () =>
  withRunner([], async ({ d1, successor }) => {
    const id = projectId('hokill');
    const s = await startOk(d1, { projectId: id, command: serverCmd(), stopTimeoutMs: 2000 }, 60000);
    await detach(d1);
    const d2 = await successor();
    assert.equal(d2.ready.adopted, 1);
    d2.kill('SIGKILL');
    await d2.exited;
    await assertNothingAliveWithin(id, 3000, 'after SIGKILL of the adopter');
    assert.ok(!isAlive(s.pid));
    await pollUntil(() => reapersOf([id]).length === 0, 3000);
    assert.deepEqual(reapersOf([id]), [], 'the reaper is gone too');
  }));

test('only detach leaves projects alive: stdin EOF still stops everything', T, () =>
  withRunner([], async ({ d1, successor }) => {
    const id = projectId('hoeof');
    await startOk(d1, { projectId: id, command: serverCmd() }, 60000);
    await d1.close();
    assert.deepEqual(projectPids(id), []);
    assert.equal((await successor()).ready.adopted, 0);
  }));

test('a detach that cannot make its directory safe is an error and changes nothing', T, () =>
  withRunner([], async ({ d1, rid }) => {
    const id = projectId('hobad');
    await startOk(d1, { projectId: id, command: serverCmd() }, 60000);
    // someone made the runner's adopt directory readable by others: not ours to trust
    const stateDir = d1.args[d1.args.indexOf('--state-dir') + 1];
    const adoptDir = path.join(stateDir, `${rid}.adopt`);
    mkdirSync(adoptDir, { recursive: true });
    chmodSync(adoptDir, 0o755);
    const ev = expectError(await d1.request({ type: 'shutdown', detach: true }), 'unknown', 'detach');
    assert.ok(ev.error.includes(adoptDir), ev.error);
    const st = await d1.request({ type: 'status', projectId: id });
    assert.equal(st.projects[0].state, 'running', 'nothing changed');
    assert.equal(d1.exitInfo, null, 'devsup still runs');
    await stopOk(d1, id);
  }));

test('with Postgres: detach → adopt → stop is in devsup_transitions exactly once, seq increasing, row stopped', T, () =>
  withPostgres((pg) => withRunner(['--db', pg.url], async ({ d1, successor }) => {
    const id = projectId('hopg');
    const q = `SELECT seq, from_state, to_state, reason FROM devsup_transitions WHERE project_id = '${id}' ORDER BY seq`;
    const waitRows = async (n) => {
      await pollUntil(async () => (await pg.query(q)).length >= n, 15000);
      return pg.query(q);
    };
    await startOk(d1, { projectId: id, command: serverCmd() }, 60000);
    await waitRows(2);
    await detach(d1);
    const d2 = await successor();
    assert.equal(d2.ready.adopted, 1, `ready.adopted${d1.context()}${d2.context()}`);
    // the previous run's live row is the adopted project, not a leftover to close
    await sleep(1000);
    assert.deepEqual(d2.states(id), [], 'no transition for the adoption itself');
    await stopOk(d2, id);
    await waitRows(4);
    await sleep(300); // nothing more comes
    const all = await pg.query(q);
    assert.deepEqual(all.map((r) => [r[1], r[2]]),
      [['idle', 'starting'], ['starting', 'running'], ['running', 'stopping'], ['stopping', 'stopped']],
      `transitions: ${JSON.stringify(all)}`);
    const seqs = all.map((r) => BigInt(r[0]));
    for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i] > seqs[i - 1], `seq increasing: ${seqs}`);
    const events = [...d1.states(id), ...d2.states(id)].map((e) => String(e.seq));
    assert.deepEqual(all.map((r) => r[0]), events, 'the rows are the events of both devsups');
    const [row] = await pg.query(`SELECT status, seq FROM devsup_dev_servers WHERE project_id = '${id}'`);
    assert.deepEqual(row, ['stopped', all[3][0]]);
  })));

test('two devsups racing to adopt: exactly one adopts, the other gets runner_id_in_use', T, async () => {
  const winners = [];
  try {
    await withRunner([], async ({ d1, args }) => {
      const ids = [projectId('horace'), projectId('horace')];
      const pids = [];
      for (const id of ids) pids.push((await startOk(d1, { projectId: id, command: serverCmd() }, 60000)).pid);
      await detach(d1);
      const again = [...args, '--port-range', d1.portRange.join('-')];
      const results = await Promise.allSettled([spawnDevsup({ args: again }), spawnDevsup({ args: again })]);
      for (const r of results) if (r.status === 'fulfilled') winners.push(r.value);
      assert.equal(winners.length, 1, `exactly one devsup runs: ${results.map((r) => r.status).join(', ')}`);
      const loser = results.find((r) => r.status === 'rejected').reason;
      assert.ok(loser instanceof DevsupError && loser.reason === 'runner_id_in_use', String(loser));
      const [w] = winners;
      assert.equal(w.ready.adopted, 2, 'the winner adopted every project');
      for (const [i, id] of ids.entries()) {
        assert.ok(isAlive(pids[i]));
        expectType(await w.request({ type: 'stop-dev-server', projectId: id }), 'dev-server-stopped');
        await assertNothingAliveWithin(id, 3000);
      }
    });
  } finally {
    for (const w of winners) await w.dispose();
  }
});
