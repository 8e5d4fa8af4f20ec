// Start-up recovery (SPEC §7) where the previous devsup contained its projects in cgroups (§9):
// what a devsup killed together with its reapers left is found by its cgroup, markers or not,
// killed with cgroup.kill, and the group removed; empty leftovers of the runner are removed,
// and a devsup's clean exit leaves no directory of its runner behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, rmdirSync } from 'node:fs';
import path from 'node:path';
import {
  spawnDevsup, projectId, runnerId, serverCmd, projectPids, isAlive, pollUntil, describePids,
  reaperPids,
} from './lib/harness.mjs';
import { startOk, escapeeOf } from './lib/dev.mjs';
import { NO_CGROUP, runnerCgroupDir as runnerDir } from './lib/cgroup.mjs';

const T = { timeout: 90000 };

/** kill -9 of a devsup and its reapers at once: all stopped first, so none can act on the
 * others' deaths; the reapers die first (a master dying first would orphan their process
 * group, and the kernel continues stopped members of an orphaned group). */
async function killAll(d) {
  const reapers = reaperPids(d.proc.pid);
  assert.ok(reapers.length > 0, 'the reapers');
  for (const p of [d.proc.pid, ...reapers]) process.kill(p, 'SIGSTOP');
  for (const p of [...reapers, d.proc.pid]) process.kill(p, 'SIGKILL');
  await d.exited;
  await pollUntil(() => !reapers.some(isAlive), 3000);
}

test('recovery (cgroup): a devsup and its reapers SIGKILLed; the next one kills the leftover group, a marker-less setsid escapee too, and removes it', { ...T, skip: NO_CGROUP }, async () => {
  const rid = runnerId();
  const d1 = await spawnDevsup({ args: ['--runner-id', rid] });
  const id = projectId('cgrec');
  let escapee = 0;
  let d2 = null;
  try {
    const s = await startOk(d1, { projectId: id, command: serverCmd('--ignore-sigterm', '--escapee'), stopTimeoutMs: 1000 }, 60000);
    escapee = await escapeeOf(d1, id);
    const group = path.join(runnerDir(rid), id);
    assert.ok(existsSync(group));
    await killAll(d1);
    const left = [...projectPids(id), escapee];
    assert.ok(left.length >= 2 && left.every(isAlive), `the project outlives its devsup and reapers: ${describePids(left)}`);
    d2 = await spawnDevsup({ args: ['--runner-id', rid] });
    assert.equal(d2.ready.recovered, 1, 'one project recovered (found both by its group and by its markers)');
    // SIGTERM is ignored: the group's cgroup.kill after the project's stop timeout (1 s)
    const gone = await pollUntil(() => left.every((p) => !isAlive(p)) && !existsSync(group), 6000);
    assert.ok(gone, `left: ${describePids(left.filter(isAlive))}; ${group} exists: ${existsSync(group)}`);
    assert.ok(!isAlive(s.pid) && !isAlive(escapee));
    assert.match(d2.stderr, /cgroup\.kill/);
    // the runner's directory is d2's own now; its clean exit removes it
    assert.ok(existsSync(runnerDir(rid)));
    await d2.close();
    assert.equal(existsSync(runnerDir(rid)), false, 'a clean exit removes the runner directory');
  } finally {
    if (escapee && isAlive(escapee)) process.kill(escapee, 'SIGKILL');
    if (d2) await d2.dispose();
    await d1.dispose();
  }
});

test('recovery (cgroup) while the killed devsup\'s reapers still tear down: a reaper whose group recovery removed finishes too', { ...T, skip: NO_CGROUP }, async () => {
  const rid = runnerId();
  const d1 = await spawnDevsup({ args: ['--runner-id', rid] });
  const id = projectId('cgrace');
  let d2 = null;
  let reapers = [];
  try {
    const s = await startOk(d1, { projectId: id, command: serverCmd('--ignore-sigterm'), stopTimeoutMs: 1500 }, 60000);
    reapers = reaperPids(d1.proc.pid);
    assert.equal(reapers.length, 1);
    d1.kill('SIGKILL');
    await d1.exited;
    // The reaper has seen EOF and sent SIGTERM (ignored); held still, it is overtaken by the
    // next devsup's recovery, which kills the group after the same stop timeout and removes it.
    for (const p of reapers) process.kill(p, 'SIGSTOP');
    const group = path.join(runnerDir(rid), id);
    d2 = await spawnDevsup({ args: ['--runner-id', rid] });
    assert.equal(d2.ready.recovered, 1);
    assert.ok(await pollUntil(() => !isAlive(s.pid) && !existsSync(group), 8000), `${group} emptied and removed by recovery`);
    for (const p of reapers) process.kill(p, 'SIGCONT');
    // the reaper must take a removed group for an empty one, not wait for it forever
    assert.ok(await pollUntil(() => !reapers.some(isAlive), 5000), `reaper still alive: ${describePids(reapers.filter(isAlive))}`);
  } finally {
    for (const p of reapers.filter(isAlive)) process.kill(p, 'SIGKILL');
    if (d2) await d2.dispose();
    await d1.dispose();
  }
});

test('recovery (cgroup): empty leftovers of the runner are removed, even by a devsup run with --no-cgroup; another runner\'s are not touched', { ...T, skip: NO_CGROUP }, async () => {
  const rid = runnerId();
  const other = runnerDir(runnerId());
  const d1 = await spawnDevsup({ args: ['--runner-id', rid] });
  let d2 = null;
  try {
    assert.equal(d1.ready.containment, 'cgroup');
    const dir = runnerDir(rid);
    assert.ok(existsSync(dir), 'the runner directory is made at start-up');
    d1.kill('SIGKILL'); // no live project: no reaper is left to remove it
    await d1.exited;
    assert.ok(existsSync(dir), 'a killed devsup leaves its runner directory');
    mkdirSync(path.join(dir, 'ghost')); // an empty project group, as a killed reaper leaves it
    mkdirSync(other);
    d2 = await spawnDevsup({ args: ['--runner-id', rid, '--no-cgroup'] });
    assert.equal(d2.ready.containment, 'proc');
    assert.equal(d2.ready.recovered, 0, 'an empty group is no project');
    assert.equal(existsSync(path.join(dir, 'ghost')), false, 'the empty project group is removed');
    assert.equal(existsSync(dir), false, 'the runner directory, empty and unused, is removed');
    assert.ok(existsSync(other), 'another runner\'s directory is left alone');
  } finally {
    if (existsSync(other)) rmdirSync(other);
    if (d2) await d2.dispose();
    await d1.dispose();
  }
});
