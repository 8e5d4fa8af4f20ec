// Several devsups on one host (SPEC §1): one live devsup per runner id (a flock in the state
// dir), recovery that only ever touches what a dead devsup left, no devsup secrets in project
// code's environment, and ports never handed out twice by devsups sharing a range.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { Devsup, DevsupError } from '../../supervisor/client/index.js';
import {
  DEVSUP_BIN, FIXTURES, HEAVY, NODE, REPO, SERVER, describePids, freePort, httpGet, isAlive,
  newStateDir, occupyPort, pollUntil, procCmdline, procEnviron, projectId, projectPids, reaperPids, runnerId, runnerPids,
  serverCmd, sleep, spawnDevsup, withDevsup,
} from './lib/harness.mjs';
import { start, startOk, expectError } from './lib/dev.mjs';
import { ptySession } from './lib/pty.mjs';

const T = { timeout: 60000 };
const sibling = path.join(path.dirname(DEVSUP_BIN), 'tiny-server');
const TINY = existsSync(sibling) ? sibling : path.join(REPO, 'build', 'tiny-server');

/** Runs devsup to its end with stdin at EOF: {code, signal, events, stderr}. */
function runDevsup(args, env = {}) {
  return new Promise((resolve, reject) => {
    const e = { ...process.env, ...env };
    delete e.DATABASE_URL;
    const p = spawn(DEVSUP_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'], env: e });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    p.on('error', reject);
    p.on('close', (code, signal) => resolve({
      code, signal, stderr: err, events: out.split('\n').filter(Boolean).map((l) => JSON.parse(l)),
    }));
  });
}

/** What a process holds open, as readlink shows it. */
function openFiles(pid) {
  let fds = [];
  try { fds = readdirSync(`/proc/${pid}/fd`); } catch { return []; }
  return fds.map((fd) => { try { return readlinkSync(`/proc/${pid}/fd/${fd}`); } catch { return ''; } });
}


test('same runner id: the second devsup gets runner_id_in_use and exit 3, the first is untouched; the lock reaches no child', T, async () => {
  const dir = newStateDir();
  const rid = runnerId();
  await withDevsup({ args: ['--runner-id', rid, '--state-dir', dir] }, async (a) => {
    const id = projectId('first');
    const s = await startOk(a, { projectId: id, command: serverCmd() });
    const seen = a.events.length;
    const range = `${a.portRange[0]}-${a.portRange[1]}`;

    const second = await runDevsup(['--no-tty', '--runner-id', rid, '--state-dir', dir, '--port-range', range]);
    assert.equal(second.code, 3, `exit status of the second devsup; stderr:\n${second.stderr}`);
    assert.equal(second.events.length, 1, `events of the second devsup: ${JSON.stringify(second.events)}`);
    const [ev] = second.events;
    expectError(ev, 'runner_id_in_use', 'the second devsup');
    assert.ok(ev.error.includes(`pid ${a.proc.pid}`), `the message does not name the holder's pid ${a.proc.pid}: ${ev.error}`);
    assert.ok(ev.error.includes(path.join(dir, `${rid}.lock`)), `the message does not name the lock: ${ev.error}`);
    assert.match(ev.suggestion, /--runner-id/);

    // The Node client: spawn() rejects with the reason (not a hang, not a protocol error).
    const t0 = performance.now();
    await assert.rejects(
      Devsup.spawn({ bin: DEVSUP_BIN, runnerId: rid, stateDir: dir, portRange: range, env: { DATABASE_URL: undefined }, stderr: () => {} }),
      (err) => err instanceof DevsupError && err.reason === 'runner_id_in_use' && err.message.includes(String(a.proc.pid)),
    );
    assert.ok(performance.now() - t0 < 5000, 'the client took too long to reject');

    // The first devsup: its server answers, nothing new was reported, it still runs.
    assert.equal((await httpGet(s.url)).status, 200);
    await sleep(200);
    assert.deepEqual(a.events.slice(seen), [], 'the first devsup reported something');
    const st = await a.request({ type: 'status', projectId: id });
    assert.equal(st.projects[0].state, 'running');
    assert.equal(st.projects[0].pid, s.pid);

    // The lock fds are the master's only: close-on-exec, so no reaper or server holds one.
    const isLock = (f) => f.startsWith(dir) && f.endsWith('.lock');
    assert.ok(openFiles(a.proc.pid).includes(path.join(dir, `${rid}.lock`)), 'the master does not hold its lock');
    assert.ok(openFiles(a.proc.pid).includes(path.join(dir, 'ports', `${s.port}.lock`)), 'the master does not hold the port reservation');
    const others = [...reaperPids(a.proc.pid), ...projectPids(id)];
    assert.ok(others.length >= 2, 'no reaper or server found');
    for (const pid of others) {
      assert.deepEqual(openFiles(pid).filter(isLock), [], `pid ${pid} (${procCmdline(pid)?.join(' ')}) holds a lock`);
    }
  });
});

test('recovery of a SIGKILLed devsup stops its leftovers and never a process of a live devsup of another id', { ...T, skip: HEAVY }, async () => {
  const dir = newStateDir();
  const rid = runnerId();
  const x = await spawnDevsup({ args: ['--state-dir', dir] });
  let a = null;
  let c = null;
  try {
    const xs = await startOk(x, { projectId: projectId('live'), command: serverCmd() });
    a = await spawnDevsup({ args: ['--runner-id', rid, '--state-dir', dir] });
    const stopTimeoutMs = 3000;
    const as = await startOk(a, { projectId: projectId('dead'), command: serverCmd('--ignore-sigterm'), stopTimeoutMs });
    const xSeen = x.events.length;

    // SIGKILL A: its reaper tears its server down after the stop timeout (the server ignores
    // SIGTERM), so C, with A's runner id, finds it still alive.
    const aExit = a.exited;
    a.kill('SIGKILL');
    await aExit;
    c = await spawnDevsup({ args: ['--runner-id', rid, '--state-dir', dir] });
    assert.equal(c.ready.runnerId, rid, 'the lock of a dead devsup is free at once');
    assert.equal(c.ready.recovered, 1, `ready.recovered: ${JSON.stringify(c.ready)}`);
    const gone = await pollUntil(() => !isAlive(as.pid) && runnerPids(rid).length === 0, stopTimeoutMs + 4000);
    assert.ok(gone, `A's server outlived the recovery: ${describePids(runnerPids(rid))}`);

    // X (another runner id, alive all along) lost nothing and heard nothing.
    assert.ok(isAlive(xs.pid), 'the live devsup\'s server was killed');
    assert.equal((await httpGet(xs.url)).status, 200);
    assert.deepEqual(x.events.slice(xSeen), [], 'the live devsup reported something');
  } finally {
    for (const d of [c, a, x]) if (d) await d.dispose();
  }
});

test('terminal: two devsups with one runner id both run; the second takes ID-2 and its banner says so', T, async () => {
  const dir = newStateDir();
  const rid = runnerId();
  const args = ['--runner-id', rid, '--state-dir', dir];
  const first = ptySession({ args });
  let second = null;
  try {
    const [banner1] = await first.waitFor(/devsup \d+\.\d+\.\d+ — runner [^\n]*/, { from: 0 });
    assert.match(banner1, new RegExp(`runner ${rid},`));
    second = ptySession({ args });
    const [banner2] = await second.waitFor(/devsup \d+\.\d+\.\d+ — runner [^\n]*/, { from: 0 });
    assert.match(banner2, new RegExp(`runner ${rid}-2 \\(runner ${rid} is in use by devsup pid \\d+\\)`));
    await second.waitFor("Type 'help'", { from: 0 });
    for (const s of [first, second]) {
      s.line('ping');
      await s.waitFor(/pong: devsup/);
    }
  } finally {
    if (second) await second.close();
    await first.close();
  }
});

const SECRETS = {
  // a unix socket that does not exist: the master's connection attempts fail at once
  DATABASE_URL: 'postgresql:///nodb?host=/nonexistent-devsup-e2e',
  PGPASSWORD: 'hunter2',
  PGHOST: '/nonexistent-devsup-e2e',
  DEVSUP_E2E_SECRET_SETTING: 'do-not-pass-on',
};
const SECRET_KEYS = Object.keys(SECRETS);
const MARKERS = ['PORT', 'DEVSUP_PROJECT_ID', 'DEVSUP_RUNNER_ID', 'DEVSUP_STOP_TIMEOUT_MS'];
const BASIC = /^(PATH|HOME|USER|LOGNAME|SHELL|LANG|LC_.*|TERM|TZ|TMPDIR)$/;

test('DATABASE_URL, PG* and DEVSUP_* settings reach no dev server, grandchild or tunnel client; inheritEnv gives what it says', T, () =>
  withDevsup({
    args: ['--tunnel-bin', `cloudflared=${path.join(FIXTURES, 'tunnels', 'cloudflared')}`],
    env: { ...SECRETS, FOO: 'foo', BAR: 'bar' },
  }, async (d) => {
    const devsupEnv = { ...process.env, ...SECRETS, FOO: 'foo', BAR: 'bar' };
    const id = projectId('env');
    const s = await startOk(d, {
      projectId: id,
      command: `'${NODE}' '${SERVER}' --port {port} --children 1; true`, // sh -> node -> sleeper
      tunnel: true,
    }, 45000);
    assert.ok(s.tunnelUrl, `no tunnel: ${JSON.stringify(s)}`);
    const pids = projectPids(id);
    const find = (re) => pids.find((p) => re.test((procCmdline(p) || []).join(' ')));
    const who = {
      'dev server (sh)': s.pid,
      'its child (node server)': find(/server\.mjs/),
      'a grandchild (sleeper)': find(/sleeper\.mjs/),
      'the tunnel client': find(/fake-tunnel\.mjs/),
    };
    for (const [what, pid] of Object.entries(who)) {
      assert.ok(pid, `${what} not found among ${describePids(pids)}`);
      const env = procEnviron(pid);
      for (const k of SECRET_KEYS) assert.equal(env[k], undefined, `${what} (pid ${pid}) has ${k}`);
      assert.equal(env.FOO, 'foo', `${what} lacks FOO (inheritEnv defaults to true)`);
      assert.equal(env.DEVSUP_PROJECT_ID, id, `${what} lacks its marker`);
    }

    // The reapers never had the database's credentials either (their own DEVSUP_* settings,
    // such as the log level, they keep).
    const reapers = reaperPids(d.proc.pid);
    assert.ok(reapers.length > 0, 'no reaper found');
    for (const pid of reapers) {
      const env = procEnviron(pid);
      for (const k of ['DATABASE_URL', 'PGPASSWORD', 'PGHOST']) assert.equal(env[k], undefined, `reaper ${pid} has ${k}`);
      assert.equal(env.DEVSUP_E2E_SECRET_SETTING, 'do-not-pass-on', 'the reaper lost a DEVSUP_ setting');
    }

    // inheritEnv: false: the basic set only, then env and what devsup sets.
    const narrow = projectId('narrow');
    const n = await startOk(d, { projectId: narrow, command: [NODE, SERVER, '--port', '{port}'], inheritEnv: false, env: { ADDED: '1' } });
    const want = [...Object.keys(devsupEnv).filter((k) => BASIC.test(k)), 'ADDED', ...MARKERS].sort();
    assert.deepEqual(Object.keys(procEnviron(n.pid)).sort(), want);

    // inheritEnv: ["FOO"]: FOO only (no PATH either), then what devsup sets.
    const only = projectId('only');
    const o = await startOk(d, { projectId: only, command: [NODE, SERVER, '--port', '{port}'], inheritEnv: ['FOO'] });
    assert.deepEqual(Object.keys(procEnviron(o.pid)).sort(), ['FOO', ...MARKERS].sort());

    const bad = await start(d, { projectId: projectId('bad'), command: serverCmd(), inheritEnv: 'no' });
    expectError(bad, 'invalid_command');
    assert.match(bad.error, /inheritEnv/);
    const bad2 = await start(d, { projectId: projectId('bad'), command: serverCmd(), inheritEnv: ['A=B'] });
    expectError(bad2, 'invalid_command');
    assert.match(bad2.error, /inheritEnv/);
  }));

test('--env-allow is the default inheritEnv; a start and a restart can widen it', T, () =>
  withDevsup({ args: ['--env-allow', 'FOO,PATH'], env: { FOO: 'foo', BAR: 'bar', PGUSER: 'u' } }, async (d) => {
    const id = projectId('allow');
    const s = await startOk(d, { projectId: id, command: serverCmd() });
    assert.deepEqual(Object.keys(procEnviron(s.pid)).sort(), ['FOO', 'PATH', ...MARKERS].sort());
    const r = await d.request({ type: 'restart-dev-server', projectId: id, inheritEnv: true });
    assert.equal(r.type, 'dev-server-started', JSON.stringify(r));
    const env = procEnviron(r.pid);
    assert.equal(env.BAR, 'bar', 'inheritEnv: true in a restart does not widen the default');
    assert.equal(env.PGUSER, undefined, 'PGUSER reached the server');
  }));

test('three devsups sharing one 20-port range start 18 servers at once: no port twice, no port_in_use', { ...T, skip: HEAVY }, async () => {
  const dir = newStateDir();
  // above the ephemeral ports and the harness's slices: nothing else should bind these
  const lo = 61000 + ((process.pid * 7919) % 200) * 20;
  const range = `${lo}-${lo + 19}`;
  const sups = [];
  try {
    for (let i = 0; i < 3; i++) sups.push(await spawnDevsup({ args: ['--port-range', range, '--state-dir', dir] }));
    const answers = await Promise.all(sups.flatMap((d) => Array.from({ length: 6 }, () =>
      start(d, { projectId: projectId('share'), command: [TINY] }, 45000))));
    const failed = answers.filter((a) => a.type !== 'dev-server-started');
    assert.deepEqual(failed, [], 'starts failed');
    const ports = answers.map((a) => a.port);
    assert.equal(new Set(ports).size, 18, `a port was handed out twice: ${ports.join(' ')}`);
    assert.ok(ports.every((p) => p >= lo && p <= lo + 19), `a port outside ${range}: ${ports.join(' ')}`);
    for (const a of answers) assert.equal((await httpGet(a.url)).status, 200, `${a.projectId} does not answer`);
    // Not even a conflict retried: the reservations kept any two devsups off one port.
    for (const d of sups) assert.doesNotMatch(d.stderr, /is taken; trying port/, 'a start hit a port another devsup handed out');
  } finally {
    for (const d of sups) await d.dispose();
  }
});

test('port_in_use suggests dropping strictPort only to a start that set it', T, async () => {
  const port = await freePort();
  const holder = await occupyPort(port);
  try {
    await withDevsup({ args: ['--port-range', `${port}-${port}`] }, async (d) => {
      const strict = await start(d, { projectId: projectId('strict'), command: serverCmd(), port, strictPort: true });
      expectError(strict, 'port_in_use');
      assert.match(strict.suggestion, /strictPort/);
      const loose = await start(d, { projectId: projectId('loose'), command: serverCmd() });
      expectError(loose, 'port_in_use');
      assert.doesNotMatch(loose.suggestion, /strictPort/, `a suggestion about a flag the start did not set: ${loose.suggestion}`);
      assert.match(loose.error, new RegExp(`${port}-${port}`));
    });
  } finally {
    holder.close();
  }
});
