// make bench, resources part (SPEC §9): numbers, no assertions.
//
//  - fork storm teardown: a server forking short-lived and setsid children while ignoring
//    SIGTERM (stop timeout 500 ms), from stop to dev-server-stopped, with a cgroup per project
//    (cgroup.kill, populated 0) and with --no-cgroup (the /proc walk); the cgroup run needs
//    root (or a delegated cgroup), else it reports proc twice;
//  - the cost of a `status` with usage for 100 live projects (the tiny C fixture): round trip
//    and devsup's own CPU per status, both containments.
// BENCH_FORKS, BENCH_PROJECTS, BENCH_STATUS_RUNS, BENCH_RUNS and BENCH_ONLY (storm | status)
// change the sizes.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { startDevsup as startClient } from './devsup-client.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const bin = process.env.DEVSUP_BIN || path.join(here, '../../build/devsup');
const tiny = path.join(path.dirname(bin), 'tiny-server');
const server = path.join(here, '../fixtures/server.mjs');
const forks = Number(process.env.BENCH_FORKS || 2000);
const projects = Number(process.env.BENCH_PROJECTS || 100);
const statusRuns = Number(process.env.BENCH_STATUS_RUNS || 30);

function startDevsup(args, tag) {
  const lo = 20000 + (process.pid % 200) * 150;
  return startClient(bin, ['--runner-id', `bench-res-${tag}-${process.pid}`, '--log-level', 'warn',
    '--port-range', `${lo}-${lo + 149}`, ...args]);
}

const cpuMs = (pid) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const x = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(x[11]) + Number(x[12])) * 10;
};
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function forkStorm(args, label) {
  const d = startDevsup(args, label);
  const ready = await d.next((e) => e.type === 'ready');
  const storm = `trap '' TERM; ${process.execPath} ${server} --port {port} --ignore-sigterm & ` +
    `i=0; while [ $i -lt ${forks} ]; do sleep 0.05 & setsid sleep 5 & i=$((i+1)); done; wait`;
  const started = await d.req({ type: 'start-dev-server', projectId: 'storm', command: storm, cwd: '/tmp', stopTimeoutMs: 500 });
  if (started.type !== 'dev-server-started') throw new Error(JSON.stringify(started));
  await sleep(1000); // let the storm build up
  const t0 = performance.now();
  const stopped = await d.req({ type: 'stop-dev-server', projectId: 'storm' });
  const ms = performance.now() - t0;
  await d.close();
  console.log(`fork storm (${forks} forks), containment ${ready.containment}: stop -> stopped ${ms.toFixed(0)} ms ` +
    `(durationMs ${stopped.durationMs}, forced ${stopped.forced}, escaped ${stopped.escaped})`);
}

async function statusCost(args, label) {
  const d = startDevsup(args, label);
  const ready = await d.next((e) => e.type === 'ready');
  await Promise.all(Array.from({ length: projects }, (_, i) =>
    d.req({ type: 'start-dev-server', projectId: `p${i}`, command: [tiny], cwd: '/tmp', healthCheck: { timeoutMs: 120000 } })));
  await d.req({ type: 'status' }); // warm
  const rtts = [];
  const cpu0 = cpuMs(d.proc.pid);
  for (let i = 0; i < statusRuns; i++) {
    const t0 = performance.now();
    const st = await d.req({ type: 'status' });
    rtts.push(performance.now() - t0);
    if (st.projects.filter((p) => p.usage).length !== projects) throw new Error('usage missing');
  }
  const cpu = (cpuMs(d.proc.pid) - cpu0) / statusRuns;
  await d.close();
  console.log(`status with usage, ${projects} projects, containment ${ready.containment}: ` +
    `round trip median ${median(rtts).toFixed(2)} ms (max ${Math.max(...rtts).toFixed(2)}), devsup CPU ${cpu.toFixed(2)} ms per status`);
}

// BENCH_ONLY=storm or status runs one part; BENCH_RUNS repeats the storms (alternating).
const only = process.env.BENCH_ONLY;
if (only !== 'status') {
  for (let i = 0; i < Number(process.env.BENCH_RUNS || 1); i++) {
    await forkStorm([], 'cg');
    await forkStorm(['--no-cgroup'], 'proc');
  }
}
if (only !== 'storm') {
  await statusCost([], 'cg');
  await statusCost(['--no-cgroup'], 'proc');
}
