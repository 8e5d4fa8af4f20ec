// devsup-client: spawn devsup and talk NDJSON with it (docs/protocol.md), as promises and events.
// Dependency-free; Node 20 or later.
import { spawn as spawnChild } from 'node:child_process';
import { EventEmitter } from 'node:events';

/** Events that may carry a commandId without being the command's final answer. */
const isIntermediate = (type) =>
  type === 'dev-server-state' || type === 'log' || type === 'log-stream-ended' ||
  (typeof type === 'string' && type.startsWith('tunnel-'));

/** devsup's default --max-line, for a devsup too old to say its own in `ready`. */
const DEFAULT_MAX_LINE = 1024 * 1024;

/** The path of the first string (value or key) holding a lone surrogate, or null: JSON.stringify
 * writes it as `\ud800`, which devsup refuses as invalid JSON. */
function malformedString(v, path = '') {
  const bad = (s) => typeof s === 'string' && !s.isWellFormed();
  if (bad(v)) return path || '(the command)';
  if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      const p = Array.isArray(v) ? `${path}[${k}]` : path ? `${path}.${k}` : k;
      if (bad(k)) return `${p} (its name)`;
      const found = malformedString(x, p);
      if (found) return found;
    }
  }
  return null;
}

/** Why id cannot be a command id, or null. Numbers must survive the JSON round trip exactly. */
function badId(id) {
  if (typeof id === 'string') return id.isWellFormed() ? null : 'a string with a lone surrogate';
  if (typeof id === 'number') {
    if (!Number.isFinite(id)) return String(id);
    if (Number.isInteger(id) && !Number.isSafeInteger(id)) return `${id}, an integer beyond 2^53`;
    return null;
  }
  return `a ${id === null ? 'null' : typeof id}`;
}

const STDERR_TAIL_BYTES = 16384;
const STDERR_TAIL_LINES = 20;
/** How long to wait for stdout to drain once devsup has exited (another process may hold it). */
const DRAIN_GRACE_MS = 2000;

/** A failed command (devsup's `error` event) or a failure of devsup itself. */
export class DevsupError extends Error {
  constructor(message, fields = {}) {
    super(message);
    this.name = 'DevsupError';
    this.reason = fields.reason ?? 'unknown';
    this.suggestion = fields.suggestion;
    this.logTail = fields.logTail ?? [];
    this.exitCode = fields.exitCode;
    this.signal = fields.signal;
    this.projectId = fields.projectId;
    this.commandId = fields.commandId;
    this.event = fields.event;
  }

  /** The DevsupError for one of devsup's `error` events. */
  static fromEvent(ev) {
    return new DevsupError(typeof ev.error === 'string' && ev.error ? ev.error : `devsup error: ${ev.reason}`, {
      reason: ev.reason,
      suggestion: ev.suggestion,
      logTail: Array.isArray(ev.logTail) ? ev.logTail : [],
      exitCode: ev.exitCode,
      signal: ev.signal,
      projectId: ev.projectId,
      commandId: ev.commandId,
      event: ev,
    });
  }
}

/** Command-line flags for the spawn options. */
function flagsFor(o) {
  const f = ['--no-tty'];
  if (o.db != null) f.push('--db', String(o.db));
  if (o.runnerId != null) f.push('--runner-id', String(o.runnerId));
  if (o.portRange != null) {
    const r = Array.isArray(o.portRange) ? `${o.portRange[0]}-${o.portRange[1]}` : String(o.portRange);
    f.push('--port-range', r);
  }
  if (o.maxProjects != null) f.push('--max-projects', String(o.maxProjects));
  if (o.maxLine != null) f.push('--max-line', String(o.maxLine));
  if (o.reaper != null) f.push('--reaper', String(o.reaper));
  for (const [provider, bin] of Object.entries(o.tunnelBins || {})) f.push('--tunnel-bin', `${provider}=${bin}`);
  if (o.tunnelDefault != null) f.push('--tunnel-default', String(o.tunnelDefault));
  if (o.logLevel != null) f.push('--log-level', String(o.logLevel));
  if (o.stateDir != null) f.push('--state-dir', String(o.stateDir));
  if (o.envAllow != null) f.push('--env-allow', Array.isArray(o.envAllow) ? o.envAllow.join(',') : String(o.envAllow));
  if (o.adoptTimeout != null) f.push('--adopt-timeout', String(o.adoptTimeout));
  if (o.noCgroup) f.push('--no-cgroup');
  return f;
}

const keyOf = (id) => JSON.stringify(id);

export class Devsup extends EventEmitter {
  /**
   * Spawn devsup and resolve once its `ready` event arrived.
   * @param {import('./index.js').SpawnOptions} [options]
   */
  static async spawn(options = {}) {
    const { bin = 'devsup', args = [], env, stderr = 'inherit', readyTimeoutMs = 10000, extraStdio = [] } = options;
    const fullEnv = { ...process.env };
    for (const [k, v] of Object.entries(env || {})) {
      if (v === undefined || v === null) delete fullEnv[k];
      else fullEnv[k] = String(v);
    }
    const stderrMode = typeof stderr === 'function' || stderr === 'pipe' ? 'pipe' : stderr;
    const child = spawnChild(bin, [...flagsFor(options), ...args], {
      stdio: ['pipe', 'pipe', stderrMode, ...extraStdio],
      env: fullEnv,
    });
    return Devsup.attach(child, { readyTimeoutMs, stderr: typeof stderr === 'function' ? stderr : undefined, bin });
  }

  /**
   * Wrap an already spawned devsup (stdin and stdout pipes; `--no-tty`) and resolve once `ready`
   * arrived.
   */
  static async attach(child, { readyTimeoutMs = 10000, stderr, bin } = {}) {
    const sup = new Devsup(child, { stderr, bin });
    await sup.#waitReady(readyTimeoutMs);
    return sup;
  }

  /** The child process. */
  child;
  /** devsup's pid. */
  pid;
  /** The `ready` event. */
  ready = null;
  /** `{code, signal}` once devsup exited, else null. */
  exitInfo = null;
  /** Resolves with `{code, signal}` when devsup has exited and its stdout is drained. */
  exited;

  #pending = new Map(); // keyOf(id) -> {resolve, reject, cmd, cleanup}
  #nextId = 0;
  #buf = '';
  #holding = false;
  #stderrTail = '';
  #bin;
  #readyWaiter = null;
  #spawnError = null;

  /** @private use Devsup.spawn or Devsup.attach */
  constructor(child, { stderr, bin } = {}) {
    super();
    this.child = child;
    this.pid = child.pid;
    this.#bin = bin || child.spawnfile || 'devsup';

    child.stdin.on('error', () => { /* EPIPE once devsup is gone: reported through exit */ });
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => this.#onData(chunk));
    child.stdout.on('end', () => {
      const finish = () => {
        if (this.#holding) { setImmediate(finish); return; }
        if (this.#buf.length) this.#protocolError('stdout ended inside a line', this.#buf);
        this.#buf = '';
      };
      finish();
    });
    if (child.stderr) {
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (s) => {
        this.#stderrTail += s;
        if (this.#stderrTail.length > 2 * STDERR_TAIL_BYTES) this.#stderrTail = this.#stderrTail.slice(-STDERR_TAIL_BYTES);
        if (stderr) {
          try { stderr(s); } catch { /* the caller's problem */ }
        }
        if (this.listenerCount('stderr')) this.emit('stderr', s);
      });
    }

    this.exited = new Promise((resolve) => {
      let settled = false;
      let exit = null;
      const settle = (code, signal) => {
        if (settled) return;
        if (this.#holding) { setImmediate(() => settle(code, signal)); return; }
        settled = true;
        this.exitInfo = { code: code ?? null, signal: signal ?? null };
        this.#failAll();
        this.emit('exit', this.exitInfo);
        resolve(this.exitInfo);
      };
      child.on('error', (err) => {
        // spawn failure (ENOENT, EACCES): no exit event follows
        this.#spawnError = err;
        if (child.pid === undefined) settle(null, null);
      });
      child.on('close', (code, signal) => settle(code, signal));
      let stdoutClosed = false;
      child.on('exit', (code, signal) => {
        exit = { code, signal };
        // exited and stdout drained: settled now, though its stderr may still be held open
        // (by the reapers a detach left running)
        if (stdoutClosed) settle(code, signal);
        else setTimeout(() => settle(code, signal), DRAIN_GRACE_MS).unref();
      });
      child.stdout.on('close', () => {
        stdoutClosed = true;
        if (exit) { settle(exit.code, exit.signal); return; }
        // stdout gone (closed by devsup, or devsup died): nothing can be answered any more
        setTimeout(() => settle(exit?.code ?? child.exitCode, exit?.signal ?? child.signalCode), DRAIN_GRACE_MS).unref();
      });
    });
  }

  /** The last lines devsup wrote on stderr (when stderr is piped). */
  stderrTail(lines = STDERR_TAIL_LINES) {
    return this.#stderrTail.split('\n').filter((l) => l.length).slice(-lines);
  }

  #exitedError(what) {
    const info = this.exitInfo;
    let why;
    if (this.#spawnError) why = `could not run ${this.#bin}: ${this.#spawnError.message}`;
    else if (info) why = `devsup (pid ${this.pid}) exited (${info.signal ? `signal ${info.signal}` : `code ${info.code}`})`;
    else why = `devsup (pid ${this.pid}) closed its stdout`;
    const tail = this.stderrTail();
    const msg = `${why} ${what}` + (tail.length ? `; last lines of its stderr:\n  ${tail.join('\n  ')}` : '');
    return new DevsupError(msg, {
      reason: this.#spawnError ? 'spawn_failed' : 'devsup_exited',
      suggestion: this.#spawnError ? `Check the devsup executable (${this.#bin}) and PATH.`
        : 'devsup is gone: read its stderr, then spawn it again.',
      logTail: tail,
      exitCode: info?.code ?? undefined,
      signal: info?.signal ?? undefined,
    });
  }

  #failAll() {
    if (this.#readyWaiter) this.#readyWaiter.reject(this.#exitedError('before it was ready'));
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) {
      p.cleanup();
      const err = this.#exitedError(`before answering ${p.cmd.type} (id ${JSON.stringify(p.cmd.id)})`);
      err.commandId = p.cmd.id;
      err.projectId = p.cmd.projectId;
      p.reject(err);
    }
  }

  #waitReady(timeoutMs) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#readyWaiter = null;
        this.kill('SIGKILL');
        reject(new DevsupError(`devsup (pid ${this.pid}) sent no ready event within ${timeoutMs} ms` +
          (this.stderrTail().length ? `; last lines of its stderr:\n  ${this.stderrTail().join('\n  ')}` : ''),
        { reason: 'ready_timeout', suggestion: 'Check the flags and devsup\'s stderr.', logTail: this.stderrTail() }));
      }, timeoutMs);
      this.#readyWaiter = {
        resolve: (ev) => { clearTimeout(timer); this.#readyWaiter = null; resolve(ev); },
        reject: (err) => { clearTimeout(timer); this.#readyWaiter = null; reject(err); },
      };
      if (this.exitInfo) this.#readyWaiter.reject(this.#exitedError('before it was ready'));
    });
  }

  #protocolError(message, line) {
    const err = new DevsupError(`devsup protocol violation: ${message}: ${JSON.stringify(String(line).slice(0, 300))}`,
      { reason: 'protocol_error' });
    err.line = line;
    this.emit('protocolError', err);
  }

  #onData(chunk) {
    this.#buf += chunk;
    if (!this.#holding) this.#drain();
  }

  #drain() {
    let nl;
    while (!this.#holding && (nl = this.#buf.indexOf('\n')) >= 0) {
      let line = this.#buf.slice(0, nl);
      this.#buf = this.#buf.slice(nl + 1);
      if (line.endsWith('\r')) line = line.slice(0, -1);
      if (!line.trim()) continue;
      let ev;
      try {
        ev = JSON.parse(line);
      } catch {
        this.#protocolError('stdout line is not JSON', line);
        continue;
      }
      if (ev === null || typeof ev !== 'object' || Array.isArray(ev)) {
        this.#protocolError('stdout line is not a JSON object', line);
        continue;
      }
      this.#dispatch(ev);
    }
  }

  #dispatch(ev) {
    if (this.#readyWaiter) {
      if (ev.type === 'ready') {
        this.ready = ev;
        if (typeof ev.pid === 'number' && this.pid === undefined) this.pid = ev.pid;
        this.emit('event', ev);
        this.#readyWaiter.resolve(ev);
        // Hold what follows `ready` until the caller of spawn()/attach() has had its turn (its
        // continuation runs in microtasks) so listeners added right after the await see it all.
        this.#holding = true;
        setImmediate(() => { this.#holding = false; this.#drain(); });
        return;
      }
      if (ev.type === 'error' && typeof ev.reason === 'string') {
        // devsup refused to start (runner_id_in_use: another live devsup has this runner id)
        // and exits by itself (status 3); reject with its reason rather than wait for ready.
        this.#readyWaiter.reject(DevsupError.fromEvent(ev));
        setTimeout(() => { if (!this.exitInfo) this.kill('SIGKILL'); }, DRAIN_GRACE_MS).unref();
        return;
      }
      this.#readyWaiter.reject(new DevsupError(`devsup's first event is not ready: ${JSON.stringify(ev).slice(0, 300)}`,
        { reason: 'protocol_error', event: ev }));
      this.kill('SIGKILL');
      return;
    }

    this.emit('event', ev);
    switch (ev.type) {
      case 'dev-server-state': this.emit('state', ev); break;
      case 'dev-server-exited':
        this.emit('projectExited', ev);
        this.emit('exited', ev); // deprecated alias, easily confused with 'exit' (devsup's own)
        break;
      case 'log-stream-ended': this.emit('logStreamEnded', ev); break;
      case 'dev-server-started': this.emit('started', ev); break;
      case 'dev-server-stopped': this.emit('stopped', ev); break;
      case 'log': this.emit('log', ev); break;
      default:
        if (typeof ev.type === 'string' && ev.type.startsWith('tunnel-')) this.emit('tunnel', ev);
    }

    const hasId = ev.commandId !== undefined && ev.commandId !== null;
    const p = hasId && !isIntermediate(ev.type) ? this.#pending.get(keyOf(ev.commandId)) : undefined;
    if (p) {
      this.#pending.delete(keyOf(ev.commandId));
      p.cleanup();
      if (ev.type === 'error') p.reject(DevsupError.fromEvent(ev));
      else p.resolve(ev);
    } else if (ev.type === 'error' && this.listenerCount('error') > 0) {
      // An error nobody here waits for (a bad line, or a command sent around this client).
      // Only emitted when someone listens: an unhandled 'error' would throw.
      this.emit('error', DevsupError.fromEvent(ev));
    }
  }

  /** A DevsupError for a command refused here, before it was sent (client-side reasons). */
  static #refused(cmd, reason, message, suggestion) {
    return new DevsupError(message, { reason, suggestion, commandId: cmd.id, projectId: cmd.projectId });
  }

  /**
   * Send one command (an `id` is generated unless it has one) and resolve with its final answer;
   * an `error` answer rejects with a DevsupError. A command devsup would refuse without an answer
   * a client could match (a bad id, a lone surrogate, a line over --max-line) rejects at once.
   * `call.timeoutMs` and `call.signal` bound the wait (reasons `timeout` and `aborted`); the
   * command may still run in devsup then.
   */
  send(command, call = {}) {
    if (command === null || typeof command !== 'object' || Array.isArray(command)) {
      return Promise.reject(new TypeError('send() takes a command object'));
    }
    const { timeoutMs, signal } = call ?? {};
    const cmd = { ...command };
    if (cmd.id === undefined || cmd.id === null) cmd.id = `c${++this.#nextId}`;
    const key = keyOf(cmd.id);
    const why = badId(cmd.id);
    if (why) {
      return Promise.reject(Devsup.#refused(cmd, 'invalid_command', `the command id must be a string or a finite number, not ${why}`,
        'Use a string id, or let the client generate one.'));
    }
    const malformed = malformedString(cmd);
    if (malformed) {
      return Promise.reject(Devsup.#refused(cmd, 'invalid_json', `field ${malformed} holds a lone surrogate, which is not valid UTF-8`,
        'Send well-formed strings (String.prototype.toWellFormed() replaces lone surrogates).'));
    }
    const line = JSON.stringify(cmd) + '\n';
    const limit = typeof this.ready?.maxLine === 'number' ? this.ready.maxLine : DEFAULT_MAX_LINE;
    if (Buffer.byteLength(line) - 1 > limit) {
      return Promise.reject(Devsup.#refused(cmd, 'line_too_long',
        `the ${cmd.type} command is ${Buffer.byteLength(line) - 1} bytes, over devsup's --max-line of ${limit}`,
        'Send less (a smaller env), or spawn devsup with a larger maxLine.'));
    }
    if (this.#pending.has(key)) return Promise.reject(new Error(`a command with id ${key} is already pending`));
    if (this.exitInfo || !this.child.stdin.writable) {
      return Promise.reject(this.#exitedError(`before ${cmd.type} (id ${key}) could be sent`));
    }
    if (signal?.aborted) {
      return Promise.reject(Devsup.#refused(cmd, 'aborted', `${cmd.type} (id ${key}) was aborted before it was sent`,
        'The signal was already aborted.'));
    }
    return new Promise((resolve, reject) => {
      let timer = null;
      const giveUp = (reason, message, suggestion) => {
        if (this.#pending.get(key) !== entry) return;
        this.#pending.delete(key);
        entry.cleanup();
        reject(Devsup.#refused(cmd, reason, message, suggestion));
      };
      const onAbort = () => giveUp('aborted', `${cmd.type} (id ${key}) was aborted while waiting for its answer`,
        'devsup may still carry the command out: check with status.');
      const entry = {
        resolve, reject, cmd,
        cleanup: () => {
          if (timer) clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
        },
      };
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => giveUp('timeout', `no answer to ${cmd.type} (id ${key}) within ${timeoutMs} ms`,
          'devsup may still carry the command out: check with status, or wait longer.'), timeoutMs);
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#pending.set(key, entry);
      this.child.stdin.write(line);
    });
  }

  /** start-dev-server → the dev-server-started event. */
  start(options, call) {
    return this.send({ ...options, type: 'start-dev-server' }, call);
  }

  /** stop-dev-server → the dev-server-stopped event. */
  stop(projectId, { timeoutMs, reason } = {}, call) {
    const cmd = { type: 'stop-dev-server', projectId };
    if (timeoutMs !== undefined) cmd.timeoutMs = timeoutMs;
    if (reason !== undefined) cmd.reason = reason;
    return this.send(cmd, call);
  }

  /** restart-dev-server (the last start's fields merged with overrides) → dev-server-started. */
  restart(projectId, overrides = {}, call) {
    return this.send({ ...overrides, type: 'restart-dev-server', projectId }, call);
  }

  /** status → the projects array. */
  async status(projectId, call) {
    const cmd = { type: 'status' };
    if (projectId !== undefined) cmd.projectId = projectId;
    return (await this.send(cmd, call)).projects;
  }

  /** logs → the lines array ({stream, line, timestamp}, oldest first). */
  async logs(projectId, { lines } = {}, call) {
    const cmd = { type: 'logs', projectId };
    if (lines !== undefined) cmd.lines = lines;
    return (await this.send(cmd, call)).lines;
  }

  /** follow-logs: stream the project's output as 'log' events (or stop) → the following event. */
  followLogs(projectId, follow = true, call) {
    return this.send({ type: 'follow-logs', projectId, follow }, call);
  }

  /** ping → the pong event. */
  ping(call) {
    return this.send({ type: 'ping' }, call);
  }

  /** metrics → the metrics event. */
  metrics(call) {
    return this.send({ type: 'metrics' }, call);
  }

  /** shutdown: stop every project, then devsup exits; resolves with shutdown-complete once it has. */
  async shutdown({ timeoutMs } = {}, call) {
    const cmd = { type: 'shutdown' };
    if (timeoutMs !== undefined) cmd.timeoutMs = timeoutMs;
    const ev = await this.send(cmd, call);
    await this.exited;
    return ev;
  }

  /**
   * detach: devsup exits and leaves every project running, for a devsup spawned with the same
   * runner id within --adopt-timeout (docs/operations.md, zero-downtime deploys). Resolves with
   * shutdown-complete once devsup has exited.
   */
  async detach(call) {
    const ev = await this.send({ type: 'shutdown', detach: true }, call);
    await this.exited;
    return ev;
  }

  /** Projects taken over from a detached devsup of the same runner (`ready.adopted`). */
  get adopted() {
    return this.ready ? this.ready.adopted ?? 0 : 0;
  }

  /** End devsup's stdin: it stops every project and exits. Resolves with its exit code. */
  async close() {
    try { this.child.stdin.end(); } catch { /* already closed */ }
    return (await this.exited).code;
  }

  /** Send a signal to devsup. */
  kill(signal = 'SIGTERM') {
    try { return this.child.kill(signal); } catch { return false; }
  }

  /** Commands sent and not answered yet. */
  get pendingCount() {
    return this.#pending.size;
  }
}

export default Devsup;
