// make bench: the cost and the speed of readiness (issue 13), printed as numbers with the same
// servers started bare in the same run as the reference (no assertions: the machine may be
// busy; the load average is printed with each run).
//
//  - burst: N (100) concurrent starts of a small Python HTTP server, and the same servers
//    started bare: the time until all answered HEAD / (bare: asked as soon as each printed that
//    it listens), the reapers' CPU against the servers' CPU (both from cgroups: devsup runs in a
//    group of its own, its servers in its runner group; nothing polls /proc meanwhile), with the
//    listen trap and with the fallback (--no-listen-trap);
//  - the same with two busy-loop processes hogging the CPU: how many starts failed
//    health_check_timeout, against how many bare servers did not answer within the timeout;
//  - one start: ready minus the write() of the server's first HTTP answer (build/tiny-server
//    stamps it), p50 and p99; and with a Node server, ready minus the moment it could answer;
//  - a server that takes 5 s to listen: the reaper's CPU meanwhile;
//  - the reaper's private dirty memory (smaps_rollup).
// Environment: BENCH_BURST (100), BENCH_ONE_RUNS (40), BENCH_SLOW_S (5), BENCH_PARTS (one,burst).
import { spawn, execFileSync } from 'node:child_process';
import { closeSync, fsyncSync, openSync, readFileSync, readdirSync, mkdirSync, mkdtempSync, rmdirSync, rmSync } from 'node:fs';
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

/** CPU of a process and of all its threads, the ones gone included (utime + stime, ms). */
function procCpuMs(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 10; // USER_HZ is 100 on Linux
  } catch { return 0; }
}

/** One HEAD / and its status line: what devsup's health check asks. */
function headOnce(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let got = '';
    s.on('connect', () => s.write(`HEAD / HTTP/1.1\r\nHost: localhost:${port}\r\nConnection: close\r\n\r\n`));
    s.on('data', (b) => {
      got += b;
      if (/^HTTP\/1\.\d \d{3}/.test(got)) { s.destroy(); resolve(true); }
    });
    s.on('error', () => resolve(false));
    s.on('close', () => resolve(/^HTTP\//.test(got)));
  });
}

/** N bare Python servers in cwd: the time each first answered HEAD /, asked as soon as it
 * printed its "Serving HTTP" line (it listens just before), as devsup's check asks it. Nothing
 * samples anything meanwhile (the devsup runs are measured through cgroups), so both sides do
 * the same work with the same company. */
async function bareBurst(n, basePort, cwd, mount) {
  // in a cgroup of their own where we can: their CPU is then counted as devsup's servers' is
  // (a group's usage also holds kernel work charged to it, ~80 ms more per Python server
  // here than the process's own run time)
  const cg = mount && join(mount, `devsup-bench-bare-${process.pid}`);
  if (cg) mkdirSync(cg);
  const t0 = now();
  const procs = [];
  const answered = new Array(n).fill(null);
  await Promise.all(Array.from({ length: n }, (_, i) => new Promise((resolve) => {
    const argv = cg ? ['/bin/sh', '-c', `echo $$ > ${cg}/cgroup.procs && exec "$0" "$@"`, ...py(basePort + i)] : py(basePort + i);
    const p = spawn(argv[0], argv.slice(1), { cwd, stdio: ['ignore', 'pipe', 'ignore'] });
    procs.push(p);
    const timer = setTimeout(resolve, HEALTH_TIMEOUT_MS * 3);
    let asked = false;
    readline.createInterface({ input: p.stdout }).on('line', async (l) => {
      if (asked || !l.startsWith('Serving HTTP')) return;
      asked = true;
      if (await headOnce(basePort + i)) answered[i] = now() - t0;
      clearTimeout(timer);
      resolve();
    });
  })));
  const cpu = cg ? usageMs(cg) : procs.reduce((a, p) => a + procCpuMs(p.pid), 0);
  await Promise.all(procs.map((p) => new Promise((r) => { if (p.exitCode !== null || p.signalCode) r(); else { p.once('exit', r); p.kill('SIGKILL'); } })));
  if (cg) rmdirSync(cg);
  const times = answered.filter((x) => x !== null);
  return { allMs: Math.max(...times), late: answered.filter((x) => x === null || x > HEALTH_TIMEOUT_MS).length, serversCpu: cpu };
}

/** The unified cgroup hierarchy's mount, when this process may make groups there (root). */
function cgroupMount() {
  try {
    for (const l of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
      const f = l.split(' ');
      const dash = f.indexOf('-');
      if (dash > 0 && f[dash + 1] === 'cgroup2') {
        const probe = join(f[4], `devsup-bench-probe-${process.pid}`);
        mkdirSync(probe);
        rmdirSync(probe);
        return f[4];
      }
    }
  } catch { /* not root, or no cgroup v2 */ }
  return null;
}
const usageMs = (dir) => Number(/^usage_usec (\d+)/m.exec(readFileSync(join(dir, 'cpu.stat'), 'utf8'))[1]) / 1000;

/** A devsup started inside a cgroup of its own (sh moves itself there, then execs it): the
 * group's CPU counts devsup, every reaper and every server, those already gone included, and
 * devsup's runner group inside it (devsup.RUNNER) the servers alone. Nothing polls /proc while
 * the servers start. */
function startDevsupIn(cg, args) {
  const id = `bench-ready-${process.pid}-${Math.random().toString(36).slice(2, 6)}`;
  const d = startDevsupWith(bin, ['--runner-id', id, '--log-level', 'error', '--port-range', `${PORT_LO}-${PORT_LO + 199}`, ...args],
    {}, { launcher: ['/bin/sh', '-c', `echo $$ > ${cg}/cgroup.procs && exec "$0" "$@"`] });
  return { d, runnerCg: join(cg, `devsup.${id}`) };
}

async function devsupBurst(n, args, mount, cwd) {
  const cg = mount && join(mount, `devsup-bench-${process.pid}-${Math.random().toString(36).slice(2, 6)}`);
  if (cg) mkdirSync(cg);
  const { d, runnerCg } = cg ? startDevsupIn(cg, args) : { d: startDevsup(args) };
  await d.next((e) => e.type === 'ready');
  const t0 = now();
  for (let i = 0; i < n; i++) {
    d.send({ type: 'start-dev-server', id: `b${i}`, projectId: `burst-${i}`, command: py('{port}').map(String), cwd,
      framework: 'other', healthCheck: { timeoutMs: HEALTH_TIMEOUT_MS } });
  }
  const answers = await Promise.all(Array.from({ length: n }, (_, i) =>
    d.next((e) => e.commandId === `b${i}` && (e.type === 'dev-server-started' || e.type === 'error'))));
  const ok = answers.filter((e) => e.type === 'dev-server-started').map((e) => e.receivedAt - t0);
  const allMs = ok.length ? Math.max(...ok) : NaN;
  const dirty = reapersOf(d.proc.pid).map(privateDirtyKiB).filter((x) => !Number.isNaN(x));
  let reaperCpu = NaN, serversCpu = NaN;
  if (cg) {
    serversCpu = usageMs(runnerCg);
    reaperCpu = usageMs(cg) - serversCpu - cpuMs(d.proc.pid);
  }
  const timeouts = answers.filter((e) => e.reason === 'health_check_timeout').length;
  const failed = answers.filter((e) => e.type === 'error').length;
  await d.shutdown();
  if (cg) {
    await new Promise((r) => d.proc.once('exit', r));
    try { rmdirSync(runnerCg); } catch { /* devsup removed it */ }
    rmdirSync(cg);
  }
  return { allMs, reaperCpu, serversCpu, timeouts, failed, dirtyMedian: dirty.length ? q(dirty, 50) : NaN };
}

/** k busy loops, each ending itself once this benchmark is gone (whatever ended it): a hog
 * left behind would load the machine for everyone, and every later measurement with it. */
function hog(k) {
  const loop = `const p = ${process.pid}; for (let i = 0; ; i++) if ((i & 0xffffff) === 0 && process.ppid !== p) process.exit();`;
  return Array.from({ length: k }, () => spawn(process.execPath, ['-e', loop], { stdio: 'ignore' }));
}

async function burstSection() {
  const base = PORT_LO; // devsup's range, free while no devsup runs
  const mount = cgroupMount();
  if (!mount) console.log('burst: no writable cgroup v2 hierarchy (run as root): the CPU figures are left out');
  // an empty directory: http.server answers / with its listing (of /tmp it was ~100 ms of
  // Python per answer), the same on both sides
  const cwd = mkdtempSync(join(tmpdir(), 'devsup-bench-burst-'));
  for (const hogs of [0, 2]) {
    const h = hog(hogs);
    await sleep(300);
    const title = hogs ? `burst of ${burst} with ${hogs} CPU hogs` : `burst of ${burst}`;
    console.log(`${title}:`);
    const loadBare = load();
    const bare = await bareBurst(burst, base, cwd, mount);
    console.log(`  bare (load ${loadBare}): all answered after ${f1(bare.allMs)} ms; servers' CPU ${f1(bare.serversCpu)} ms; ${bare.late} not answering within ${HEALTH_TIMEOUT_MS} ms`);
    for (const [name, args] of [['listen trap', []], ['--no-listen-trap', ['--no-listen-trap']]]) {
      await sleep(500);
      const loadRun = load();
      const r = await devsupBurst(burst, args, mount, cwd);
      console.log(`  devsup ${name} (load ${loadRun}): all ${r.failed ? 'started' : 'ready'} after ${f1(r.allMs)} ms (${(r.allMs / bare.allMs).toFixed(2)}x bare); ` +
        `reapers' CPU ${f1(r.reaperCpu)} ms = ${(100 * r.reaperCpu / r.serversCpu).toFixed(1)}% of the servers' ${f1(r.serversCpu)} ms; ` +
        `health_check_timeout ${r.timeouts} (bare late ${bare.late}: false ones ${Math.max(0, r.timeouts - bare.late)}), failed ${r.failed}; ` +
        `reaper private dirty median ${r.dirtyMedian} KiB`);
    }
    for (const p of h) p.kill('SIGKILL');
  }
  rmSync(cwd, { recursive: true, force: true });
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
  // A binary just linked sits in dirty page cache until written back, and smaps counts its
  // mapped pages as private dirty in every reaper: write it back first.
  for (const f of [bin, join(dirname(bin), 'devsup-reaper')]) {
    try { const fd = openSync(f, 'r'); fsyncSync(fd); closeSync(fd); } catch { /* measured as it is */ }
  }
  const parts = (process.env.BENCH_PARTS || 'one,burst').split(',');
  if (parts.includes('one')) await oneStartSection();
  if (parts.includes('burst')) await burstSection();
}

main().catch((e) => { console.error(e); process.exit(1); });
