// Wire protocol: ready, event shape, bad input, pipelining, exit paths, command line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import {
  spawnDevsup, withDevsup, withTimeout, DEVSUP_BIN, TIMESTAMP_RE, projectId, FIXTURES,
} from './lib/harness.mjs';

const T = { timeout: 60000 };

function assertErrorShape(e, reason, what) {
  assert.equal(e.type, 'error', `${what}: expected an error event, got ${JSON.stringify(e)}`);
  assert.equal(e.reason, reason, `${what}: wrong reason in ${JSON.stringify(e)}`);
  assert.equal(typeof e.error, 'string', `${what}: error message missing in ${JSON.stringify(e)}`);
  assert.ok(e.error.length > 0, `${what}: empty error message`);
  assert.equal(typeof e.suggestion, 'string', `${what}: suggestion missing in ${JSON.stringify(e)}`);
  assert.ok(e.suggestion.length > 0, `${what}: empty suggestion`);
}

let pingN = 0;
/**
 * Send raw bytes (one bad line), then a ping. Exactly one event, an error with the given
 * reason, must come before the pong; devsup must still answer the ping.
 */
async function expectOneError(d, raw, reason, what, { commandId } = {}) {
  const from = d.events.length;
  const pid = `after-bad-${++pingN}`;
  d.sendRaw(raw);
  d.send({ type: 'ping', id: pid });
  const pong = await d.next((e) => e.type === 'pong' && e.commandId === pid, 15000, `pong ${pid} after ${what}`);
  const between = d.events.slice(from, d.events.indexOf(pong));
  assert.equal(between.length, 1,
    `${what}: expected exactly one event before the pong, got ${between.length}: ${JSON.stringify(between)}`);
  assertErrorShape(between[0], reason, what);
  if (commandId !== undefined) {
    assert.equal(between[0].commandId, commandId, `${what}: commandId missing/wrong in ${JSON.stringify(between[0])}`);
  }
  return between[0];
}

function run(bin, args, timeoutMs = 10000) {
  return new Promise((resolve) => {
    execFile(bin, args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, signal: err?.signal ?? null, stdout, stderr });
    });
  });
}

test('ready is the first event and carries version, pid, runnerId, persistence, recovered', T, () =>
  withDevsup({}, async (d) => {
    const r = d.ready;
    assert.equal(r.type, 'ready');
    assert.equal(typeof r.version, 'string');
    assert.ok(r.version.length > 0, 'ready.version is empty');
    assert.equal(r.pid, d.proc.pid, 'ready.pid is not the pid of devsup');
    assert.equal(r.runnerId, d.runnerId);
    assert.equal(r.persistence, 'disabled', 'no --db and no DATABASE_URL: persistence must be disabled');
    assert.equal(typeof r.recovered, 'number');
    assert.equal(r.recovered, 0, 'a fresh runner id has nothing to recover');
  }));

test('every event has a type and an ISO-8601 UTC millisecond timestamp', T, () =>
  withDevsup({}, async (d) => {
    await d.request({ type: 'ping' });
    await d.request({ type: 'status' });
    await d.request({ type: 'metrics' });
    await d.request({ type: 'stop-dev-server', projectId: projectId('nr') });
    await d.request({ type: 'frobnicate' });
    d.sendRaw('not json\n');
    await d.request({ type: 'ping' });
    const now = Date.now();
    assert.ok(d.events.length >= 8, `expected at least 8 events, got ${d.events.length}`);
    for (const e of d.events) {
      assert.equal(typeof e.type, 'string', `event without type: ${JSON.stringify(e)}`);
      assert.match(String(e.timestamp), TIMESTAMP_RE, `bad timestamp in ${JSON.stringify(e)}`);
      const t = Date.parse(e.timestamp);
      assert.ok(Math.abs(t - now) < 120000, `timestamp far from the clock (not UTC?): ${JSON.stringify(e)}`);
    }
  }));

test('ping, status and metrics answer with their events', T, () =>
  withDevsup({}, async (d) => {
    const pong = await d.request({ type: 'ping', id: 'p1' });
    assert.equal(pong.type, 'pong');
    assert.equal(pong.commandId, 'p1');
    assert.equal(typeof pong.version, 'string');
    assert.equal(typeof pong.uptimeMs, 'number');
    assert.ok(pong.uptimeMs >= 0);
    const st = await d.request({ type: 'status' });
    assert.equal(st.type, 'status');
    assert.ok(Array.isArray(st.projects), `status.projects is not an array: ${JSON.stringify(st)}`);
    assert.equal(st.projects.length, 0);
    const m = await d.request({ type: 'metrics' });
    assert.equal(m.type, 'metrics');
  }));

test('bad input lines each get exactly one error and change nothing', T, () =>
  withDevsup({}, async (d) => {
    // Every case is checked; the mismatches are reported together.
    const failures = [];
    const check = async (...a) => {
      try {
        await expectOneError(d, ...a);
      } catch (err) {
        if (!(err instanceof assert.AssertionError)) throw err;
        failures.push(err.message.split('\n')[0]);
      }
    };
    await check('this is not json\n', 'invalid_json', 'not JSON');
    await check('{"type":"ping",\n', 'invalid_json', 'truncated JSON');
    await check('[1,2,3]\n', 'invalid_command', 'JSON array');
    await check('42\n', 'invalid_command', 'JSON number');
    await check('"ping"\n', 'invalid_command', 'JSON string');
    await check('null\n', 'invalid_command', 'JSON null');
    await check('{"id":"nt1"}\n', 'invalid_command', 'object without type', { commandId: 'nt1' });
    await check('{"type":42,"id":"nt2"}\n', 'invalid_command', 'type not a string', { commandId: 'nt2' });
    await check('{"type":"frobnicate","id":"u1"}\n', 'unknown_command', 'unknown type', { commandId: 'u1' });
    await check('{"type":"frobnicate"}\n', 'unknown_command', 'unknown type without id');

    const cwd = FIXTURES;
    const good = { type: 'start-dev-server', projectId: 'p-ok', command: ['node', '-v'], cwd };
    const bad = [
      ['start without fields', { type: 'start-dev-server' }],
      ['start without projectId', { ...good, projectId: undefined }],
      ['start without command', { ...good, command: undefined }],
      ['start without cwd', { ...good, cwd: undefined }],
      ['projectId not a string', { ...good, projectId: 123 }],
      ['projectId empty', { ...good, projectId: '' }],
      ['projectId with a space', { ...good, projectId: 'a b' }],
      ['projectId with a slash', { ...good, projectId: '../etc' }],
      ['projectId of 129 characters', { ...good, projectId: 'a'.repeat(129) }],
      ['command a number', { ...good, command: 42 }],
      ['command an empty array', { ...good, command: [] }],
      ['command array with a non-string', { ...good, command: ['node', 1] }],
      ['cwd not a string', { ...good, cwd: 7 }],
      ['cwd relative', { ...good, cwd: 'tests/fixtures' }],
      ['port a string', { ...good, port: 'abc' }],
      ['port out of range', { ...good, port: 70000 }],
      ['env not an object', { ...good, env: 'FOO=1' }],
      ['env with a non-string value', { ...good, env: { FOO: 1 } }],
      ['framework unknown', { ...good, framework: 'rails' }],
      ['stop without projectId', { type: 'stop-dev-server' }],
      ['logs without projectId', { type: 'logs' }],
    ];
    let n = 0;
    for (const [what, cmd] of bad) {
      const id = `bad-${++n}`;
      await check(JSON.stringify({ ...cmd, id }) + '\n', 'invalid_command', what, { commandId: id });
    }
    assert.deepEqual(failures, [], `bad input answered wrongly:\n  ${failures.join('\n  ')}`);

    // A projectId of exactly 128 allowed characters is valid: it is not rejected as invalid_command.
    const okId = 'A.b_c:d-' + 'x'.repeat(120);
    const e = await d.request({ type: 'stop-dev-server', projectId: okId });
    assertErrorShape(e, 'not_running', 'stop of a valid 128-character projectId');

    // Nothing was started by any of this.
    const st = await d.request({ type: 'status' });
    assert.deepEqual(st.projects, [], `bad input changed state: ${JSON.stringify(st)}`);
  }));

test('binary garbage, NUL bytes and invalid UTF-8 are invalid_json', T, () =>
  withDevsup({}, async (d) => {
    await expectOneError(d, Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x00, 0x01, 0x02, 0x7f, 0x80, 0xff, 0xc3, 0x28, 0x1b, 0x5b, 0x0a]),
      'invalid_json', 'binary garbage');
    await expectOneError(d, Buffer.from('{"type":"ping",\u0000"id":"n1"}\n', 'latin1'), 'invalid_json', 'NUL between tokens');
    await expectOneError(d, Buffer.concat([Buffer.from('{"type":"ping","id":"n2'), Buffer.from([0]), Buffer.from('"}\n')]),
      'invalid_json', 'NUL inside a string');
    await expectOneError(d, Buffer.concat([Buffer.from('{"type":"ping","id":"'), Buffer.from([0xff, 0xfe, 0xc0, 0xaf]), Buffer.from('"}\n')]),
      'invalid_json', 'invalid UTF-8 inside a string');
    await expectOneError(d, Buffer.concat([Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('{"type":"ping"}\n')]),
      'invalid_json', 'UTF-16 surrogate encoded in UTF-8');
    // Valid multi-byte UTF-8 is fine.
    const pong = await d.request({ type: 'ping', id: 'ünïcødé-✓-𝄞' });
    assert.equal(pong.type, 'pong');
    assert.equal(pong.commandId, 'ünïcødé-✓-𝄞');
  }));

test('empty and whitespace-only lines produce no event', T, () =>
  withDevsup({}, async (d) => {
    const from = d.events.length;
    d.sendRaw('\n\n   \n\t\n \t \r\n\r\n');
    d.send({ type: 'ping', id: 'after-blank' });
    const pong = await d.next((e) => e.type === 'pong' && e.commandId === 'after-blank', 10000);
    const between = d.events.slice(from, d.events.indexOf(pong));
    assert.deepEqual(between, [], `blank lines produced events: ${JSON.stringify(between)}`);
  }));

test('a line longer than --max-line is line_too_long, and the next line is read normally', T, () =>
  withDevsup({ args: ['--max-line', '1024'] }, async (d) => {
    const pad = (n) => {
      const head = '{"type":"ping","id":"pad","pad":"';
      return head + 'a'.repeat(n - head.length - 2) + '"}';
    };
    const long = pad(5000);
    assert.equal(long.length, 5000);
    // answered with the line's id all the same (SPEC §3: an id in the first 64 KiB counts)
    await expectOneError(d, long + '\n', 'line_too_long', '5000-byte line with --max-line 1024', { commandId: 'pad' });
    // Arriving in small pieces changes nothing.
    const from = d.events.length;
    for (let i = 0; i < long.length; i += 300) d.sendRaw(long.slice(i, i + 300));
    d.sendRaw('\n');
    d.send({ type: 'ping', id: 'after-chunks' });
    const pong = await d.next((e) => e.type === 'pong' && e.commandId === 'after-chunks', 10000);
    const between = d.events.slice(from, d.events.indexOf(pong));
    assert.equal(between.length, 1, `chunked long line: ${JSON.stringify(between)}`);
    assertErrorShape(between[0], 'line_too_long', 'chunked long line');
    // A line under the limit works.
    const okLine = { type: 'ping', id: `under-limit-${'u'.repeat(900)}` };
    assert.ok(JSON.stringify(okLine).length > 900 && JSON.stringify(okLine).length < 1024);
    const r = await d.request(okLine);
    assert.equal(r.type, 'pong');
  }));

test('a line over the default 1 MiB limit is line_too_long', T, () =>
  withDevsup({}, async (d) => {
    const line = '{"type":"ping","id":"huge","pad":"' + 'b'.repeat(2 * 1024 * 1024) + '"}\n';
    await expectOneError(d, line, 'line_too_long', '2 MiB line');
  }));

test('a final command without a newline before stdin EOF is executed, then exit 0', T, async () => {
  const d = await spawnDevsup();
  try {
    d.sendRaw('{"type":"ping","id":"last"}');
    d.proc.stdin.end();
    const pong = await d.next((e) => e.commandId === 'last', 10000);
    assert.equal(pong.type, 'pong');
    const x = await withTimeout(d.exited, 10000, 'devsup exit after EOF');
    assert.deepEqual(x, { code: 0, signal: null });
    d.assertProtocolClean();
  } finally {
    await d.dispose();
  }
});

test('10,000 pipelined pings are answered in order', { timeout: 120000 }, () =>
  withDevsup({}, async (d) => {
    const N = 10000;
    let s = '';
    for (let i = 0; i < N; i++) s += `{"type":"ping","id":"${i}"}\n`;
    d.sendRaw(s);
    await d.next((e) => e.type === 'pong' && e.commandId === String(N - 1), 90000, 'the last pong');
    const pongs = d.events.filter((e) => e.type === 'pong');
    assert.equal(pongs.length, N, `expected ${N} pongs, got ${pongs.length}`);
    for (let i = 0; i < N; i++) {
      if (pongs[i].commandId !== String(i)) {
        assert.fail(`pong #${i} answers id ${JSON.stringify(pongs[i].commandId)}, expected "${i}"`);
      }
    }
    const others = d.events.filter((e) => e.type !== 'pong' && e.type !== 'ready');
    assert.deepEqual(others, [], 'unexpected events among the pongs');
  }));

test('shutdown answers shutdown-complete and exits 0', T, async () => {
  const d = await spawnDevsup();
  try {
    const r = await d.request({ type: 'shutdown', id: 'bye' });
    assert.equal(r.type, 'shutdown-complete');
    assert.equal(r.commandId, 'bye');
    const x = await withTimeout(d.exited, 10000, 'devsup exit after shutdown');
    assert.deepEqual(x, { code: 0, signal: null });
    d.assertProtocolClean();
  } finally {
    await d.dispose();
  }
});

test('stdin EOF exits 0', T, async () => {
  const d = await spawnDevsup();
  try {
    const x = await d.close(10000);
    assert.deepEqual(x, { code: 0, signal: null });
  } finally {
    await d.dispose();
  }
});

for (const sig of ['SIGTERM', 'SIGINT']) {
  test(`${sig} exits 0`, T, async () => {
    const d = await spawnDevsup();
    try {
      d.kill(sig);
      const x = await withTimeout(d.exited, 10000, `devsup exit after ${sig}`);
      assert.deepEqual(x, { code: 0, signal: null });
    } finally {
      await d.dispose();
    }
  });
}

test('an unknown flag exits 2 with a message on stderr', T, async () => {
  const r = await run(DEVSUP_BIN, ['--no-tty', '--bogus-flag']);
  assert.equal(r.code, 2, `exit code ${r.code} signal ${r.signal}; stderr: ${r.stderr}`);
  assert.ok(r.stderr.trim().length > 0, 'no message on stderr for a bad flag');
  assert.equal(r.stdout, '', 'stdout must stay clean (protocol lines only)');
});

test('--max-line without a valid value exits 2', T, async () => {
  const r = await run(DEVSUP_BIN, ['--no-tty', '--max-line', 'lots']);
  assert.equal(r.code, 2, `exit code ${r.code}; stderr: ${r.stderr}`);
});

test('--version prints the version and exits 0', T, async () => {
  const r = await run(DEVSUP_BIN, ['--version']);
  assert.equal(r.code, 0, `exit code ${r.code}; stderr: ${r.stderr}`);
  const out = (r.stdout + r.stderr).trim();
  assert.match(out, /\d/, `--version printed no version: ${JSON.stringify(out)}`);
  const d = await spawnDevsup();
  try {
    assert.ok(out.includes(d.ready.version), `--version (${out}) differs from ready.version (${d.ready.version})`);
  } finally {
    await d.dispose();
  }
});

test('stop of an unknown project is not_running', T, () =>
  withDevsup({}, async (d) => {
    const pid = projectId('unknown');
    const e = await d.request({ type: 'stop-dev-server', projectId: pid, id: 'stop-unknown' });
    assertErrorShape(e, 'not_running', 'stop of unknown project');
    assert.equal(e.commandId, 'stop-unknown');
    assert.equal(e.projectId, pid);
    const l = await d.request({ type: 'restart-dev-server', projectId: projectId('unknown') });
    assert.equal(l.type, 'error', `restart of an unknown project without a command: ${JSON.stringify(l)}`);
  }));
