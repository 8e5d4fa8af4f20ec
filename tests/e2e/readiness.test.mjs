// Readiness (SPEC §4.4, issue 13): devsup learns when the tree calls listen() through a seccomp
// notification and probes then; the fallback is a backoff poll. The probe goes where the
// listener is bound, speaks TLS to an HTTPS dev server, and a listener on another port is only
// followed on evidence that the server moved (issue 12 #2).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { withDevsup, projectId, serverCmd, httpGet, freePort, reaperPids, procCmdline, SERVER, VALGRIND } from './lib/harness.mjs';
import { start, startOk, stopOk, expectError, assertNothingAlive } from './lib/dev.mjs';

const T = { timeout: 60000 };
const NO_SECCOMP = VALGRIND ? 'valgrind cannot install seccomp filters (the fallback tests cover it)' : false;
const tmp = mkdtempSync(path.join(os.tmpdir(), 'devsup-ready-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const tmpFile = (tag) => path.join(tmp, `${tag}-${++n}`);

/** The server's seccomp mode and no_new_privs bit, from /proc (2 = filter). */
function secState(pid) {
  const st = readFileSync(`/proc/${pid}/status`, 'utf8');
  return { seccomp: Number(/^Seccomp:\s+(\d+)/m.exec(st)[1]), nnp: Number(/^NoNewPrivs:\s+(\d+)/m.exec(st)[1]) };
}

/** A self-signed certificate for localhost, made with openssl as a developer would. */
let certPair = null;
function cert() {
  if (!certPair) {
    const key = path.join(tmp, 'key.pem');
    const crt = path.join(tmp, 'cert.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', crt,
      '-days', '1', '-subj', '/CN=localhost'], { stdio: 'ignore' });
    certPair = `${crt},${key}`;
  }
  return certPair;
}

function httpsHead(url) {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method: 'HEAD', rejectUnauthorized: false, agent: false, timeout: 5000 },
      (res) => { res.resume(); resolve(res.statusCode); });
    req.on('timeout', () => req.destroy(new Error(`HEAD ${url} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

const reaperOf = (d, id) => reaperPids(d.proc.pid).find((p) => procCmdline(p).includes(id));
const mapsSsl = (pid) => /libssl\.so/.test(readFileSync(`/proc/${pid}/maps`, 'utf8'));

test('readiness comes through the listen() notification: ready within a few ms of the answer, with the poll slowed right down', { ...T, skip: NO_SECCOMP }, () =>
  withDevsup({ env: { DEVSUP_POLL_MIN_MS: '4000' } }, async (d) => {
    const id = projectId('trap');
    const log = tmpFile('can-answer');
    // listens after 200 ms, can answer 300 ms later (requests wait until then), prints nothing:
    // only the notification can have told devsup in time, the poll and look-ups being slowed
    // to 4 s
    const ev = await startOk(d, { projectId: id, command: serverCmd('--quiet', '--listen-after', '200',
      '--answer-after', '300', '--answer-log', log) });
    const canAnswer = Number(readFileSync(log, 'utf8'));
    const late = Date.parse(ev.timestamp) - canAnswer;
    assert.ok(late <= 150, `ready ${late} ms after it could answer`);
    assert.ok(ev.startupMs < 3000, `the 4 s poll cannot have seen it: startupMs ${ev.startupMs}`);
    // the tree runs under the filter, with no_new_privs
    assert.deepEqual(secState(ev.pid), { seccomp: 2, nnp: 1 });
    await stopOk(d, id);
    assertNothingAlive(id);
  }));

test('--no-listen-trap: no filter, no no_new_privs, and the fallback still finds a quiet server', T, () =>
  withDevsup({ args: ['--no-listen-trap'] }, async (d) => {
    const id = projectId('notrap');
    const ev = await startOk(d, { projectId: id, command: serverCmd('--quiet', '--listen-after', '200') });
    assert.deepEqual(secState(ev.pid), { seccomp: 0, nnp: 0 });
    assert.equal((await httpGet(ev.url)).status, 200);
    await stopOk(d, id);
    assertNothingAlive(id);
  }));

test('a start can opt out with listenTrap: false; without a filter (valgrind) the fallback serves it', T, () =>
  withDevsup({}, async (d) => {
    const out = projectId('optout');
    const ev = await startOk(d, { projectId: out, listenTrap: false, command: serverCmd('--listen-after', '100') });
    assert.deepEqual(secState(ev.pid), { seccomp: 0, nnp: 0 });
    const dflt = projectId('default');
    const ev2 = await startOk(d, { projectId: dflt, command: serverCmd('--listen-after', '100') });
    // under valgrind the filter cannot be installed: the start works all the same
    assert.equal(secState(ev2.pid).seccomp, VALGRIND ? 0 : 2);
    assert.equal((await httpGet(ev2.url)).status, 200);
    const bad = await start(d, { projectId: projectId('bad'), listenTrap: 'no', command: serverCmd() });
    expectError(bad, 'invalid_command');
    assert.match(bad.error, /listenTrap/);
    await stopOk(d, out);
    await stopOk(d, dflt);
  }));

for (const trap of [true, false]) {
  test(`a server bound only to 127.0.0.2 is probed there (${trap ? 'listen trap' : '--no-listen-trap'})`, T, () =>
    withDevsup({ args: trap ? [] : ['--no-listen-trap'] }, async (d) => {
      const id = projectId('lo2');
      const ev = await startOk(d, { projectId: id, command: serverCmd('--host', '127.0.0.2', '--quiet', '--listen-after', '100'),
        healthCheck: { timeoutMs: 8000 } });
      assert.equal(ev.url, `http://127.0.0.2:${ev.port}`);
      assert.equal(ev.scheme, 'http');
      assert.equal((await httpGet(ev.url)).status, 200);
      const st = await d.request({ type: 'status', projectId: id });
      assert.equal(st.projects[0].url, ev.url);
      await stopOk(d, id);
      assertNothingAlive(id);
    }));
}

test('an HTTPS dev server with a self-signed certificate is healthy over TLS; only its reaper maps libssl', T, () =>
  withDevsup({}, async (d) => {
    const plain = projectId('plain');
    await startOk(d, { projectId: plain, command: serverCmd() });
    const id = projectId('https');
    const ev = await startOk(d, { projectId: id, command: serverCmd('--tls', cert(), '--listen-after', '100') });
    assert.equal(ev.url, `https://localhost:${ev.port}`);
    assert.equal(ev.scheme, 'https');
    assert.equal(await httpsHead(`https://127.0.0.1:${ev.port}/`), 200);
    const st = await d.request({ type: 'status', projectId: id });
    assert.equal(st.projects[0].scheme, 'https');
    assert.equal(st.projects[0].url, ev.url);
    assert.ok(mapsSsl(reaperOf(d, id)), 'the HTTPS project\'s reaper loaded libssl');
    assert.ok(!mapsSsl(reaperOf(d, plain)), 'a plain project\'s reaper must not map libssl');
    await stopOk(d, id);
    await stopOk(d, plain);
    assertNothingAlive(id);
  }));

test('an HTTPS server that never answers HTTP over TLS is health_check_timeout, saying TLS', T, () =>
  withDevsup({}, async (d) => {
    const id = projectId('tlssilent');
    const ev = await start(d, { projectId: id, command: serverCmd('--tls-silent', cert()),
      healthCheck: { timeoutMs: VALGRIND ? 20000 : 3000 } }); // OpenSSL is slow under memcheck
    expectError(ev, 'health_check_timeout');
    assert.match(ev.error, /TLS/);
    assertNothingAlive(id);
  }));

for (const trap of [true, false]) {
  test(`an auxiliary port listened on first is not taken for the server (${trap ? 'listen trap' : '--no-listen-trap'})`, T, () =>
    withDevsup({ args: trap ? [] : ['--no-listen-trap'] }, async (d) => {
      const id = projectId('aux');
      const aux = await freePort();
      const ev = await startOk(d, { projectId: id, command: serverCmd('--aux-port', String(aux), '--listen-after', '1500') });
      assert.notEqual(ev.port, aux, 'reported on the auxiliary port');
      assert.ok(ev.startupMs >= 1400, `ready before the real server listened: ${ev.startupMs} ms`);
      assert.equal((await httpGet(ev.url)).body, 'ok');
      await stopOk(d, id);
      assertNothingAlive(id);
    }));
}

test('a server that only listens on a port of its own, with no sign of a move, is a timeout that names that port', T, () =>
  withDevsup({}, async (d) => {
    const id = projectId('elsewhere');
    const own = await freePort();
    const ev = await start(d, { projectId: id, command: ['node', SERVER, '--port', String(own)], healthCheck: { timeoutMs: 1500 } });
    expectError(ev, 'health_check_timeout');
    assert.match(ev.error, new RegExp(`listens on port ${own} instead`));
    assert.match(ev.suggestion, /PORT|\{port\}/);
    assertNothingAlive(id);
  }));
