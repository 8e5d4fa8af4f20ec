// follow-logs: turning the `log` events of a running project on and off (what `logs ID -f`
// of the terminal front end uses), in NDJSON mode as the Node API would.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withDevsup, projectId, sleep } from './lib/harness.mjs';
import { startOk, stopOk, expectType, expectError, assertNothingAlive } from './lib/dev.mjs';

const T = { timeout: 60000 };

// A dev server that prints "tick N" every 100 ms while it serves HTTP.
const TICKER = 'i=0; while :; do i=$((i+1)); echo "tick $i"; sleep 0.1; done & exec node server.mjs';

const logsOf = (d, id, from = 0) =>
  d.events.slice(from).filter((e) => e.type === 'log' && e.projectId === id);

test('follow-logs streams a running project\'s output until it is turned off', T, () =>
  withDevsup({}, async (d) => {
    const id = projectId('follow');
    await startOk(d, { projectId: id, command: TICKER });
    await sleep(400);
    assert.equal(logsOf(d, id).length, 0, 'log events before anyone follows');

    const on = await d.request({ type: 'follow-logs', id: 'f1', projectId: id, follow: true });
    expectType(on, 'following');
    assert.equal(on.projectId, id);
    assert.equal(on.follow, true);
    const first = await d.next((e) => e.type === 'log' && e.projectId === id, 5000, 'a followed log line');
    assert.match(first.line, /^tick \d+$/);
    assert.equal(first.stream, 'stdout');
    // Lines keep coming, in order.
    await d.next((e) => e.type === 'log' && e.projectId === id, 5000, 'a second followed line');
    const ticks = logsOf(d, id).map((e) => Number(e.line.split(' ')[1]));
    for (let i = 1; i < ticks.length; i++) assert.equal(ticks[i], ticks[i - 1] + 1, `ticks out of order: ${ticks}`);

    const off = await d.request({ type: 'follow-logs', id: 'f2', projectId: id, follow: false });
    expectType(off, 'following');
    assert.equal(off.follow, false);
    await sleep(300); // lines already on their way may still arrive
    const settled = d.events.length;
    await sleep(600);
    assert.equal(logsOf(d, id, settled).length, 0, 'log events after follow: false');
    await stopOk(d, id);
    assertNothingAlive(id);
  }));

test('a followed project stays followed across a restart', T, () =>
  withDevsup({}, async (d) => {
    const id = projectId('follow-rs');
    await startOk(d, { projectId: id, command: TICKER });
    expectType(await d.request({ type: 'follow-logs', id: 'f', projectId: id }), 'following');
    const r = await d.request({ type: 'restart-dev-server', id: 'rs', projectId: id }, 30000);
    expectType(r, 'dev-server-started', 'restart');
    const from = d.events.length;
    await d.next((e) => e.type === 'log' && e.projectId === id && d.events.indexOf(e) >= from, 5000,
      'a log line of the restarted server');
    await stopOk(d, id);
  }));

test('follow: false keeps the streaming a start asked for with logs: true', T, () =>
  withDevsup({}, async (d) => {
    const id = projectId('follow-logs');
    await startOk(d, { projectId: id, command: TICKER, logs: true });
    expectType(await d.request({ type: 'follow-logs', id: 'f', projectId: id, follow: false }), 'following');
    await sleep(300);
    const from = d.events.length;
    await sleep(500);
    assert.ok(logsOf(d, id, from).length > 0, 'logs: true stopped streaming after follow: false');
    await stopOk(d, id);
  }));

test('follow-logs of an unknown project or with a bad field is refused', T, () =>
  withDevsup({}, async (d) => {
    expectError(await d.request({ type: 'follow-logs', id: 'u', projectId: projectId('nope') }), 'not_running');
    const bad = await d.request({ type: 'follow-logs', id: 'b', projectId: 'x', follow: 'yes' });
    expectError(bad, 'invalid_command');
    assert.match(bad.error, /follow/);
    expectError(await d.request({ type: 'follow-logs', id: 'm' }), 'invalid_command');
  }));
