// Real dev-server apps for the end-to-end tests: templates in tests/fixtures/apps/<name>/ are
// copied to a cache directory keyed by a hash of their package.json and package-lock.json, and
// installed there with npm once. Later runs (and other test processes) reuse the installed copy.
//
//   ${DEVSUP_APP_CACHE || ~/.cache/devsup-e2e}/<name>-<hash>/
//
// An install is marked done by node_modules/.installed-ok, written only after npm succeeded.
// A mkdir lock (<dir>.lock, holding the owner's pid and start time) keeps two test processes from
// installing at once, and from running the same app at once (`next dev` refuses a second dev
// server in the same directory); a lock whose owner is dead is taken over.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FIXTURES, procStat, sleep } from './harness.mjs';

export const APP_TEMPLATES = path.join(FIXTURES, 'apps');
export const APP_CACHE = process.env.DEVSUP_APP_CACHE || path.join(os.homedir(), '.cache', 'devsup-e2e');
const MARKER = path.join('node_modules', '.installed-ok');

/** Hash of what decides the installed tree: package.json and package-lock.json (if any). */
function templateHash(tpl) {
  const h = createHash('sha256');
  for (const f of ['package.json', 'package-lock.json']) {
    const p = path.join(tpl, f);
    h.update(`${f}\0`);
    if (existsSync(p)) h.update(readFileSync(p));
    h.update('\0');
  }
  return h.digest('hex').slice(0, 16);
}

// ---------------------------------------------------------------------------------------------
// lock

const held = new Set();
process.on('exit', () => {
  for (const l of held) rmSync(l, { recursive: true, force: true });
});

function lockOwner(lock) {
  try {
    const [pid, starttime] = readFileSync(path.join(lock, 'owner'), 'utf8').trim().split(' ');
    return { pid: Number(pid), starttime };
  } catch {
    return null;
  }
}

/** True when the lock's owner is gone (its pid dead, or reused by another process). */
function ownerGone(owner) {
  const st = procStat(owner.pid);
  return !st || st.state === 'Z' || st.starttime !== owner.starttime;
}

async function acquire(lock, timeoutMs, what) {
  const me = `${process.pid} ${procStat(process.pid).starttime}\n`;
  const end = performance.now() + timeoutMs;
  let noOwnerSince = null;
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(path.join(lock, 'owner'), me);
      held.add(lock);
      return;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
    }
    const owner = lockOwner(lock);
    if (owner) {
      noOwnerSince = null;
      if (ownerGone(owner)) {
        process.stderr.write(`[apps] taking over ${lock}: its owner ${owner.pid} is gone\n`);
        rmSync(lock, { recursive: true, force: true });
        continue;
      }
    } else {
      // Between another process's mkdir and its write of `owner`; or it died right there.
      noOwnerSince ??= performance.now();
      if (performance.now() - noOwnerSince > 5000) {
        rmSync(lock, { recursive: true, force: true });
        continue;
      }
    }
    if (performance.now() > end) {
      throw new Error(`${what}: ${lock} is still held by pid ${owner?.pid ?? '?'} after ${timeoutMs} ms`);
    }
    await sleep(200);
  }
}

function release(lock) {
  held.delete(lock);
  rmSync(lock, { recursive: true, force: true });
}

// ---------------------------------------------------------------------------------------------
// install

function run(cmd, args, { cwd, env, timeoutMs }) {
  return new Promise((resolve) => {
    let out = '';
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const keep = (s) => { out += s; if (out.length > 200000) out = out.slice(-100000); };
    child.stdout.setEncoding('utf8').on('data', keep);
    child.stderr.setEncoding('utf8').on('data', keep);
    let timedOut = false;
    const t = setTimeout(() => {
      timedOut = true;
      try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
    }, timeoutMs);
    child.on('error', (err) => { clearTimeout(t); resolve({ error: err, out }); });
    child.on('close', (code, signal) => { clearTimeout(t); resolve({ code, signal, timedOut, out }); });
  });
}

function tail(s, n = 30) {
  return s.trimEnd().split('\n').filter((l) => !/^npm error +at /.test(l)).slice(-n).map((l) => `    ${l}`).join('\n');
}

/** Copy the template's files (not node_modules, not the build output) into dir. */
function syncTemplate(tpl, dir) {
  mkdirSync(dir, { recursive: true });
  for (const e of readdirSync(tpl)) {
    if (e === 'node_modules' || e === '.next') continue;
    cpSync(path.join(tpl, e), path.join(dir, e), { recursive: true, force: true });
  }
}

async function install(name, dir, timeoutMs) {
  const env = { ...process.env, npm_config_update_notifier: 'false' };
  // A NODE_ENV=production in the caller's environment would make npm skip devDependencies
  // (vite is one); --include=dev keeps them.
  const args = ['install', '--no-audit', '--no-fund', '--loglevel=error', '--include=dev', '--prefer-offline'];
  const t0 = performance.now();
  const r = await run('npm', args, { cwd: dir, env, timeoutMs });
  const ms = Math.round(performance.now() - t0);
  const registry = process.env.npm_config_registry || process.env.NPM_CONFIG_REGISTRY || 'the npm registry';
  if (r.error) {
    throw new Error(`cannot install the ${name} test app: running npm failed (${r.error.code || r.error.message}); ` +
      'the framework e2e tests need node and npm on PATH');
  }
  if (r.timedOut || r.code !== 0) {
    const how = r.timedOut ? `did not finish within ${timeoutMs} ms` : `failed (exit ${r.code ?? r.signal})`;
    throw new Error(`cannot install the ${name} test app: \`npm ${args.join(' ')}\` in ${dir} ${how} after ${ms} ms. ` +
      `These tests need ${registry} to be reachable the first time (the install is cached in ${APP_CACHE}; ` +
      `set DEVSUP_APP_CACHE to move it). npm said:\n${tail(r.out)}`);
  }
  return ms;
}

/**
 * Install the app `name` (a directory of tests/fixtures/apps) in the cache if needed, then run
 * fn({ dir, name, installed, installMs }) with the app locked for this process.
 */
export async function withApp(name, fn, { installTimeoutMs = 300000, lockTimeoutMs = 420000 } = {}) {
  const tpl = path.join(APP_TEMPLATES, name);
  if (!existsSync(path.join(tpl, 'package.json'))) throw new Error(`no app template ${tpl}`);
  mkdirSync(APP_CACHE, { recursive: true });
  const dir = path.join(APP_CACHE, `${name}-${templateHash(tpl)}`);
  const lock = `${dir}.lock`;
  await acquire(lock, lockTimeoutMs, `the ${name} test app`);
  try {
    syncTemplate(tpl, dir);
    let installMs = null;
    const installed = !existsSync(path.join(dir, MARKER));
    if (installed) {
      installMs = await install(name, dir, installTimeoutMs);
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
      const versions = {};
      for (const dep of Object.keys({ ...pkg.dependencies, ...pkg.devDependencies })) {
        try {
          versions[dep] = JSON.parse(readFileSync(path.join(dir, 'node_modules', dep, 'package.json'), 'utf8')).version;
        } catch {
          throw new Error(`npm install of the ${name} test app succeeded but node_modules/${dep} is missing in ${dir}`);
        }
      }
      writeFileSync(path.join(dir, MARKER), JSON.stringify({ at: new Date().toISOString(), installMs, versions }) + '\n');
    }
    return await fn({ dir, name, installed, installMs });
  } finally {
    release(lock);
  }
}
