// A throwaway Postgres 15 for the persistence tests: its own data directory, reachable only
// through a unix socket in that directory (no TCP), fsync off. As root, initdb and pg_ctl run as
// the `postgres` system user (initdb refuses to run as root).
//
//   const pg = await startPostgres();          // initdb + start
//   const pg = preparePostgres();              // only the directory and the URL; pg.start() later
//   await pg.query('SELECT 1')                 // → [['1']] (rows of strings, NULL → null)
//   await pg.stop('immediate')                 // a crash; pg.start() brings it back, same data
//   await pg.terminateDevsup()                 // cut devsup's connections (application_name)
//   await pg.dispose()                         // stop (immediate) and remove the directory
import { execFile, execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const PG_BIN = process.env.DEVSUP_PG_BIN || '/usr/lib/postgresql/15/bin';
const INITDB = path.join(PG_BIN, 'initdb');
const PG_CTL = path.join(PG_BIN, 'pg_ctl');
// NULL in psql's CSV output is an empty field, as is ''; print NULL as this instead.
const NULL_MARK = '\x01N\x01';

const IS_ROOT = typeof process.getuid === 'function' && process.getuid() === 0;

function postgresUser() {
  let passwd = '';
  try { passwd = readFileSync('/etc/passwd', 'utf8'); } catch { /* no passwd */ }
  const line = passwd.split('\n').find((l) => l.startsWith('postgres:'));
  if (!line) return null;
  const f = line.split(':');
  return { uid: Number(f[2]), gid: Number(f[3]) };
}

function findOnPath(name) {
  for (const dir of (process.env.PATH || '').split(':')) {
    if (dir && existsSync(path.join(dir, name))) return path.join(dir, name);
  }
  return null;
}

function checkBinaries() {
  const missing = [INITDB, PG_CTL].filter((p) => !existsSync(p));
  if (!findOnPath('psql')) missing.push('psql (on PATH)');
  if (missing.length) {
    throw new Error(`Postgres 15 is not installed: missing ${missing.join(', ')}. ` +
      'Install it (Debian: apt-get install postgresql-15 postgresql-client-15) or point ' +
      'DEVSUP_PG_BIN at its bin directory; the persistence tests need a real server.');
  }
  if (IS_ROOT && !postgresUser()) {
    throw new Error('running as root but there is no `postgres` system user to run initdb/pg_ctl as');
  }
}

function run(file, args, { timeoutMs = 60000, asPostgres = false } = {}) {
  const [f, a] = asPostgres && IS_ROOT ? ['runuser', ['-u', 'postgres', '--', file, ...args]] : [file, args];
  return new Promise((resolve, reject) => {
    execFile(f, a, { timeout: timeoutMs, maxBuffer: 64 << 20, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) {
        err.message = `${f} ${a.join(' ')} failed: ${err.message}\n${stderr || ''}`;
        err.stdout = stdout;
        err.stderr = stderr;
        reject(err);
      } else resolve({ stdout, stderr });
    });
  });
}

/** Parse psql's --csv output (RFC 4180: quoted fields may hold commas, quotes and newlines). */
export function parseCsv(text) {
  const rows = [];
  let row = [];
  let field = '';
  let quoted = false; // the current field was quoted (so '' is a string, not NULL)
  let inQuotes = false;
  let any = false; // something seen on the current row
  const endField = () => {
    row.push(!quoted && field === NULL_MARK ? null : field);
    field = '';
    quoted = false;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inQuotes) {
      if (c === '"') {
        if (text[i + 1] === '"') { field += '"'; i++; } else inQuotes = false;
      } else field += c;
      continue;
    }
    if (c === '"') { inQuotes = true; quoted = true; any = true; } else if (c === ',') { endField(); any = true; } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      if (any || field.length) { endField(); rows.push(row); }
      row = [];
      any = false;
    } else { field += c; any = true; }
  }
  if (inQuotes) throw new Error(`unterminated quoted field in CSV: ${JSON.stringify(text.slice(-200))}`);
  if (any || field.length) { endField(); rows.push(row); }
  return rows;
}

const live = new Set();
process.on('exit', cleanupSync);
// Killed by the test runner (timeout) or Ctrl-C: clean up, then die of the same signal.
for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) {
  process.once(sig, () => {
    cleanupSync();
    process.kill(process.pid, sig);
  });
}

function cleanupSync() {
  // A test that died without its finally: never leave a postgres behind.
  for (const pg of [...live]) {
    live.delete(pg);
    try {
      const args = ['-D', pg.dataDir, '-m', 'immediate', '-w', 'stop'];
      if (IS_ROOT) execFileSync('runuser', ['-u', 'postgres', '--', PG_CTL, ...args], { stdio: 'ignore', timeout: 10000 });
      else execFileSync(PG_CTL, args, { stdio: 'ignore', timeout: 10000 });
    } catch { /* not running */ }
    try { rmSync(pg.dir, { recursive: true, force: true }); } catch { /* ignore */ }
  }
}

/**
 * A Postgres directory and its URL, not yet initialised nor started (for tests where devsup
 * starts before the database exists); `start()` runs initdb the first time.
 */
export function preparePostgres() {
  checkBinaries();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'devsup-pg-'));
  if (IS_ROOT) {
    const u = postgresUser();
    chownSync(dir, u.uid, u.gid);
  }
  const dataDir = path.join(dir, 'data');
  const logFile = path.join(dir, 'pg.log');
  const url = `postgresql:///postgres?host=${dir}&user=postgres`;
  let initialised = false;
  let running = false;
  let disposed = false;

  const pg = {
    url,
    dir,
    dataDir,
    logFile,
    get running() { return running; },

    /** The tail of the server log, for failure messages. */
    log(n = 40) {
      try { return readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-n).join('\n'); } catch { return '(no log)'; }
    },

    /** Rows of the result as arrays of strings (NULL → null); throws on any error. */
    async query(sql, { timeoutMs = 20000 } = {}) {
      const { stdout } = await run('psql', ['-X', '-A', '-t', '--csv', '-v', 'ON_ERROR_STOP=1',
        '-P', `null=${NULL_MARK}`, url, '-c', sql], { timeoutMs });
      return parseCsv(stdout);
    },

    /** initdb (first time only), then start on the same data directory and socket. */
    async start() {
      if (disposed) throw new Error('postgres already disposed');
      if (!initialised && !existsSync(path.join(dataDir, 'PG_VERSION'))) {
        await run(INITDB, ['-D', dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync'],
          { asPostgres: true, timeoutMs: 120000 });
      }
      initialised = true;
      live.add(pg);
      await run(PG_CTL, ['-D', dataDir, '-l', logFile, '-w', '-t', '60', '-o',
        `-c listen_addresses='' -c unix_socket_directories=${dir} -c fsync=off`, 'start'],
      { asPostgres: true, timeoutMs: 90000 }).catch((err) => {
        err.message += `\n--- postgres log ---\n${pg.log()}`;
        throw err;
      });
      running = true;
    },

    /** pg_ctl stop; mode 'immediate' is a crash (no shutdown checkpoint, backends killed). */
    async stop(mode = 'fast') {
      await run(PG_CTL, ['-D', dataDir, '-m', mode, '-w', '-t', '60', 'stop'], { asPostgres: true, timeoutMs: 90000 });
      running = false;
    },

    crash() { return pg.stop('immediate'); },

    /** Terminate every backend whose application_name is devsup; resolves with how many. */
    async terminateDevsup() {
      const rows = await pg.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'devsup'");
      return rows.filter((r) => r[0] === 't').length;
    },

    /** Stop (immediate) if it may be running, and remove the directory. */
    async dispose() {
      if (disposed) return;
      disposed = true;
      if (initialised && existsSync(path.join(dataDir, 'postmaster.pid'))) {
        try { await pg.stop('immediate'); } catch { /* not running */ }
      }
      running = false;
      live.delete(pg);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return pg;
}

/** A fresh, running Postgres (initdb + start). Call dispose() in a finally. */
export async function startPostgres() {
  const pg = preparePostgres();
  try {
    await pg.start();
  } catch (err) {
    await pg.dispose().catch(() => {});
    throw err;
  }
  return pg;
}

/** Run fn with a fresh, running Postgres; always disposed afterwards. */
export async function withPostgres(fn, { started = true } = {}) {
  const pg = started ? await startPostgres() : preparePostgres();
  try {
    return await fn(pg);
  } catch (err) {
    if (err && typeof err === 'object') {
      try { err.message += `\n--- postgres log (tail) ---\n${pg.log(20)}`; } catch { /* read-only */ }
    }
    throw err;
  } finally {
    await pg.dispose();
  }
}
