// make bench: the cost and the speed of readiness (issue 13), printed as numbers with the same
// servers started bare in the same run as the reference (no assertions: the machine may be
// busy; the load average is printed with them).
//
//  - burst: N (100) concurrent starts of a small Python HTTP server: the reapers' CPU against
//    the servers' CPU, and the time until all are reported ready against the time the same
//    servers started bare take until all answer; with the listen trap and with the fallback
//    (--no-listen-trap);
//  - the same with two busy-loop processes hogging the CPU: how many starts failed
//    health_check_timeout, against how many bare servers did not answer within the timeout;
//  - one start: ready minus the moment the server could first answer, p50 and p99;
//  - a server that takes 5 s to listen: the reaper's CPU meanwhile;
//  - the reaper's private dirty memory (smaps_rollup).
// Environment: BENCH_BURST (100), BENCH_ONE_RUNS (40), BENCH_SLOW_S (5), BENCH_PARTS (one,burst).
import { spawn, execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import net from 'node:net';
import readline from 'node:readline';
import { startDevsup as startDevsupWith, now } from './devsup-client.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const bin = process.env.DEVSUP_BIN || join(here, '../../build/devsup');
const SERVER = join(here, '../fixtures/server.mjs');
const TINY = join(dirname(bin), 'tiny-server');
const burst = Number(process.env.BENCH_BURST || 100);
const oneRuns = Number(process.env.BENCH_ONE_RUNS || 40);
const slowS = Number(process.env.BENCH_SLOW_S || 5);
const HEALTH_TIMEOUT_MS = 10000;
const PORT_LO = 42000 + (process.pid % 50) * 200;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const py = (port) => ['python3', '-u', '-m', 'http.server', String(port), '--bind', '127.0.0.1'];

function startDevsup(args = [], env = {}) {
  return startDevsupWith(bin, ['--runner-id', `bench-ready-${process.pid}-${Math.random().toString(36).slice(2, 6)}`,
    '--log-level', 'error', '--port-range', `${PORT_LO}-${PORT_LO + 199}`, ...args], env);
}

/** CPU time of a process in ms, from schedstat (ns precision, unlike utime's 10 ms ticks). */
function cpuMs(pid) {
  try { return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6; } catch { return 0; }
}
function childrenOf(ppid) {
  const out = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === ppid) out.push(Number(d));
    } catch { /* gone */ }
  }
  return out;
}
const reapersOf = (master) => childrenOf(master).filter((p) => {
  try { return readFileSync(`/proc/${p}/cmdline`, 'utf8').startsWith('devsup-reaper'); } catch { return false; }
});
function privateDirtyKiB(pid) {
  const m = /^Private_Dirty:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}
const q = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]; };
const f1 = (x) => x.toFixed(1);
const readOr = (file) => { try { return readFileSync(file, 'utf8'); } catch { return ''; } };
const load = () => loadavg().map((x) => x.toFixed(1)).join(' ');

function connectOnce(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('connect', () => { s.destroy(); resolve(true); });
    s.on('error', () => resolve(false));
  });
}

/** N bare Python servers: when each printed its "Serving HTTP" line (it listens just before). */
async function bareBurst(n, basePort) {
  const t0 = now();
  const procs = [];
  const answered = new Array(n).fill(null);
  await Promise.all(Array.from({ length: n }, (_, i) => new Promise((resolve) => {
    const [cmd, ...args] = py(basePort + i);
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'ignore'] });
    procs.push(p);
    const timer = setTimeout(resolve, HEALTH_TIMEOUT_MS * 3);
    readline.createInterface({ input: p.stdout }).on('line', (l) => {
      if (answered[i] === null && l.startsWith('Serving HTTP')) {
        answered[i] = now() - t0;
        clearTimeout(timer);
        resolve();
      }
    });
  })));
  const ok = await Promise.all(Array.from({ length: n }, (_, i) => connectOnce(basePort + i)));
  const cpu = procs.reduce((a, p) => a + cpuMs(p.pid), 0);
  for (const p of procs) p.kill('SIGKILL');
  const times = answered.filter((x) => x !== null);
  return { allMs: Math.max(...times), late: answered.filter((x) => x === null || x > HEALTH_TIMEOUT_MS).length, serversCpu: cpu, ok: ok.filter(Boolean).length };
}

/** Samples the CPU of every reaper of master and of each reaper's children (the servers)
 * until stopped, keeping the last value seen per pid: a reaper that already exited (a failed
 * start) still counts. */
function cpuSampler(master) {
  const reapers = new Map(), servers = new Map();
  const sample = () => {
    for (const r of reapersOf(master)) {
      const c = cpuMs(r);
      if (c > 0) reapers.set(r, c);
      for (const s of childrenOf(r)) {
        const cs = cpuMs(s);
        if (cs > 0) servers.set(s, cs);
      }
    }
  };
  const timer = setInterval(sample, 250);
  return {
    stop() {
      sample();
      clearInterval(timer);
      const sum = (m) => [...m.values()].reduce((a, b) => a + b, 0);
      return { reaperCpu: sum(reapers), serversCpu: sum(servers), reapers: [...reapers.keys()] };
    },
  };
}

async function devsupBurst(n, args) {
  const d = startDevsup(args);
  await d.next((e) => e.type === 'ready');
  const sampler = cpuSampler(d.proc.pid);
  const t0 = now();
  for (let i = 0; i < n; i++) {
    d.send({ type: 'start-dev-server', id: `b${i}`, projectId: `burst-${i}`, command: py('{port}').map(String), cwd: tmpdir(),
      framework: 'other', healthCheck: { timeoutMs: HEALTH_TIMEOUT_MS } });
  }
  const answers = await Promise.all(Array.from({ length: n }, (_, i) =>
    d.next((e) => e.commandId === `b${i}` && (e.type === 'dev-server-started' || e.type === 'error'))));
  const ok = answers.filter((e) => e.type === 'dev-server-started').map((e) => e.receivedAt - t0);
  const allMs = ok.length ? Math.max(...ok) : NaN;
  const dirty = reapersOf(d.proc.pid).map(privateDirtyKiB).filter((x) => !Number.isNaN(x));
  const { reaperCpu, serversCpu } = sampler.stop();
  const timeouts = answers.filter((e) => e.reason === 'health_check_timeout').length;
  const failed = answers.filter((e) => e.type === 'error').length;
  await d.shutdown();
  return { allMs, reaperCpu, serversCpu, timeouts, failed, dirtyMedian: dirty.length ? q(dirty, 50) : NaN };
}

function hog(k) {
  return Array.from({ length: k }, () => spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' }));
}

async function burstSection() {
  const base = PORT_LO; // devsup's range, free while no devsup runs
  for (const hogs of [0, 2]) {
    const h = hog(hogs);
    await sleep(300);
    const title = hogs ? `burst of ${burst} with ${hogs} CPU hogs` : `burst of ${burst}`;
    const bare = await bareBurst(burst, base);
    await sleep(500);
    const trap = await devsupBurst(burst, []);
    await sleep(500);
    const poll = await devsupBurst(burst, ['--no-listen-trap']);
    for (const p of h) p.kill('SIGKILL');
    console.log(`${title} (load ${load()}):`);
    console.log(`  bare: all answered after ${f1(bare.allMs)} ms; servers' CPU ${f1(bare.serversCpu)} ms; ${bare.late} not answering within ${HEALTH_TIMEOUT_MS} ms`);
    for (const [name, r] of [['listen trap', trap], ['--no-listen-trap', poll]]) {
      console.log(`  devsup ${name}: all ${r.failed ? 'started' : 'ready'} after ${f1(r.allMs)} ms (${(r.allMs / bare.allMs).toFixed(2)}x bare); ` +
        `reapers' CPU ${f1(r.reaperCpu)} ms = ${(100 * r.reaperCpu / r.serversCpu).toFixed(1)}% of the servers' ${f1(r.serversCpu)} ms; ` +
        `health_check_timeout ${r.timeouts} (bare late ${bare.late}: false ones ${Math.max(0, r.timeouts - bare.late)}), failed ${r.failed}; ` +
        `reaper private dirty median ${r.dirtyMedian} KiB`);
    }
  }
}

async function oneStartSection() {
  const dir = mkdtempSync(join(tmpdir(), 'devsup-bench-ready-'));
  const d = startDevsup();
  await d.next((e) => e.type === 'ready');
  // A C server (build/tiny-server) stamps the write() of its first answer to the microsecond:
  // ready minus that is what devsup adds. It listens at once and holds that answer 100 ms,
  // so the probe's request is in flight when it comes.
  const lat = [];
  for (let i = 0; i < oneRuns; i++) {
    const answered = join(dir, `answered-${i}`);
    d.send({ type: 'start-dev-server', id: `o${i}`, projectId: `one-${i}`, cwd: dir, command: [TINY],
      env: { ANSWER_AFTER_MS: '100', ANSWERED_LOG: answered } });
    const ev = await d.next((e) => e.commandId === `o${i}` && (e.type === 'dev-server-started' || e.type === 'error'));
    if (ev.type === 'error') throw new Error(JSON.stringify(ev));
    // the stamp is saved just after the answer: let it be, before the stop ends the server
    for (let t = 0; t < 200 && !/\n$/.test(readOr(answered)); t++) await sleep(5);
    d.send({ type: 'stop-dev-server', id: `x${i}`, projectId: `one-${i}` });
    await d.next((e) => e.commandId === `x${i}` && e.type === 'dev-server-stopped');
    lat.push(ev.receivedAt - Number(readOr(answered)));
  }
  // The same with a Node server that listens after 50 ms and holds requests 100 ms more: from
  // the moment it releases them, which includes Node's own few ms to build its first answer.
  const fromCan = [];
  for (let i = 0; i < oneRuns; i++) {
    const can = join(dir, `can-${i}`);
    d.send({ type: 'start-dev-server', id: `n${i}`, projectId: `node-${i}`, cwd: dir,
      command: ['node', SERVER, '--port', '{port}', '--quiet', '--listen-after', '50', '--answer-after', '100', '--answer-log', can] });
    const ev = await d.next((e) => e.commandId === `n${i}` && (e.type === 'dev-server-started' || e.type === 'error'));
    if (ev.type === 'error') throw new Error(JSON.stringify(ev));
    fromCan.push(ev.receivedAt - Number(readFileSync(can, 'utf8')));
    d.send({ type: 'stop-dev-server', id: `y${i}`, projectId: `node-${i}` });
    await d.next((e) => e.commandId === `y${i}` && e.type === 'dev-server-stopped');
  }
  const p = (xs) => `p50 ${q(xs, 50).toFixed(2)} ms, p99 ${q(xs, 99).toFixed(2)} ms`;
  console.log(`one start (${oneRuns} runs each, load ${load()}): ready - first HTTP answer ${p(lat)}; ` +
    `Node server: ready - the moment it could answer ${p(fromCan)}`);

  for (const args of [[], ['--no-listen-trap']]) {
    const d2 = args.length ? startDevsup(args) : d;
    if (args.length) await d2.next((e) => e.type === 'ready');
    d2.send({ type: 'start-dev-server', id: 'slow', projectId: 'slow', cwd: dir,
      command: ['node', SERVER, '--port', '{port}', '--quiet', '--listen-after', String(slowS * 1000)] });
    await sleep(300);
    const reaper = reapersOf(d2.proc.pid)[0];
    const c0 = cpuMs(reaper);
    const ev = await d2.next((e) => e.commandId === 'slow' && (e.type === 'dev-server-started' || e.type === 'error'));
    const c1 = cpuMs(reaper);
    const dirty = privateDirtyKiB(reaper);
    console.log(`a server that listens after ${slowS} s (${args.length ? '--no-listen-trap' : 'listen trap'}): reaper CPU ${(c1 - c0).toFixed(2)} ms ` +
      `while it booted (${ev.type === 'error' ? ev.reason : 'ready'}); reaper private dirty ${dirty} KiB`);
    if (args.length) await d2.shutdown();
  }
  await d.shutdown();
  rmSync(dir, { recursive: true, force: true });
}

async function main() {
  try { execFileSync('python3', ['-c', 'import http.server']); } catch { console.log('readiness bench: no python3, skipped'); return; }
  const parts = (process.env.BENCH_PARTS || 'one,burst').split(',');
  if (parts.includes('one')) await oneStartSection();
  if (parts.includes('burst')) await burstSection();
}

main().catch((e) => { console.error(e); process.exit(1); });
