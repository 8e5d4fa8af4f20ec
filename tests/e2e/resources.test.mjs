// Resources per project (SPEC §9, issue 16): usage in status, containment in a cgroup where
// devsup may create one (root here, as in CI), the /proc walk elsewhere, and memory limits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import http from 'node:http';
import path from 'node:path';
import {
  withDevsup, FIXTURES, SERVER, NODE, DEVSUP_BIN, projectId, projectPids, describePids, pollUntil, sleep, HEAVY,
} from './lib/harness.mjs';
import { startOk, stopOk, start, expectError, expectType, assertNothingAlive } from './lib/dev.mjs';
import { MOUNT, ownCgroup, NO_CGROUP, cgroupOf } from './lib/cgroup.mjs';

const T = { timeout: 90000 };
const HOG = path.join(FIXTURES, 'resources.mjs');
const MB = 1024 * 1024;
const hog = (...extra) => [NODE, HOG, ...extra];

/** Resident bytes and CPU ms of processes, as /proc says. */
function procUsage(pids) {
  const page = 4096;
  const hz = 100;
  let rss = 0, cpu = 0;
  for (const pid of pids) {
    try {
      rss += Number(readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]) * page;
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      cpu += ((Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) * 1000) / hz;
    } catch { /* gone */ }
  }
  return { rss, cpu };
}

const get = (port, p) => new Promise((resolve, reject) => {
  http.get({ host: '127.0.0.1', port, path: p }, (res) => { res.resume(); res.on('end', resolve); }).on('error', reject);
});

const usageOf = async (d, id) => {
  const st = await d.request({ type: 'status', projectId: id });
  return st.projects[0];
};

for (const mode of ['cgroup', 'proc']) {
  const args = mode === 'proc' ? ['--no-cgroup'] : [];
  const skip = mode === 'cgroup' ? NO_CGROUP : false;

  test(`usage (${mode}): a server burning a second of CPU and holding 100 MB, in a 3-process chain`, { ...T, skip }, () =>
    withDevsup({ args }, async (d) => {
      assert.equal(d.ready.containment, mode);
      const id = projectId('usage');
      const started = await startOk(d, { projectId: id, command: hog('--chain', '3', '--hold', '100') });
      // wait until the 100 MB are held (the status before the burn is the baseline)
      await pollUntil(() => procUsage(projectPids(id)).rss > 100 * MB, 10000);
      const before = await usageOf(d, id);
      assert.equal(before.containment, mode);
      assert.equal(before.usage.processes, 3, `npm-like chain of 3: ${JSON.stringify(before)}\n${describePids(projectPids(id))}`);
      const t0 = performance.now();
      await get(started.port, '/burn?ms=1000');
      const after = await usageOf(d, id);
      const wall = performance.now() - t0;
      const proc = procUsage(projectPids(id));
      const u = after.usage;
      // RSS: at least the 100 MB held, and what /proc says of the same processes (±25%)
      assert.ok(u.rssBytes >= 100 * MB, `rssBytes ${u.rssBytes} < 100 MB`);
      assert.ok(Math.abs(u.rssBytes - proc.rss) <= proc.rss * 0.25,
        `rssBytes ${u.rssBytes} vs /proc ${proc.rss}`);
      // CPU: the burn is a second of CPU time, whatever the machine's load
      const spent = u.cpuMs - before.usage.cpuMs;
      assert.ok(spent >= 900 && spent <= 2500, `cpuMs grew by ${spent} over the burn`);
      assert.ok(u.cpuMs <= proc.cpu + 200 && u.cpuMs >= proc.cpu * 0.7,
        `cpuMs ${u.cpuMs} vs /proc ${proc.cpu}`);
      // cpuPercent is over the interval since the previous status: ~ spent / wall
      const expected = (spent * 100) / wall;
      assert.ok(Math.abs(u.cpuPercent - expected) <= Math.max(15, expected * 0.3),
        `cpuPercent ${u.cpuPercent}, expected about ${expected.toFixed(1)} (${spent} ms in ${wall.toFixed(0)} ms)`);
      // one core at most (the burn is single-threaded); how much less depends on the machine's load
      assert.ok(u.cpuPercent > 5 && u.cpuPercent <= 130, `cpuPercent ${u.cpuPercent}`);
      // and an idle interval reads idle
      await sleep(600);
      const idle = await usageOf(d, id);
      assert.ok(idle.usage.cpuPercent < 25, `idle cpuPercent ${idle.usage.cpuPercent}`);
      const m = await d.request({ type: 'metrics' });
      assert.equal(m.usage.containment, mode);
      assert.equal(m.usage.processes, 3);
      assert.ok(m.usage.rssBytes >= 100 * MB);
      await stopOk(d, id);
      assertNothingAlive(id);
      const gone = await usageOf(d, id);
      assert.equal(gone.usage, null, 'a stopped project costs nothing');
    }));

  test(`fork storm (${mode}): a server forking short-lived and setsid children while ignoring SIGTERM leaves nothing`, { ...T, skip: skip || HEAVY }, () =>
    withDevsup({ args }, async (d) => {
      const id = projectId('storm');
      // the /proc walk reads the whole tree on every pass (one every 20 ms at most): a smaller
      // storm there keeps the test short (tests/bench/resources.mjs measures both at one size)
      const forks = mode === 'cgroup' ? 2000 : 1000;
      const storm = `trap '' TERM; ${NODE} ${SERVER} --port {port} --ignore-sigterm & sleep 0.5; ` +
        `i=0; while [ $i -lt ${forks} ]; do sleep 0.05 & setsid sleep 5 & i=$((i+1)); done; wait`;
      // a loaded machine (CI runs two files at once) may take a while to start node mid-storm
      await startOk(d, { projectId: id, command: storm, stopTimeoutMs: 800, healthCheck: { timeoutMs: 60000 } }, 90000);
      await pollUntil(() => projectPids(id).length > 200, 10000);
      const stopped = await stopOk(d, id, {}, 60000);
      assert.equal(stopped.forced, true, 'everything ignored SIGTERM: SIGKILL was needed');
      // a busy machine may make the reaper miss its deadline (stop timeout + 2 s) while it reaps
      // thousands: the master then kills the tree by structure, and the escapee count is lost
      if (!/did not end within the stop timeout/.test(d.stderr)) {
        assert.ok(stopped.escaped > 0, `setsid children counted as escaped: ${JSON.stringify(stopped)}`);
      }
      assertNothingAlive(id, 'after the fork storm');
    }));
}

test('containment cgroup: every process of the project (setsid escapees too) is in its cgroup, which teardown empties and removes', { ...T, skip: NO_CGROUP }, () =>
  withDevsup({}, async (d) => {
    assert.equal(d.ready.containment, 'cgroup');
    const id = projectId('cg');
    await startOk(d, { projectId: id, command: [NODE, SERVER, '--port', '{port}', '--children', '2', '--daemon'] });
    await pollUntil(() => projectPids(id).length >= 4, 10000);
    const pids = projectPids(id);
    const own = ownCgroup() === '/' ? '' : ownCgroup();
    const group = `${own}/devsup.${d.runnerId}/${id}`;
    for (const pid of pids) assert.equal(cgroupOf(pid), group, `pid ${pid} is in ${cgroupOf(pid)}, not ${group}`);
    const sessions = new Set(pids.map((p) => readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1].split(' ')[3]));
    assert.ok(sessions.size >= 2, 'the --daemon sleeper left the session (setsid) and is still in the group');
    const st = await usageOf(d, id);
    assert.equal(st.containment, 'cgroup');
    assert.equal(st.usage.processes, pids.length);
    const dir = path.join(MOUNT, group);
    assert.ok(existsSync(dir));
    await stopOk(d, id);
    assertNothingAlive(id);
    assert.equal(existsSync(dir), false, `${dir} removed after the stop`);
  }));

test('containment cgroup: a master killed with SIGKILL leaves no process and no cgroup directory behind', { ...T, skip: NO_CGROUP }, () =>
  withDevsup({}, async (d) => {
    const id = projectId('cg-lost');
    await startOk(d, { projectId: id, command: [NODE, SERVER, '--port', '{port}', '--daemon'], stopTimeoutMs: 1000 });
    const own = ownCgroup() === '/' ? '' : ownCgroup();
    const runnerDir = path.join(MOUNT, `${own}/devsup.${d.runnerId}`);
    assert.ok(existsSync(path.join(runnerDir, id)));
    d.kill('SIGKILL');
    await d.exited;
    // the reaper sees EOF, tears the tree down, and the last one out removes the directories
    assert.ok(await pollUntil(() => projectPids(id).length === 0 && !existsSync(runnerDir), 10000),
      `left: ${describePids(projectPids(id))}, ${runnerDir} exists: ${existsSync(runnerDir)}`);
  }));

test('containment proc with --no-cgroup: no cgroup is created and teardown still leaves nothing', T, () =>
  withDevsup({ args: ['--no-cgroup'] }, async (d) => {
    assert.equal(d.ready.containment, 'proc');
    const id = projectId('proc');
    await startOk(d, { projectId: id, command: [NODE, SERVER, '--port', '{port}', '--children', '2', '--daemon'] });
    await pollUntil(() => projectPids(id).length >= 4, 10000);
    for (const pid of projectPids(id)) assert.ok(!cgroupOf(pid).includes('devsup.'), `pid ${pid} in ${cgroupOf(pid)}`);
    if (MOUNT) assert.equal(existsSync(path.join(MOUNT, `devsup.${d.runnerId}`)), false);
    const st = await usageOf(d, id);
    assert.equal(st.containment, 'proc');
    assert.ok(st.usage.processes >= 4, JSON.stringify(st.usage));
    const stopped = await stopOk(d, id);
    assert.ok(stopped.escaped >= 1, 'the setsid sleeper was found by the /proc walk');
    assertNothingAlive(id);
  }));

const haveSetpriv = (() => { try { return readFileSync('/usr/bin/setpriv').length > 0; } catch { return false; } })();
test('containment proc where the cgroup cannot be created: devsup as an unprivileged user without delegation', { ...T, skip: (process.getuid() !== 0 || !haveSetpriv) && 'needs root (to become nobody) and setpriv' }, async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'devsup-nobody-'));
  chmodSync(dir, 0o755);
  const bin = path.join(dir, 'devsup-as-nobody');
  writeFileSync(bin, `#!/bin/sh\nexec setpriv --reuid 65534 --regid 65534 --clear-groups ${DEVSUP_BIN} "$@"\n`);
  chmodSync(bin, 0o755);
  // a state dir of its own (the runner lock refuses one that belongs to another user)
  const stateDir = path.join(dir, 'state');
  mkdirSync(stateDir, { mode: 0o700 });
  chownSync(stateDir, 65534, 65534);
  try {
    await withDevsup({ bin, env: { HOME: dir }, args: ['--state-dir', stateDir] }, async (d) => {
      assert.equal(d.ready.containment, 'proc');
      // the log line saying why (stderr may come a moment after the ready event)
      await pollUntil(() => /containment: \/proc/.test(d.stderr), 3000);
      assert.match(d.stderr, /containment: \/proc \(.*not writable/);
      const id = projectId('nobody');
      await startOk(d, { projectId: id, command: [NODE, SERVER, '--port', '{port}', '--daemon'], cwd: FIXTURES });
      await pollUntil(() => projectPids(id).length >= 3, 10000);
      const st = await usageOf(d, id);
      assert.equal(st.containment, 'proc');
      assert.ok(st.usage.processes >= 2 && st.usage.rssBytes > 0, JSON.stringify(st.usage));
      const stopped = await stopOk(d, id);
      assert.ok(stopped.escaped >= 1);
      assertNothingAlive(id);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('memory_limit: a server growing to 300 MB under a 100 MB limit is stopped and reported; one under its limit runs on', T, () =>
  withDevsup({}, async (d) => {
    const big = projectId('grow');
    const small = projectId('small');
    await startOk(d, { projectId: small, command: hog('--hold', '20'), limits: { memoryBytes: 400 * MB } });
    await startOk(d, { projectId: big, command: hog('--grow-to', '300'), limits: { memoryBytes: 100 * MB } });
    const exited = expectType(await d.next((e) => e.type === 'dev-server-exited' && e.projectId === big, 20000),
      'dev-server-exited');
    assert.equal(exited.reason, 'memory_limit');
    assert.match(exited.message, /100\.0 MiB/, `the limit in the message: ${exited.message}`);
    assert.match(exited.message, /used (at least )?\d+(\.\d)? MiB/, `the peak in the message: ${exited.message}`);
    const peak = Number(exited.message.match(/used (?:at least )?(\d+(?:\.\d)?) MiB/)[1]);
    // sampled RSS is over the limit; memory.peak (memory controller) is at most the limit
    assert.ok(peak >= 95, `peak ${peak} MiB at the limit or over it`);
    assertNothingAlive(big, 'after memory_limit');
    const st = await usageOf(d, big);
    assert.equal(st.state, 'failed');
    // the one under its limit is untouched
    await sleep(1500);
    const s2 = await usageOf(d, small);
    assert.equal(s2.state, 'running');
    assert.ok(projectPids(small).length > 0);
    await stopOk(d, small);
  }));

test('memory_limit during the start: the start answers error memory_limit', T, () =>
  withDevsup({}, async (d) => {
    const id = projectId('grow-start');
    // grows before it listens: node allocating 300 MB, then the server never gets there
    const cmd = [NODE, '-e', 'const a=[];setInterval(()=>{a.push(Buffer.alloc(10*1024*1024,1))},50)'];
    const ev = await start(d, { projectId: id, command: cmd, limits: { memoryBytes: 100 * MB } });
    expectError(ev, 'memory_limit', 'start over its limit');
    assert.match(ev.error, /limits\.memoryBytes 104857600/);
    assertNothingAlive(id);
  }));

test('limits are validated: bad values are invalid_command naming the field, and start nothing', T, () =>
  withDevsup({}, async (d) => {
    const bad = [
      [{ memoryBytes: 0 }, 'limits.memoryBytes'],
      [{ memoryBytes: -5 }, 'limits.memoryBytes'],
      [{ memoryBytes: '512M' }, 'limits.memoryBytes'],
      [{ memoryBytes: 1.5 }, 'limits.memoryBytes'],
      [{ memory: 100 }, 'limits.memory'],
      ['512M', 'limits'],
    ];
    for (const [limits, field] of bad) {
      const id = projectId('badlim');
      const ev = await start(d, { projectId: id, command: hog(), limits });
      expectError(ev, 'invalid_command', JSON.stringify(limits));
      assert.ok(ev.error.includes(`'${field}`), `${ev.error} names ${field}`);
      assert.deepEqual(projectPids(id), []);
    }
  }));
