// The type test of the Node client (supervisor/client/index.d.ts): compiled with
// `tsc --strict --noEmit` by `make types` (part of `make test`). Each `@ts-expect-error` line
// MUST fail to compile: if the types let it through, tsc reports the unused directive.
import { Devsup, DevsupError } from '../../supervisor/client/index.js';
import type {
  DevsupEvent, StartFailureReason, ExitReason, StopReason, ErrorReason, Reason, StatusEvent,
  StartOptions, RestartOverrides, LogStreamEndReason,
} from '../../supervisor/client/index.js';

declare const sup: Devsup;
declare const ev: DevsupEvent;

// Narrowing by `type` gives the exact event.
if (ev.type === 'dev-server-started') {
  const port: number = ev.port;
  const url: string = ev.url;
  void port; void url;
  // @ts-expect-error a started event has no logTail
  void ev.logTail;
}
if (ev.type === 'dev-server-exited') {
  const message: string = ev.message; // always sent
  const tail: string[] = ev.logTail;
  void message; void tail;
}
if (ev.type === 'tunnel-closed') {
  const m: string | undefined = ev.message;
  void m;
}
if (ev.type === 'status') {
  const q: number = ev.outputQueueBytes;
  const lat = ev.persistence.commitLatencyMs;
  if (lat) { const p99: number = lat.p99; void p99; }
  const lf = ev.projects[0]?.lastFailure;
  if (lf) { const r: StartFailureReason | ExitReason = lf.reason; void r; }
  const restarts: number = ev.projects[0]!.restarts;
  void q; void restarts;
}
if (ev.type === 'metrics') {
  const n: number | undefined = ev.failuresByReason.port_in_use;
  void n;
  // @ts-expect-error failuresByReason is keyed by reason
  void ev.failuresByReason.port_in_usee;
}
if (ev.type === 'log-stream-ended') {
  const r: LogStreamEndReason = ev.reason;
  void r;
}
// @ts-expect-error an event type that does not exist
if (ev.type === 'dev-server-crashed') { /* never */ }

// Closed reason unions: an exhaustive switch compiles, and a missing case is caught.
function stopWhy(r: StopReason): string {
  switch (r) {
    case 'requested': return 'asked';
    case 'restart': return 'restarting';
    case 'shutdown': return 'devsup stops';
    case 'runner_restart': return 'a previous devsup left it';
    case 'owned_by_other_runner': return 'another runner\'s run was recorded first';
    default: { const never: never = r; return never; }
  }
}
function exitWhy(r: ExitReason): string {
  switch (r) {
    case 'crashed': return 'c';
    case 'killed': return 'k';
    // @ts-expect-error a missing case leaves r not never
    default: { const never: never = r; return never; }
  }
}
void stopWhy; void exitWhy;
// @ts-expect-error not a reason
const notReason: Reason = 'port_in_usee';
void notReason;
const clientReason: Reason = 'timeout';
const errReason: ErrorReason = 'invalid_command';
void clientReason; void errReason;

// No index signature: typos in start options and overrides do not compile.
const opts: StartOptions = { projectId: 'web', command: ['vite'], cwd: '/srv/web', strictPort: true };
// @ts-expect-error stricPort is a typo
const typo: StartOptions = { projectId: 'web', command: ['vite'], cwd: '/srv/web', stricPort: true };
// @ts-expect-error comand is a typo
const typo2: RestartOverrides = { comand: ['vite'] };
const expectOk: StartOptions = { ...opts, healthCheck: { expect: '2xx-3xx' } };
// @ts-expect-error expect takes any, 2xx-3xx or codes
const expectBad: StartOptions = { ...opts, healthCheck: { expect: '3xx' } };
void typo; void typo2; void expectOk; void expectBad;

async function calls(): Promise<void> {
  // Per-command send() overloads.
  const st: StatusEvent = await sup.send({ type: 'status' });
  const pong = await sup.send({ type: 'ping' }, { timeoutMs: 1000 });
  const v: string = pong.version;
  const started = await sup.send({ type: 'start-dev-server', ...opts }, { signal: AbortSignal.timeout(5000) });
  const p: number = started.port;
  // @ts-expect-error a stop does not answer with a status
  const wrong: StatusEvent = await sup.send({ type: 'stop-dev-server', projectId: 'web' });
  // @ts-expect-error an unknown command type
  await sup.send({ type: 'restart', projectId: 'web' });
  // @ts-expect-error a typo in a command's fields
  await sup.send({ type: 'logs', projectId: 'web', line: 5 });
  void st; void v; void p; void wrong;

  const stopped = await sup.stop('web', { reason: 'requested' }, { timeoutMs: 30000 });
  const why: StopReason = stopped.reason;
  void why;
  await sup.restart('web', { env: { DEBUG: '1' } }, { timeoutMs: 30000 });

  try {
    await sup.ping({ timeoutMs: 10 });
  } catch (err) {
    if (err instanceof DevsupError) {
      const tail: string[] = err.logTail;
      const r: Reason = err.reason;
      void tail; void r;
    }
  }
}
void calls;

// Events: projectExited (a dev server died) is not exit (devsup died); the old name still works.
sup.on('projectExited', (e) => { const r: ExitReason = e.reason; void r; });
sup.on('exited', (e) => { const r: ExitReason = e.reason; void r; });
sup.on('exit', (info) => { const c: number | null = info.code; void c; });
sup.on('logStreamEnded', (e) => { const r: LogStreamEndReason = e.reason; void r; });
// @ts-expect-error the exit listener gets ExitInfo, not a dev-server-exited event
sup.on('exit', (e: { projectId: string }) => { void e; });
