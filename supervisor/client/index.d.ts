// Type declarations for devsup-client (docs/protocol.md of devsup describes every field).
// Events are a discriminated union on `type`: `if (ev.type === 'dev-server-started') ev.port`
// is a number. Reasons are closed unions, so a `switch` over them can be exhaustive.
import type { ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';

export type ProjectState = 'idle' | 'starting' | 'running' | 'stopping' | 'stopped' | 'failed';
export type Framework = 'next' | 'vite' | 'other';
export type TunnelProvider = 'cloudflared' | 'ngrok' | 'localtunnel' | 'custom';
/** A string, or a finite number (integers within 2^53): devsup echoes it as `commandId`. */
export type CommandId = string | number;

/** Why a start failed (the `reason` of a start's `error`, keys of `failuresByReason`). */
export type StartFailureReason =
  | 'port_in_use' | 'command_not_found' | 'directory_missing' | 'permission_denied'
  | 'immediate_crash' | 'crashed' | 'health_check_timeout' | 'health_check_failed'
  | 'tunnel_failed' | 'cancelled' | 'reaper_lost' | 'runner_lost' | 'memory_limit' | 'unknown';
/** Why a running server ended without a stop of the client's (`dev-server-exited`, keys of
 * `exitsByReason`). `owned_by_other_runner`: devsup stopped it because another alive runner's
 * run of the project was recorded first in the database (SPEC §10). */
export type ExitReason = 'crashed' | 'killed' | 'reaper_lost' | 'memory_limit' | 'owned_by_other_runner';
/** Why a stop happened (`dev-server-stopped`, the state events of a stop). */
export type StopReason = 'requested' | 'restart' | 'shutdown' | 'runner_restart' | 'owned_by_other_runner';
/** Refusals of a command as such. */
export type CommandFailureReason =
  | 'already_running' | 'not_running' | 'invalid_json' | 'invalid_command' | 'unknown_command'
  | 'line_too_long' | 'capacity' | 'shutting_down' | 'runner_restart'
  /** the project is live on another runner that is alive (SPEC §10) */
  | 'owned_by_other_runner'
  /** another live devsup has this runner id: devsup refused to start (spawn() rejects) */
  | 'runner_id_in_use';
/** Every `reason` of devsup's `error` events. */
export type ErrorReason = StartFailureReason | CommandFailureReason;
/** The client's own reasons: nothing of these comes from devsup. */
export type ClientReason =
  /** devsup exited (or closed its stdout) before answering */
  | 'devsup_exited'
  /** the devsup executable could not be run */
  | 'spawn_failed'
  /** no `ready` within readyTimeoutMs */
  | 'ready_timeout'
  /** devsup wrote something that is not a protocol line */
  | 'protocol_error'
  /** no answer within the call's timeoutMs (the command may still run in devsup) */
  | 'timeout'
  /** the call's AbortSignal fired (the command may still run in devsup) */
  | 'aborted';
/** Every reason a DevsupError can carry. */
export type Reason = ErrorReason | ClientReason;
/** Why a follow of a project's output ended. */
export type LogStreamEndReason = 'stopped' | 'failed' | 'not_live' | 'unfollowed';
/** The `reason` of a state event. */
export type StateReason = StopReason | StartFailureReason | ExitReason;

export interface SpawnOptions {
  /** devsup executable (default `devsup`, looked up on PATH). */
  bin?: string;
  /** Extra arguments, after the ones mapped from these options. */
  args?: string[];
  /** `--db URL` (Postgres persistence; else devsup reads DATABASE_URL). */
  db?: string;
  /** `--runner-id ID` (default: the host name). One live devsup per id per machine: a second
   * one makes spawn() reject with reason `runner_id_in_use`. */
  runnerId?: string;
  /** `--state-dir DIR`: runner locks and port reservations. */
  stateDir?: string;
  /** `--env-allow NAME,...`: what dev servers inherit when a start gives no `inheritEnv`. */
  envAllow?: string[] | string;
  /** `--port-range LO-HI`: `[3000, 3999]` or `'3000-3999'`. */
  portRange?: [number, number] | string;
  /** `--max-projects N`. */
  maxProjects?: number;
  /** `--max-line BYTES`. */
  maxLine?: number;
  /** `--reaper PATH`. */
  reaper?: string;
  /** `--tunnel-bin PROVIDER=PATH` for each entry. */
  tunnelBins?: Partial<Record<TunnelProvider, string>>;
  /** `--tunnel-default PROVIDER` (custom cannot be the default: it needs a command). */
  tunnelDefault?: Exclude<TunnelProvider, 'custom'>;
  /** `--log-level LEVEL`. */
  logLevel?: 'debug' | 'info' | 'warn' | 'error' | 'off';
  /** --adopt-timeout: seconds detached projects wait for the next devsup (default 300). */
  adoptTimeout?: number;
  /** `--no-cgroup`: contain projects by /proc walks only (SPEC §9). */
  noCgroup?: boolean;
  /** Added to process.env; a key set to undefined or null is removed. */
  env?: Record<string, string | undefined | null>;
  /**
   * devsup's stderr (its log): `'inherit'` (default), `'ignore'`, `'pipe'` (kept as a tail for
   * error messages and emitted as 'stderr' events) or a function called with each chunk.
   */
  stderr?: 'inherit' | 'ignore' | 'pipe' | ((chunk: string) => void);
  /** Reject (and SIGKILL devsup) if `ready` does not arrive in time (default 10000). */
  readyTimeoutMs?: number;
  /** Extra stdio entries from fd 3 on (passed to child_process.spawn). */
  extraStdio?: Array<'pipe' | 'ignore' | 'inherit' | number | null | undefined>;
}

export interface AttachOptions {
  readyTimeoutMs?: number;
  /** Called with each chunk of devsup's stderr, if it is a pipe. */
  stderr?: (chunk: string) => void;
  /** Name used in error messages. */
  bin?: string;
}

/** How long one call waits for its answer, and a way to give up on it. */
export interface CallOptions {
  /** Reject with reason `timeout` when no answer came within this many ms. */
  timeoutMs?: number;
  /** Reject with reason `aborted` when it fires. */
  signal?: AbortSignal;
}

export interface HealthCheck {
  path?: string;
  timeoutMs?: number;
  /** Which HTTP statuses mean healthy: `'any'` (default), `'2xx-3xx'`, or a list of codes. */
  expect?: 'any' | '2xx-3xx' | number[];
}

export interface TunnelOptions {
  provider: TunnelProvider;
  /** argv template for `custom` (`{port}`, `{url}`). */
  command?: string[];
  /** POSIX ERE finding the public URL (group 1 or the whole match), for `custom`. */
  urlPattern?: string;
  timeoutMs?: number;
  retries?: number;
}

export interface StartOptions {
  /** 1–128 characters of `[A-Za-z0-9._:-]`, never containing `..`. */
  projectId: string;
  /** An array is exec'd (PATH lookup); a string runs with `/bin/sh -c`. `{port}` is replaced. */
  command: string[] | string;
  /** Absolute path of the project directory. */
  cwd: string;
  port?: number;
  strictPort?: boolean;
  env?: Record<string, string>;
  /** What the server inherits of devsup's environment (never DATABASE_URL, PG*, DEVSUP_*):
   * `true` all (default, or `--env-allow`), `false` PATH, HOME, USER, LOGNAME, SHELL, LANG,
   * LC_*, TERM, TZ, TMPDIR only, or the names to keep (`'NPM_*'` is a prefix). */
  inheritEnv?: boolean | string[];
  framework?: 'auto' | Framework;
  healthCheck?: HealthCheck;
  /** `true`: the default provider (`--tunnel-default`). */
  tunnel?: boolean | TunnelOptions;
  stopTimeoutMs?: number;
  /** Stream the server's output as 'log' events. */
  logs?: boolean;
  /** `false`: readiness by polling, without the seccomp listen() notification (which runs the
   * tree with no_new_privs: setuid programs lose their privileges). Default `true`. */
  listenTrap?: boolean;
  /** Caps on the project's tree (SPEC §9). */
  limits?: Limits;
  /** Command id; generated (`c1`, `c2`, …) when absent. */
  id?: CommandId;
}

export interface Limits {
  /** Over this many bytes of memory the project is stopped with reason `memory_limit`. */
  memoryBytes?: number;
}

/** How devsup keeps a project's processes together: its own cgroup, or /proc walks. */
export type Containment = 'cgroup' | 'proc';

/** What a project's whole tree (server, descendants, tunnel client) costs, measured when asked. */
export interface Usage {
  /** CPU time so far, user + system. */
  cpuMs: number;
  /** Over the interval since the previous measurement (or the start); 100 = one core. */
  cpuPercent: number;
  rssBytes: number;
  processes: number;
}

/** Start fields to change for this restart; they stick once the restart reached running. */
export type RestartOverrides = Partial<Omit<StartOptions, 'projectId'>>;

export interface StopOptions {
  /** Grace before SIGKILL (default: the project's stopTimeoutMs, else 10000). */
  timeoutMs?: number;
  /** Echoed in the answer and the state events (default `requested`). */
  reason?: StopReason;
}

/** The commands, as `send()` takes them. */
export interface StartCommand extends StartOptions { type: 'start-dev-server' }
export interface StopCommand extends StopOptions { type: 'stop-dev-server'; projectId: string; id?: CommandId }
export interface RestartCommand extends RestartOverrides { type: 'restart-dev-server'; projectId: string }
export interface StatusCommand { type: 'status'; projectId?: string; id?: CommandId }
export interface LogsCommand { type: 'logs'; projectId: string; lines?: number; id?: CommandId }
export interface FollowLogsCommand { type: 'follow-logs'; projectId: string; follow?: boolean; id?: CommandId }
export interface PingCommand { type: 'ping'; id?: CommandId }
export interface MetricsCommand { type: 'metrics'; id?: CommandId }
export interface ShutdownCommand { type: 'shutdown'; timeoutMs?: number; detach?: boolean; id?: CommandId }
export type Command =
  | StartCommand | StopCommand | RestartCommand | StatusCommand | LogsCommand | FollowLogsCommand
  | PingCommand | MetricsCommand | ShutdownCommand;

/** Fields every event has. */
interface EventBase {
  /** ISO 8601 UTC with milliseconds. */
  timestamp: string;
  /** The id of the command that caused it. */
  commandId?: CommandId;
}

export interface LatencySummary {
  count: number;
  p50: number | null;
  p90: number | null;
  p99: number | null;
  max: number | null;
}

export interface PersistenceStatus {
  enabled: boolean;
  connected: boolean;
  queued: number;
  oldestQueuedMs: number;
  written: number;
  /** At most this many transitions wait in memory (`--db-queue-max`). */
  queueMax: number;
  /** Transitions dropped, oldest first, beyond queueMax. */
  shed: number;
  /** Transitions the database refused for good (data errors). */
  refused: number;
  /** Only while there is one: why nothing is written, in words. */
  problem?: string;
  /** Delay from a transition to its commit, over the recent ones; absent before the first. */
  commitLatencyMs?: { count: number; p50: number; p99: number; max: number };
}

export interface ReadyEvent extends EventBase {
  type: 'ready';
  version: string;
  pid: number;
  runnerId: string;
  persistence: 'postgres' | 'disabled';
  recovered: number;
  /** Projects taken over from a detached devsup of the same runner (SPEC §11). */
  adopted: number;
  portRange: [number, number];
  /** `--max-line`: longer command lines are refused (the client refuses them before sending). */
  maxLine: number;
  containment?: Containment;
}

export interface StateEvent extends EventBase {
  type: 'dev-server-state';
  projectId: string;
  from: ProjectState;
  to: ProjectState;
  /** Strictly increasing per project (large numbers: compare, never assume a start). */
  seq: number;
  reason?: StateReason;
}

export interface StartedEvent extends EventBase {
  type: 'dev-server-started';
  projectId: string;
  /** The port the server really listens on (it may have moved from the one it was given). */
  port: number;
  pid: number;
  pgid: number;
  /** Where it answered: `http://localhost:PORT`, `http://127.0.0.2:PORT` for a server bound
   * to another address, `https://localhost:PORT` for an HTTPS dev server. */
  url: string;
  scheme: 'http' | 'https';
  framework: Framework;
  startupMs: number;
  tunnelUrl?: string;
  tunnelError?: string;
}

export interface StoppedEvent extends EventBase {
  type: 'dev-server-stopped';
  projectId: string;
  exitCode?: number;
  signal?: string;
  forced: boolean;
  durationMs: number;
  reason: StopReason;
  escaped: number;
}

export interface ExitedEvent extends EventBase {
  type: 'dev-server-exited';
  projectId: string;
  exitCode?: number;
  signal?: string;
  reason: ExitReason;
  message: string;
  logTail: string[];
}

export interface LogEvent extends EventBase {
  type: 'log';
  projectId: string;
  stream: 'stdout' | 'stderr';
  line: string;
  /** Log lines lost before this one while the reader was behind. */
  dropped?: number;
}

export interface LogStreamEndedEvent extends EventBase {
  type: 'log-stream-ended';
  projectId: string;
  reason: LogStreamEndReason;
}

export interface TunnelOpenedEvent extends EventBase {
  type: 'tunnel-opened';
  projectId: string;
  url: string;
}
export interface TunnelClosedEvent extends EventBase {
  type: 'tunnel-closed';
  projectId: string;
  reason: string;
  message?: string;
}
export interface TunnelFailedEvent extends EventBase {
  type: 'tunnel-failed';
  projectId: string;
  reason: string;
  message: string;
}
export type TunnelEvent = TunnelOpenedEvent | TunnelClosedEvent | TunnelFailedEvent;

export interface FollowingEvent extends EventBase {
  type: 'following';
  projectId: string;
  follow: boolean;
}

export interface ErrorEvent extends EventBase {
  type: 'error';
  projectId?: string;
  error: string;
  reason: ErrorReason;
  suggestion: string;
  exitCode?: number;
  signal?: string;
  /** Sent with every failed start (possibly empty). */
  logTail?: string[];
}

export interface LastFailure {
  reason: StartFailureReason | ExitReason;
  message: string;
  exitCode?: number;
  signal?: string;
  /** ISO 8601 */
  at: string;
}

export interface ProjectStatus {
  projectId: string;
  state: ProjectState;
  seq: number;
  port: number | null;
  pid: number | null;
  url: string | null;
  scheme: 'http' | 'https' | null;
  tunnelUrl: string | null;
  framework: Framework | null;
  startedAt: string | null;
  /** restart-dev-server commands accepted for it. */
  restarts: number;
  lastFailure: LastFailure | null;
  /** null when nothing of the project is alive. */
  usage: Usage | null;
  containment: Containment;
}

export interface StatusEvent extends EventBase {
  type: 'status';
  projectId?: string;
  projects: ProjectStatus[];
  /** Bytes of events waiting to be written to stdout (a slow reader). */
  outputQueueBytes: number;
  persistence: PersistenceStatus;
  containment: Containment;
}

export interface LogLine {
  stream: 'stdout' | 'stderr';
  line: string;
  /** When devsup read the line from the server. */
  timestamp: string;
}

export interface LogsEvent extends EventBase {
  type: 'logs';
  projectId: string;
  lines: LogLine[];
}

export interface PongEvent extends EventBase {
  type: 'pong';
  version: string;
  uptimeMs: number;
}

export interface MetricsEvent extends EventBase {
  type: 'metrics';
  starts: number;
  started: number;
  startFailures: number;
  failuresByReason: Partial<Record<StartFailureReason, number>>;
  exits: number;
  exitsByReason: Partial<Record<ExitReason, number>>;
  stops: number;
  forcedKills: number;
  startLatencyMs: LatencySummary;
  liveProjects: number;
  droppedLogEvents: number;
  persistence: PersistenceStatus;
  /** Totals over devsup's live projects. */
  usage: Usage & { containment: Containment };
}

export interface ShutdownCompleteEvent extends EventBase {
  type: 'shutdown-complete';
}

export type DevsupEvent =
  | ReadyEvent | StateEvent | StartedEvent | StoppedEvent | ExitedEvent | LogEvent
  | LogStreamEndedEvent | TunnelEvent | FollowingEvent | ErrorEvent | StatusEvent | LogsEvent
  | PongEvent | MetricsEvent | ShutdownCompleteEvent;

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A command's `error` answer, or a failure of devsup itself (`devsup_exited`, ...). */
export class DevsupError extends Error {
  constructor(message: string, fields?: Partial<Omit<DevsupError, 'name' | 'message'>>);
  name: 'DevsupError';
  reason: Reason;
  /** What a person can do about it. */
  suggestion?: string;
  /** The last lines of the server's output (for `devsup_exited`: of devsup's stderr); empty
   * when there is none. */
  logTail: string[];
  exitCode?: number | null;
  signal?: string | null;
  projectId?: string;
  commandId?: CommandId;
  /** The raw `error` event (absent for the client's own errors). */
  event?: ErrorEvent;
  /** For `protocol_error`: the offending stdout line. */
  line?: string;
  static fromEvent(ev: ErrorEvent): DevsupError;
}

export interface DevsupEvents {
  /** Every event, solicited or not (after `ready`). */
  event: [DevsupEvent];
  state: [StateEvent];
  /** A running dev server died without a stop (`dev-server-exited`). */
  projectExited: [ExitedEvent];
  /** @deprecated the same as 'projectExited'; too easily confused with 'exit' (devsup's own). */
  exited: [ExitedEvent];
  log: [LogEvent];
  /** A follow of a project's output ended (`log-stream-ended`). */
  logStreamEnded: [LogStreamEndedEvent];
  tunnel: [TunnelEvent];
  started: [StartedEvent];
  stopped: [StoppedEvent];
  /** An `error` event no pending command waits for (emitted only when a listener exists). */
  error: [DevsupError];
  /** A stdout line that is not a JSON object (ignored). */
  protocolError: [DevsupError];
  /** devsup's stderr chunks, when stderr is piped. */
  stderr: [string];
  /** devsup itself exited (and its stdout is drained). */
  exit: [ExitInfo];
}

export class Devsup extends EventEmitter {
  /** Spawn devsup (`--no-tty` plus the mapped flags) and resolve once `ready` arrived. */
  static spawn(options?: SpawnOptions): Promise<Devsup>;
  /** Wrap an already spawned devsup (stdin/stdout pipes, `--no-tty`). */
  static attach(child: ChildProcess, options?: AttachOptions): Promise<Devsup>;

  readonly child: ChildProcess;
  readonly pid: number;
  readonly ready: ReadyEvent;
  /** `{code, signal}` once devsup exited, else null. */
  readonly exitInfo: ExitInfo | null;
  /** Resolves when devsup has exited and its stdout is drained. */
  readonly exited: Promise<ExitInfo>;
  /** Commands sent and not answered yet. */
  readonly pendingCount: number;

  /** The last lines devsup wrote on stderr (when piped). */
  stderrTail(lines?: number): string[];

  /** Send a command (id generated if absent); resolves with its answer, rejects on `error`. */
  send(command: StartCommand, call?: CallOptions): Promise<StartedEvent>;
  send(command: StopCommand, call?: CallOptions): Promise<StoppedEvent>;
  send(command: RestartCommand, call?: CallOptions): Promise<StartedEvent>;
  send(command: StatusCommand, call?: CallOptions): Promise<StatusEvent>;
  send(command: LogsCommand, call?: CallOptions): Promise<LogsEvent>;
  send(command: FollowLogsCommand, call?: CallOptions): Promise<FollowingEvent>;
  send(command: PingCommand, call?: CallOptions): Promise<PongEvent>;
  send(command: MetricsCommand, call?: CallOptions): Promise<MetricsEvent>;
  send(command: ShutdownCommand, call?: CallOptions): Promise<ShutdownCompleteEvent>;
  start(options: StartOptions, call?: CallOptions): Promise<StartedEvent>;
  stop(projectId: string, options?: StopOptions, call?: CallOptions): Promise<StoppedEvent>;
  restart(projectId: string, overrides?: RestartOverrides, call?: CallOptions): Promise<StartedEvent>;
  status(projectId?: string, call?: CallOptions): Promise<ProjectStatus[]>;
  logs(projectId: string, options?: { lines?: number }, call?: CallOptions): Promise<LogLine[]>;
  followLogs(projectId: string, follow?: boolean, call?: CallOptions): Promise<FollowingEvent>;
  ping(call?: CallOptions): Promise<PongEvent>;
  metrics(call?: CallOptions): Promise<MetricsEvent>;
  /** Stops every project; resolves with shutdown-complete once devsup has exited too. */
  shutdown(options?: { timeoutMs?: number }, call?: CallOptions): Promise<ShutdownCompleteEvent>;
  /** Exits leaving every project running for the next devsup of this runner id; resolves with
   * shutdown-complete once devsup has exited. */
  detach(call?: CallOptions): Promise<ShutdownCompleteEvent>;
  /** Projects adopted at start-up (ready.adopted). */
  readonly adopted: number;
  /** End stdin (devsup stops everything and exits); resolves with the exit code. */
  close(): Promise<number | null>;
  kill(signal?: NodeJS.Signals | number): boolean;

  on<K extends keyof DevsupEvents>(event: K, listener: (...args: DevsupEvents[K]) => void): this;
  once<K extends keyof DevsupEvents>(event: K, listener: (...args: DevsupEvents[K]) => void): this;
  off<K extends keyof DevsupEvents>(event: K, listener: (...args: DevsupEvents[K]) => void): this;
  addListener<K extends keyof DevsupEvents>(event: K, listener: (...args: DevsupEvents[K]) => void): this;
  removeListener<K extends keyof DevsupEvents>(event: K, listener: (...args: DevsupEvents[K]) => void): this;
  emit<K extends keyof DevsupEvents>(event: K, ...args: DevsupEvents[K]): boolean;
}

export default Devsup;
