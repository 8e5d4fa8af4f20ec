// Type declarations for devsup-client (docs/protocol.md of devsup describes every field).
import type { ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';

export type ProjectState = 'idle' | 'starting' | 'running' | 'stopping' | 'stopped' | 'failed';
export type Framework = 'next' | 'vite' | 'other';
export type TunnelProvider = 'cloudflared' | 'ngrok' | 'localtunnel' | 'custom';
export type CommandId = string | number;

/** Every failure reason devsup reports, plus the client's own (`devsup_exited`, ...). */
export type Reason =
  | 'port_in_use' | 'command_not_found' | 'directory_missing' | 'permission_denied'
  | 'immediate_crash' | 'crashed' | 'health_check_timeout' | 'health_check_failed' | 'killed'
  | 'cancelled' | 'reaper_lost' | 'runner_restart' | 'tunnel_failed' | 'already_running'
  | 'not_running' | 'invalid_json' | 'invalid_command' | 'unknown_command' | 'line_too_long'
  | 'capacity' | 'runner_id_in_use' | 'shutting_down' | 'unknown'
  /** client: devsup exited (or closed its stdout) before answering */
  | 'devsup_exited'
  /** client: the devsup executable could not be run */
  | 'spawn_failed'
  /** client: no `ready` within readyTimeoutMs */
  | 'ready_timeout'
  /** client: devsup wrote something that is not a protocol line */
  | 'protocol_error'
  | (string & {});

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
  tunnelBins?: Partial<Record<TunnelProvider, string>> & Record<string, string>;
  /** `--tunnel-default PROVIDER`. */
  tunnelDefault?: TunnelProvider;
  /** `--log-level LEVEL`. */
  logLevel?: 'debug' | 'info' | 'warn' | 'error' | 'off';
  /** --adopt-timeout: seconds detached projects wait for the next devsup (default 300). */
  adoptTimeout?: number;
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

export interface HealthCheck {
  path?: string;
  timeoutMs?: number;
}

export interface TunnelOptions {
  provider?: TunnelProvider;
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
  /** Command id; generated (`c1`, `c2`, …) when absent. */
  id?: CommandId;
  [field: string]: unknown;
}

export type RestartOverrides = Partial<Omit<StartOptions, 'projectId'>>;

export interface StopOptions {
  /** Grace before SIGKILL (default: the project's stopTimeoutMs, else 10000). */
  timeoutMs?: number;
  /** Echoed in the answer and the state events. */
  reason?: string;
}

/** Fields every event has. */
export interface BaseEvent {
  type: string;
  /** ISO 8601 UTC with milliseconds. */
  timestamp: string;
  projectId?: string;
  commandId?: CommandId;
  [field: string]: unknown;
}

export interface PersistenceStatus {
  enabled: boolean;
  connected: boolean;
  queued: number;
  oldestQueuedMs: number | null;
  written: number;
  commitLatencyMs?: unknown;
  [field: string]: unknown;
}

export interface ReadyEvent extends BaseEvent {
  type: 'ready';
  version: string;
  pid: number;
  runnerId: string;
  persistence: 'postgres' | 'disabled';
  recovered: number;
  /** Projects taken over from a detached devsup of the same runner (SPEC §11). */
  adopted: number;
  portRange: [number, number];
}

export interface StateEvent extends BaseEvent {
  type: 'dev-server-state';
  projectId: string;
  from: ProjectState;
  to: ProjectState;
  /** Strictly increasing per project (large numbers: compare, never assume a start). */
  seq: number;
  reason?: string;
}

export interface StartedEvent extends BaseEvent {
  type: 'dev-server-started';
  projectId: string;
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

export interface StoppedEvent extends BaseEvent {
  type: 'dev-server-stopped';
  projectId: string;
  exitCode?: number;
  signal?: string;
  forced: boolean;
  durationMs: number;
  reason: string;
  escaped: number;
}

export interface ExitedEvent extends BaseEvent {
  type: 'dev-server-exited';
  projectId: string;
  exitCode?: number;
  signal?: string;
  reason: 'crashed' | 'killed' | 'reaper_lost' | (string & {});
  message?: string;
  logTail: string[];
}

export interface LogEvent extends BaseEvent {
  type: 'log';
  projectId: string;
  stream: 'stdout' | 'stderr';
  line: string;
  /** Log lines lost before this one while the reader was behind. */
  dropped?: number;
}

export interface TunnelOpenedEvent extends BaseEvent {
  type: 'tunnel-opened';
  projectId: string;
  url: string;
}
export interface TunnelClosedEvent extends BaseEvent {
  type: 'tunnel-closed';
  projectId: string;
  reason: string;
}
export interface TunnelFailedEvent extends BaseEvent {
  type: 'tunnel-failed';
  projectId: string;
  reason: string;
  message: string;
}
export type TunnelEvent = TunnelOpenedEvent | TunnelClosedEvent | TunnelFailedEvent;

export interface FollowingEvent extends BaseEvent {
  type: 'following';
  projectId: string;
  follow: boolean;
}

export interface ErrorEvent extends BaseEvent {
  type: 'error';
  error: string;
  reason: Reason;
  suggestion: string;
  exitCode?: number;
  signal?: string;
  logTail?: string[];
}

export interface ProjectStatus {
  projectId: string;
  state: ProjectState;
  seq: number | null;
  port: number | null;
  pid: number | null;
  url: string | null;
  scheme: 'http' | 'https' | null;
  tunnelUrl: string | null;
  framework: Framework | null;
  startedAt: string | null;
  [field: string]: unknown;
}

export interface StatusEvent extends BaseEvent {
  type: 'status';
  projects: ProjectStatus[];
  persistence?: PersistenceStatus;
}

export interface LogLine {
  stream: 'stdout' | 'stderr';
  line: string;
  timestamp: string;
}

export interface LogsEvent extends BaseEvent {
  type: 'logs';
  projectId: string;
  lines: LogLine[];
}

export interface PongEvent extends BaseEvent {
  type: 'pong';
  version: string;
  uptimeMs: number;
}

export interface LatencySummary {
  count: number;
  p50: number | null;
  p90: number | null;
  p99: number | null;
  max: number | null;
}

export interface MetricsEvent extends BaseEvent {
  type: 'metrics';
  starts: number;
  started: number;
  startFailures: number;
  failuresByReason: Record<string, number>;
  exits: number;
  exitsByReason: Record<string, number>;
  stops: number;
  forcedKills: number;
  startLatencyMs: LatencySummary;
  liveProjects: number;
  droppedLogEvents: number;
  persistence?: PersistenceStatus;
}

export interface ShutdownCompleteEvent extends BaseEvent {
  type: 'shutdown-complete';
}

export type DevsupEvent =
  | ReadyEvent | StateEvent | StartedEvent | StoppedEvent | ExitedEvent | LogEvent | TunnelEvent
  | FollowingEvent | ErrorEvent | StatusEvent | LogsEvent | PongEvent | MetricsEvent
  | ShutdownCompleteEvent | BaseEvent;

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A command's `error` answer, or a failure of devsup itself (`devsup_exited`, ...). */
export class DevsupError extends Error {
  constructor(message: string, fields?: Partial<DevsupError>);
  name: 'DevsupError';
  reason: Reason;
  /** What a person can do about it. */
  suggestion?: string;
  /** The last lines of the server's output (for `devsup_exited`: of devsup's stderr). */
  logTail?: string[];
  exitCode?: number | null;
  signal?: string | null;
  projectId?: string;
  commandId?: CommandId;
  /** The raw `error` event (absent for the client's own errors). */
  event?: ErrorEvent | BaseEvent;
  /** For `protocol_error`: the offending stdout line. */
  line?: string;
  static fromEvent(ev: ErrorEvent): DevsupError;
}

export interface DevsupEvents {
  /** Every event, solicited or not (after `ready`). */
  event: [DevsupEvent];
  state: [StateEvent];
  exited: [ExitedEvent];
  log: [LogEvent];
  tunnel: [TunnelEvent];
  started: [StartedEvent];
  stopped: [StoppedEvent];
  /** An `error` event no pending command waits for (emitted only when a listener exists). */
  error: [DevsupError];
  /** A stdout line that is not a JSON object (ignored). */
  protocolError: [DevsupError];
  /** devsup's stderr chunks, when stderr is piped. */
  stderr: [string];
  /** devsup exited (and its stdout is drained). */
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

  /** Send any command (id generated if absent); resolves with its final answer, rejects on `error`. */
  send<T extends BaseEvent = DevsupEvent & BaseEvent>(command: { type: string; id?: CommandId; [field: string]: unknown }): Promise<T>;
  start(options: StartOptions): Promise<StartedEvent>;
  stop(projectId: string, options?: StopOptions): Promise<StoppedEvent>;
  restart(projectId: string, overrides?: RestartOverrides): Promise<StartedEvent>;
  status(projectId?: string): Promise<ProjectStatus[]>;
  logs(projectId: string, options?: { lines?: number }): Promise<LogLine[]>;
  followLogs(projectId: string, follow?: boolean): Promise<FollowingEvent>;
  ping(): Promise<PongEvent>;
  metrics(): Promise<MetricsEvent>;
  /** Stops every project; resolves with shutdown-complete once devsup has exited too. */
  shutdown(options?: { timeoutMs?: number }): Promise<ShutdownCompleteEvent>;
  /** Exits leaving every project running for the next devsup of this runner id; resolves with
   * shutdown-complete once devsup has exited. */
  detach(): Promise<ShutdownCompleteEvent>;
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
