// make bench, load part: for 100 and 500 supervised servers (the tiny C fixture), the time
// until all are healthy, master RSS, RSS per reaper, and CPU used by devsup idling 10 s.
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';

const bin = process.env.DEVSUP_BIN;
const tiny = path.join(path.dirname(bin), 'tiny-server');
const idleS = Number(process.env.BENCH_IDLE_S || 10);
const sizes = (process.env.BENCH_LOAD_SIZES || '100,500').split(',').map(Number);

function stat(pid) {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return {
    ppid: Number(f[1]),
    cpuTicks: Number(f[11]) + Number(f[12]),
    rssKiB: Number((status.match(/^VmRSS:\s+(\d+)/m) || [])[1] || 0),
    ctxt: Number(status.match(/^voluntary_ctxt_switches:\s+(\d+)/m)[1]) +
      Number(status.match(/^nonvoluntary_ctxt_switches:\s+(\d+)/m)[1]),
  };
}

function reapers(master) {
  const out = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (stat(d).ppid === master && readFileSync(`/proc/${d}/cmdline`, 'utf8').startsWith('devsup-reaper')) out.push(Number(d));
    } catch { /* gone */ }
  }
  return out;
}

async function run(n) {
  const p = spawn(bin, ['--no-tty', '--runner-id', `bench-load-${process.pid}-${n}`, '--port-range', '33000-33999',
    '--max-projects', String(n + 10), '--log-level', 'warn'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const waiting = new Map();
  let ready;
  const readyP = new Promise((r) => { ready = r; });
  readline.createInterface({ input: p.stdout }).on('line', (line) => {
    const e = JSON.parse(line);
    if (e.type === 'ready') ready();
    const w = waiting.get(e.commandId);
    if (w && e.type !== 'dev-server-state') { waiting.delete(e.commandId); w(e); }
  });
  const req = (cmd) => new Promise((res) => { waiting.set(cmd.id, res); p.stdin.write(JSON.stringify(cmd) + '\n'); });
  await readyP;
  const t0 = performance.now();
  const answers = await Promise.all(Array.from({ length: n }, (_, i) =>
    req({ type: 'start-dev-server', id: `s${i}`, projectId: `load-${i}`, command: [tiny], cwd: '/tmp', healthCheck: { timeoutMs: 120000 } })));
  const allMs = performance.now() - t0;
  const failed = answers.filter((e) => e.type !== 'dev-server-started').length;
  const rs = reapers(p.pid);
  const m0 = stat(p.pid), r0 = rs.map(stat);
  await new Promise((r) => setTimeout(r, idleS * 1000));
  const m1 = stat(p.pid), r1 = rs.map(stat);
  const tick = 10; // ms per clock tick (USER_HZ 100)
  const reaperRss = r1.reduce((a, s) => a + s.rssKiB, 0) / r1.length;
  const reaperCpu = r1.reduce((a, s, i) => a + s.cpuTicks - r0[i].cpuTicks, 0) * tick;
  const reaperCtxt = r1.reduce((a, s, i) => a + s.ctxt - r0[i].ctxt, 0);
  console.log(`${n} servers: all healthy in ${allMs.toFixed(0)} ms (${failed} failed); master RSS ${m1.rssKiB} KiB, ` +
    `reaper RSS ${reaperRss.toFixed(0)} KiB each; idle ${idleS} s: master ${(m1.cpuTicks - m0.cpuTicks) * tick} ms CPU ` +
    `${m1.ctxt - m0.ctxt} wake-ups, all reapers ${reaperCpu} ms CPU ${reaperCtxt} wake-ups`);
  const t1 = performance.now();
  await Promise.all(Array.from({ length: n }, (_, i) => req({ type: 'stop-dev-server', id: `x${i}`, projectId: `load-${i}` })));
  console.log(`${n} servers: all stopped in ${(performance.now() - t1).toFixed(0)} ms`);
  p.stdin.end();
  await new Promise((r) => p.on('exit', r));
}

for (const n of sizes) await run(n);
