// Helpers shared by the lifecycle and crash tests.
import assert from 'node:assert/strict';
import { FIXTURES, projectPids, describePids, pollUntil, TIMESTAMP_RE, procEnviron, procStat } from './harness.mjs';

/** Send a start-dev-server (cwd defaults to the fixtures dir) and resolve with its final answer. */
export function start(d, fields, timeoutMs = 30000) {
  return d.request({ type: 'start-dev-server', cwd: FIXTURES, ...fields }, timeoutMs);
}

export function stop(d, projectId, fields = {}, timeoutMs = 30000) {
  return d.request({ type: 'stop-dev-server', projectId, ...fields }, timeoutMs);
}

/** Fail with the whole event when it is not of the expected type. */
export function expectType(ev, type, what = '') {
  if (!ev || ev.type !== type) {
    assert.fail(`${what ? what + ': ' : ''}expected a ${type} event, got ${JSON.stringify(ev)}`);
  }
  return ev;
}

export async function startOk(d, fields, timeoutMs = 30000) {
  const ev = await start(d, fields, timeoutMs);
  return expectType(ev, 'dev-server-started', `start of ${fields.projectId}`);
}

export async function stopOk(d, projectId, fields = {}, timeoutMs = 30000) {
  const ev = await stop(d, projectId, fields, timeoutMs);
  return expectType(ev, 'dev-server-stopped', `stop of ${projectId}`);
}

/** An error event with the given reason and a non-empty message and suggestion. */
export function expectError(ev, reason, what = '') {
  const w = what ? `${what}: ` : '';
  if (!ev || ev.type !== 'error') assert.fail(`${w}expected an error (${reason}), got ${JSON.stringify(ev)}`);
  assert.equal(ev.reason, reason, `${w}wrong reason in ${JSON.stringify(ev)}`);
  assert.equal(typeof ev.error, 'string', `${w}no error message in ${JSON.stringify(ev)}`);
  assert.ok(ev.error.trim().length > 0, `${w}empty error message`);
  assert.equal(typeof ev.suggestion, 'string', `${w}no suggestion in ${JSON.stringify(ev)}`);
  assert.ok(ev.suggestion.trim().length > 0, `${w}empty suggestion`);
  return ev;
}

/** Nothing of the project is alive right now. */
export function assertNothingAlive(id, what = '') {
  const left = projectPids(id);
  assert.deepEqual(left, [], `${what ? what + ': ' : ''}processes of ${id} still alive:\n    ${describePids(left)}`);
}

/** Nothing of the project is alive within timeoutMs. */
export async function assertNothingAliveWithin(id, timeoutMs, what = '') {
  await pollUntil(() => projectPids(id).length === 0, timeoutMs);
  assertNothingAlive(id, `${what ? what + ', ' : ''}${timeoutMs} ms later`);
}

/** The project's state events: each from = previous to, seq strictly increasing, first from idle. */
export function assertStateChain(d, id, expectedTos) {
  const st = d.states(id);
  const tos = st.map((e) => e.to);
  assert.deepEqual(tos, expectedTos, `state chain of ${id}: ${JSON.stringify(st)}`);
  let prevTo = 'idle';
  let prevSeq = -Infinity;
  for (const e of st) {
    assert.equal(e.from, prevTo, `transition ${JSON.stringify(e)} does not start where the previous ended (${prevTo})`);
    assert.equal(typeof e.seq, 'number', `seq is not a number in ${JSON.stringify(e)}`);
    assert.ok(e.seq > prevSeq, `seq not strictly increasing: ${JSON.stringify(st)}`);
    assert.match(String(e.timestamp), TIMESTAMP_RE);
    prevTo = e.to;
    prevSeq = e.seq;
  }
  return st;
}

/** The pid a server started with --escapee printed: a sleeper in its own session, whose parent
 * exited, with an empty environment (no DEVSUP_ marker), ignoring SIGTERM. */
export async function escapeeOf(d, id) {
  let pid = 0;
  await pollUntil(async () => {
    const logs = await d.request({ type: 'logs', projectId: id });
    const line = logs.lines.find((l) => l.line.startsWith('escapee pid '));
    pid = line ? Number(line.line.split(' ')[2]) : 0;
    return pid > 0;
  }, 10000);
  // it renames itself after it has set SIGTERM aside: until then a SIGTERM would end it
  assert.ok(await pollUntil(() => procStat(pid)?.comm === 'devsup-escapee', 10000), 'the escapee runs, renamed');
  assert.deepEqual(procEnviron(pid), {}, 'the escapee carries no DEVSUP_ marker');
  return pid;
}
