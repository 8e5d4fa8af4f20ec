// Where hand-over (SPEC §11) meets containment (§9): an adopted project keeps its containment
// and its usage, and an adopted reaper that dies takes its whole tree with it, found by
// structure (its cgroup; its children recorded at adoption, their groups and subtrees), not by
// the DEVSUP_ markers a daemon can drop. Also: a reaper of another control-channel version is
// refused, seen from outside (a stand-in reaper, since this build has only one version).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import {
  spawnDevsup, projectId, runnerId, serverCmd, projectPids, isAlive, pollUntil,
  procCmdline, procStat, describePids, withTimeout, testStateDir,
} from './lib/harness.mjs';
import { startOk, expectType, escapeeOf } from './lib/dev.mjs';
import { NO_CGROUP, runnerCgroupDir } from './lib/cgroup.mjs';

const T = { timeout: 90000 };

async function detach(d) {
  expectType(await d.request({ type: 'shutdown', detach: true }), 'shutdown-complete', 'detach');
  const info = await withTimeout(d.exited, 15000, `exit after detach${d.context()}`);
  assert.equal(info.code, 0);
}

const statusOf = async (d, id) => (await d.request({ type: 'status', projectId: id })).projects[0];


/** d1 of a fresh runner id, and successor() spawning the adopter; all disposed of at the end. */
async function withRunner(extraArgs, fn) {
  const rid = runnerId();
  const args = ['--runner-id', rid, ...extraArgs];
  const d1 = await spawnDevsup({ args });
  const later = [];
  const successor = async (more = []) => {
    const d = await spawnDevsup({ args: [...args, ...more, '--port-range', d1.portRange.join('-')] });
    later.push(d);
    return d;
  };
  try {
    await fn({ d1, successor, rid });
  } finally {
    for (const d of later) await d.dispose();
    await d1.dispose();
  }
}

for (const mode of ['cgroup', 'proc']) {
  const args = mode === 'proc' ? ['--no-cgroup'] : [];
  const skip = mode === 'cgroup' ? NO_CGROUP : false;

  // The project keeps the containment it was started with, whatever the adopter's own: a
  // cgroup project adopted by a devsup run with --no-cgroup is still measured from its group.
  const adopterArgs = mode === 'cgroup' ? ['--no-cgroup'] : [];
  test(`adopted (${mode}${adopterArgs.length ? ', by a devsup run with --no-cgroup' : ''}): status keeps its containment, and usage cpuMs does not go backwards`, { ...T, skip }, () =>
    withRunner(args, async ({ d1, successor, rid }) => {
      const id = projectId('hocont');
      await startOk(d1, { projectId: id, command: serverCmd('--children', '2') }, 60000);
      const before = await statusOf(d1, id);
      assert.equal(before.containment, mode);
      await detach(d1);
      const d2 = await successor(adopterArgs);
      assert.equal(d2.ready.adopted, 1);
      const asked = Date.now();
      const after = await statusOf(d2, id);
      // cpuPercent "since start" means since the server started, not since it was adopted
      const bound = (after.usage.cpuMs * 100) / Math.max(1, asked - Date.parse(after.startedAt));
      assert.ok(after.usage.cpuPercent <= bound * 1.2 + 1,
        `cpuPercent ${after.usage.cpuPercent}: more than cpuMs over the server's life (${bound.toFixed(1)})`);
      assert.equal(after.containment, before.containment, `containment after adoption: ${JSON.stringify(after)}`);
      assert.ok(after.usage.cpuMs >= before.usage.cpuMs,
        `cpuMs went backwards: ${before.usage.cpuMs} before the hand-over, ${after.usage.cpuMs} after`);
      assert.equal(after.usage.processes, before.usage.processes, 'the same tree is measured');
      if (mode === 'cgroup') {
        assert.ok(existsSync(path.join(runnerCgroupDir(rid), id)), 'the group is still there');
        // the adopter stops it on its way out, and leaves no directory of the runner behind,
        // though it did not use cgroups itself
        await d2.close();
        assert.equal(existsSync(runnerCgroupDir(rid)), false, `${runnerCgroupDir(rid)} removed at exit`);
      }
    }));

  test(`adopted reaper SIGKILLed (${mode}): reaper_lost, and its tree (a marker-less setsid escapee too) is killed by structure`, { ...T, skip }, () =>
    withRunner(args, async ({ d1, successor, rid }) => {
      const id = projectId('hoseam');
      const s = await startOk(d1, { projectId: id, command: serverCmd('--escapee', '--children', '1'), stopTimeoutMs: 1000 }, 60000);
      const escapee = await escapeeOf(d1, id);
      const pids = [...projectPids(id), escapee];
      await detach(d1);
      const d2 = await successor();
      assert.equal(d2.ready.adopted, 1);
      const reaper = procStat(s.pid).ppid; // the server's parent (under valgrind too)
      assert.ok(reaper > 1 && (procCmdline(reaper) || []).join(' ').includes('devsup-reaper'), 'the adopted reaper');
      process.kill(reaper, 'SIGKILL');
      const ex = await d2.next((e) => e.type === 'dev-server-exited' && e.projectId === id, 10000);
      assert.equal(ex.reason, 'reaper_lost');
      assert.deepEqual(d2.states(id).map((e) => [e.from, e.to, e.reason]), [['running', 'failed', 'reaper_lost']]);
      // reaper_lost is reported once the tree is gone: nothing is left by then
      const alive = pids.filter(isAlive);
      assert.deepEqual(alive, [], `still alive after reaper_lost: ${describePids(alive)}`);
      assert.ok(!isAlive(s.pid));
      const st = await statusOf(d2, id);
      assert.equal(st.state, 'failed');
      assert.equal(st.lastFailure.reason, 'reaper_lost');
      if (mode === 'cgroup') {
        const dir = path.join(runnerCgroupDir(rid), id);
        assert.ok(await pollUntil(() => !existsSync(dir), 3000), `${dir} removed`);
      }
    }));
}

const HAVE_PYTHON = spawnSync('python3', ['-c', 'import socket; socket.SOCK_SEQPACKET']).status === 0;

/* A stand-in for a detached reaper of another release: listens where detached reapers listen
 * and says hello with its own control-channel version; prints "eof" when the master lets go. */
const OLD_REAPER = `
import json, os, socket, sys
os.chdir(sys.argv[1])
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
name = '%d.sock' % os.getpid()
s.bind(name)
s.listen(1)
print('listening', flush=True)
c, _ = s.accept()
os.unlink(name)
c.sendall(json.dumps({'type': 'hello', 'version': int(sys.argv[2]), 'projectId': sys.argv[3],
    'phase': 'running', 'state': {'state': 'running', 'seq': 1, 'port': 1}, 'pid': os.getpid(),
    'pgid': os.getpid(), 'port': 1, 'pending': 0}).encode())
c.settimeout(20)
print('eof' if c.recv(65536) == b'' else 'not let go', flush=True)
`;

test('a detached reaper of another control-channel version is refused: not adopted, let go, said why', { ...T, skip: !HAVE_PYTHON && 'needs python3 (SOCK_SEQPACKET)' }, async () => {
  const rid = runnerId();
  const dir = path.join(testStateDir(), `${rid}.adopt`);
  mkdirSync(dir, { mode: 0o700 });
  const id = projectId('hoold');
  const fake = spawn('python3', ['-c', OLD_REAPER, dir, '2', id], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  fake.stdout.on('data', (b) => { out += b; });
  const ended = new Promise((resolve) => fake.on('exit', resolve));
  try {
    assert.ok(await pollUntil(() => out.includes('listening'), 10000), 'the stand-in listens');
    const d = await spawnDevsup({ args: ['--runner-id', rid] });
    try {
      assert.equal(d.ready.adopted, 0);
      assert.equal(d.ready.recovered, 0);
      await withTimeout(ended, 10000, 'the stand-in let go');
      assert.match(out, /eof/, 'the master closed the connection (a real reaper then tears down)');
      assert.match(d.stderr, /control channel version 2, this devsup speaks 1/);
      const st = await d.request({ type: 'status', projectId: id });
      assert.equal(st.projects[0].state, 'idle', 'nothing of it was taken over');
    } finally {
      await d.dispose();
    }
  } finally {
    fake.kill('SIGKILL');
  }
});
