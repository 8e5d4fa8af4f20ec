// The reaper's edges (issue 12): reports that must survive any text (UTF-8 cut at any
// alignment), the control channel's size contract, stop deadlines, teardown when the master is
// SIGKILLed with a tunnel that ignores SIGTERM, and exact errors for paths and exec failures.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  withDevsup, projectId, serverCmd, projectPids, reaperPids, isAlive, pollUntil, describePids, procStat,
  sleep, DEVSUP_BIN, HEAVY,
} from './lib/harness.mjs';
import {
  start, stop, startOk, stopOk, expectType, expectError, assertNothingAlive,
} from './lib/dev.mjs';

const T = { timeout: 60000 };
const tmp = mkdtempSync(path.join(os.tmpdir(), 'devsup-e2e-edges-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

const JA = '日本語のログ…';
/** A line of about 900 bytes of 3-byte characters, after `pad` ASCII bytes. */
const multibyte = (pad) => 'x'.repeat(pad) + JA.repeat(50);

// #3: the failure message names the command, so a long multibyte command is cut into the
// reaper's 640-byte message buffer somewhere inside a character for some alignment; the
// report must still arrive, with its reason and the output's tail.
test('a crash whose command and output are long multibyte text is reported exactly, at every alignment', T, () =>
  withDevsup({}, async (d) => {
    const results = await Promise.all([0, 1, 2, 3].map(async (pad) => {
      const id = projectId(`u8-${pad}`);
      const text = multibyte(pad);
      const ev = await start(d, { projectId: id, command: `printf '%s\\n' '${text}' '${text}'; exit 1` }, 20000);
      return { pad, id, ev };
    }));
    for (const { pad, id, ev } of results) {
      expectError(ev, 'immediate_crash', `alignment ${pad}`);
      assert.ok(Array.isArray(ev.logTail) && ev.logTail.length >= 1, `alignment ${pad}: empty logTail in ${JSON.stringify(ev).slice(0, 400)}`);
      assert.ok(ev.logTail.some((l) => l.includes(JA)), `alignment ${pad}: logTail lacks the output: ${JSON.stringify(ev.logTail).slice(0, 300)}`);
      assert.ok(!ev.error.includes('\ufffd'), `alignment ${pad}: the cut left a broken character: …${ev.error.slice(-40)}`);
      assert.ok(ev.error.includes('日本語'), `alignment ${pad}: the message does not name the command: ${ev.error.slice(0, 200)}`);
      assertNothingAlive(id);
    }
  }));

// #3, the same in the tunnel: its client's last line (kept in 256 bytes) goes into tunnelError.
test("a tunnel client's long multibyte last line reaches tunnelError, at every alignment", T, () =>
  withDevsup({}, async (d) => {
    const results = await Promise.all([0, 1, 2, 3].map(async (pad) => {
      const id = projectId(`tu8-${pad}`);
      const tunnel = {
        provider: 'custom',
        command: ['sh', '-c', `printf '%s\\n' '${multibyte(pad)}' >&2; exit 1`],
        urlPattern: 'https://[a-z]+\\.example\\.com',
        retries: 0,
        timeoutMs: 10000,
      };
      const ev = await startOk(d, { projectId: id, command: serverCmd(), tunnel }, 30000);
      return { pad, id, ev };
    }));
    for (const { pad, id, ev } of results) {
      assert.equal(typeof ev.tunnelError, 'string', `alignment ${pad}: no tunnelError in ${JSON.stringify(ev).slice(0, 300)}`);
      assert.ok(ev.tunnelError.includes(JA), `alignment ${pad}: tunnelError lacks the client's line: ${ev.tunnelError}`);
      assert.ok(!ev.tunnelError.includes('\ufffd'), `alignment ${pad}: broken character in ${ev.tunnelError}`);
      await stopOk(d, id);
      assertNothingAlive(id);
    }
  }));

// #4: one size contract. The reaper's start message must fit in one control-channel message;
// a start that would not is refused before any reaper is spawned, naming the size and limit.
const bigEnv = (count, each) => Object.fromEntries(
  Array.from({ length: count }, (_, i) => [`BIG_${i}`, String(i % 10).repeat(each)]));
const SIZE_RE = /field 'env' makes the start (\d+) bytes for the reaper, over the limit of (\d+) bytes/;

test('a start over the control channel limit is refused with invalid_command naming the size; one at the limit starts', T, () =>
  withDevsup({}, async (d) => {
    const reapersBefore = reaperPids(d.proc.pid).length;
    const id = projectId('big');
    const e300 = await start(d, { projectId: id, command: serverCmd(), env: bigEnv(3, 100000) }, 10000);
    expectError(e300, 'invalid_command', '300 KB of env');
    const m = SIZE_RE.exec(e300.error);
    assert.ok(m, `the message does not say the size and the limit: ${e300.error}`);
    const [size, limit] = [Number(m[1]), Number(m[2])];
    assert.ok(size > 300000 && limit === 262144, e300.error);
    assert.equal(reaperPids(d.proc.pid).length, reapersBefore, 'a reaper was spawned for a refused start');

    const e900 = await start(d, { projectId: id, command: serverCmd(), env: bigEnv(9, 100000) }, 10000);
    expectError(e900, 'invalid_command', '900 KB of env');
    assert.match(e900.error, SIZE_RE);

    // Exactly at the limit: the same start with `size - limit` bytes less in one variable.
    const env = bigEnv(3, 100000);
    env.BIG_2 = env.BIG_2.slice(size - limit);
    const over = { ...env, BIG_2: env.BIG_2 + '2' };
    const e1 = await start(d, { projectId: id, command: serverCmd(), env: over }, 10000);
    expectError(e1, 'invalid_command', 'one byte over the limit');
    assert.match(e1.error, new RegExp(`makes the start ${limit + 1} bytes`));
    const ok = await startOk(d, { projectId: id, command: serverCmd(), env }, 20000);
    const environ = readFileSync(`/proc/${ok.pid}/environ`, 'latin1').split('\0');
    assert.ok(environ.includes(`BIG_2=${env.BIG_2}`), 'the server did not get the env value whole');
    await stopOk(d, id);
    assertNothingAlive(id);
  }));

// #13: the earliest deadline wins.
test('a second stop with a longer timeout does not move the first stop\'s SIGKILL later', T, () =>
  withDevsup({}, async (d) => {
    const id = projectId('st2');
    await startOk(d, { projectId: id, command: serverCmd('--ignore-sigterm') });
    const t0 = performance.now();
    const first = stop(d, id, { timeoutMs: 1000 });
    await sleep(200);
    const second = stop(d, id, { timeoutMs: 5000 });
    const [a, b] = await Promise.all([first, second]);
    const took = performance.now() - t0;
    expectType(a, 'dev-server-stopped', 'first stop');
    expectType(b, 'dev-server-stopped', 'second stop');
    assert.equal(a.forced, true, JSON.stringify(a));
    process.stdout.write(`# stop 1000 ms then 5000 ms: answered after ${Math.round(took)} ms\n`);
    // Under 2.5 s: the reaper's own SIGKILL at 1 s, not the master's safety net, which kills a
    // reaper that has not ended by the earliest stop timeout + 2 s (3 s here).
    assert.ok(took < 2500, `the stop took ${Math.round(took)} ms: the 5000 ms stop lengthened the 1000 ms one`);
    assertNothingAlive(id);
  }));

// #14: SIGKILL of the master with a tunnel whose client ignores SIGTERM: the tunnel and the
// server are closed together, all gone within stopTimeoutMs + 1 s.
test('SIGKILL of the master: server and a SIGTERM-ignoring tunnel are gone within stopTimeoutMs + 1 s', T, () =>
  withDevsup({}, async (d) => {
    const id = projectId('mkt');
    const tunnel = {
      provider: 'custom',
      command: ['sh', '-c', 'trap "" TERM; echo "url https://stubborn.example.com"; exec sleep 1000'],
      urlPattern: 'https://[a-z]+\\.example\\.com',
      retries: 0,
    };
    const ev = await startOk(d, { projectId: id, command: serverCmd('--ignore-sigterm'), stopTimeoutMs: 1000, tunnel });
    assert.equal(ev.tunnelUrl, 'https://stubborn.example.com', JSON.stringify(ev));
    const reapers = reaperPids(d.proc.pid);
    assert.ok(projectPids(id).length >= 2, `expected the server and the tunnel client: ${describePids(projectPids(id))}`);
    const t0 = performance.now();
    d.kill('SIGKILL');
    await d.exited;
    const clean = await pollUntil(() => projectPids(id).length === 0 && reapers.every((p) => !isAlive(p)), 4000, 20);
    const took = performance.now() - t0;
    assert.ok(clean, `4 s after SIGKILL still alive: ${describePids(projectPids(id))}`);
    process.stdout.write(`# teardown after SIGKILL with a stubborn tunnel: ${Math.round(took)} ms\n`);
    assert.ok(took < 2000, `teardown took ${Math.round(took)} ms, over stopTimeoutMs 1000 + 1000`);
  }));

// #15: small ones.
test('a healthCheck.path over the limit is refused at validation, naming the field and the limit', T, () =>
  withDevsup({}, async (d) => {
    const id = projectId('hp');
    const ev = await start(d, { projectId: id, command: serverCmd(), healthCheck: { path: '/' + 'a'.repeat(500), timeoutMs: 1000 } }, 10000);
    expectError(ev, 'invalid_command', 'a 501-byte health path');
    assert.match(ev.error, /healthCheck\.path/);
    assert.match(ev.error, /501 bytes, over the limit of 256/);
    const ok = await startOk(d, { projectId: id, command: serverCmd(), healthCheck: { path: '/' + 'a'.repeat(255) } });
    assert.ok(ok.port > 0);
    await stopOk(d, id);
  }));

test('a command path longer than any path can be is command_not_found, not permission_denied', T, () =>
  withDevsup({}, async (d) => {
    const ev = await start(d, { projectId: projectId('nl'), command: ['/' + 'a'.repeat(5000)] }, 10000);
    expectError(ev, 'command_not_found', 'ENAMETOOLONG');
    assert.match(ev.error, /ENAMETOOLONG/);
  }));

test('an exec failure (E2BIG) is reported without a signal or exit code: the command never ran', { ...T, skip: HEAVY }, async () => {
  // With a 256 KiB stack limit exec takes at most 128 KiB of arguments and environment:
  // devsup and its reaper fit, a server given 200 KB of env does not.
  const wrapper = path.join(tmp, 'devsup-small-stack');
  writeFileSync(wrapper, `#!/bin/sh\nulimit -s 256\nexec "${DEVSUP_BIN}" "$@"\n`);
  chmodSync(wrapper, 0o755);
  await withDevsup({ bin: wrapper }, async (d) => {
    const id = projectId('e2big');
    const ev = await start(d, { projectId: id, command: ['/bin/true'], env: bigEnv(2, 100000) }, 10000);
    expectError(ev, 'unknown', 'E2BIG');
    assert.equal(ev.signal, undefined, `an exec failure carries no signal: ${JSON.stringify({ ...ev, logTail: undefined })}`);
    assert.equal(ev.exitCode, undefined, `an exec failure carries no exit code: ${JSON.stringify({ ...ev, logTail: undefined })}`);
    assert.match(ev.error, /too large for exec/);
  });
});

// Suspected: a FIFO named package.json would block the reaper in open() forever.
test('a FIFO named package.json does not block the start', T, () =>
  withDevsup({}, async (d) => {
    const dir = path.join(tmp, 'fifo-project');
    mkdirSync(dir);
    execFileSync('mkfifo', [path.join(dir, 'package.json')]);
    const id = projectId('fifo');
    // `npm run dev` makes framework detection read package.json's scripts; the command then
    // fails (npm cannot read a FIFO either, or is missing): what matters is an answer.
    const ev = await start(d, { projectId: id, cwd: dir, command: ['npm', 'run', 'dev'], healthCheck: { timeoutMs: 2000 } }, 15000);
    assert.equal(ev.type, 'error', JSON.stringify(ev).slice(0, 300));
    await pollUntil(() => projectPids(id).length === 0, 5000);
    assertNothingAlive(id);
  }));

// Suspected: a tunnel client whose child leaves its group and session (setsid) and ignores
// SIGTERM. The reaper is a subreaper and its teardown walks every descendant, so the stop
// still completes and leaves nothing.
test('a tunnel client with a setsid child that ignores SIGTERM: the stop completes, nothing left', T, () =>
  withDevsup({}, async (d) => {
    const id = projectId('tss');
    const tunnel = {
      provider: 'custom',
      command: ['sh', '-c', 'setsid sh -c \'trap "" TERM; exec sleep 1000\' & echo "url https://escaped.example.com"; exec sleep 1000'],
      urlPattern: 'https://[a-z]+\\.example\\.com',
      retries: 0,
    };
    const ev = await startOk(d, { projectId: id, command: serverCmd(), stopTimeoutMs: 1000, tunnel });
    assert.equal(ev.tunnelUrl, 'https://escaped.example.com');
    // both sleeps: the client's, and the setsid child's, which exec'd only after its trap is
    // set (a SIGTERM before that would end it, and the stop would not need to force)
    const sleeps = () => projectPids(id).filter((p) => procStat(p)?.comm === 'sleep').length;
    const found = await pollUntil(() => projectPids(id).length >= 3 && sleeps() >= 2, 3000);
    assert.ok(found, `expected server, client and its setsid child, both sleeping: ${describePids(projectPids(id))}`);
    const t0 = performance.now();
    const st = await stopOk(d, id, { timeoutMs: 1000 }, 10000);
    const took = performance.now() - t0;
    assert.ok(took < 4000, `stop took ${Math.round(took)} ms`);
    assert.equal(st.forced, true, JSON.stringify(st));
    assertNothingAlive(id);
  }));
