// The contract a client builds on (SPEC §3): every call settles with its commandId, typos are
// refused, retried starts join the start in flight, status tells the whole story, log lines keep
// their time, every follow ends, restarts build on what worked, and state events name the command
// that caused them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { withDevsup, projectId, sleep, serverCmd, DEVSUP_BIN } from './lib/harness.mjs';
import { start, startOk, stopOk, expectType, expectError, assertNothingAlive } from './lib/dev.mjs';

const T = { timeout: 60000 };

/** The first event answering id (any type but the intermediate ones). */
const answerTo = (d, id, what) =>
  d.next((e) => e.commandId === id && e.type !== 'dev-server-state' && e.type !== 'log', 10000, what);

test('an id is echoed from lines that cannot be parsed or are too long', T, () =>
  withDevsup({ args: ['--max-line', '4096'] }, async (d) => {
    d.sendRaw('{"type":"ping","id":1.5}\n');
    assert.equal(expectType(await answerTo(d, 1.5, 'ping 1.5'), 'pong').commandId, 1.5);
    d.sendRaw('{"type":"ping","id":1e3}\n');
    expectType(await answerTo(d, 1000, 'ping 1e3'), 'pong');

    d.sendRaw('{"id":"cut","type":"ping",\n');
    expectError(await answerTo(d, 'cut', 'a line cut short'), 'invalid_json');
    d.sendRaw('{"id":"sur","type":"start-dev-server","projectId":"x","env":{"A":"\\ud800"}}\n');
    expectError(await answerTo(d, 'sur', 'a lone surrogate'), 'invalid_json');
    d.sendRaw(Buffer.concat([Buffer.from('{"id":42,"type":"ping","x":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}\n')]));
    expectError(await answerTo(d, 42, 'invalid UTF-8'), 'invalid_json');
    // beyond 64 bits: jansson refuses the integer, the echo is the same number as a double
    d.sendRaw('{"type":"ping","id":123456789012345678901234}\n');
    const big = await answerTo(d, 123456789012345678901234, 'a 78-bit integer id');
    assert.equal(big.commandId, 123456789012345678901234);

    // over --max-line: the id near the start still counts, after a nested object too
    d.send({ type: 'start-dev-server', projectId: 'x', healthCheck: { path: '/' }, id: 'long', env: { BIG: 'a'.repeat(20000) } });
    expectError(await answerTo(d, 'long', 'a line over --max-line'), 'line_too_long');
    // within the first 64 KiB counts even when --max-line is smaller
    d.send({ type: 'start-dev-server', projectId: 'x', env: { BIG: 'a'.repeat(20000) }, id: 'later' });
    expectError(await answerTo(d, 'later', 'an id after --max-line bytes, within 64 KiB'), 'line_too_long');
    // the next line is read normally
    expectType(await d.request({ type: 'ping' }), 'pong');
  }));

test('unknown fields are refused naming the closest known one, in every command', T, () =>
  withDevsup({}, async (d) => {
    const id = projectId('typo');
    const base = { type: 'start-dev-server', projectId: id, command: serverCmd(), cwd: '/tmp' };
    const cases = [
      [{ ...base, stricPort: true }, 'stricPort', 'strictPort'],
      [{ ...base, healthCheck: { path: '/', timeoutMS: 5 } }, 'healthCheck.timeoutMS', 'healthCheck.timeoutMs'],
      [{ ...base, tunnel: { provder: 'ngrok' } }, 'tunnel.provder', 'tunnel.provider'],
      [{ type: 'stop-dev-server', projectId: id, timeout: 5 }, 'timeout', 'timeoutMs'],
      [{ type: 'restart-dev-server', projectId: id, comand: ['x'] }, 'comand', 'command'],
      [{ type: 'logs', projectId: id, line: 5 }, 'line', 'lines'],
      [{ type: 'follow-logs', projectId: id, folow: true }, 'folow', 'follow'],
      [{ type: 'status', projectID: id }, 'projectID', 'projectId'],
      [{ type: 'ping', verbose: true }, 'verbose', null],
    ];
    for (const [cmd, field, near] of cases) {
      const ev = expectError(await d.request(cmd), 'invalid_command', `${cmd.type} with ${field}`);
      assert.ok(ev.error.includes(`'${field}'`), `the message names ${field}: ${ev.error}`);
      if (near) assert.ok(ev.error.includes(`'${near}'`), `the message names ${near}: ${ev.error}`);
    }
    const st = await d.request({ type: 'status', projectId: id });
    assert.equal(st.projects[0].state, 'idle', 'a refused start changed something');
    const unknown = expectError(await d.request({ type: 'follow-log', projectId: id }), 'unknown_command');
    assert.match(unknown.error, /follow-logs/);
    assert.match(unknown.suggestion, /follow-logs/);
  }));

test('healthCheck.expect: a server answering 500 is probed until it answers 2xx', T, () =>
  withDevsup({}, async (d) => {
    const a = projectId('expect');
    const ok = await startOk(d, {
      projectId: a, command: serverCmd('--status', '500', '--status-for', '1500'), healthCheck: { expect: '2xx-3xx' },
    });
    assert.ok(ok.startupMs >= 1200, `healthy after ${ok.startupMs} ms, while it still answered 500`);
    await stopOk(d, a);

    const b = projectId('expect-any');
    const any = await startOk(d, { projectId: b, command: serverCmd('--status', '500', '--status-for', '3000') });
    assert.ok(any.startupMs < 2500, `expect any (the default) took ${any.startupMs} ms`);
    await stopOk(d, b);

    const c = projectId('expect-list');
    await startOk(d, { projectId: c, command: serverCmd('--status', '503'), healthCheck: { expect: [503] } });
    await stopOk(d, c);

    const e = projectId('expect-fail');
    const fail = expectError(await start(d, {
      projectId: e, command: serverCmd('--status', '500'), healthCheck: { expect: '2xx-3xx', timeoutMs: 1500 },
    }), 'health_check_failed');
    assert.match(fail.error, /HTTP 500/);
    assertNothingAlive(e);

    expectError(await start(d, { projectId: e, command: serverCmd(), healthCheck: { expect: '3xx' } }), 'invalid_command');
    expectError(await start(d, { projectId: e, command: serverCmd(), healthCheck: { expect: [99] } }), 'invalid_command');
  }));

test('a retried start joins the start in flight; other fields are already_running', T, () =>
  withDevsup({}, async (d) => {
    const id = projectId('retry');
    const fields = { type: 'start-dev-server', projectId: id, command: serverCmd('--listen-after', '700'), cwd: '/tmp' };
    const first = d.request({ ...fields, id: 'first' }, 20000);
    await d.next((e) => e.type === 'dev-server-state' && e.projectId === id && e.to === 'starting', 5000);
    const second = d.request({ ...fields, id: 'second' }, 20000);
    const [a, b] = await Promise.all([first, second]);
    expectType(a, 'dev-server-started', 'the first start');
    expectType(b, 'dev-server-started', 'the retried start');
    assert.equal(b.commandId, 'second');
    assert.equal(b.pid, a.pid, 'the retry started a second server');
    const third = expectType(await d.request({ ...fields, id: 'third' }), 'dev-server-started', 'a retry once running');
    assert.equal(third.pid, a.pid);
    assert.equal(third.port, a.port);
    expectError(await d.request({ ...fields, command: serverCmd() }), 'already_running');
    assert.equal(d.states(id).length, 2, `a retry caused transitions: ${JSON.stringify(d.states(id))}`);
    await stopOk(d, id);

    // a start that fails: the retry gets the same error
    const bad = projectId('retry-fail');
    const failing = { ...fields, projectId: bad, command: serverCmd('--exit-after', '600') };
    const f1 = d.request({ ...failing, id: 'f1' }, 20000);
    await d.next((e) => e.type === 'dev-server-state' && e.projectId === bad && e.to === 'starting', 5000);
    const f2 = d.request({ ...failing, id: 'f2' }, 20000);
    const [e1, e2] = await Promise.all([f1, f2]);
    expectError(e1, 'immediate_crash');
    expectError(e2, 'immediate_crash', 'the retried start');
  }));

test('status: lastFailure, restarts, framework while starting', T, () =>
  withDevsup({}, async (d) => {
    const id = projectId('status');
    const p = start(d, { projectId: id, command: serverCmd('--listen-after', '2500') });
    await d.next((e) => e.type === 'dev-server-state' && e.projectId === id && e.to === 'starting', 5000);
    // the framework is known from the spawn on, long before the server answers
    let s;
    for (const end = Date.now() + 10000; Date.now() < end; await sleep(100)) {
      [s] = (await d.request({ type: 'status', projectId: id })).projects;
      if (s.framework !== null || s.state !== 'starting') break;
    }
    assert.equal(s.state, 'starting');
    assert.equal(s.framework, 'other', 'framework while starting');
    assert.equal(s.lastFailure, null);
    assert.equal(s.restarts, 0);
    expectType(await p, 'dev-server-started');
    expectType(await d.request({ type: 'restart-dev-server', projectId: id }), 'dev-server-started');
    [s] = (await d.request({ type: 'status', projectId: id })).projects;
    assert.equal(s.restarts, 1);
    assert.match(s.startedAt, /^\d{4}-/);

    const crash = projectId('status-crash');
    await startOk(d, { projectId: crash, command: serverCmd('--exit-after', '1200', '--listen-after', '0', '--exit-code', '3') });
    await d.next((e) => e.type === 'dev-server-exited' && e.projectId === crash, 10000);
    [s] = (await d.request({ type: 'status', projectId: crash })).projects;
    assert.equal(s.state, 'failed');
    assert.equal(s.lastFailure.reason, 'crashed');
    assert.equal(s.lastFailure.exitCode, 3);
    assert.equal(typeof s.lastFailure.message, 'string');
    assert.match(s.lastFailure.at, /^\d{4}-\d\d-\d\dT/);
    await stopOk(d, id);
  }));

test('logs keep the time each line was read, also after the server died', T, () =>
  withDevsup({}, async (d) => {
    const id = projectId('logtime');
    await startOk(d, { projectId: id, command: serverCmd('--say', 'early line', '--listen-after', '0', '--exit-after', '1500') });
    const exited = await d.next((e) => e.type === 'dev-server-exited' && e.projectId === id, 10000);
    const ans = expectType(await d.request({ type: 'logs', projectId: id }), 'logs');
    const early = ans.lines.find((l) => l.line === 'early line');
    assert.ok(early, `no early line in ${JSON.stringify(ans.lines)}`);
    const gap = Date.parse(exited.timestamp) - Date.parse(early.timestamp);
    assert.ok(gap >= 1000, `the early line is stamped ${gap} ms before the exit, not when it was read`);
  }));

test('every follow ends with one log-stream-ended', T, () =>
  withDevsup({}, async (d) => {
    const ended = (id) => d.events.filter((e) => e.type === 'log-stream-ended' && e.projectId === id);
    const id = projectId('follow-end');
    await startOk(d, { projectId: id, command: serverCmd() });
    expectType(await d.request({ type: 'follow-logs', id: 'fa', projectId: id }), 'following');
    // a restart does not end it
    expectType(await d.request({ type: 'restart-dev-server', projectId: id }), 'dev-server-started');
    assert.equal(ended(id).length, 0, 'a restart ended the follow');
    await stopOk(d, id);
    const e1 = await d.next((e) => e.type === 'log-stream-ended' && e.projectId === id, 5000);
    assert.equal(e1.commandId, 'fa');
    assert.equal(e1.reason, 'stopped');

    // of a project that is not live: answered, then ended at once
    expectType(await d.request({ type: 'follow-logs', id: 'fb', projectId: id }), 'following');
    const e2 = await d.next((e) => e.type === 'log-stream-ended' && e.commandId === 'fb', 5000);
    assert.equal(e2.reason, 'not_live');

    // follow: false ends the follow under way
    await startOk(d, { projectId: id, command: serverCmd() });
    expectType(await d.request({ type: 'follow-logs', id: 'fc', projectId: id }), 'following');
    expectType(await d.request({ type: 'follow-logs', id: 'fd', projectId: id, follow: false }), 'following');
    const e3 = await d.next((e) => e.type === 'log-stream-ended' && e.commandId === 'fc', 5000);
    assert.equal(e3.reason, 'unfollowed');
    await stopOk(d, id);

    const crash = projectId('follow-crash');
    await startOk(d, { projectId: crash, command: serverCmd('--listen-after', '0', '--exit-after', '800') });
    expectType(await d.request({ type: 'follow-logs', id: 'fe', projectId: crash }), 'following');
    const e4 = await d.next((e) => e.type === 'log-stream-ended' && e.commandId === 'fe', 10000);
    assert.equal(e4.reason, 'failed');
    await sleep(200);
    assert.equal(ended(id).length, 3, `one end per follow: ${JSON.stringify(ended(id))}`);
    assert.equal(ended(crash).length, 1);
  }));

test('a plain restart after a failed override restart runs the last command that worked', T, () =>
  withDevsup({}, async (d) => {
    const id = projectId('override');
    await startOk(d, { projectId: id, command: serverCmd() });
    expectError(await d.request({ type: 'restart-dev-server', projectId: id, command: ['devsup-no-such-program-14'] }),
      'command_not_found');
    const again = expectType(await d.request({ type: 'restart-dev-server', projectId: id }), 'dev-server-started',
      'a plain restart after the failed one');
    assert.ok(again.pid > 0);
    // an override that worked sticks
    expectType(await d.request({ type: 'restart-dev-server', projectId: id, command: serverCmd('--say', 'second') }),
      'dev-server-started');
    expectType(await d.request({ type: 'restart-dev-server', projectId: id }), 'dev-server-started');
    await sleep(200);
    const logs = await d.request({ type: 'logs', projectId: id });
    assert.ok(logs.lines.some((l) => l.line === 'second'), 'the override that worked was not kept');
    await stopOk(d, id);
  }));

test('state events caused by stop, restart and shutdown carry the command id', T, () =>
  withDevsup({}, async (d) => {
    const id = projectId('cmdid');
    await startOk(d, { projectId: id, command: serverCmd() });
    const from = d.events.length;
    expectType(await d.request({ type: 'restart-dev-server', id: 'rs', projectId: id }), 'dev-server-started');
    const rs = d.events.slice(from).filter((e) => e.projectId === id);
    const states = rs.filter((e) => e.type === 'dev-server-state');
    assert.deepEqual(states.map((e) => e.to), ['stopping', 'stopped', 'starting', 'running']);
    for (const e of states) assert.equal(e.commandId, 'rs', `restart state event without its id: ${JSON.stringify(e)}`);
    const stopped = rs.find((e) => e.type === 'dev-server-stopped');
    assert.equal(stopped.reason, 'restart');
    assert.equal(stopped.commandId, undefined, 'the restart\'s dev-server-stopped is not its answer');

    const from2 = d.events.length;
    await d.request({ type: 'stop-dev-server', id: 'st', projectId: id });
    for (const e of d.events.slice(from2).filter((x) => x.type === 'dev-server-state')) assert.equal(e.commandId, 'st');

    await startOk(d, { projectId: id, command: serverCmd() });
    const from3 = d.events.length;
    d.send({ type: 'shutdown', id: 'sd' });
    await d.exited;
    const sd = d.events.slice(from3).filter((e) => e.type === 'dev-server-state');
    assert.deepEqual(sd.map((e) => [e.to, e.reason, e.commandId]), [['stopping', 'shutdown', 'sd'], ['stopped', 'shutdown', 'sd']]);
  }));

test('--tunnel-default with an unknown provider is refused at start-up', T, () => {
  const r = spawnSync(DEVSUP_BIN, ['--no-tty', '--tunnel-default', 'cloudflare'], { input: '', encoding: 'utf8', timeout: 10000 });
  assert.equal(r.status, 2, `exit ${r.status}; stderr: ${r.stderr}`);
  assert.match(r.stderr, /--tunnel-default 'cloudflare'/);
  assert.match(r.stderr, /cloudflared/);
  assert.equal(r.stdout, '', 'a refused devsup wrote events');
});

test('a second stop never moves the first stop\'s SIGKILL deadline later', T, () =>
  withDevsup({}, async (d) => {
    const id = projectId('second-stop');
    await startOk(d, { projectId: id, command: serverCmd('--ignore-sigterm') });
    const first = d.request({ type: 'stop-dev-server', id: 'stop1', projectId: id, timeoutMs: 800 }, 30000);
    await d.next((e) => e.type === 'dev-server-state' && e.projectId === id && e.to === 'stopping', 5000);
    const second = d.request({ type: 'stop-dev-server', id: 'stop2', projectId: id, timeoutMs: 20000 }, 30000);
    const [a, b] = await Promise.all([first, second]);
    expectType(a, 'dev-server-stopped');
    expectType(b, 'dev-server-stopped');
    assert.equal(a.forced, true);
    assert.ok(a.durationMs < 5000, `the later deadline of the second stop won: ${a.durationMs} ms`);
    assertNothingAlive(id);
  }));
