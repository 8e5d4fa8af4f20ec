// A bare NDJSON client for the benchmarks: spawns devsup and matches events to waiters, with
// the time each event arrived (receivedAt, ms since the epoch, fractional).
import { spawn } from 'node:child_process';
import readline from 'node:readline';

export const now = () => performance.timeOrigin + performance.now();

// launcher: a command that execs the rest of its arguments (devsup's own pid stays proc.pid),
// e.g. a shell that first moves itself into a cgroup.
export function startDevsup(bin, args, env = {}, { launcher = [] } = {}) {
  const argv = [...launcher, bin, '--no-tty', ...args];
  const proc = spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  const waiting = [];
  const backlog = [];
  readline.createInterface({ input: proc.stdout }).on('line', (line) => {
    const ev = JSON.parse(line);
    ev.receivedAt = now();
    const i = waiting.findIndex((w) => w.pred(ev));
    if (i >= 0) waiting.splice(i, 1)[0].resolve(ev);
    else backlog.push(ev);
  });
  const next = (pred) => {
    const i = backlog.findIndex(pred);
    if (i >= 0) return Promise.resolve(backlog.splice(i, 1)[0]);
    return new Promise((resolve) => waiting.push({ pred, resolve }));
  };
  const send = (obj) => proc.stdin.write(JSON.stringify(obj) + '\n');
  const shutdown = async () => {
    send({ type: 'shutdown', id: 'bye' });
    await next((e) => e.type === 'shutdown-complete');
  };
  // req: sends cmd with a fresh id and resolves with its answer (not a state event).
  let n = 0;
  const req = (cmd) => {
    const id = `c${++n}`;
    const answer = next((e) => e.commandId === id && e.type !== 'dev-server-state');
    send({ ...cmd, id });
    return answer;
  };
  // close: stdin EOF, resolved when devsup has exited.
  const close = () => new Promise((resolve) => { proc.on('exit', resolve); proc.stdin.end(); });
  return { proc, next, send, req, shutdown, close };
}
