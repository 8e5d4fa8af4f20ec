// Turns compare.mjs's results (argv[2]) into docs/benchmarks.md (argv[3]) and the gnuplot data
// file for the latency chart (argv[4]).
import { readFileSync, writeFileSync } from 'node:fs';

const [resultsPath, mdPath, datPath] = process.argv.slice(2);
const R = JSON.parse(readFileSync(resultsPath, 'utf8'));
const names = ['devsup', 'supervisord', 'pm2'];
const S = (n) => R.supervisors[n] || { unavailable: true };

const ms = (x) => (x === undefined ? '–' : `${Math.round(x)} ms`);
const q = (o) => (o ? `${ms(o.median)} (p90 ${ms(o.p90)})` : '–');
const cell = (n, f) => {
  const s = S(n);
  if (s.unavailable) return 'not installed';
  try { const v = f(s); return v === undefined ? (s.error ? 'failed' : '–') : v; } catch { return s.error ? 'failed' : '–'; }
};
const mib = (k) => `${(k / 1024).toFixed(1)} MiB`;
const runs = R.runs;

const rows = [
  ['start → supervisor says ready (median, p90)', (s) => q(s.latency.start)],
  ['server listening → supervisor says ready (median, p90)', (s) => q(s.latency.listenToReady)],
  [`server answered a GET sent at "ready" (of ${runs})`, (s) => `${s.latency.answered}/${s.latency.runs}`],
  ['stop → supervisor says stopped (median, p90)', (s) => q(s.latency.stop)],
  ['processes left 1 s after stop: plain `node` server (all runs)', (s) => String(s.latency.leftAfterStop)],
  ['processes left 1 s after stop: `sh -c` chain (sh + node)', (s) => `${s.leftovers.chainAfterStop} of ${s.leftovers.chainBefore}`],
  ['processes left 1 s after stop: server + setsid daemon', (s) => `${s.leftovers.daemonAfterStop} of ${s.leftovers.daemonBefore}`],
  ['processes left 3 s after SIGKILL of the supervisor (`sh -c` chain)', (s) => `${s.leftovers.afterSupervisorKill} of ${s.leftovers.killBefore}` + (s.leftovers.portAnswersAfterKill ? ', port still answers' : '')],
  [`${R.supervisors.devsup?.many?.n ?? 100} tiny-servers: start → all ready`, (s) => ms(s.many.allReadyMs)],
  ['… servers that answered a GET right then', (s) => `${s.many.answered}/${s.many.n}`],
  ['… RSS of the supervisor\'s own processes', (s) => `${mib(s.many.rssKiB)} (${s.many.ownProcesses} process${s.many.ownProcesses === 1 ? '' : 'es'})`],
  ['… PSS of the same processes (shared pages split)', (s) => (s.many.pssKiB ? mib(s.many.pssKiB) : '–')],
  [`… CPU of those processes over ${R.supervisors.devsup?.many?.idleSeconds ?? 10} s idle`, (s) => `${Math.round(s.many.idleCpuMs)} ms`],
];

const table = [
  `| | ${names.join(' | ')} |`,
  `| --- | ${names.map(() => '---').join(' | ')} |`,
  ...rows.map(([label, f]) => `| ${label} | ${names.map((n) => cell(n, f)).join(' | ')} |`),
].join('\n');

const m = R.machine, v = R.versions;
const errors = names.filter((n) => S(n).error).map((n) => `- ${n}: the run failed: \`${S(n).error}\``);
const missing = names.filter((n) => S(n).unavailable).map((n) => `- ${n} could not be installed: its column is empty.`);

const md = `# devsup against supervisord and pm2

Measured side by side in one run of \`make bench-compare\` (tests/bench/compare/), on the same
fixtures, on ${R.date.slice(0, 10)} (${R.date}).

${table}

![start and stop latency](benchmarks-latency.svg)

Latencies: median and p90 of ${runs} runs each. ${errors.concat(missing).length ? '\n\n' + errors.concat(missing).join('\n') + '\n' : ''}

## Machine and versions

- ${m.nproc} CPUs (${m.cpu}), ${m.memGiB} GiB of memory, ${m.kernel}, ${m.os}; load average
  ${m.loadavg} when the run began (other work may share this machine).
- devsup: \`${v.devsup}\`; supervisord: ${v.supervisord} (Debian's package \`supervisor\`);
  pm2: ${v.pm2} (npm, installed into build/bench-peers); Node.js ${v.node}; ${v.gnuplot}.

## Reproduce

\`\`\`sh
make bench-compare    # installs supervisor, gnuplot-nox (apt) and pm2 (npm) if missing; ~4 minutes
\`\`\`

It writes this file and docs/benchmarks-latency.svg; the raw numbers are in
build/bench-compare/results.json. \`BENCH_RUNS\`, \`BENCH_MANY\` and \`BENCH_IDLE_S\` change the
number of runs, of servers and the idle window.

## What the numbers mean

- **Fixtures.** The latency rows use tests/bench/stamp-server.mjs: Node starts, waits
  ${R.listenAfterMs} ms, listens on \`$PORT\` and writes the wall-clock time of its listen to a
  stamp file. The chain is \`/bin/sh -c 'node stamp-server.mjs; exit $?'\` (sh stays the parent
  of node); the daemon fixture is \`node tests/fixtures/server.mjs --daemon\`, which leaves a
  sleeper in its own session (setsid) whose parent has exited. The 100-server rows use
  build/tiny-server. Every command line is the same under the three supervisors; every server
  gets a unique \`BENCH_MARK\` in its environment, and "processes left" counts the live
  processes that carry it (\`/proc/*/environ\`).
- **How each is driven.** devsup: one \`devsup --no-tty\` process, \`start-dev-server\` →
  \`dev-server-started\`, \`stop-dev-server\` → \`dev-server-stopped\` over its stdin/stdout.
  supervisord: a generated configuration (\`autostart=false\`, \`startsecs=1\` — its default,
  \`stopasgroup=true\`, \`killasgroup=true\`, \`environment=PORT=…\`), \`supervisorctl start/stop\`;
  100 servers are 100 \`[program:x]\` sections and \`supervisorctl start all\`. pm2: a private
  \`PM2_HOME\`, \`pm2 start … --name x\` / \`pm2 stop x\` / \`pm2 delete x\`, defaults otherwise (fork
  mode); 100 servers are one ecosystem file and one \`pm2 start\`.
- **"Ready"** is what each tool reports, and the latency is measured from issuing the start to
  that report, so it includes the CLI's own start-up for the peers (Python's \`supervisorctl\`,
  Node's \`pm2\`, roughly 100–200 ms each), which is what a caller pays. devsup says ready when
  the server answered HTTP. supervisord says ready when the process has stayed alive for
  \`startsecs\` (1 s): its ready says nothing about the port, and it comes about a second late
  for a server that is quick to listen. pm2's \`pm2 start\` returns as soon as the process is
  spawned (its \`wait_ready\` is off by default), so it is "ready" before the server listens:
  the negative "listening → ready" means the report came that long *before* the listen.
- **"answered a GET sent at ready"**: one HTTP GET to 127.0.0.1 the moment the tool said ready;
  refused counts as no.
- **Stop** is from issuing the stop to the tool saying it is done. supervisord's and pm2's
  include their CLI's start-up; supervisord polls the child's exit, pm2 polls with
  \`kill(pid, 0)\`.
- **Processes left** are counted 1 s after the stop returned, and 3 s after SIGKILL of the
  supervisor (supervisord's pid; pm2's "God" daemon; devsup's master) while the chain runs.
  supervisord's \`stopasgroup\` and pm2's tree kill reach the \`sh -c\` chain, but neither reaches
  a process that left the group and whose parent has exited (the setsid daemon), and when the
  supervisor dies, its servers keep running (and keep their port). devsup's per-project
  reaper is a subreaper and outlives the master: it sees the daemon and tears the project
  down when the master is gone.
- **100 servers**: the time from the start command(s) to the tool saying all are ready (for
  devsup, 100 \`start-dev-server\` lines written at once; each is confirmed by an HTTP answer).
  RSS is the sum of VmRSS of the supervisor's own processes measured 2 s after that:
  supervisord's one Python process; pm2's daemon (the CLI has exited); devsup's master plus
  its one \`devsup-reaper\` per project. A sum of RSS counts the pages the 101 devsup
  processes share (the reaper's binary, libc, libev, libjansson, libpq) 101 times; PSS
  (\`/proc/PID/smaps_rollup\`) splits each shared page between the processes mapping it, so the
  PSS sum is the memory the tool really occupies. Idle CPU is utime+stime of the same
  processes over the next 10 s, with nothing happening (\`/proc/PID/stat\`, 10 ms ticks).
`;

writeFileSync(mdPath, md);

// gnuplot data: one row per supervisor: name, start median, start p90, stop median, stop p90
const dat = ['# supervisor start_median start_p90 stop_median stop_p90'];
for (const n of names) {
  const l = S(n).latency;
  if (!l) continue;
  dat.push(`${n} ${l.start.median.toFixed(1)} ${l.start.p90.toFixed(1)} ${l.stop.median.toFixed(1)} ${l.stop.p90.toFixed(1)}`);
}
writeFileSync(datPath, dat.join('\n') + '\n');
console.log(table);
