// make bench: latency, memory and idle CPU of devsup, printed as numbers (no assertions).
//
//  - listen -> dev-server-started: from the moment the server's listen() completed to the
//    moment the event reaches the client (median and p90 over N runs);
//  - stop -> dev-server-stopped for a server that exits at once on SIGTERM;
//  - RSS of the master and of one reaper while supervising one server;
//  - CPU time and wake-ups (context switches) of master + reaper over 10 s of idling.
import { readFileSync, readdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDevsup as startDevsupWith, now } from './devsup-client.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const bin = process.env.DEVSUP_BIN || join(here, '../../build/devsup');
const runs = Number(process.env.BENCH_RUNS || 30);
const idleSeconds = Number(process.env.BENCH_IDLE_S || 10);


const startDevsup = () => startDevsupWith(bin, ['--runner-id', `bench-${process.pid}`, '--log-level', 'warn']);

const stat = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
  return { median: q(50), p90: q(90), min: s[0], max: s[s.length - 1] };
};
const fmt = (x) => x.toFixed(2);

function procStatus(pid) {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (k) => Number((text.match(new RegExp(`^${k}:\\s+(\\d+)`, 'm')) || [])[1] || 0);
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return {
    rssKiB: field('VmRSS'),
    ctxt: field('voluntary_ctxt_switches') + field('nonvoluntary_ctxt_switches'),
    cpuTicks: Number(f[11]) + Number(f[12]), // utime + stime
  };
}

// The reaper: a child of the master (found by the parent links of /proc/*/stat, since
// /proc/PID/task/TID/children is not on every kernel).
function reaperOf(masterPid) {
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === masterPid && readFileSync(`/proc/${d}/cmdline`, 'utf8').startsWith('devsup-reaper')) return Number(d);
    } catch { /* gone */ }
  }
  return 0;
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'devsup-bench-'));
  const server = join(here, 'stamp-server.mjs');
  const d = startDevsup();
  await d.next((e) => e.type === 'ready');
  const ready = [], stop = [];
  for (let i = 0; i < runs; i++) {
    const stamp = join(dir, `stamp-${i}`);
    const id = `bench-${i}`;
    d.send({ type: 'start-dev-server', id: `s${i}`, projectId: id, command: ['node', server], cwd: dir,
      env: { STAMP_FILE: stamp, LISTEN_AFTER_MS: '200' } });
    const started = await d.next((e) => e.commandId === `s${i}` && (e.type === 'dev-server-started' || e.type === 'error'));
    if (started.type === 'error') throw new Error(JSON.stringify(started));
    ready.push(started.receivedAt - Number(readFileSync(stamp, 'utf8')));
    const t0 = now();
    d.send({ type: 'stop-dev-server', id: `x${i}`, projectId: id });
    const stopped = await d.next((e) => e.commandId === `x${i}` && e.type === 'dev-server-stopped');
    stop.push(stopped.receivedAt - t0);
  }
  const r = stat(ready), s = stat(stop);
  console.log(`listen -> dev-server-started (ms, ${runs} runs): median ${fmt(r.median)}  p90 ${fmt(r.p90)}  min ${fmt(r.min)}  max ${fmt(r.max)}`);
  console.log(`stop -> dev-server-stopped   (ms, ${runs} runs): median ${fmt(s.median)}  p90 ${fmt(s.p90)}  min ${fmt(s.min)}  max ${fmt(s.max)}`);

  // Memory and idle cost while one server runs.
  d.send({ type: 'start-dev-server', id: 'idle', projectId: 'idle', command: ['node', server], cwd: dir,
    env: { STAMP_FILE: join(dir, 'idle') } });
  await d.next((e) => e.commandId === 'idle' && e.type === 'dev-server-started');
  const master = d.proc.pid, reaper = reaperOf(master);
  const m0 = procStatus(master), r0 = procStatus(reaper);
  await new Promise((res) => setTimeout(res, idleSeconds * 1000));
  const m1 = procStatus(master), r1 = procStatus(reaper);
  const tick = 1000 / 100; // USER_HZ is 100 on Linux
  console.log(`RSS while supervising one server: master ${m1.rssKiB} KiB, reaper ${r1.rssKiB} KiB`);
  console.log(`idle ${idleSeconds} s: master ${(m1.cpuTicks - m0.cpuTicks) * tick} ms CPU, ${m1.ctxt - m0.ctxt} wake-ups; ` +
    `reaper ${(r1.cpuTicks - r0.cpuTicks) * tick} ms CPU, ${r1.ctxt - r0.ctxt} wake-ups`);
  d.send({ type: 'shutdown', id: 'bye' });
  await d.next((e) => e.type === 'shutdown-complete');
  rmSync(dir, { recursive: true, force: true });
}

main().catch((e) => { console.error(e); process.exit(1); });
