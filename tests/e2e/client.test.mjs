// The Node client (supervisor/client/) against the real binary: what the API relies on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Devsup, DevsupError } from '../../supervisor/client/index.js';
import {
  DEVSUP_BIN, FIXTURES, SERVER, HEAVY, runnerId as newRunnerId, projectId, httpGet, isAlive,
  runnerPids, describePids, pollUntil, sleep, testStateDir,
} from './lib/harness.mjs';

const T = { timeout: 60000 };
const READY_TIMEOUT_MS = Number(process.env.DEVSUP_READY_TIMEOUT_MS || (process.env.DEVSUP_VALGRIND ? 60000 : 10000));
const serverCmd = (...extra) => ['node', SERVER, '--port', '{port}', ...extra];

// Each devsup of this file gets its own slice of 20 ports from 40000-40999.
let slice = 0;
const portRange = () => {
  const lo = 40000 + ((process.pid + ++slice * 7) % 50) * 20;
  return [lo, lo + 19];
};

/** Run fn with a fresh client-spawned devsup; always leave nothing of its runner alive. */
async function withClient(fn, opts = {}) {
  const rid = newRunnerId();
  let stderr = '';
  const sup = await Devsup.spawn({
    bin: DEVSUP_BIN, runnerId: rid, portRange: portRange(), readyTimeoutMs: READY_TIMEOUT_MS,
    stateDir: testStateDir(), env: { DATABASE_URL: undefined }, stderr: (s) => { stderr += s; }, ...opts,
  });
  const protocolErrors = [];
  sup.on('protocolError', (e) => protocolErrors.push(e.message));
  try {
    await fn(sup, rid);
    assert.deepEqual(protocolErrors, [], 'protocol violations on stdout');
  } catch (err) {
    try { err.message += `\n--- devsup stderr (tail) ---\n${stderr.slice(-3000)}`; } catch { /* read-only */ }
    throw err;
  } finally {
    if (!sup.exitInfo) {
      const t = setTimeout(() => sup.kill('SIGKILL'), 15000);
      await sup.close();
      clearTimeout(t);
    }
    await pollUntil(() => runnerPids(rid, { includeSupervisor: true }).length === 0, 5000);
    const left = runnerPids(rid, { includeSupervisor: true });
    for (const p of left) {
      try { process.kill(p, 'SIGKILL'); } catch { /* gone */ }
    }
    assert.deepEqual(left, [], `processes of runner ${rid} left alive:\n    ${describePids(left)}`);
    // Under ASan/UBSan or valgrind (make e2e-san, e2e-valgrind) a report on stderr is a failure.
    const report = stderr.match(/(ERROR: (Address|Leak)Sanitizer[^\n]*|runtime error:[^\n]*|^==\d+== [^\n]*)/m);
    assert.equal(report, null, `sanitizer report from devsup:\n${stderr.slice(-4000)}`);
  }
}

test('spawn resolves with ready; start, status, logs, ping, metrics, stop resolve with their answers', T, () =>
  withClient(async (sup, rid) => {
    assert.equal(sup.ready.type, 'ready');
    assert.equal(sup.ready.runnerId, rid);
    assert.equal(sup.ready.pid, sup.pid);
    assert.equal(sup.ready.persistence, 'disabled');

    const id = projectId('client');
    const states = [];
    const all = [];
    sup.on('state', (e) => { if (e.projectId === id) states.push(e); });
    sup.on('event', (e) => all.push(e));

    const started = await sup.start({ projectId: id, command: serverCmd('--say', 'hello client'), cwd: FIXTURES });
    assert.equal(started.type, 'dev-server-started');
    assert.equal(started.projectId, id);
    assert.equal(started.commandId, 'c1', 'generated ids are c1, c2, …');
    assert.ok(Number.isInteger(started.port) && started.port >= sup.ready.portRange[0] && started.port <= sup.ready.portRange[1],
      `port ${started.port} outside ${sup.ready.portRange}`);
    assert.equal(started.url, `http://localhost:${started.port}`);
    assert.ok(isAlive(started.pid), `server pid ${started.pid} is not alive`);
    const res = await httpGet(started.url);
    assert.equal(res.status, 200);
    assert.equal(res.body, 'ok');
    assert.deepEqual(states.map((e) => `${e.from}>${e.to}`), ['idle>starting', 'starting>running']);
    assert.ok(states[1].seq > states[0].seq);
    assert.ok(all.indexOf(states[1]) < all.findIndex((e) => e.type === 'dev-server-started'), 'running before started');

    const projects = await sup.status(id);
    assert.equal(projects.length, 1);
    assert.equal(projects[0].state, 'running');
    assert.equal(projects[0].port, started.port);

    const lines = await sup.logs(id, { lines: 50 });
    assert.ok(Array.isArray(lines));
    assert.ok(lines.some((l) => l.line === 'hello client' && l.stream === 'stdout'), JSON.stringify(lines));

    const pong = await sup.ping();
    assert.equal(pong.type, 'pong');
    assert.equal(typeof pong.version, 'string');
    const m = await sup.metrics();
    assert.equal(m.type, 'metrics');
    assert.ok(m.started >= 1);
    assert.equal(m.liveProjects, 1);

    // Pipelined commands each get their own answer.
    const [p1, p2, s] = await Promise.all([sup.ping(), sup.ping(), sup.status()]);
    assert.notEqual(p1.commandId, p2.commandId);
    assert.ok(s.some((p) => p.projectId === id));

    const stopped = await sup.stop(id, { timeoutMs: 5000, reason: 'client-test' });
    assert.equal(stopped.type, 'dev-server-stopped');
    assert.equal(stopped.projectId, id);
    assert.equal(stopped.forced, false);
    assert.equal(stopped.reason, 'client-test');
    assert.ok(!isAlive(started.pid), 'server alive after dev-server-stopped');
    assert.deepEqual(states.map((e) => e.to), ['starting', 'running', 'stopping', 'stopped']);
    for (let i = 1; i < states.length; i++) {
      assert.equal(states[i].from, states[i - 1].to);
      assert.ok(states[i].seq > states[i - 1].seq);
    }
    assert.equal(sup.pendingCount, 0);
  }));

test('a failing start rejects with a DevsupError carrying reason, suggestion and logTail', T, () =>
  withClient(async (sup) => {
    const id = projectId('client-fail');
    const err = await sup.start({ projectId: id, command: ['devsup-no-such-command-xyz', '--port', '{port}'], cwd: FIXTURES })
      .then((ev) => assert.fail(`start resolved: ${JSON.stringify(ev)}`), (e) => e);
    assert.ok(err instanceof DevsupError, `not a DevsupError: ${err}`);
    assert.ok(err instanceof Error);
    assert.equal(err.name, 'DevsupError');
    assert.equal(err.reason, 'command_not_found');
    assert.match(err.message, /devsup-no-such-command-xyz/);
    assert.equal(typeof err.suggestion, 'string');
    assert.ok(err.suggestion.length > 0);
    assert.ok(Array.isArray(err.logTail));
    assert.equal(err.projectId, id);
    assert.equal(typeof err.commandId, 'string');
    assert.equal(err.event.type, 'error');

    // A crash during the start: exitCode and the output in logTail.
    const crash = await sup.start({ projectId: projectId('client-crash'), command: serverCmd('--stderr', 'boom here', '--exit-after', '50', '--exit-code', '3'), cwd: FIXTURES })
      .then((ev) => assert.fail(`start resolved: ${JSON.stringify(ev)}`), (e) => e);
    assert.equal(crash.reason, 'immediate_crash');
    assert.equal(crash.exitCode, 3);
    assert.ok(crash.logTail.some((l) => l.includes('boom here')), JSON.stringify(crash.logTail));

    // stop of an unknown project: not_running
    await assert.rejects(sup.stop(projectId('nobody')), (e) => e instanceof DevsupError && e.reason === 'not_running');

    // An error no command waits for goes to 'error' listeners.
    const unsolicited = new Promise((resolve) => sup.once('error', resolve));
    sup.child.stdin.write('this is not json\n');
    const ue = await unsolicited;
    assert.ok(ue instanceof DevsupError);
    assert.equal(ue.reason, 'invalid_json');
    assert.equal((await sup.ping()).type, 'pong');
  }));

test("'projectExited' (and the deprecated 'exited') fires for a running server killed from outside", T, () =>
  withClient(async (sup) => {
    const id = projectId('client-killed');
    const started = await sup.start({ projectId: id, command: serverCmd(), cwd: FIXTURES });
    const exited = new Promise((resolve) => sup.on('projectExited', (e) => { if (e.projectId === id) resolve(e); }));
    const old = new Promise((resolve) => sup.on('exited', (e) => { if (e.projectId === id) resolve(e); }));
    process.kill(started.pid, 'SIGKILL');
    const ev = await exited;
    assert.equal(await old, ev, 'the deprecated alias gets the same event');
    assert.equal(typeof ev.message, 'string');
    assert.equal(ev.type, 'dev-server-exited');
    assert.equal(ev.reason, 'killed');
    assert.equal(ev.signal, 'SIGKILL');
    assert.ok(Array.isArray(ev.logTail));
    const [p] = await sup.status(id);
    assert.equal(p.state, 'failed');
  }));

test('a SIGKILLed devsup rejects the pending start with devsup_exited', T, () =>
  withClient(async (sup) => {
    const id = projectId('client-dies');
    const exits = [];
    sup.on('exit', (e) => exits.push(e));
    const starting = new Promise((resolve) => sup.on('state', (e) => { if (e.projectId === id && e.to === 'starting') resolve(); }));
    const pending = sup.start({ projectId: id, command: serverCmd('--listen-after', '20000'), cwd: FIXTURES });
    await starting;
    sup.kill('SIGKILL');
    const err = await pending.then((ev) => assert.fail(`start resolved: ${JSON.stringify(ev)}`), (e) => e);
    assert.ok(err instanceof DevsupError);
    assert.equal(err.reason, 'devsup_exited');
    assert.match(err.message, /SIGKILL/);
    assert.equal(err.signal, 'SIGKILL');
    assert.equal(err.projectId, id);
    assert.deepEqual(sup.exitInfo, { code: null, signal: 'SIGKILL' });
    assert.deepEqual(exits, [{ code: null, signal: 'SIGKILL' }]);
    // Anything sent afterwards rejects at once.
    await assert.rejects(sup.ping(), (e) => e instanceof DevsupError && e.reason === 'devsup_exited');
  }));

test('shutdown stops every project, resolves and devsup exits 0', T, () =>
  withClient(async (sup) => {
    const a = await sup.start({ projectId: projectId('client-sd'), command: serverCmd(), cwd: FIXTURES });
    const b = await sup.start({ projectId: projectId('client-sd'), command: serverCmd(), cwd: FIXTURES });
    const done = await sup.shutdown({ timeoutMs: 5000 });
    assert.equal(done.type, 'shutdown-complete');
    assert.deepEqual(sup.exitInfo, { code: 0, signal: null });
    assert.ok(!isAlive(a.pid) && !isAlive(b.pid), 'servers alive after shutdown-complete');
  }));

test('close() ends stdin: devsup stops everything and exits 0', T, () =>
  withClient(async (sup) => {
    const s = await sup.start({ projectId: projectId('client-close'), command: serverCmd(), cwd: FIXTURES });
    assert.equal(await sup.close(), 0);
    await pollUntil(() => !isAlive(s.pid), 2000);
    assert.ok(!isAlive(s.pid), 'server alive after devsup exited');
  }));

test('spawn rejects when devsup exits before ready, or cannot be run', T, async () => {
  const bad = await Devsup.spawn({ bin: DEVSUP_BIN, args: ['--no-such-flag'], stderr: 'pipe', readyTimeoutMs: READY_TIMEOUT_MS })
    .then(() => assert.fail('spawn resolved'), (e) => e);
  assert.ok(bad instanceof DevsupError);
  assert.equal(bad.reason, 'devsup_exited');
  assert.equal(bad.exitCode, 2);
  assert.match(bad.message, /no-such-flag/, 'the message carries the tail of devsup\'s stderr');

  const missing = await Devsup.spawn({ bin: '/nonexistent/devsup' }).then(() => assert.fail('spawn resolved'), (e) => e);
  assert.ok(missing instanceof DevsupError);
  assert.equal(missing.reason, 'spawn_failed');
  assert.match(missing.message, /ENOENT/);
});

test('followLogs streams log events', { ...T, skip: HEAVY }, () =>
  withClient(async (sup) => {
    const id = projectId('client-follow');
    await sup.start({ projectId: id, command: 'i=0; while :; do i=$((i+1)); echo "tick $i"; sleep 0.1; done & exec node server.mjs', cwd: FIXTURES });
    const got = new Promise((resolve) => sup.on('log', (e) => { if (e.projectId === id) resolve(e); }));
    const on = await sup.followLogs(id);
    assert.equal(on.type, 'following');
    assert.equal(on.follow, true);
    const line = await got;
    assert.match(line.line, /^tick \d+$/);
    assert.equal((await sup.followLogs(id, false)).follow, false);
    await sup.stop(id);
    await sleep(10);
  }));

test('a command devsup would refuse without a matchable answer is rejected before it is sent', T, () =>
  withClient(async (sup) => {
    assert.equal(sup.ready.maxLine, 2048);
    const refused = async (cmd, reason, re) => {
      const before = sup.pendingCount;
      await assert.rejects(sup.send(cmd), (e) => {
        assert.ok(e instanceof DevsupError, String(e));
        assert.equal(e.reason, reason, e.message);
        assert.match(e.message, re);
        assert.ok(e.suggestion);
        return true;
      });
      assert.equal(sup.pendingCount, before, 'a refused command is left pending');
    };
    await refused({ type: 'ping', id: {} }, 'invalid_command', /id must be a string or a finite number/);
    await refused({ type: 'ping', id: 2 ** 60 }, 'invalid_command', /beyond 2\^53/);
    await refused({ type: 'ping', id: NaN }, 'invalid_command', /NaN/);
    await refused({ type: 'start-dev-server', projectId: 'x', command: ['a'], cwd: '/', env: { A: 'x\ud800' } },
      'invalid_json', /env\.A holds a lone surrogate/);
    await refused({ type: 'start-dev-server', projectId: 'x', command: ['a'], cwd: '/', env: { A: 'a'.repeat(3000) } },
      'line_too_long', /over devsup's --max-line of 2048/);
    // a number id that survives the round trip is fine
    assert.equal((await sup.send({ type: 'ping', id: 1.5 })).commandId, 1.5);
    assert.equal((await sup.ping()).type, 'pong');
  }, { maxLine: 2048 }));

test('every call takes a timeout and an AbortSignal', T, () =>
  withClient(async (sup) => {
    const id = projectId('client-timeout');
    const cmd = { projectId: id, command: serverCmd('--listen-after', '3000'), cwd: FIXTURES };
    await assert.rejects(sup.start(cmd, { timeoutMs: 200 }), (e) =>
      e instanceof DevsupError && e.reason === 'timeout' && /within 200 ms/.test(e.message));
    assert.equal(sup.pendingCount, 0);
    const ac = new AbortController();
    const p = sup.status(id, { signal: ac.signal });
    ac.abort();
    await assert.rejects(p, (e) => e instanceof DevsupError && e.reason === 'aborted');
    await assert.rejects(sup.ping({ signal: AbortSignal.abort() }), (e) => e.reason === 'aborted');
    // the abandoned start still runs in devsup: a retry joins it and is answered
    const started = await sup.start(cmd, { timeoutMs: 20000 });
    assert.equal(started.type, 'dev-server-started');
    const ended = new Promise((resolve) => sup.on('logStreamEnded', resolve));
    const f = await sup.followLogs(id);
    await sup.stop(id);
    const e = await ended;
    assert.equal(e.commandId, f.commandId);
    assert.equal(e.reason, 'stopped');
  }));
