// make bench, fleet part (SPEC §10): 3 runners on one Postgres, 100 projects each (the tiny C
// fixture) started and stopped together: transitions committed per second end to end, and the
// commit delay (a transition's queueing to its commit) p50/p99/max of each runner, and a start's
// command -> `starting` delay (the ownership check's round trip and the reaper's spawn): in the
// bursts (mostly the loop spawning the other reapers) and for one start at a time.
// Usage: DEVSUP_BIN=build/devsup node tests/bench/fleet-bench.mjs POSTGRES_URL
import { spawn, execFileSync } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';

const bin = process.env.DEVSUP_BIN;
const url = process.argv[2];
const tiny = path.join(path.dirname(bin), 'tiny-server');
const RUNNERS = Number(process.env.BENCH_FLEET_RUNNERS || 3);
const N = Number(process.env.BENCH_FLEET_PROJECTS || 100);

function runner(i) {
  const lo = 34000 + i * 200;
  const p = spawn(bin, ['--no-tty', '--runner-id', `bench-fleet-${process.pid}-${i}`, '--db', url,
    '--port-range', `${lo}-${lo + 199}`, '--max-projects', String(N + 10), '--log-level', 'warn'],
  { stdio: ['pipe', 'pipe', 'inherit'] });
  const waiting = new Map();
  const sentAt = new Map();
  const checkMs = [];
  let n = 0;
  let ready;
  const readyP = new Promise((r) => { ready = r; });
  readline.createInterface({ input: p.stdout }).on('line', (line) => {
    const e = JSON.parse(line);
    if (e.type === 'ready') ready();
    if (e.type === 'dev-server-state' && e.to === 'starting' && sentAt.has(e.commandId)) {
      checkMs.push(performance.now() - sentAt.get(e.commandId));
    }
    const w = waiting.get(e.commandId);
    if (w && e.type !== 'dev-server-state') { waiting.delete(e.commandId); w(e); }
  });
  const req = (cmd) => new Promise((res) => {
    const id = `c${++n}`;
    waiting.set(id, res);
    if (cmd.type === 'start-dev-server') sentAt.set(id, performance.now());
    p.stdin.write(JSON.stringify({ ...cmd, id }) + '\n');
  });
  return { p, i, readyP, req, checkMs };
}

async function persistence(r) {
  return (await r.req({ type: 'status' })).persistence;
}

async function until(pred) {
  for (;;) {
    if (await pred()) return;
    await new Promise((res) => setTimeout(res, 20));
  }
}

const rs = Array.from({ length: RUNNERS }, (_, i) => runner(i));
await Promise.all(rs.map((r) => r.readyP));
await Promise.all(rs.map((r) => until(async () => (await persistence(r)).connected)));
const t0 = performance.now();
await Promise.all(rs.map(async (r) => {
  const ids = Array.from({ length: N }, (_, k) => `fleet-${r.i}-${k}`);
  const started = await Promise.all(ids.map((projectId) =>
    r.req({ type: 'start-dev-server', projectId, command: [tiny], cwd: '/tmp', healthCheck: { timeoutMs: 120000 } })));
  const bad = started.filter((e) => e.type !== 'dev-server-started');
  if (bad.length) throw new Error(`runner ${r.i}: ${bad.length} starts failed: ${JSON.stringify(bad[0])}`);
  await Promise.all(ids.map((projectId) => r.req({ type: 'stop-dev-server', projectId })));
}));
await Promise.all(rs.map((r) => until(async () => (await persistence(r)).queued === 0)));
const ms = performance.now() - t0;
const total = RUNNERS * N * 4;
const rows = Number(execFileSync('psql', ['-X', '-At', url, '-c',
  "SELECT count(*) FROM devsup_transitions WHERE project_id LIKE 'fleet-%' AND project_id NOT LIKE 'fleet-one-%'"], { encoding: 'utf8' }).trim());
const lat = await Promise.all(rs.map(async (r) => (await persistence(r)).commitLatencyMs));
console.log(`fleet: ${RUNNERS} runners x ${N} projects start+stop: ${total} transitions (${rows} rows) committed in ` +
  `${(ms / 1000).toFixed(2)} s = ${(total / (ms / 1000)).toFixed(0)} transitions/s end to end; commit delay ` +
  lat.map((l, i) => `runner ${i} p50 ${l.p50} ms p99 ${l.p99} ms max ${l.max} ms`).join(', '));
const pct = (a, q) => a[Math.min(a.length - 1, Math.floor(q * a.length))].toFixed(1);
const burst = rs.flatMap((r) => r.checkMs).sort((a, b) => a - b);
const r0 = rs[0];
r0.checkMs.length = 0;
for (let k = 0; k < 20; k++) {
  await r0.req({ type: 'start-dev-server', projectId: `fleet-one-${k}`, command: [tiny], cwd: '/tmp' });
  await r0.req({ type: 'stop-dev-server', projectId: `fleet-one-${k}` });
}
const one = [...r0.checkMs].sort((a, b) => a - b);
console.log(`fleet: start command -> starting (ownership check + spawn): in bursts of ${N} p50 ` +
  `${pct(burst, 0.5)} ms p99 ${pct(burst, 0.99)} ms; one at a time p50 ${pct(one, 0.5)} ms p99 ${pct(one, 0.99)} ms`);
if (rows !== total) throw new Error(`expected ${total} transition rows, found ${rows}`);
for (const r of rs) r.p.stdin.end();
await Promise.all(rs.map((r) => new Promise((res) => r.p.on('exit', res))));
