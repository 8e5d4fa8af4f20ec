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

// the burst: per supervisor, over the rounds, each against the bare servers of its own round
const B = R.burst;
const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const x2 = (r) => (Number.isFinite(r) ? `${r.toFixed(2)}×` : '–');
function burstTable() {
  const rounds = B.rounds;
  const bareMs = median(rounds.map((r) => r.bare.allListenMs));
  const of = (n, f) => {
    const rs = rounds.filter((r) => r[n] && !r[n].error);
    if (!rs.length) {
      if (S(n).unavailable) return 'not installed';
      return rounds.some((r) => r[n]?.error) ? 'failed' : '–';
    }
    return f(rs);
  };
  const sum = (rs, n, k) => rs.reduce((a, r) => a + r[n][k], 0);
  const burstRows = [
    // with failed starts, "all ready" is the last of those it said were ready
    ['supervisor says all are ready, × bare', (n, rs) => `${x2(median(rs.map((r) => r[n].readyMs / r.bare.allListenMs)))} (${ms(median(rs.map((r) => r[n].readyMs)))})` +
      (sum(rs, n, 'reported') < rs.length * B.n ? `, for the ${sum(rs, n, 'reported')}/${rs.length * B.n} it said were ready` : '')],
    ['all listening, × bare (then each answered a GET)', (n, rs) => (sum(rs, n, 'listened') < rs.length * B.n
      ? `${sum(rs, n, 'listened')}/${rs.length * B.n} listened, ${sum(rs, n, 'answered')} answered`
      : `${x2(median(rs.map((r) => r[n].allListenMs / r.bare.allListenMs)))} (${ms(median(rs.map((r) => r[n].allListenMs)))}; ${sum(rs, n, 'answered')}/${rs.length * B.n} answered)`)],
    ['answering when the supervisor said it was ready', (n, rs) => `${sum(rs, n, 'truthful')}/${sum(rs, n, 'reported')}`],
    ["supervisor's own CPU, % of the servers' CPU", (n, rs) => `${median(rs.map((r) => (100 * r[n].ownCpuMs) / r[n].serversCpuMs)).toFixed(1)}% (${ms(median(rs.map((r) => r[n].ownCpuMs)))} of ${ms(median(rs.map((r) => r[n].serversCpuMs)))})`],
    ['starts the supervisor failed (of them false)', (n, rs) => `${sum(rs, n, 'failed')} (${sum(rs, n, 'falseFailures')} false)`],
  ];
  const t = [
    `| ${B.n} Python servers at once | ${names.join(' | ')} |`,
    `| --- | ${names.map(() => '---').join(' | ')} |`,
    ...burstRows.map(([label, f]) => `| ${label} | ${names.map((n) => of(n, (rs) => f(n, rs))).join(' | ')} |`),
  ].join('\n');
  const loads = rounds.map((r) => r.loadavg.split(' ')[0]).join(', ');
  const bareLate = rounds.reduce((a, r) => a + r.bare.late, 0);
  return { table: t, text: `
## ${B.n} servers started at once

${B.n} Python HTTP servers (\`python3 -u -m http.server PORT --bind 127.0.0.1\`, ${R.versions.python ?? 'Python 3'},
the server of tests/bench/readiness.mjs) started at once under each supervisor, and the same
${B.n} started bare (spawned by the benchmark, no supervisor) in the same round as the
reference: ${rounds.length} round${rounds.length === 1 ? '' : 's'}, the supervisors' order turning each round, with
the one-minute load average at ${loads} when the round${rounds.length === 1 ? '' : 's'} began.

${t}

How to read it: each time is a ratio to the time the last of the bare servers took to listen
in the same round (the median over the rounds; in brackets the absolute median). Absolute
times drift with the load of this shared machine, ratios less: here the bare servers took
${ms(bareMs)}, and ${bareLate} of their ${rounds.length * B.n} took longer than devsup's health timeout of
${B.healthTimeoutMs / 1000} s. A supervisor whose "says all are ready" comes before its "all listening"
reported servers that could not answer yet; the third row counts the servers that answered a
GET sent the moment each was reported ready. A failed start is false when the same servers
started bare all listened within the timeout (failures minus the bare servers that did not).
The CPU row is what the supervisor spent starting and watching the servers, against what the
servers themselves spent meanwhile.
` };
}
const burst = B && B.rounds ? burstTable() : null;
const burstMissing = B && !B.rounds ? `\n## Servers started at once\n\nNot measured in this run: ${B.unavailable || `the run failed: \`${B.error}\``}.\n` : '';

const m = R.machine, v = R.versions;
const errors = names.filter((n) => S(n).error).map((n) => `- ${n}: the run failed: \`${S(n).error}\``);
const missing = names.filter((n) => S(n).unavailable).map((n) => `- ${n} could not be installed: its column is empty.`);

const md = `# devsup against supervisord and pm2

Measured side by side in one run of \`make bench-compare\` (tests/bench/compare/), on the same
fixtures, on ${R.date.slice(0, 10)} (${R.date}).

${table}

![start and stop latency](benchmarks-latency.svg)

Latencies: median and p90 of ${runs} runs each. ${errors.concat(missing).length ? '\n\n' + errors.concat(missing).join('\n') + '\n' : ''}
${burst ? burst.text : burstMissing}
## Machine and versions

- ${m.nproc} CPUs (${m.cpu}), ${m.memGiB} GiB of memory, ${m.kernel}, ${m.os}; load average
  ${m.loadavg} when the run began (other work may share this machine).
- devsup: \`${v.devsup}\`; supervisord: ${v.supervisord} (Debian's package \`supervisor\`);
  pm2: ${v.pm2} (npm, installed into build/bench-peers); Node.js ${v.node}; ${v.gnuplot}.

## Reproduce

\`\`\`sh
make bench-compare    # installs supervisor, gnuplot-nox (apt) and pm2 (npm) if missing; ~8 minutes
\`\`\`

It writes this file and docs/benchmarks-latency.svg; the raw numbers are in
build/bench-compare/results.json. \`BENCH_RUNS\`, \`BENCH_MANY\` and \`BENCH_IDLE_S\` change the
number of runs, of servers and the idle window; \`BENCH_BURST\` (100) and \`BENCH_BURST_ROUNDS\`
(2) the servers started at once and the rounds; \`BENCH_PARTS\` (\`latency,leftovers,many,burst\`)
and \`BENCH_ONLY\` (\`devsup,supervisord,pm2\`) run a part of it.

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
- **Servers started at once**: each server gets its own port (a free block between 30000 and
  32700; devsup gets exactly that block as \`--port-range\` and starts each with \`{port}\`,
  \`framework: "other"\`, its health timeout of ${B?.healthTimeoutMs ? B.healthTimeoutMs / 1000 : 10} s). "Listening" is when the port first shows
  a listening socket in \`/proc/net/tcp\`, polled every 20 ms, the same way for the bare servers
  and under each supervisor, so that no probe of the benchmark's own loads the servers; once
  all listen, each gets one GET. "Says all are ready": devsup's last \`dev-server-started\`;
  supervisord's \`supervisorctl start all\` returning, which it does when every program has
  stayed up for \`startsecs\` (1 s); pm2's \`pm2 start\` of one ecosystem file returning (spawned).
  CPU is the run time in \`/proc/PID/schedstat\` (what utime+stime are made from, in ns instead
  of 10 ms ticks) from just before the start until all listened, sampled every 250 ms so a
  process that exits meanwhile still counts: devsup's master and its reapers; supervisord's
  process; pm2's daemon. The CLIs (\`supervisorctl\`, the \`pm2\` command) are not counted.
  The servers' CPU is that of the marked server processes of the same tree. A failed start is
  devsup's \`error\`, a supervisord program not RUNNING, a pm2 app not online; it is false when
  the bare servers of that round all listened within devsup's health timeout (the count of
  failures minus the bare servers late).
`;

// The readiness section (tests/bench/readiness.mjs, run by `make bench`) is written from that
// benchmark's output, between its markers: kept as it is when this file is regenerated.
let kept = '';
try {
  const found = /<!-- readiness -->[\s\S]*?<!-- \/readiness -->\n?/.exec(readFileSync(mdPath, 'utf8'));
  if (found) kept = `\n${found[0]}`;
} catch { /* a first run: nothing to keep */ }
writeFileSync(mdPath, md + kept);

// gnuplot data: one row per supervisor: name, start median, start p90, stop median, stop p90
const dat = ['# supervisor start_median start_p90 stop_median stop_p90'];
for (const n of names) {
  const l = S(n).latency;
  if (!l) continue;
  dat.push(`${n} ${l.start.median.toFixed(1)} ${l.start.p90.toFixed(1)} ${l.stop.median.toFixed(1)} ${l.stop.p90.toFixed(1)}`);
}
writeFileSync(datPath, dat.join('\n') + '\n');
console.log(table);
if (burst) console.log(`\n${burst.table}`);
