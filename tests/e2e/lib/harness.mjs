// End-to-end harness: drives the real devsup binary the way the Node API does
// (NDJSON over stdin/stdout) and inspects /proc to see what is really alive.
import { Devsup } from '../../../supervisor/client/index.js';
import { mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const FIXTURES = path.join(REPO, 'tests', 'fixtures');
export const SERVER = path.join(FIXTURES, 'server.mjs');
export const SLEEPER = path.join(FIXTURES, 'sleeper.mjs');
export const DEVSUP_BIN = process.env.DEVSUP_BIN || path.join(REPO, 'build', 'devsup');
export const NODE = process.execPath;

/** Under valgrind (make e2e-valgrind) devsup is slow to start and heavy tests are skipped. */
export const VALGRIND = Boolean(process.env.DEVSUP_VALGRIND);
export const HEAVY = VALGRIND ? 'too heavy under valgrind, which is here for memory errors' : false;
const READY_TIMEOUT_MS = Number(process.env.DEVSUP_READY_TIMEOUT_MS || (VALGRIND ? 60000 : 10000));
export const TIMESTAMP_RE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

// Events that may carry a commandId without being the command's final answer.
const INTERMEDIATE = (type) =>
  type === 'dev-server-state' || type === 'log' || type === 'log-stream-ended' || (typeof type === 'string' && type.startsWith('tunnel-'));

let counter = 0;
let rangeCounter = 0;
const uniq = () => `${process.pid}-${++counter}-${Math.random().toString(36).slice(2, 7)}`;

/** A fresh project id, unique across concurrently running test files. */
export const projectId = (tag = 't') => `${tag}-${uniq()}`;
/** A fresh runner id, unique across concurrently running test files. */
export const runnerId = () => `e2e-${uniq()}`;

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const live = new Set();
const stateDirs = [];
process.on('exit', () => {
  for (const d of live) {
    try { d.proc.kill('SIGKILL'); } catch { /* gone */ }
  }
  for (const dir of stateDirs) rmSync(dir, { recursive: true, force: true });
});

/** A fresh --state-dir (0700, removed at exit): runner locks and port reservations. Devsups
 * given the same one see each other's reservations. */
export function newStateDir() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'devsup-e2e-state-'));
  stateDirs.push(dir);
  return dir;
}
let fileStateDir = null;
/** The --state-dir of every devsup of this test file that is given none: concurrent test files
 * never share locks, and nothing lands in /run or $XDG_RUNTIME_DIR. */
export function testStateDir() {
  fileStateDir ??= newStateDir();
  return fileStateDir;
}

function describe(pred) {
  return pred.label || String(pred).slice(0, 160);
}

/**
 * Spawn devsup with --no-tty and a unique --runner-id (unless args carries one) and wait for
 * its `ready` event, which must be the first event.
 */
export async function spawnDevsup({ args = [], env = {}, bin = DEVSUP_BIN, readyTimeoutMs = READY_TIMEOUT_MS, extraFd = false } = {}) {
  const rid = args.includes('--runner-id') ? args[args.indexOf('--runner-id') + 1] : runnerId();
  // Concurrent devsup instances (test files run in parallel) would otherwise all hand out 3000,
  // 3001, ...: give each its own slice of 20 ports, below the ephemeral range freePort() uses.
  let portRange = null;
  if (!args.includes('--port-range')) {
    const lo = 10000 + ((process.pid * 7919 + ++rangeCounter * 104729) % 1000) * 20;
    portRange = [lo, lo + 19];
  } else {
    portRange = args[args.indexOf('--port-range') + 1].split('-').map(Number);
  }
  const fullArgs = [
    '--no-tty',
    ...(args.includes('--runner-id') ? [] : ['--runner-id', rid]),
    ...(args.includes('--port-range') ? [] : ['--port-range', `${portRange[0]}-${portRange[1]}`]),
    ...(args.includes('--state-dir') ? [] : ['--state-dir', testStateDir()]),
    ...args,
  ];
  const d = {
    proc: null,
    runnerId: rid,
    portRange,
    args: fullArgs,
    events: [],
    consumed: [],
    arrivals: [], // performance.now() of each event's arrival
    protocolErrors: [],
    stderr: '',
    exitInfo: null,
  };
  const waiters = [];

  const failWaiters = (why) => {
    for (const w of waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(new Error(`${why} while waiting for ${w.label}${d.context()}`));
    }
  };

  const deliver = (ev) => {
    const idx = d.events.length;
    d.events.push(ev);
    d.consumed.push(false);
    d.arrivals.push(performance.now());
    for (let i = 0; i < waiters.length; i++) {
      const w = waiters[i];
      let ok = false;
      try { ok = w.pred(ev); } catch { ok = false; }
      if (ok) {
        d.consumed[idx] = true;
        waiters.splice(i, 1);
        clearTimeout(w.timer);
        w.resolve(ev);
        return;
      }
    }
  };

  // devsup is spawned, its stdout parsed and its ready awaited by the Node client
  // (supervisor/client), as the API does; the harness keeps every event for the tests.
  const baseEnv = { DATABASE_URL: undefined }; // no test touches a database unless it asks for one
  let sup;
  try {
    sup = await Devsup.spawn({
      bin,
      args: fullArgs.slice(1), // the client adds --no-tty
      env: { ...baseEnv, ...env },
      // extraFd: hand devsup an inherited, not close-on-exec fd 9 (as a parent with a leaked fd
      // would) to check it is not passed on to dev servers.
      extraStdio: extraFd ? ['ignore', 'ignore', 'ignore', 'ignore', 'ignore', 'ignore', 'pipe'] : [],
      stderr: (s) => {
        d.stderr += s;
        if (d.stderr.length > 200000) d.stderr = d.stderr.slice(-100000);
      },
      readyTimeoutMs,
    });
  } catch (err) {
    // (the client's message already carries the last lines of stderr)
    err.message += `\n--- devsup ${fullArgs.join(' ')} ---`;
    throw err;
  }
  const proc = sup.child;
  d.proc = proc;
  d.client = sup;
  live.add(d);
  d.ready = sup.ready;
  deliver(sup.ready);
  d.consumed[0] = true;
  sup.on('event', deliver);
  sup.on('protocolError', (err) => {
    d.protocolErrors.push(err.message.replace(/^devsup protocol violation: /, ''));
    if (/is not JSON:/.test(err.message)) failWaiters('protocol violation (non-JSON stdout line)');
  });
  // Settled at 'close' (stdout drained), or shortly after 'exit' if some other process still
  // holds devsup's stdout open.
  sup.on('exit', (info) => {
    d.exitInfo = info;
    live.delete(d);
    failWaiters(`devsup exited (code ${info.code}, signal ${info.signal})`);
  });
  d.exited = sup.exited;

  d.context = () => {
    const pid = d.proc ? d.proc.pid : '?';
    const last = d.events.slice(-15).map((e) => '  ' + JSON.stringify(e).slice(0, 400)).join('\n');
    const err = d.stderr.slice(-3000);
    return `\n--- devsup ${d.args.join(' ')} (pid ${pid}) last events ---\n${last}` +
      `\n--- devsup stderr (tail) ---\n${err}\n---`;
  };

  /** Resolve with the first not-yet-consumed event matching pred (buffered, never lost). */
  d.next = (pred, timeoutMs = 20000, label = describe(pred)) => {
    for (let i = 0; i < d.events.length; i++) {
      if (d.consumed[i]) continue;
      let ok = false;
      try { ok = pred(d.events[i]); } catch { ok = false; }
      if (ok) {
        d.consumed[i] = true;
        return Promise.resolve(d.events[i]);
      }
    }
    if (d.exitInfo) {
      return Promise.reject(new Error(`devsup already exited (${JSON.stringify(d.exitInfo)}); no event for ${label}${d.context()}`));
    }
    if (d.protocolErrors.length) {
      return Promise.reject(new Error(`protocol violation: ${d.protocolErrors[0]} (waiting for ${label})${d.context()}`));
    }
    return new Promise((resolve, reject) => {
      const w = { pred, resolve, reject, label };
      w.timer = setTimeout(() => {
        const i = waiters.indexOf(w);
        if (i >= 0) waiters.splice(i, 1);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${label}${d.context()}`));
      }, timeoutMs);
      waiters.push(w);
    });
  };

  d.send = (obj) => d.sendRaw(JSON.stringify(obj) + '\n');
  d.sendRaw = (data) => {
    if (!proc.stdin.writable) throw new Error('devsup stdin is closed');
    proc.stdin.write(data);
  };

  let reqCounter = 0;
  /** Send a command (an id is added if missing) and resolve with its final answer. */
  d.request = (cmd, timeoutMs = 20000) => {
    const c = { ...cmd };
    if (c.id === undefined) c.id = `r${++reqCounter}-${uniq()}`;
    const id = c.id;
    const p = d.next((e) => e.commandId === id && !INTERMEDIATE(e.type), timeoutMs,
      `final answer to ${c.type} id=${id}`);
    d.send(c);
    return p;
  };

  /** All state events of one project, in arrival order. */
  d.states = (pid) => d.events.filter((e) => e.type === 'dev-server-state' && e.projectId === pid);

  d.kill = (sig = 'SIGTERM') => {
    try { proc.kill(sig); } catch { /* gone */ }
  };

  /** End stdin and wait for devsup to exit. */
  d.close = async (timeoutMs = 20000) => {
    try { proc.stdin.end(); } catch { /* closed */ }
    return withTimeout(d.exited, timeoutMs, `devsup exit after stdin EOF${d.context()}`);
  };

  /** Tear down whatever is left: devsup, then (defensively) any process of its runner. */
  d.dispose = async () => {
    if (!d.exitInfo) {
      try { proc.stdin.end(); } catch { /* closed */ }
      const t = setTimeout(() => d.kill('SIGKILL'), 15000);
      await d.exited;
      clearTimeout(t);
    }
    await pollUntil(() => runnerPids(d.runnerId, { includeSupervisor: true }).length === 0, 2000);
    const left = runnerPids(d.runnerId, { includeSupervisor: true });
    if (left.length) {
      process.stderr.write(`[harness] runner ${d.runnerId}: killing leftovers ${left.join(' ')}\n`);
      for (const p of left) {
        try { process.kill(p, 'SIGKILL'); } catch { /* gone */ }
      }
    }
    // Under ASan/UBSan (make e2e-san) a report on stderr, from the master or a reaper, is a
    // failure even when every event was right.
    // valgrind (make e2e-valgrind) runs with --quiet: any "==PID== " line it prints is an error.
    const report = d.stderr.match(/(ERROR: (Address|Leak)Sanitizer[^\n]*|runtime error:[^\n]*|^==\d+== [^\n]*)/m);
    if (report) {
      const at = d.stderr.indexOf(report[0]);
      throw new Error(`sanitizer report from devsup:\n${d.stderr.slice(Math.max(0, at - 200), at + 4000)}`);
    }
  };

  d.assertProtocolClean = () => {
    if (d.protocolErrors.length) {
      throw new Error(`stdout protocol violations:\n  ${d.protocolErrors.join('\n  ')}${d.context()}`);
    }
  };

  return d;
}

/** Run fn with a fresh devsup; on failure append devsup's stderr and last events; always clean up. */
export async function withDevsup(opts, fn) {
  const d = await spawnDevsup(opts);
  try {
    await fn(d);
    d.assertProtocolClean();
  } catch (err) {
    if (err && typeof err === 'object' && !String(err.message).includes('--- devsup stderr')) {
      try { err.message += d.context(); } catch { /* read-only */ }
    }
    throw err;
  } finally {
    await d.dispose();
  }
}

export function withTimeout(promise, ms, what) {
  let t;
  return Promise.race([
    promise,
    new Promise((_, reject) => { t = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms); }),
  ]).finally(() => clearTimeout(t));
}

// ---------------------------------------------------------------------------------------------
// /proc inspection

/** Parsed /proc/PID/stat, or null if the process is gone. */
export function procStat(pid) {
  let s;
  try { s = readFileSync(`/proc/${pid}/stat`, 'utf8'); } catch { return null; }
  const close = s.lastIndexOf(')');
  const rest = s.slice(close + 2).split(' ');
  return {
    pid: Number(pid),
    comm: s.slice(s.indexOf('(') + 1, close),
    state: rest[0],
    ppid: Number(rest[1]),
    pgrp: Number(rest[2]),
    session: Number(rest[3]),
    starttime: rest[19],
  };
}

/** True when pid exists and is not a zombie. */
export function isAlive(pid) {
  const st = procStat(pid);
  return st !== null && st.state !== 'Z' && st.state !== 'X';
}

export function procEnviron(pid) {
  try {
    const raw = readFileSync(`/proc/${pid}/environ`, 'latin1');
    const env = {};
    for (const kv of raw.split('\0')) {
      const eq = kv.indexOf('=');
      if (eq > 0) env[kv.slice(0, eq)] = kv.slice(eq + 1);
    }
    return env;
  } catch {
    return null;
  }
}

export function procCmdline(pid) {
  try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean); } catch { return null; }
}

export function allPids() {
  let names;
  try { names = readdirSync('/proc'); } catch { return []; }
  return names.filter((n) => /^\d+$/.test(n)).map(Number);
}

/** devsup's own processes (master, reapers), recognised by their executable. */
function isSupervisor(pid) {
  let exe = '';
  try { exe = path.basename(readlinkSync(`/proc/${pid}/exe`)).replace(/ \(deleted\)$/, ''); } catch { /* ignore */ }
  const argv0 = path.basename((procCmdline(pid) || [''])[0] || '');
  return ['devsup', 'devsup-reaper'].includes(exe) || ['devsup', 'devsup-reaper'].includes(argv0);
}

function pidsWithEnv(entry, { includeSupervisor = false } = {}) {
  const needle = Buffer.from(entry + '\0');
  const out = [];
  for (const pid of allPids()) {
    if (pid === process.pid) continue;
    let raw;
    try { raw = readFileSync(`/proc/${pid}/environ`); } catch { continue; }
    // NUL-separated entries: match at the start or right after a NUL.
    let found = false;
    let at = raw.indexOf(needle);
    while (at >= 0) {
      if (at === 0 || raw[at - 1] === 0) { found = true; break; }
      at = raw.indexOf(needle, at + 1);
    }
    if (!found) {
      // the last entry may lack the trailing NUL
      const tail = Buffer.from(entry);
      if (raw.length >= tail.length && raw.subarray(raw.length - tail.length).equals(tail) &&
          (raw.length === tail.length || raw[raw.length - tail.length - 1] === 0)) found = true;
    }
    if (!found) continue;
    if (!isAlive(pid)) continue;
    if (!includeSupervisor && isSupervisor(pid)) continue;
    out.push(pid);
  }
  return out;
}

/** Live (non-zombie) processes carrying DEVSUP_PROJECT_ID=<id>; devsup's own reapers excluded unless asked. */
export const projectPids = (id, opts) => pidsWithEnv(`DEVSUP_PROJECT_ID=${id}`, opts);
/** Live (non-zombie) processes carrying DEVSUP_RUNNER_ID=<id>; devsup's own reapers excluded unless asked. */
export const runnerPids = (id, opts) => pidsWithEnv(`DEVSUP_RUNNER_ID=${id}`, opts);

/** Live children of pid (by the parent link in /proc/PID/stat). */
export function childPids(ppid) {
  return allPids().filter((p) => {
    const st = procStat(p);
    return st && st.ppid === ppid && st.state !== 'Z';
  });
}

/** devsup-reaper processes that are children of the given devsup master. */
export function reaperPids(devsupPid) {
  return childPids(devsupPid).filter((p) => (procCmdline(p) || []).join(' ').includes('devsup-reaper'));
}

/** Poll fn() every intervalMs until it returns a truthy value or timeoutMs passes; returns the last value. */
export async function pollUntil(fn, timeoutMs, intervalMs = 50) {
  const end = performance.now() + timeoutMs;
  let v = fn();
  while (!v && performance.now() < end) {
    await sleep(intervalMs);
    v = fn();
  }
  return v;
}

/** Describe pids for an assertion message. */
export function describePids(pids) {
  return pids.map((p) => {
    const st = procStat(p);
    return `${p}(${st ? st.state : '?'} ppid=${st?.ppid} pgrp=${st?.pgrp}) ${(procCmdline(p) || []).join(' ')}`;
  }).join('\n    ');
}

// ---------------------------------------------------------------------------------------------
// network

/**
 * HTTP GET; resolves {status, body}, rejects on connect error or after timeoutMs.
 * For `localhost`, both 127.0.0.1 and ::1 are tried (as a browser does).
 */
export function httpGet(url, { timeoutMs = 5000 } = {}) {
  const u = new URL(url);
  if (u.hostname === 'localhost') {
    const v4 = new URL(url); v4.hostname = '127.0.0.1';
    const v6 = new URL(url); v6.hostname = '[::1]';
    return httpGet1(v4, timeoutMs).catch(() => httpGet1(v6, timeoutMs));
  }
  return httpGet1(u, timeoutMs);
}

function httpGet1(u, timeoutMs) {
  return new Promise((resolve, reject) => {
    const req = http.get(u, { agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${u} timed out`)));
    req.on('error', reject);
  });
}

/** A port that is free right now (from the ephemeral range, away from devsup's default range). */
export function freePort(host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, host, () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Listen on a port from the test process (a "foreign" process for devsup). */
export function occupyPort(port = 0, host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const s = net.createServer((c) => c.destroy());
    s.on('error', reject);
    s.listen(port, host, () => resolve(s));
  });
}

/** argv command running the fixture server with {port} substitution. */
export const serverCmd = (...extra) => ['node', SERVER, '--port', '{port}', ...extra];
