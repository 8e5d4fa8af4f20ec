// The start path of issue 3: port conflicts and retries, foreign listeners, framework
// detection, sanitized output, and many projects at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { withDevsup, projectId, serverCmd, SERVER, httpGet, freePort, projectPids, HEAVY } from './lib/harness.mjs';
import { start, startOk, stopOk, expectError, assertNothingAlive, assertStateChain } from './lib/dev.mjs';

const T = { timeout: 90000 };
const tmp = mkdtempSync(path.join(os.tmpdir(), 'devsup-start-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const countFile = () => path.join(tmp, `count-${++n}`);
const attempts = (file) => readFileSync(file, 'utf8').split('\n').filter(Boolean).map(Number);

test('a port conflict at bind time moves the start to another port', T, () =>
  withDevsup({}, async (d) => {
    const id = projectId('hop');
    const file = countFile();
    const ev = await startOk(d, { projectId: id, command: serverCmd('--eaddrinuse-first', '1'), env: { COUNT_FILE: file } });
    const ports = attempts(file);
    assert.equal(ports.length, 2, `two attempts expected, got ports ${ports}`);
    assert.notEqual(ports[0], ports[1], 'the retry must use another port');
    assert.equal(ev.port, ports[1]);
    assert.equal((await httpGet(ev.url)).status, 200);
    // the retry is invisible to the state machine: one start, one running
    assertStateChain(d, id, ['starting', 'running']);
    await stopOk(d, id);
    assertNothingAlive(id);
  }));

test('port conflicts are retried on other ports, as many as it takes (SPEC §1: never a failure while the range has ports)', T, () =>
  withDevsup({}, async (d) => {
    const id = projectId('conflict');
    const file = countFile();
    const ev = await startOk(d, { projectId: id, command: serverCmd('--eaddrinuse-first', '4'), env: { COUNT_FILE: file } });
    const ports = attempts(file);
    assert.equal(ports.length, 5, `four conflicts and a fifth attempt expected, got ports ${ports}`);
    assert.equal(new Set(ports).size, 5, `a port was tried twice: ${ports}`);
    assert.ok(ports.every((p) => p >= d.portRange[0] && p <= d.portRange[1]), `outside the range: ${ports}`);
    assert.equal(ev.port, ports[4]);
    assertStateChain(d, id, ['starting', 'running']);
  }));

test('port conflicts on every port of the range: port_in_use with the output in logTail, no strictPort advice', { ...T, skip: HEAVY }, () =>
  withDevsup({}, async (d) => {
    const id = projectId('conflict');
    const file = countFile();
    // a shell that fails like Node on a taken port: 20 tries cost a fraction of 20 node starts
    const command = 'echo $PORT >> "$COUNT_FILE"; echo "Error: listen EADDRINUSE: address already in use :::$PORT" >&2; exit 1';
    const ev = await start(d, { projectId: id, command, env: { COUNT_FILE: file } }, 60000);
    expectError(ev, 'port_in_use');
    const span = d.portRange[1] - d.portRange[0] + 1;
    assert.equal(attempts(file).length, span, 'one attempt per port of the range');
    assert.equal(new Set(attempts(file)).size, span, 'a port was tried twice');
    assert.match(ev.error, /port \d+/);
    assert.ok(ev.logTail.some((l) => l.includes('EADDRINUSE')), JSON.stringify(ev.logTail));
    assert.doesNotMatch(ev.suggestion, /strictPort/, 'the start did not set strictPort');
    assertStateChain(d, id, ['starting', 'failed']);
    assertNothingAlive(id);
  }));

test('with strictPort a port conflict is not retried', T, () =>
  withDevsup({}, async (d) => {
    const id = projectId('strict');
    const file = countFile();
    const port = await freePort();
    const ev = await start(d, { projectId: id, port, strictPort: true, command: serverCmd('--eaddrinuse-first', '1'), env: { COUNT_FILE: file } });
    expectError(ev, 'port_in_use');
    assert.deepEqual(attempts(file), [port]);
    assert.match(ev.error, new RegExp(`port ${port}`));
  }));

/** Start, wait for `starting`, then let a foreign (test-process) HTTP server take the port. */
async function startAgainstForeign(d, fields) {
  const pending = start(d, fields);
  await d.next((e) => e.type === 'dev-server-state' && e.projectId === fields.projectId && e.to === 'starting');
  const foreign = http.createServer((q, s) => s.end('not yours'));
  await new Promise((res) => foreign.listen(fields.port, '127.0.0.1', res));
  try {
    return await pending;
  } finally {
    foreign.close();
  }
}

test('a foreign HTTP server on the port is never taken for the project (strictPort: port_in_use naming it)', T, () =>
  withDevsup({}, async (d) => {
    const id = projectId('foreign');
    const port = await freePort();
    const ev = await startAgainstForeign(d, { projectId: id, port, strictPort: true,
      command: serverCmd('--listen-after', '100000'), healthCheck: { timeoutMs: 1500 } });
    expectError(ev, 'port_in_use');
    assert.match(ev.error, new RegExp(`pid ${process.pid}\\b`), `the message must name the foreign process: ${ev.error}`);
    assertNothingAlive(id);
  }));

test('a server whose port was taken by someone else moves to another port and is reported there', T, () =>
  withDevsup({}, async (d) => {
    const id = projectId('moved');
    const port = await freePort();
    const ev = await startAgainstForeign(d, { projectId: id, port, command: serverCmd('--listen-after', '1500') });
    assert.equal(ev.type, 'dev-server-started', JSON.stringify(ev));
    assert.notEqual(ev.port, port);
    assert.equal((await httpGet(ev.url)).status, 200);
    await stopOk(d, id);
    assertNothingAlive(id);
  }));

test('framework: auto reads npm run scripts and dependencies; explicit framework wins', T, () =>
  withDevsup({}, async (d) => {
    const app = path.join(tmp, 'app');
    writeFileSync(path.join(tmp, 'package.json'), '{}');
    rmSync(app, { recursive: true, force: true });
    (await import('node:fs')).mkdirSync(app);
    writeFileSync(path.join(app, 'package.json'), JSON.stringify({
      scripts: { dev: `node ${SERVER} --port $PORT` },
      devDependencies: { vite: '8.0.0' },
    }));
    const a = projectId('fw');
    const ev = await startOk(d, { projectId: a, command: ['npm', 'run', 'dev'], cwd: app });
    assert.equal(ev.framework, 'vite', 'dependencies name vite');
    await stopOk(d, a);
    assertNothingAlive(a, 'npm → sh → node torn down');
    const b = projectId('fw');
    const ev2 = await startOk(d, { projectId: b, command: serverCmd(), framework: 'next' });
    assert.equal(ev2.framework, 'next');
    await stopOk(d, b);
    const c = projectId('fw');
    const ev3 = await startOk(d, { projectId: c, command: serverCmd() });
    assert.equal(ev3.framework, 'other');
    await stopOk(d, c);
  }));

test('logTail and logs are sanitized: ANSI stripped, invalid UTF-8 replaced, long lines cut', T, () =>
  withDevsup({}, async (d) => {
    const id = projectId('ansi');
    const script = "printf '\\033[32mready\\033[39m in \\033[1m5\\033[22m ms\\n'; " +
      "printf 'bad \\377\\376 bytes\\n'; head -c 5000 /dev/zero | tr '\\0' a; echo; exit 3";
    const ev = await start(d, { projectId: id, command: script });
    expectError(ev, 'immediate_crash');
    assert.equal(ev.exitCode, 3);
    assert.ok(ev.logTail.includes('ready in 5 ms'), JSON.stringify(ev.logTail));
    assert.ok(ev.logTail.includes('bad \ufffd\ufffd bytes'), JSON.stringify(ev.logTail));
    const long = ev.logTail.find((l) => l.startsWith('aaaa'));
    assert.ok(long && long.length < 2100 && long.endsWith(' …'), `long line: ${long && long.length}`);
    const logs = await d.request({ type: 'logs', projectId: id });
    assert.equal(logs.type, 'logs');
    assert.deepEqual(logs.lines.map((l) => l.line), ev.logTail);
  }));

test('50 projects started at once get 50 distinct ports, all serving, all stopped', { timeout: 180000, skip: HEAVY }, () =>
  withDevsup({ args: ['--port-range', '30000-30099'] }, async (d) => {
    const ids = Array.from({ length: 50 }, () => projectId('many'));
    const started = await Promise.all(ids.map((id) => startOk(d, { projectId: id, command: serverCmd(), healthCheck: { timeoutMs: 60000 } }, 120000)));
    const ports = new Set(started.map((e) => e.port));
    assert.equal(ports.size, 50, `ports: ${[...ports]}`);
    const answers = await Promise.all(started.map((e) => httpGet(e.url)));
    assert.ok(answers.every((r) => r.status === 200));
    await Promise.all(ids.map((id) => stopOk(d, id, {}, 60000)));
    for (const id of ids) assertNothingAlive(id);
    assert.deepEqual(ids.flatMap((id) => projectPids(id)), []);
  }));

test('a client that stops reading loses only log events, and is told how many', { ...T, skip: HEAVY }, () =>
  withDevsup({}, async (d) => {
    const id = projectId('flood');
    const lines = 100000;
    const flood = `node -e "for (let i = 0; i < ${lines}; i++) console.log('line ' + i + ' ' + 'x'.repeat(80))"; ` +
      `exec node ${SERVER} --port {port}`;
    // The client stops reading stdout, as a stuck Node API would, while the server floods.
    d.proc.stdout.pause();
    // generous health timeout: this is about a stalled reader, not start speed (100,000 lines
    // take node seconds to write on a loaded machine, under ASan longer)
    d.send({ type: 'start-dev-server', id: 'flood', projectId: id, logs: true, command: flood, cwd: path.dirname(SERVER),
      healthCheck: { timeoutMs: 60000 } });
    // the stall being simulated: issue 7 asks for 30 s; devsup must neither block nor grow
    await new Promise((res) => setTimeout(res, 30000));
    const rss = Number(readFileSync(`/proc/${d.proc.pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+)/m)[1]);
    // ASan's quarantine keeps freed memory on purpose: the bound is for the plain build
    if (!process.env.DEVSUP_SANITIZED) assert.ok(rss < 40000, `master RSS ${rss} KiB after 30 s of a stalled reader`);
    d.proc.stdout.resume();
    const ev = await d.next((e) => e.commandId === 'flood' && e.type !== 'dev-server-state' && e.type !== 'log', 60000);
    assert.equal(ev.type, 'dev-server-started', JSON.stringify(ev));
    const ping = await d.request({ type: 'ping' });
    assert.equal(ping.type, 'pong');
    // the newest line is never the one lost: the server's last line ("listening on", after the
    // flood) goes out, saying how many were dropped before it, even when the flood ended while
    // the client was still behind and no later line would carry the count
    await d.next((e) => e.type === 'log' && e.projectId === id && e.line.startsWith('listening on'), 20000);
    const logs = d.events.filter((e) => e.type === 'log' && e.projectId === id);
    const dropped = logs.reduce((n, e) => n + (e.dropped || 0), 0);
    assert.ok(dropped > 0, 'a stalled reader must make devsup drop log events');
    assert.ok(logs.length + dropped <= lines + 1, `${logs.length} sent + ${dropped} dropped > ${lines + 1} written`);
    // lifecycle events are never dropped: the whole chain is there
    assertStateChain(d, id, ['starting', 'running']);
    await stopOk(d, id);
    assertNothingAlive(id);
  }));

test('an exit after 3 s but before it was healthy is crashed, with exitCode and logTail', T, () =>
  withDevsup({}, async (d) => {
    const id = projectId('late');
    const ev = await start(d, { projectId: id, command: serverCmd('--say', 'compiling…', '--exit-code', '4', '--exit-after', '3300') });
    expectError(ev, 'crashed');
    assert.equal(ev.exitCode, 4);
    assert.ok(ev.logTail.includes('compiling…'), JSON.stringify(ev.logTail));
    assert.match(ev.error, /exited with code 4/);
    assertStateChain(d, id, ['starting', 'failed']);
    assertNothingAlive(id);
  }));

test('an executable that is neither a binary nor a #! script is unknown, naming the file', T, () =>
  withDevsup({}, async (d) => {
    const file = path.join(tmp, 'not-a-program');
    writeFileSync(file, '\x00\x01\x02 not an executable format\n');
    (await import('node:fs')).chmodSync(file, 0o755);
    const ev = await start(d, { projectId: projectId('noexec'), command: [file] });
    expectError(ev, 'unknown');
    assert.ok(ev.error.includes(file), ev.error);
    assert.match(ev.suggestion, /#!/);
  }));

test('restart applies overrides to the last start', T, () =>
  withDevsup({}, async (d) => {
    const id = projectId('override');
    await startOk(d, { projectId: id, command: serverCmd(), env: { GREETING: 'one' } });
    const r = await d.request({ type: 'restart-dev-server', projectId: id, env: { GREETING: 'two' } });
    assert.equal(r.type, 'dev-server-started', JSON.stringify(r));
    const env = readFileSync(`/proc/${r.pid}/environ`, 'utf8').split('\0');
    assert.ok(env.includes('GREETING=two'), 'the override reached the new server');
    const bad = await d.request({ type: 'restart-dev-server', projectId: id, cwd: 'relative' });
    expectError(bad, 'invalid_command');
    assert.match(bad.error, /cwd/);
    assert.equal((await d.request({ type: 'status', projectId: id })).projects[0].state, 'running', 'a bad restart changes nothing');
    await stopOk(d, id);
  }));

test('metrics count starts, failures by reason, stops, forced kills and start latency', T, () =>
  withDevsup({}, async (d) => {
    const ok = projectId('m');
    await startOk(d, { projectId: ok, command: serverCmd() });
    await stopOk(d, ok);
    expectError(await start(d, { projectId: projectId('m'), command: ['no-such-program-xyz'] }), 'command_not_found');
    const stubborn = projectId('m');
    await startOk(d, { projectId: stubborn, command: serverCmd('--ignore-sigterm'), stopTimeoutMs: 300 });
    const st = await stopOk(d, stubborn);
    assert.equal(st.forced, true);
    const m = await d.request({ type: 'metrics' });
    assert.equal(m.type, 'metrics');
    assert.equal(m.starts, 3);
    assert.equal(m.started, 2);
    assert.equal(m.startFailures, 1);
    assert.deepEqual(m.failuresByReason, { command_not_found: 1 });
    assert.equal(m.stops, 2);
    assert.equal(m.forcedKills, 1);
    assert.equal(m.startLatencyMs.count, 2);
    for (const k of ['p50', 'p90', 'p99', 'max']) assert.equal(typeof m.startLatencyMs[k], 'number', k);
    assert.ok(m.startLatencyMs.p50 <= m.startLatencyMs.max);
  }));
