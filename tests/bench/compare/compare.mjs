// make bench-compare: devsup against supervisord and pm2, side by side, on the same fixtures.
//
// For each supervisor (devsup, supervisord with stopasgroup/killasgroup, pm2 with its defaults):
//  - start -> "ready" as the supervisor reports it, and whether one HTTP GET sent right then
//    is answered; listen -> ready (against the stamp the server writes when it listens);
//  - stop latency (stop command -> the supervisor says stopped);
//  - processes left alive 1 s after a stop, for an `sh -c` chain and for a server that leaves
//    a setsid daemon; and 3 s after the supervisor itself is SIGKILLed while the chain runs;
//  - 100 tiny-servers: time until all are ready, RSS and idle CPU of the supervisor's own
//    processes.
// Processes are found by a marker in their environment (BENCH_MARK) in /proc/*/environ; every
// process carrying this run's markers is killed at the end, also on failure.
//
// Writes the results as JSON (argv[2], default build/bench-compare/results.json); report.mjs
// turns them into docs/benchmarks.md and the gnuplot data.
import { spawn, execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, readdirSync, mkdtempSync, mkdirSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
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

// ---------------------------------------------------------------- devsup
class Devsup {
  static label = 'devsup';
  constructor(dir, portBase) { this.dir = dir; this.portBase = portBase; this.ports = new Map(); }
  async up() {
    const p = spawn(DEVSUP, ['--no-tty', '--runner-id', `cmp-${RUN_ID.slice(0, 8)}`, '--log-level', 'warn',
      '--port-range', `${this.portBase}-${this.portBase + 499}`, '--max-projects', '512'],
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
  roots() { return [this.proc.pid]; }
  killPid() { return this.proc.pid; }
  async start(name) { await this.ctl('start', name); return this.ports.get(name); }
  async startMany(list) { await this.ctl('start', 'all'); return list.map((x) => this.ports.get(x.name)); }
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

function versions() {
  const v = (f) => { try { return f().trim(); } catch (e) { return `unavailable (${e.message.split('\n')[0]})`; } };
  return {
    devsup: v(() => execFileSync(DEVSUP, ['--version'], { encoding: 'utf8' })),
    supervisord: v(() => execFileSync('supervisord', ['--version'], { encoding: 'utf8' })),
    pm2: v(() => JSON.parse(readFileSync(join(dirname(PM2), '../package.json'), 'utf8')).version),
    node: process.version,
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
        log(`${name}: start/stop latency, ${RUNS} runs`);
        r.latency = await latency(Kind, d('lat'), portBase);
        log(`${name}: leftovers`);
        r.leftovers = await leftovers(Kind, d('left'), portBase + 100);
        log(`${name}: ${MANY} servers`);
        r.many = await many(Kind, d('many'), portBase + 200);
      } catch (e) {
        log(`${name}: FAILED: ${e.stack || e}`);
        r.error = String(e.message || e).split('\n')[0];
      }
      cleanup();
      results.supervisors[name] = r;
      log(name, JSON.stringify(r));
      portBase += 1000;
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
