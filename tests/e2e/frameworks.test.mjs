// Real frameworks through devsup: a Vite 8 app and a Next.js 16 app (tests/fixtures/apps/), installed
// with npm once into a cache (lib/apps.mjs), each started with `npm run dev` and the port on the
// command line, framework auto-detected, served over HTTP, then stopped with nothing of theirs
// left alive (npm → sh → node → next-server / esbuild) and the port free.
//
// The first run needs the npm registry (about 20 s of installs); without it these tests fail with
// npm's message. DEVSUP_APP_CACHE moves the cache (default ~/.cache/devsup-e2e).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readlinkSync } from 'node:fs';
import net from 'node:net';
import {
  withDevsup, projectId, projectPids, runnerPids, procStat, procCmdline, describePids, httpGet, pollUntil,
  sleep,
} from './lib/harness.mjs';
import { startOk, stopOk, expectType, assertStateChain } from './lib/dev.mjs';
import { withApp } from './lib/apps.mjs';

// Up to 5 minutes for a cold npm install, then the run itself.
const T = { timeout: 420000 };

/** Processes of a project right now: pid, start time (to tell a reused pid), comm and argv. */
function snapshot(id, into) {
  for (const pid of projectPids(id)) {
    const st = procStat(pid);
    if (!st) continue;
    const key = `${pid}/${st.starttime}`;
    if (into.has(key)) continue;
    into.set(key, { pid, starttime: st.starttime, comm: st.comm, cmdline: (procCmdline(pid) || []).join(' ') });
  }
  return into;
}

const fmt = (procs) => [...procs.values()].map((p) => `${p.pid} [${p.comm}] ${p.cmdline}`).join('\n    ');

/** Recorded processes that are still alive: same pid, same start time, not a zombie. */
function survivors(procs) {
  return [...procs.values()].filter((p) => {
    const st = procStat(p.pid);
    return st && st.starttime === p.starttime && st.state !== 'Z' && st.state !== 'X';
  });
}

/** Live processes whose cwd is inside dir or whose argv names it (found without DEVSUP_* env). */
function processesOfDir(dir) {
  const out = [];
  for (const n of readdirSync('/proc')) {
    if (!/^\d+$/.test(n)) continue;
    const pid = Number(n);
    if (pid === process.pid) continue;
    let cwd = '';
    try { cwd = readlinkSync(`/proc/${pid}/cwd`); } catch { continue; }
    const argv = (procCmdline(pid) || []).join(' ');
    if (cwd === dir || cwd.startsWith(dir + '/') || argv.includes(dir + '/')) {
      const st = procStat(pid);
      if (st && st.state !== 'Z') out.push(pid);
    }
  }
  return out;
}

/** Bind the port on the IPv6 wildcard (dual stack), then on each loopback: all must succeed. */
async function assertPortFree(port, what) {
  for (const host of ['::', '127.0.0.1', '::1']) {
    await new Promise((resolve, reject) => {
      const s = net.createServer();
      s.once('error', (err) => reject(new Error(`${what}: port ${port} is not free on [${host}]: ${err.code || err.message}`)));
      s.listen({ port, host, exclusive: true }, () => s.close(resolve));
    });
  }
}

/** GET url until it answers 200 (Next compiles the page on the first request) or timeoutMs passes. */
async function get200(url, timeoutMs) {
  const end = performance.now() + timeoutMs;
  let last;
  while (performance.now() < end) {
    try {
      last = await httpGet(url, { timeoutMs: Math.max(1000, end - performance.now()) });
      if (last.status === 200) return last;
    } catch (err) {
      last = err;
    }
    await sleep(250);
  }
  assert.fail(`GET ${url} did not answer 200 within ${timeoutMs} ms; last: ${last instanceof Error ? last.message : `${last?.status} ${String(last?.body).slice(0, 500)}`}`);
}

/** On failure, add the dev server's own output (devsup's `logs`) to the error. */
async function withServerLogs(d, id, fn) {
  try {
    return await fn();
  } catch (err) {
    try {
      const l = await d.request({ type: 'logs', projectId: id, lines: 60 }, 5000);
      if (l.type === 'logs' && err && typeof err === 'object') {
        err.message += `\n--- output of ${id} (devsup logs) ---\n${l.lines.map((x) => `  ${x.stream}: ${x.line}`).join('\n')}`;
      }
    } catch { /* devsup gone: the harness adds its stderr */ }
    throw err;
  }
}

/**
 * Start app through devsup with `npm run dev -- <portArgs>`, check it, stop it, check nothing is left.
 * expect: { framework, body (text in the page), portFlag, procs (name → predicate over recorded processes) }
 */
async function runApp(t, appName, { portArgs, env, healthTimeoutMs, framework, body, portFlag, procs, extraGets = [] }) {
  await withApp(appName, async (app) => {
    t.diagnostic(app.installed
      ? `${appName}: installed in ${app.dir} in ${app.installMs} ms`
      : `${appName}: cached in ${app.dir}`);
    await withDevsup({}, async (d) => {
      const id = projectId(appName);
      const recorded = new Map();
      await withServerLogs(d, id, async () => {
        const started = await startOk(d, {
          projectId: id,
          command: ['npm', 'run', 'dev', '--', ...portArgs],
          cwd: app.dir,
          env: { npm_config_update_notifier: 'false', ...env },
          healthCheck: { timeoutMs: healthTimeoutMs },
        }, healthTimeoutMs + 20000);
        snapshot(id, recorded);
        t.diagnostic(`${appName}: started on port ${started.port} in ${started.startupMs} ms`);

        assert.equal(started.projectId, id);
        assert.equal(started.framework, framework, `framework auto-detection: ${JSON.stringify(started)}`);
        assert.ok(Number.isInteger(started.port) && started.port > 0, `port in ${JSON.stringify(started)}`);
        assert.ok(started.port >= d.portRange[0] && started.port <= d.portRange[1],
          `port ${started.port} outside devsup's range ${d.portRange.join('-')}`);
        assert.equal(started.url, `http://localhost:${started.port}`);
        assert.equal(typeof started.startupMs, 'number', `startupMs in ${JSON.stringify(started)}`);
        assert.ok(started.startupMs >= 0 && started.startupMs <= healthTimeoutMs, `startupMs ${started.startupMs}`);
        assert.ok(Number.isInteger(started.pid) && started.pid > 1, `pid in ${JSON.stringify(started)}`);
        assert.equal(started.pgid, started.pid, 'the dev server must lead its own process group');

        // The url answers with the app's page.
        const res = await get200(started.url, healthTimeoutMs);
        assert.ok(res.body.includes(body), `GET ${started.url} is not the ${appName} app's page: ${res.body.slice(0, 500)}`);
        for (const p of extraGets) {
          const r = await get200(`${started.url}${p}`, 20000);
          assert.equal(r.status, 200);
        }

        // status: running on that port.
        const st = expectType(await d.request({ type: 'status', projectId: id }), 'status');
        const row = (st.projects || []).find((p) => p.projectId === id);
        assert.ok(row, `status does not list ${id}: ${JSON.stringify(st)}`);
        assert.equal(row.state, 'running', `status row ${JSON.stringify(row)}`);
        assert.equal(row.port, started.port, `status row ${JSON.stringify(row)}`);
        assert.equal(row.url, started.url, `status row ${JSON.stringify(row)}`);
        assert.equal(row.pid, started.pid, `status row ${JSON.stringify(row)}`);

        // The tree: npm → sh → node … (next-server, esbuild), the port passed on the command line.
        // Next forks its worker right after it starts: give the snapshot a moment to see it.
        await pollUntil(() => {
          snapshot(id, recorded);
          return Object.values(procs).every((pred) => [...recorded.values()].some(pred));
        }, 5000, 100);
        const all = [...recorded.values()];
        assert.ok(all.length >= 3, `expected npm → sh → node at least, saw:\n    ${fmt(recorded)}`);
        assert.ok(all.some((p) => p.pid === started.pid && /npm/.test(p.comm + ' ' + p.cmdline)),
          `the started pid ${started.pid} is not npm:\n    ${fmt(recorded)}`);
        for (const [what, pred] of Object.entries(procs)) {
          assert.ok(all.some(pred), `no ${what} process in the project's tree:\n    ${fmt(recorded)}`);
        }
        const re = new RegExp(`(^| )${portFlag} ${started.port}( |$)`);
        assert.ok(all.some((p) => /node/.test(p.comm) && re.test(p.cmdline)),
          `no node process got "${portFlag} ${started.port}" on its command line:\n    ${fmt(recorded)}`);
        for (const p of all) t.diagnostic(`${appName}: tree: ${p.pid} [${p.comm}] ${p.cmdline}`);

        // Stop: at the moment dev-server-stopped arrives, nothing of the app is alive, the port is free.
        snapshot(id, recorded);
        const stopped = await stopOk(d, id, {}, 30000);
        const leftEnv = projectPids(id);
        const leftRecorded = survivors(recorded);
        const leftDir = processesOfDir(app.dir);
        const leftRunner = runnerPids(d.runnerId);
        await assertPortFree(started.port, `at dev-server-stopped of ${appName}`);
        assert.deepEqual(leftEnv, [], `processes with DEVSUP_PROJECT_ID=${id} alive at dev-server-stopped:\n    ${describePids(leftEnv)}`);
        assert.deepEqual(leftRecorded, [], `recorded processes of ${appName} alive at dev-server-stopped:\n    ${fmt(new Map(leftRecorded.map((p) => [p.pid, p])))}`);
        assert.deepEqual(leftDir, [], `processes running in ${app.dir} alive at dev-server-stopped:\n    ${describePids(leftDir)}`);
        assert.deepEqual(leftRunner, [], `processes of runner ${d.runnerId} alive at dev-server-stopped:\n    ${describePids(leftRunner)}`);

        assert.equal(stopped.projectId, id);
        assert.equal(stopped.forced, false, `the ${appName} dev server needed SIGKILL: ${JSON.stringify(stopped)}`);
        assert.equal(typeof stopped.durationMs, 'number');
        t.diagnostic(`${appName}: stopped in ${stopped.durationMs} ms (${stopped.signal || `exit ${stopped.exitCode}`})`);
        await assert.rejects(httpGet(started.url, { timeoutMs: 1000 }), `${started.url} still answers after dev-server-stopped`);
        assertStateChain(d, id, ['starting', 'running', 'stopping', 'stopped']);
      });
    });
  });
}

const has = (re) => (p) => re.test(`${p.comm} ${p.cmdline}`);

test('Vite 8 app: npm run dev -- --port {port} → framework vite, HTTP 200, nothing left after stop', T, (t) =>
  runApp(t, 'vite', {
    portArgs: ['--port', '{port}'],
    env: {},
    healthTimeoutMs: 30000,
    framework: 'vite',
    body: 'devsup-e2e-vite',
    portFlag: '--port',
    extraGets: ['/main.js'],
    procs: {
      // npm run dev → sh -c vite → node …/node_modules/.bin/vite (esbuild, if Vite starts it, is
      // recorded and checked like every other process of the tree).
      vite: (p) => /node/.test(p.comm) && /node_modules\/\.bin\/vite|\/vite\/bin\/vite/.test(p.cmdline),
      sh: (p) => /^(sh|bash|dash)$/.test(p.comm),
    },
  }));

test('Next.js 16 app: npm run dev -- -p {port} → framework next, HTTP 200, nothing left after stop', T, (t) =>
  runApp(t, 'next', {
    portArgs: ['-p', '{port}'],
    env: { NEXT_TELEMETRY_DISABLED: '1' },
    healthTimeoutMs: 60000,
    framework: 'next',
    body: 'devsup-e2e-next',
    portFlag: '-p',
    procs: {
      next: (p) => /node/.test(p.comm) && /node_modules\/\.bin\/next|\/next\/dist\/bin\/next/.test(p.cmdline),
      'next-server': has(/next-server/),
      sh: (p) => /^(sh|bash|dash)$/.test(p.comm),
    },
  }));
