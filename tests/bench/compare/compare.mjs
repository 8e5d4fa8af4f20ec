// make bench-compare: devsup against supervisord and pm2, side by side, on the same fixtures.
//
// For each supervisor (devsup, supervisord with stopasgroup/killasgroup, pm2 with its defaults):
//  - start -> "ready" as the supervisor reports it, and whether one HTTP GET sent right then
//    is answered; listen -> ready (against the stamp the server writes when it listens);
//  - stop latency (stop command -> the supervisor says stopped);
//  - processes left alive 1 s after a stop, for an `sh -c` chain and for a server that leaves
//    a setsid daemon; and 3 s after the supervisor itself is SIGKILLed while the chain runs;
//  - 100 tiny-servers: time until all are ready, RSS and idle CPU of the supervisor's own
//    processes;
//  - the burst (issue 13): N (BENCH_BURST, 100) Python HTTP servers started at once under each
//    supervisor and bare in the same round: time until the supervisor reports all ready and
//    until all listen (then each answers a GET), whether each answered when reported ready,
//    the supervisor's own CPU against the servers' CPU, failures; as ratios to the bare servers.
// Processes are found by a marker in their environment (BENCH_MARK) in /proc/*/environ; every
// process carrying this run's markers is killed at the end, also on failure.
//
// Writes the results as JSON (argv[2], default build/bench-compare/results.json); report.mjs
// turns them into docs/benchmarks.md and the gnuplot data.
import { spawn, execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, readdirSync, mkdtempSync, mkdirSync, rmSync, existsSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import readline from 'node:readline';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../../..');
const DEVSUP = process.env.DEVSUP_BIN || join(root, 'build/devsup');
const TINY = join(root, 'build/tiny-server');
const PM2 = process.env.PM2_BIN || join(root, 'build/bench-peers/node_modules/pm2/bin/pm2');
const STAMP_SERVER = join(root, 'tests/bench/stamp-server.mjs');
const FIXTURE_SERVER = join(root, 'tests/fixtures/server.mjs');
const NODE = process.execPath;
const RUNS = Number(process.env.BENCH_RUNS || 10);
const MANY = Number(process.env.BENCH_MANY || 100);
const IDLE_S = Number(process.env.BENCH_IDLE_S || 10);
const LISTEN_AFTER_MS = 300;
const out = resolve(process.argv[2] || join(root, 'build/bench-compare/results.json'));
const only = (process.env.BENCH_ONLY || 'devsup,supervisord,pm2').split(',');
const parts = (process.env.BENCH_PARTS || 'latency,leftovers,many,burst').split(',');
const BURST = Number(process.env.BENCH_BURST || 100);
const BURST_ROUNDS = Number(process.env.BENCH_BURST_ROUNDS || 2);
// devsup's health timeout for framework "other" (SPEC §3): a start it fails while the same
// servers started bare all listened within it is a false failure
const HEALTH_TIMEOUT_MS = 10000;

const RUN_ID = randomUUID();
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (...a) => console.error('[bench-compare]', ...a);
// Environment for the supervisors: the parent's, minus any marker, plus BENCH_SUP so the
// cleanup finds the supervisors (and everything they spawn) too.
const supEnv = () => {
  const e = { ...process.env, BENCH_SUP: RUN_ID };
  delete e.BENCH_MARK;
  return e;
};
let markSeq = 0;
const newMark = (what) => `${RUN_ID}-${what}-${++markSeq}`;

// ---------------------------------------------------------------- /proc helpers
function pids() {
  return readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number);
}
function environ(pid) {
  try { return readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0'); } catch { return []; }
}
function statOf(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { state: f[0], ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) };
  } catch { return null; }
}
function rssKiB(pid) {
  try {
    const t = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number((t.match(/^VmRSS:\s+(\d+)/m) || [])[1] || 0);
  } catch { return 0; }
}
// proportional set size: shared pages (the same binary and libraries in many processes) split
// between the processes that map them
function pssKiB(pid) {
  try {
    const t = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    return Number((t.match(/^Pss:\s+(\d+)/m) || [])[1] || 0);
  } catch { return 0; }
}
// live (not zombie) processes whose environment has BENCH_MARK=<mark> (exact) or, with
// prefix, a BENCH_MARK/BENCH_SUP starting with it
function withMark(mark, prefix = false) {
  const found = [];
  for (const pid of pids()) {
    if (pid === process.pid) continue;
    const env = environ(pid);
    const hit = prefix
      ? env.some((v) => v.startsWith(`BENCH_MARK=${mark}`) || v.startsWith(`BENCH_SUP=${mark}`))
      : env.includes(`BENCH_MARK=${mark}`);
    if (!hit) continue;
    const st = statOf(pid);
    if (st && st.state !== 'Z') found.push(pid);
  }
  return found;
}
// root and all its descendants (through the ppid links of /proc/*/stat)
function tree(rootPid) {
  const kids = new Map();
  for (const pid of pids()) {
    const st = statOf(pid);
    if (!st) continue;
    if (!kids.has(st.ppid)) kids.set(st.ppid, []);
    kids.get(st.ppid).push(pid);
  }
  const all = [], todo = [rootPid];
  while (todo.length) {
    const p = todo.pop();
    all.push(p);
    for (const k of kids.get(p) || []) todo.push(k);
  }
  return all;
}
// the supervisor's own processes: its root(s) and their descendants that are not servers
function ownProcesses(roots, mark) {
  const own = new Set();
  for (const r of roots) {
    for (const p of tree(r)) {
      const env = environ(p);
      if (env.some((v) => v.startsWith(`BENCH_MARK=${mark}`))) continue;
      own.add(p);
    }
  }
  return [...own];
}
function killAll(list) {
  for (const p of list) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }
}
function cleanup() {
  for (let i = 0; i < 3; i++) {
    const left = withMark(RUN_ID, true);
    if (!left.length) return;
    killAll(left);
    execFileSync('sleep', ['0.2']);
  }
}

// ---------------------------------------------------------------- HTTP probe
function get(port, timeoutMs = 2000) {
  return new Promise((res) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false, timeout: timeoutMs }, (r) => {
      r.resume();
      res(true);
    });
    req.on('timeout', () => { req.destroy(); res(false); });
    req.on('error', () => res(false));
  });
}

function run(cmd, args, opts = {}) {
  return new Promise((res, rej) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    let o = '', e = '';
    p.stdout.on('data', (d) => { o += d; });
    p.stderr.on('data', (d) => { e += d; });
    p.on('error', rej);
    p.on('close', (code) => (code === 0 ? res(o) : rej(new Error(`${cmd} ${args.join(' ')}: exit ${code}\n${o}\n${e}`))));
  });
}
async function waitFor(pred, ms, what) {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    if (await pred()) return;
    await sleep(20);
  }
  throw new Error(`timed out waiting for ${what}`);
}

// ---------------------------------------------------------------- the fixtures
// Each is {name, argv (array: exec'd), sh (string for sh -c), env}. A fixture is always run
// through the same command line under all three supervisors.
const fixtures = {
  stamp: (stamp) => ({ argv: [NODE, STAMP_SERVER], env: { STAMP_FILE: stamp, LISTEN_AFTER_MS: String(LISTEN_AFTER_MS) } }),
  // an sh -c chain: sh stays the parent of node (not an exec: a command follows)
  chain: (stamp) => ({ sh: `${NODE} ${STAMP_SERVER}; exit $?`, env: { STAMP_FILE: stamp, LISTEN_AFTER_MS: '0' } }),
  daemon: () => ({ argv: [NODE, FIXTURE_SERVER, '--daemon'], env: {} }),
  tiny: () => ({ argv: [TINY], env: {} }),
};
const argvOf = (fx) => (fx.sh ? ['/bin/sh', '-c', fx.sh] : fx.argv);
// the burst's server, the one tests/bench/readiness.mjs starts: python3's http.server (the
// interpreter's own path, so no version-manager shim runs in front of it)
const PYTHON = (() => {
  try { return execFileSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).trim(); } catch { return null; }
})();
const pyServer = (port) => [PYTHON, '-u', '-m', 'http.server', String(port), '--bind', '127.0.0.1'];

// ---------------------------------------------------------------- devsup
class Devsup {
  static label = 'devsup';
  // span: how many ports from portBase devsup may hand out
  constructor(dir, portBase, span = 500) { this.dir = dir; this.portBase = portBase; this.span = span; this.ports = new Map(); }
  async up() {
    const p = spawn(DEVSUP, ['--no-tty', '--runner-id', `cmp-${RUN_ID.slice(0, 8)}`, '--log-level', 'warn',
      '--port-range', `${this.portBase}-${this.portBase + this.span - 1}`, '--max-projects', '512'],
    { stdio: ['pipe', 'pipe', 'inherit'], env: supEnv() });
    this.proc = p;
    this.waiting = [];
    this.backlog = [];
    p.on('error', (e) => log('devsup:', e.message));
    readline.createInterface({ input: p.stdout }).on('line', (line) => {
      const ev = JSON.parse(line);
      ev.receivedAt = now();
      const i = this.waiting.findIndex((w) => w.pred(ev));
      if (i >= 0) this.waiting.splice(i, 1)[0].resolve(ev);
      else this.backlog.push(ev);
    });
    await this.next((e) => e.type === 'ready');
  }
  next(pred) {
    const i = this.backlog.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.backlog.splice(i, 1)[0]);
    return new Promise((res) => this.waiting.push({ pred, resolve: res }));
  }
  send(o) { this.proc.stdin.write(JSON.stringify(o) + '\n'); }
  roots() { return [this.proc.pid]; }
  killPid() { return this.proc.pid; }
  async start(name, fx, mark) {
    const id = `s-${name}-${++markSeq}`;
    this.send({ type: 'start-dev-server', id, projectId: name, command: fx.sh ?? fx.argv, cwd: this.dir,
      env: { ...fx.env, BENCH_MARK: mark } });
    const ev = await this.next((e) => e.commandId === id && (e.type === 'dev-server-started' || e.type === 'error'));
    if (ev.type === 'error') throw new Error(`devsup start ${name}: ${JSON.stringify(ev)}`);
    this.ports.set(name, ev.port);
    return ev.port;
  }
  async startMany(list) { // [{name, fx, mark}]: all sent at once
    const ids = list.map(({ name, fx, mark }) => {
      const id = `m-${name}`;
      this.send({ type: 'start-dev-server', id, projectId: name, command: fx.sh ?? fx.argv, cwd: this.dir,
        env: { ...fx.env, BENCH_MARK: mark } });
      return id;
    });
    const evs = await Promise.all(ids.map((id) => this.next((e) => e.commandId === id && (e.type === 'dev-server-started' || e.type === 'error'))));
    const bad = evs.find((e) => e.type === 'error');
    if (bad) throw new Error(`devsup start: ${JSON.stringify(bad)}`);
    return evs.map((e) => e.port);
  }
  // the burst: all sent at once; each server gets one GET the moment devsup says it is ready
  async burst(list) {
    const checks = [];
    const evs = await Promise.all(list.map(({ name, mark }) => {
      const id = `b-${name}-${++markSeq}`;
      this.send({ type: 'start-dev-server', id, projectId: name, command: pyServer('{port}'), cwd: this.dir,
        framework: 'other', env: { BENCH_MARK: mark } });
      return this.next((e) => e.commandId === id && (e.type === 'dev-server-started' || e.type === 'error')).then((ev) => {
        if (ev.type === 'dev-server-started') checks.push(get(ev.port, 5000));
        return ev;
      });
    }));
    const ok = evs.filter((e) => e.type === 'dev-server-started');
    const failed = evs.filter((e) => e.type === 'error');
    return { readyAt: ok.length ? Math.max(...ok.map((e) => e.receivedAt)) : NaN, reported: ok.length,
      truthful: (await Promise.all(checks)).filter(Boolean).length, failed: failed.length,
      reasons: failed.map((e) => e.reason) };
  }
  async failures() { return null; } // every failure was an answer to its start (burst)
  async stop(name) {
    const id = `x-${name}-${++markSeq}`;
    this.send({ type: 'stop-dev-server', id, projectId: name });
    const ev = await this.next((e) => e.commandId === id && (e.type === 'dev-server-stopped' || e.type === 'error'));
    if (ev.type === 'error') throw new Error(`devsup stop ${name}: ${JSON.stringify(ev)}`);
  }
  async down() {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.send({ type: 'shutdown', id: 'bye' });
    await Promise.race([new Promise((r) => this.proc.on('exit', r)), sleep(15000)]);
  }
}

// ---------------------------------------------------------------- supervisord
class Supervisord {
  static label = 'supervisord';
  constructor(dir, portBase) { this.dir = dir; this.portBase = portBase; this.programs = []; this.ports = new Map(); }
  // supervisord needs its programs in the configuration before it starts
  define(name, fx, mark) {
    const port = this.portBase + this.programs.length;
    this.ports.set(name, port);
    const q = (s) => `"${String(s).replace(/%/g, '%%').replace(/"/g, '\\"')}"`;
    const env = { ...fx.env, PORT: port, BENCH_MARK: mark };
    const cmd = fx.sh ? `/bin/sh -c ${q(fx.sh)}` : fx.argv.map(q).join(' ');
    this.programs.push(`[program:${name}]
command=${cmd}
directory=${this.dir}
autostart=false
startsecs=1
stopasgroup=true
killasgroup=true
environment=${Object.entries(env).map(([k, v]) => `${k}=${q(v)}`).join(',')}
stdout_logfile=${this.dir}/${name}.log
redirect_stderr=true
`);
  }
  async up() {
    this.conf = join(this.dir, 'supervisord.conf');
    writeFileSync(this.conf, `[unix_http_server]
file=${this.dir}/supervisor.sock

[supervisord]
nodaemon=true
logfile=${this.dir}/supervisord.log
pidfile=${this.dir}/supervisord.pid
childlogdir=${this.dir}
minfds=4096

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://${this.dir}/supervisor.sock

${this.programs.join('\n')}`);
    this.proc = spawn('supervisord', ['-c', this.conf], { stdio: ['ignore', 'ignore', 'inherit'], env: supEnv() });
    await waitFor(async () => {
      try { await this.ctl('pid'); return true; } catch { return false; }
    }, 10000, 'supervisord');
  }
  ctl(...args) { return run('supervisorctl', ['-c', this.conf, ...args], { env: supEnv() }); }
  // supervisorctl's output whatever its exit status (non-zero when a program is not running)
  ctlOut(...args) { return this.ctl(...args).catch((e) => e.message); }
  roots() { return [this.proc.pid]; }
  killPid() { return this.proc.pid; }
  async start(name) { await this.ctl('start', name); return this.ports.get(name); }
  async startMany(list) { await this.ctl('start', 'all'); return list.map((x) => this.ports.get(x.name)); }
  // the burst: `start all` returns when every program has stayed up for startsecs; a GET then
  // to each program it said "started"
  async burst(list) {
    const out = await this.ctlOut('start', 'all');
    const readyAt = now();
    const started = list.filter((x) => new RegExp(`^${x.name}: started$`, 'm').test(out));
    const truths = await Promise.all(started.map((x) => get(this.ports.get(x.name), 5000)));
    return { readyAt, reported: started.length, truthful: truths.filter(Boolean).length };
  }
  // programs not RUNNING (FATAL after failed starts, BACKOFF, EXITED)
  async failures() {
    const out = await this.ctlOut('status');
    return out.split('\n').filter((l) => /^b\d+\s/.test(l) && !/\sRUNNING\s/.test(l)).length;
  }
  async stop(name) { await this.ctl('stop', name); }
  async down() {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    try { await this.ctl('shutdown'); } catch { this.proc.kill('SIGTERM'); }
    await Promise.race([new Promise((r) => this.proc.on('exit', r)), sleep(15000)]);
  }
}

// ---------------------------------------------------------------- pm2
class Pm2 {
  static label = 'pm2';
  constructor(dir, portBase) { this.dir = dir; this.portBase = portBase; this.n = 0; this.ports = new Map(); }
  env(extra = {}) { return { ...supEnv(), PM2_HOME: join(this.dir, 'pm2home'), ...extra }; }
  pm2(args, extra) { return run(NODE, [PM2, ...args], { env: this.env(extra) }); }
  async up() {
    // the daemon is spawned by the first command: spawn it without a server's marker
    await this.pm2(['ping']);
    this.god = Number(readFileSync(join(this.dir, 'pm2home', 'pm2.pid'), 'utf8'));
  }
  roots() { return [this.god]; }
  killPid() { return this.god; }
  // pm2 passes the CLI's environment to the app it starts
  async start(name, fx, mark) {
    const port = this.portBase + this.n++;
    this.ports.set(name, port);
    const [cmd, ...args] = argvOf(fx);
    const isNode = cmd === NODE;
    const script = isNode ? args[0] : cmd;
    const rest = isNode ? args.slice(1) : args;
    await this.pm2(['start', script, '--name', name, ...(rest.length ? ['--', ...rest] : [])],
      { ...fx.env, PORT: String(port), BENCH_MARK: mark });
    return port;
  }
  async startMany(list) { // one ecosystem file, one `pm2 start`
    const apps = list.map(({ name, fx, mark }) => {
      const port = this.portBase + this.n++;
      this.ports.set(name, port);
      const [cmd, ...args] = argvOf(fx);
      return { name, script: cmd, args, env: { ...fx.env, PORT: String(port), BENCH_MARK: mark } };
    });
    const eco = join(this.dir, 'ecosystem.config.cjs');
    writeFileSync(eco, `module.exports = ${JSON.stringify({ apps }, null, 1)};\n`);
    await this.pm2(['start', eco]);
    return list.map((x) => this.ports.get(x.name));
  }
  // the burst: one ecosystem file, one `pm2 start`, which returns once all are spawned; a GET
  // then to each
  async burst(list) {
    const apps = list.map(({ name, mark }, i) => {
      const port = this.portBase + i;
      this.ports.set(name, port);
      const [script, ...args] = pyServer(port);
      return { name, script, args, interpreter: 'none', env: { BENCH_MARK: mark } };
    });
    const eco = join(this.dir, 'burst.config.cjs');
    writeFileSync(eco, `module.exports = ${JSON.stringify({ apps }, null, 1)};\n`);
    await this.pm2(['start', eco]);
    const readyAt = now();
    const truths = await Promise.all(list.map((x) => get(this.ports.get(x.name), 5000)));
    return { readyAt, reported: list.length, truthful: truths.filter(Boolean).length };
  }
  // apps pm2 does not have online (errored after restarts, stopped)
  async failures() {
    const apps = JSON.parse(await this.pm2(['jlist']));
    return apps.filter((a) => a.pm2_env?.status !== 'online').length;
  }
  async stop(name) { await this.pm2(['stop', name]); }
  async forget(name) { await this.pm2(['delete', name]); }
  async down() {
    try { await this.pm2(['kill']); } catch (e) { log('pm2 kill:', e.message.split('\n')[0]); }
  }
}

// ---------------------------------------------------------------- the measurements
const quant = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
  return { median: q(50), p90: q(90), min: s[0], max: s[s.length - 1], n: s.length };
};

async function latency(Kind, dir, portBase) {
  const sup = new Kind(dir, portBase);
  const mark = newMark('lat');
  const stamp = join(dir, 'stamp');
  if (sup.define) sup.define('lat', fixtures.stamp(stamp), mark);
  await sup.up();
  const startMs = [], listenToReady = [], stopMs = [];
  let answered = 0, leftAfterStop = 0;
  try {
    for (let i = 0; i < RUNS; i++) {
      rmSync(stamp, { force: true });
      const t0 = now();
      const port = await sup.start('lat', fixtures.stamp(stamp), mark);
      const t1 = now();
      if (await get(port)) answered++;
      startMs.push(t1 - t0);
      await waitFor(() => existsSync(stamp) && readFileSync(stamp, 'utf8').length > 0, 10000, 'the stamp');
      listenToReady.push(t1 - Number(readFileSync(stamp, 'utf8')));
      const t2 = now();
      await sup.stop('lat');
      stopMs.push(now() - t2);
      await sleep(1000);
      leftAfterStop += withMark(mark).length;
      killAll(withMark(mark));
      if (sup.forget) await sup.forget('lat');
    }
  } finally { await sup.down(); }
  return { start: quant(startMs), listenToReady: quant(listenToReady), stop: quant(stopMs), answered, runs: RUNS, leftAfterStop };
}

// processes left 1 s after a stop, and 3 s after SIGKILL of the supervisor
async function leftovers(Kind, dir, portBase) {
  const res = {};
  for (const [what, fx] of [['chain', fixtures.chain(join(dir, 'stamp-chain'))], ['daemon', fixtures.daemon()]]) {
    const sup = new Kind(join(dir, what), portBase + (what === 'chain' ? 0 : 10));
    mkdirSync(sup.dir, { recursive: true });
    const mark = newMark(what);
    if (sup.define) sup.define(what, fx, mark);
    await sup.up();
    try {
      const port = await sup.start(what, fx, mark);
      await waitFor(() => get(port, 500), 10000, `${what} to answer`);
      await sleep(what === 'daemon' ? 500 : 0); // the daemon is forked before the listen anyway
      res[`${what}Before`] = withMark(mark).length;
      await sup.stop(what);
      await sleep(1000);
      res[`${what}AfterStop`] = withMark(mark).length;
      killAll(withMark(mark));
    } finally { await sup.down(); }
  }
  // SIGKILL of the supervisor while the chain runs
  const sup = new Kind(join(dir, 'kill'), portBase + 20);
  mkdirSync(sup.dir, { recursive: true });
  const mark = newMark('kill');
  const fx = fixtures.chain(join(dir, 'stamp-kill'));
  if (sup.define) sup.define('victim', fx, mark);
  await sup.up();
  const port = await sup.start('victim', fx, mark);
  await waitFor(() => get(port, 500), 10000, 'victim to answer');
  res.killBefore = withMark(mark).length;
  process.kill(sup.killPid(), 'SIGKILL');
  await sleep(3000);
  res.afterSupervisorKill = withMark(mark).length;
  res.portAnswersAfterKill = await get(port, 500);
  killAll(withMark(mark));
  if (Kind === Pm2) killAll(withMark(RUN_ID, true).filter((p) => environ(p).includes(`PM2_HOME=${join(sup.dir, 'pm2home')}`)));
  return res;
}

async function many(Kind, dir, portBase) {
  const sup = new Kind(dir, portBase);
  const mark = newMark('many');
  const list = Array.from({ length: MANY }, (_, i) => ({ name: `t${i}`, fx: fixtures.tiny(), mark }));
  if (sup.define) for (const x of list) sup.define(x.name, x.fx, x.mark);
  await sup.up();
  try {
    const t0 = now();
    const ports = await sup.startMany(list);
    const allReady = now() - t0;
    const answers = await Promise.all(ports.map((p) => get(p, 2000)));
    const answered = answers.filter(Boolean).length;
    await sleep(2000); // let start-up work settle
    const own = ownProcesses(sup.roots(), mark);
    const rss = own.reduce((a, p) => a + rssKiB(p), 0);
    const pss = own.reduce((a, p) => a + pssKiB(p), 0);
    const t = (ps) => ps.reduce((a, p) => a + (statOf(p)?.ticks || 0), 0);
    const c0 = t(own);
    await sleep(IDLE_S * 1000);
    const c1 = t(own);
    const servers = withMark(mark).length;
    return { n: MANY, allReadyMs: allReady, answered, ownProcesses: own.length, rssKiB: rss, pssKiB: pss,
      idleCpuMs: (c1 - c0) * 10, idleSeconds: IDLE_S, servers };
  } finally {
    await sup.down();
    killAll(withMark(mark));
  }
}

// ---------------------------------------------------------------- the burst
// ports with a listening TCP socket (/proc/net/tcp{,6}): when a server can first be answered,
// seen without a single connect to it (probes from here would load the servers under test)
function listeningPorts() {
  const ports = new Set();
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text;
    try { text = readFileSync(f, 'utf8'); } catch { continue; }
    for (const line of text.split('\n').slice(1)) {
      const c = line.trim().split(/\s+/);
      if (c[3] === '0A') ports.add(parseInt(c[1].split(':')[1], 16));
    }
  }
  return ports;
}
// n consecutive ports that nothing listens on, between the e2e tests' ranges (below 30000) and
// the ephemeral ports (32768 on); each burst takes the next block
let burstCursor = 30000;
function freeBlock(n) {
  if (n > 2700) throw new Error(`BENCH_BURST=${n}: at most 2700 servers`);
  const busy = listeningPorts();
  for (let tries = 0; tries < 2 * Math.ceil(2700 / n); tries++) {
    if (burstCursor + n > 32700) burstCursor = 30000;
    const lo = burstCursor;
    burstCursor += n;
    if (!Array.from({ length: n }, (_, i) => lo + i).some((p) => busy.has(p))) return lo;
  }
  throw new Error(`no ${n} free ports between 30000 and 32700`);
}
// when each port was first seen listening, ms after t0, polled every 20 ms
function watchListen(ports, t0) {
  const first = new Map();
  const tick = () => {
    const l = listeningPorts();
    const t = now() - t0;
    for (const p of ports) if (!first.has(p) && l.has(p)) first.set(p, t);
  };
  const timer = setInterval(tick, 20);
  return { first, stop() { tick(); clearInterval(timer); return first; } };
}
// CPU time in ms (schedstat: the run time utime+stime are taken from, in ns instead of 10 ms
// ticks, which over 100 short-lived processes would round away most of it)
function cpuMs(pid) {
  try { return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6; } catch { return null; }
}
// CPU spent from now on by the trees under roots: the supervisor's own processes (unmarked)
// and the servers (BENCH_MARK=mark), sampled every 250 ms and once at stop, the last value
// kept per pid (a process that exited meanwhile still counts, up to its last sample). A pid
// not marked yet is looked at again: between fork and exec a server still has its parent's
// environment.
function cpuSampler(roots, mark) {
  const server = new Map(), base = new Map(), last = new Map();
  let first = true;
  const sample = () => {
    for (const p of roots.flatMap(tree)) {
      if (p === process.pid) continue;
      if (!server.get(p)) server.set(p, environ(p).includes(`BENCH_MARK=${mark}`));
      const c = cpuMs(p);
      if (c === null) continue;
      if (!base.has(p)) base.set(p, first ? c : 0);
      last.set(p, c);
    }
    first = false;
  };
  sample();
  const timer = setInterval(sample, 250);
  return {
    stop() {
      sample();
      clearInterval(timer);
      let own = 0, servers = 0, nOwn = 0;
      for (const [p, c] of last) {
        if (server.get(p)) servers += c - base.get(p);
        else { own += c - base.get(p); nOwn++; }
      }
      return { ownCpuMs: own, serversCpuMs: servers, ownProcesses: nOwn };
    },
  };
}
async function until(pred, deadline) {
  while (!pred() && now() < deadline) await sleep(20);
}
const loadNow = () => loadavg().map((x) => x.toFixed(1)).join(' ');

// the same N servers started bare from here: the reference
async function bareBurst(n) {
  const lo = freeBlock(n);
  const ports = Array.from({ length: n }, (_, i) => lo + i);
  const mark = newMark('burst-bare');
  const sampler = cpuSampler([process.pid], mark);
  const t0 = now();
  const w = watchListen(ports, t0);
  const procs = ports.map((p) => {
    const [cmd, ...args] = pyServer(p);
    return spawn(cmd, args, { stdio: 'ignore', env: { ...process.env, BENCH_MARK: mark } });
  });
  try {
    await until(() => w.first.size === n, t0 + 60000);
    const listened = w.stop();
    const cpu = sampler.stop(); // the same window as under a supervisor: until all listen
    const answered = (await Promise.all(ports.map((p) => get(p, 10000)))).filter(Boolean).length;
    const times = [...listened.values()];
    return { allListenMs: times.length === n ? Math.max(...times) : NaN, listened: times.length, answered,
      late: n - times.filter((t) => t <= HEALTH_TIMEOUT_MS).length, serversCpuMs: cpu.serversCpuMs };
  } finally {
    for (const p of procs) p.kill('SIGKILL');
    killAll(withMark(mark));
  }
}

// the same N servers under one supervisor
async function supervisedBurst(Kind, dir, n, bare) {
  const lo = freeBlock(n);
  const ports = Array.from({ length: n }, (_, i) => lo + i);
  const mark = newMark(`burst-${Kind.label}`);
  const list = ports.map((port, i) => ({ name: `b${i}`, port, mark }));
  const sup = new Kind(dir, lo, n);
  if (sup.define) for (const x of list) sup.define(x.name, { argv: pyServer(x.port), env: {} }, mark);
  await sup.up();
  try {
    const sampler = cpuSampler(sup.roots(), mark);
    const t0 = now();
    const w = watchListen(ports, t0);
    // all reported, and every server listening that is not known to have failed
    const rep = await sup.burst(list);
    await until(() => w.first.size >= n - (rep.failed || 0), t0 + Math.max(30000, 3 * (bare.allListenMs || 20000)));
    const listened = w.stop();
    const cpu = sampler.stop();
    const answered = (await Promise.all(ports.map((p) => get(p, 10000)))).filter(Boolean).length;
    const later = await sup.failures();
    const failed = (rep.failed || 0) + (later || 0);
    const times = [...listened.values()];
    return { readyMs: rep.readyAt - t0, reported: rep.reported, truthful: rep.truthful,
      allListenMs: times.length === n ? Math.max(...times) : NaN, listened: times.length, answered,
      failed, falseFailures: Math.max(0, failed - bare.late), reasons: rep.reasons || [], ...cpu };
  } finally {
    await sup.down();
    killAll(withMark(mark));
  }
}

// rounds of: bare, then each supervisor (their order turning each round, so none always runs
// right after the reference)
async function burstSection(kinds, base) {
  const rounds = [];
  for (let r = 0; r < BURST_ROUNDS; r++) {
    const round = { loadavg: loadNow() };
    log(`burst round ${r + 1}/${BURST_ROUNDS} of ${BURST} (load ${round.loadavg}): bare`);
    round.bare = await bareBurst(BURST);
    log('bare', JSON.stringify(round.bare));
    const order = kinds.map((_, i) => kinds[(i + r) % kinds.length]);
    for (const Kind of order) {
      log(`burst round ${r + 1}: ${Kind.label}`);
      const dir = join(base, `burst-${r}-${Kind.label}`);
      mkdirSync(dir, { recursive: true });
      try {
        round[Kind.label] = await supervisedBurst(Kind, dir, BURST, round.bare);
      } catch (e) {
        log(`${Kind.label} burst: FAILED: ${e.stack || e}`);
        round[Kind.label] = { error: String(e.message || e).split('\n')[0] };
      }
      cleanup();
      log(Kind.label, JSON.stringify(round[Kind.label]));
    }
    rounds.push(round);
  }
  return { n: BURST, healthTimeoutMs: HEALTH_TIMEOUT_MS, rounds };
}

function versions() {
  const v = (f) => { try { return f().trim(); } catch (e) { return `unavailable (${e.message.split('\n')[0]})`; } };
  return {
    devsup: v(() => execFileSync(DEVSUP, ['--version'], { encoding: 'utf8' })),
    supervisord: v(() => execFileSync('supervisord', ['--version'], { encoding: 'utf8' })),
    pm2: v(() => JSON.parse(readFileSync(join(dirname(PM2), '../package.json'), 'utf8')).version),
    node: process.version,
    python: v(() => execFileSync('python3', ['--version'], { encoding: 'utf8' })),
    gnuplot: v(() => execFileSync('gnuplot', ['--version'], { encoding: 'utf8' })),
  };
}
function machine() {
  const mem = readFileSync('/proc/meminfo', 'utf8').match(/MemTotal:\s+(\d+)/)[1];
  const cpu = (readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/) || [])[1] || 'unknown';
  return {
    nproc: Number(execFileSync('nproc', { encoding: 'utf8' }).trim()),
    memGiB: Math.round((Number(mem) / 1024 / 1024) * 10) / 10,
    kernel: execFileSync('uname', ['-sr'], { encoding: 'utf8' }).trim(),
    cpu,
    os: (readFileSync('/etc/os-release', 'utf8').match(/PRETTY_NAME="(.*)"/) || [])[1] || 'unknown',
    loadavg: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
  };
}

async function main() {
  const kinds = [Devsup, Supervisord, Pm2].filter((k) => only.includes(k.label));
  const available = {
    devsup: existsSync(DEVSUP),
    supervisord: (() => { try { execFileSync('supervisord', ['--version']); return true; } catch { return false; } })(),
    pm2: existsSync(PM2),
  };
  const results = { date: new Date().toISOString(), runs: RUNS, listenAfterMs: LISTEN_AFTER_MS,
    machine: machine(), versions: versions(), supervisors: {} };
  const base = mkdtempSync(join(tmpdir(), 'bench-compare-'));
  let portBase = 43000;
  try {
    for (const Kind of kinds) {
      const name = Kind.label;
      if (!available[name]) { results.supervisors[name] = { unavailable: true }; log(`${name}: not installed, skipped`); continue; }
      const r = {};
      const d = (x) => { const p = join(base, name, x); mkdirSync(p, { recursive: true }); return p; };
      try {
        if (parts.includes('latency')) {
          log(`${name}: start/stop latency, ${RUNS} runs`);
          r.latency = await latency(Kind, d('lat'), portBase);
        }
        if (parts.includes('leftovers')) {
          log(`${name}: leftovers`);
          r.leftovers = await leftovers(Kind, d('left'), portBase + 100);
        }
        if (parts.includes('many')) {
          log(`${name}: ${MANY} servers`);
          r.many = await many(Kind, d('many'), portBase + 200);
        }
      } catch (e) {
        log(`${name}: FAILED: ${e.stack || e}`);
        r.error = String(e.message || e).split('\n')[0];
      }
      cleanup();
      results.supervisors[name] = r;
      log(name, JSON.stringify(r));
      portBase += 1000;
    }
    if (parts.includes('burst')) {
      const ready = kinds.filter((k) => available[k.label]);
      if (!PYTHON) { results.burst = { unavailable: 'no python3' }; log('burst: no python3, skipped'); }
      else {
        try { results.burst = await burstSection(ready, base); } catch (e) {
          log(`burst: FAILED: ${e.stack || e}`);
          results.burst = { error: String(e.message || e).split('\n')[0] };
        }
      }
    }
  } finally {
    cleanup();
    rmSync(base, { recursive: true, force: true });
  }
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(results, null, 2) + '\n');
  log(`wrote ${out}`);
}

for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { cleanup(); process.exit(130); });
main().catch((e) => { console.error(e); cleanup(); process.exit(1); });
