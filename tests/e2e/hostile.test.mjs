// Commands that try to escape (issue 7): each gets invalid_command naming the field, nothing
// changes, and devsup goes on answering.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withDevsup, serverCmd, FIXTURES, projectPids } from './lib/harness.mjs';
import { expectError } from './lib/dev.mjs';

const T = { timeout: 60000 };
const base = (over) => ({ type: 'start-dev-server', projectId: 'hostile', command: serverCmd(), cwd: FIXTURES, ...over });

const cases = [
  ['projectId with a slash', base({ projectId: 'a/b' }), 'projectId'],
  ['projectId ..', base({ projectId: '..' }), 'projectId'],
  ['projectId with ..', base({ projectId: 'x..y' }), 'projectId'],
  ['projectId with a NUL', base({ projectId: 'a\u0000b' }), 'projectId'],
  ['projectId of 10,000 characters', base({ projectId: 'p'.repeat(10000) }), 'projectId'],
  ['cwd relative', base({ cwd: 'tests/fixtures' }), 'cwd'],
  ['cwd with a NUL', base({ cwd: '/tmp\u0000/x' }), 'cwd'],
  ['env with a non-string value', base({ env: { A: 1 } }), 'env'],
  ['env with = in a key', base({ env: { 'A=B': 'x' } }), 'env'],
  ['env value with a NUL', base({ env: { A: 'x\u0000y' } }), 'env.A'],
  ['command empty array', base({ command: [] }), 'command'],
  ['command empty string', base({ command: '' }), 'command'],
  ['command with a non-string element', base({ command: ['node', 5] }), 'command'],
  ['command element with a NUL', base({ command: ['node', 'a\u0000'] }), 'command[1]'],
  ['port 0', base({ port: 0 }), 'port'],
  ['port 65536', base({ port: 65536 }), 'port'],
  ['port -1', base({ port: -1 }), 'port'],
  ['port as a string', base({ port: '3000' }), 'port'],
  ['stop with a bad projectId', { type: 'stop-dev-server', projectId: '../x' }, 'projectId'],
  ['logs with a bad projectId', { type: 'logs', projectId: '..' }, 'projectId'],
];

test('commands that try to escape get invalid_command naming the field, and change nothing', T, () =>
  withDevsup({}, async (d) => {
    const failures = [];
    for (const [what, cmd, field] of cases) {
      const ev = await d.request(cmd);
      try {
        expectError(ev, 'invalid_command', what);
        assert.ok(ev.error.includes(`'${field}`), `${what}: the message must name '${field}': ${ev.error}`);
      } catch (err) {
        failures.push(err.message);
      }
    }
    assert.deepEqual(failures, []);
    const st = await d.request({ type: 'status' });
    assert.deepEqual(st.projects, [], 'nothing was created');
    assert.deepEqual(projectPids('hostile'), []);
    assert.equal((await d.request({ type: 'ping' })).type, 'pong');
  }));
