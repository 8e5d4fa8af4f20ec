// Driving devsup's interactive front end as a person would: through a pseudo-terminal.
//
// - ptySession(): devsup --tty under util-linux `script`, keys written to script's stdin (which
//   it copies to the terminal), the terminal's bytes read from script's stdout.
// - tmuxSession(): devsup in a detached tmux pane on a private tmux server, keys sent with
//   send-keys, the screen read with capture-pane: what the person really sees after redraws.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEVSUP_BIN, runnerId, allPids, procCmdline, runnerPids, pollUntil, sleep } from './harness.mjs';

/** Terminal output as text: escape sequences and carriage returns removed. */
export const plain = (s) => s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\x1b[()][A-Z0-9]/g, '').replace(/\r/g, '');

const shq = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;

let rangeCounter = 0;
/** A slice of 20 ports of its own, as the NDJSON harness gives each devsup. */
function portRange() {
  const lo = 30000 + ((process.pid * 7919 + ++rangeCounter * 104729) % 1000) * 20;
  return `${lo}-${lo + 19}`;
}

/** The devsup master started with this runner id (its environment carries no marker, its
 * argv does: the wrappers script, sh and tmux hold the command line as one word). */
export function masterPids(rid) {
  return allPids().filter((p) => p !== process.pid && (procCmdline(p) || []).includes(rid));
}

/** Everything of this runner (master, reapers, dev servers) that is still alive. */
export const leftovers = (rid) => [...masterPids(rid), ...runnerPids(rid, { includeSupervisor: true })];

// The session's home doubles as its --state-dir (runner lock, port reservations); args given
// later win (getopt), e.g. a --runner-id or --state-dir shared by two sessions.
function devsupArgs(rid, args, home) {
  return [DEVSUP_BIN, '--tty', '--runner-id', rid, '--port-range', portRange(), '--state-dir', home, ...args];
}

function sessionEnv(home, env) {
  const e = { ...process.env, HOME: home, TERM: 'xterm-256color', ...env };
  delete e.DATABASE_URL;
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete e[k];
  return e;
}

/** A sanitizer (make e2e-san) or valgrind (make e2e-valgrind, --quiet: any "==PID== " line is
 * an error) report printed on the terminal fails the test like any error. */
function assertNoSanitizerReport(text) {
  const m = text.match(/(ERROR: (Address|Leak)Sanitizer[^\n]*|runtime error:[^\n]*|^==\d+== [^\n]*)/m);
  if (m) throw new Error(`sanitizer report from devsup:\n${text.slice(text.indexOf(m[0]), text.indexOf(m[0]) + 4000)}`);
}

/**
 * devsup --tty in a pseudo-terminal made by `script`. Returns {type, waitFor, mark, raw, text,
 * exited, rid, home, close}. waitFor(re, {from, timeoutMs}) resolves with the match in the plain
 * text after position `from` (default: the mark set by the last type()).
 */
export function ptySession({ args = [], env = {}, cols = 200, stdoutTo = null } = {}) {
  const rid = runnerId();
  const home = mkdtempSync(path.join(os.tmpdir(), 'devsup-tty-home-'));
  // A real terminal size: libedit wraps at 80 columns of a 0x0 pty otherwise. stdoutTo: a
  // file devsup's stdout goes to (`devsup --tty > out.txt`), the terminal keeping stdin.
  const redirect = stdoutTo ? ` > ${shq(stdoutTo)}` : '';
  const cmd = `stty cols ${cols} rows 50 2>/dev/null; exec ${devsupArgs(rid, args, home).map(shq).join(' ')}${redirect}`;
  const proc = spawn('script', ['-qfec', cmd, '/dev/null'], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: sessionEnv(home, env),
  });
  const s = { rid, home, proc, raw: '', markAt: 0, exitInfo: null };
  proc.stdout.setEncoding('utf8');
  proc.stdout.on('data', (d) => { s.raw += d; });
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (d) => { s.raw += d; });
  proc.stdin.on('error', () => { /* script gone */ });
  s.exited = new Promise((resolve) => proc.on('close', (code, signal) => {
    s.exitInfo = { code, signal };
    resolve(s.exitInfo);
  }));
  s.text = () => plain(s.raw);
  s.mark = () => { s.markAt = s.text().length; return s.markAt; };
  /** Types keys (a string; '\r' is Enter, '\x03' Ctrl-C, '\x04' Ctrl-D). */
  s.type = (keys) => { s.mark(); proc.stdin.write(keys); };
  /** Types a line and presses Enter. */
  s.line = (text) => s.type(`${text}\r`);
  s.waitFor = async (re, { from = s.markAt, timeoutMs = 20000 } = {}) => {
    const end = performance.now() + timeoutMs;
    for (;;) {
      const t = s.text().slice(from);
      const m = typeof re === 'string' ? (t.includes(re) ? [re] : null) : t.match(re);
      if (m) return m;
      if (s.exitInfo || performance.now() > end) {
        throw new Error(`${s.exitInfo ? 'devsup exited' : 'timed out'} waiting for ${re} on the terminal; it shows:\n` +
          `${s.text().slice(-3000)}\n[end of terminal]`);
      }
      await sleep(20);
    }
  };
  /** Ends the session whatever its state; leaves no process of the runner behind. */
  s.close = async () => {
    if (!s.exitInfo) {
      for (const p of masterPids(rid)) { try { process.kill(p, 'SIGTERM'); } catch { /* gone */ } }
      const t = setTimeout(() => { try { proc.kill('SIGKILL'); } catch { /* gone */ } }, 10000);
      await s.exited;
      clearTimeout(t);
    }
    await pollUntil(() => leftovers(rid).length === 0, 3000);
    for (const p of leftovers(rid)) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }
    rmSync(home, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
    assertNoSanitizerReport(s.text());
  };
  return s;
}

/** Runs fn(session) and always closes the session; a failure shows the terminal's last lines. */
export async function withPty(opts, fn) {
  const s = ptySession(opts);
  try {
    await s.waitFor("Type 'help'", { from: 0 });
    await fn(s);
  } finally {
    await s.close();
  }
}

export function haveTmux() {
  try {
    execFileSync('tmux', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * devsup --tty in a tmux pane on a private server (-S), so a person's tmux is never touched.
 * screen() is the pane as shown; keys(...k) is send-keys; close() kills the server.
 */
export function tmuxSession({ args = [], env = {}, width = 160, height = 40, shell = false } = {}) {
  const rid = runnerId();
  const home = mkdtempSync(path.join(os.tmpdir(), 'devsup-tmux-home-'));
  // the server's socket lives in the session's own directory, removed with it
  const sock = path.join(home, 'tmux.sock');
  const tmux = (...a) => execFileSync('tmux', ['-S', sock, ...a], { encoding: 'utf8', env: sessionEnv(home, env) });
  const envArgs = Object.entries({ HOME: home, TERM: 'xterm-256color', ...env }).map(([k, v]) => `${k}=${shq(v)}`);
  // `exec env ...`: the pane's process is devsup itself; `; sleep` keeps the pane readable
  // after it exits, with its exit code.
  const line = `${devsupArgs(rid, args, home).map(shq).join(' ')}; echo "devsup exited $?"`;
  // shell: devsup typed into an interactive bash, for job control (Ctrl-Z, fg)
  const cmd = shell ? `env ${envArgs.join(' ')} PS1='$ ' HISTFILE=/dev/null bash --norc --noprofile -i`
    : `env ${envArgs.join(' ')} ${line}; sleep 60`;
  tmux('-f', '/dev/null', 'new-session', '-d', '-s', 'e2e', '-x', String(width), '-y', String(height), cmd);
  if (shell) tmux('send-keys', '-t', 'e2e', '-l', `${line}\r`);
  const s = {
    rid,
    home,
    screen: () => tmux('capture-pane', '-p', '-t', 'e2e'),
    /** The pane with the lines the terminal wrapped joined again: what devsup wrote as one. */
    joined: () => tmux('capture-pane', '-p', '-J', '-t', 'e2e'),
    resize: (w, h = height) => tmux('resize-window', '-t', 'e2e', '-x', String(w), '-y', String(h)),
    keys: (...k) => tmux('send-keys', '-t', 'e2e', ...k),
  };
  s.waitFor = async (re, timeoutMs = 20000) => {
    const end = performance.now() + timeoutMs;
    for (;;) {
      const screen = s.screen();
      const m = typeof re === 'string' ? (screen.includes(re) ? [re] : null) : screen.match(re);
      if (m) return screen;
      if (performance.now() > end) throw new Error(`timed out waiting for ${re} on the tmux screen:\n${screen}`);
      await sleep(50);
    }
  };
  s.close = async () => {
    for (const p of masterPids(rid)) { try { process.kill(p, 'SIGTERM'); } catch { /* gone */ } }
    await pollUntil(() => leftovers(rid).length === 0, 10000);
    for (const p of leftovers(rid)) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }
    let screen = '';
    try { screen = s.screen(); } catch { /* server gone */ }
    try { tmux('kill-server'); } catch { /* gone */ }
    rmSync(home, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
    assertNoSanitizerReport(screen);
  };
  return s;
}

/** fn(t) with a tmuxSession(opts) whose devsup has printed its banner; closed after, whatever
 * fn did. */
export async function withTmux(opts, fn) {
  const t = tmuxSession(opts);
  try {
    await t.waitFor("Type 'help'");
    await fn(t);
  } finally {
    await t.close();
  }
}
