// The interactive front end (devsup --tty), driven through a pseudo-terminal as a person would:
// typed commands, readable events, Ctrl-C, Ctrl-D, history, colours, redraws while typing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readlinkSync } from 'node:fs';
import { FIXTURES, httpGet, projectPids, reaperPids, pollUntil, sleep } from './lib/harness.mjs';
import { withPty, ptySession, tmuxSession, haveTmux, leftovers, masterPids, plain } from './lib/pty.mjs';

const T = { timeout: 90000 };
const SGR = /\x1b\[[0-9;]*m/; // a colour (Select Graphic Rendition) sequence
const START = `start web --cwd ${FIXTURES} -- node server.mjs --port {port}`;

test('a session: ping, a typo, start, status, stop, then Ctrl-D exits 0 leaving nothing alive', T, async () => {
  const s = ptySession();
  try {
    await s.waitFor("Type 'help'", { from: 0 });
    s.line('ping');
    await s.waitFor(/pong: devsup \d+\.\d+\.\d+, up \d+s/);

    s.line('strat web');
    await s.waitFor("unknown command 'strat' — did you mean 'start'?");

    s.line(START);
    const [, url] = await s.waitFor(/web\s+starting → running\s+(http:\/\/localhost:\d+)\s+in \d+ ms/);
    assert.equal((await httpGet(url)).status, 200, 'the started server does not answer');

    s.line('status');
    const [row] = await s.waitFor(/^web +running +\d+ +\d+ +http:\/\/localhost:\d+ +- +\d+s\b/m);
    assert.ok(row.includes(url), `status row ${row} lacks ${url}`);
    assert.match(s.text(), /^PROJECT +STATE +PORT +PID +URL +TUNNEL +UPTIME\b/m, 'no table header');

    s.line('stop web');
    await s.waitFor(/web\s+stopping → stopped\s+(SIGTERM|exit \d+) after \d+ ms/);
    assert.deepEqual(projectPids('web').filter((p) => leftovers(s.rid).includes(p)), [], 'web survived its stop');

    s.line(START.replace('start web', 'start web2'));
    await s.waitFor(/web2\s+starting → running/);
    s.type('\x04'); // Ctrl-D on an empty line: with a project running, asked first
    await s.waitFor('stop 1 project and exit? [y/N]');
    s.line('y');
    await s.waitFor('stopping every project');
    await s.waitFor(/web2\s+stopping → stopped/);
    const { code } = await s.exited;
    assert.equal(code, 0, `exit code after Ctrl-D; terminal:\n${s.text().slice(-2000)}`);
    assert.deepEqual(await pollUntil(() => leftovers(s.rid).length === 0 && [], 3000) || leftovers(s.rid), [],
      'processes of the runner left after Ctrl-D');
    // The history was saved, one line per command.
    const history = readFileSync(`${s.home}/.devsup_history`, 'utf8');
    for (const c of ['ping', 'strat', 'status']) assert.match(history, new RegExp(`^${c}`, 'm'), `history: ${history}`);
  } finally {
    await s.close();
  }
});

test('quit stops every project and exits 0; a second Ctrl-D kills what ignores SIGTERM', T, async () => {
  const s = ptySession();
  try {
    await s.waitFor("Type 'help'", { from: 0 });
    s.line(`start stubborn --cwd ${FIXTURES} -- node server.mjs --ignore-sigterm --port {port}`);
    await s.waitFor(/stubborn\s+starting → running/);
    const t0 = performance.now();
    s.line('quit!'); // without the question
    await s.waitFor('stopping every project');
    await sleep(300);
    s.type('\x04');
    await s.waitFor('killing what is left');
    await s.waitFor(/stubborn\s+stopping → stopped\s+SIGKILL after \d+ ms, forced with SIGKILL/);
    const { code } = await s.exited;
    assert.equal(code, 0);
    assert.ok(performance.now() - t0 < 8000, 'the second Ctrl-D did not cut the 10 s stop timeout short');
    await pollUntil(() => leftovers(s.rid).length === 0, 3000);
    assert.deepEqual(leftovers(s.rid), [], 'processes of the runner left');
  } finally {
    await s.close();
  }
});

test('Ctrl-C clears the line without stopping devsup, and ends logs -f', T, () =>
  withPty({}, async (s) => {
    s.type('abcdef');
    await s.waitFor('abcdef');
    await sleep(100);
    s.type('\x03');
    await s.waitFor('^C');
    await sleep(100);
    s.line('ping');
    await s.waitFor(/pong: devsup/);
    assert.doesNotMatch(s.text(), /unknown command 'abcdef/, 'Ctrl-C did not clear the line');
    assert.equal(masterPids(s.rid).length, 1, 'Ctrl-C ended devsup');

    const ticker = 'i=0; while :; do i=$((i+1)); echo "tick $i"; sleep 0.2; done & exec node server.mjs';
    s.line(`start tick --cwd ${FIXTURES} -- '${ticker}'`);
    await s.waitFor(/tick\s+starting → running/);
    s.line('logs tick -n 3 -f');
    await s.waitFor(/last \d+ lines? of output:/);
    await s.waitFor('following its output — Ctrl-C to stop');
    const from = s.mark();
    await s.waitFor(/tick\s+│ tick \d+/, { from });
    await s.waitFor('devsup (following tick)>');
    s.type('\x03');
    await s.waitFor('no longer following its output');
    await sleep(800);
    const after = s.text().slice(s.text().lastIndexOf('no longer following'));
    assert.doesNotMatch(after, /│ tick \d+/, 'log lines still printed after Ctrl-C ended logs -f');
    assert.equal(masterPids(s.rid).length, 1, 'Ctrl-C ended devsup');
    s.line('stop tick');
    await s.waitFor(/tick\s+stopping → stopped/);
  }));

test('logs -f ends by itself when the project stops, and the prompt says so', T, () =>
  withPty({}, async (s) => {
    s.line(`start lsf --cwd ${FIXTURES} -- node server.mjs --port {port}`);
    await s.waitFor(/lsf\s+starting → running/);
    s.line('logs lsf -f');
    await s.waitFor('devsup (following lsf)>');
    const from = s.mark();
    s.line('stop lsf');
    await s.waitFor('no longer following its output (stopped)', { from });
    await s.waitFor(/lsf\s+stopping → stopped/, { from });
    s.line('ping');
    await s.waitFor(/pong: devsup/, { from });
    assert.doesNotMatch(s.text().slice(s.text().lastIndexOf('pong')), /following lsf/, 'the prompt still follows a stopped project');
  }));

test('errors are red with reason, message, suggestion and the last output lines', T, () =>
  withPty({}, async (s) => {
    s.line(`start crash --cwd ${FIXTURES} -- node server.mjs --stderr 'Error: boom at line 3' --exit-after 50`);
    const [block] = await s.waitFor(/✗ immediate_crash: [^\n]+\n[^\n]*→ [^\n]+\n(?:[^\n]*│[^\n]*\n)+/);
    assert.match(block, /│ Error: boom at line 3/, `the log tail is not under the error:\n${block}`);
    assert.match(s.raw, /\x1b\[31m[^\x1b]*exited/, 'the error message is not red');
    s.line(`start gone --cwd ${FIXTURES}/no-such-dir -- node server.mjs`);
    await s.waitFor(/✗ directory_missing: [^\n]*no-such-dir/);
  }));

test('NO_COLOR=1 prints no colour; without it a terminal gets colours', T, async () => {
  await withPty({ env: { NO_COLOR: '1' } }, async (s) => {
    s.line(START);
    await s.waitFor(/web\s+starting → running/);
    s.line('status');
    await s.waitFor(/^web +running/m);
    s.line('strat');
    await s.waitFor('did you mean');
    assert.doesNotMatch(s.raw, SGR, 'colour sequences with NO_COLOR=1');
  });
  await withPty({ env: { NO_COLOR: undefined } }, async (s) => {
    s.line(START);
    await s.waitFor(/web\s+starting → running/);
    assert.match(s.raw, /\x1b\[32mrunning\x1b\[0m/, 'running is not green on a terminal');
  });
});

test('help, help start, json and status of an unknown id', T, () =>
  withPty({}, async (s) => {
    s.line('help');
    await s.waitFor(/quit +stop every project and exit/);
    s.line('help start');
    await s.waitFor(/example:\n\s+start web --port 3000 -- npm run dev -- --port \{port\}/);
    s.line('json {"type":"ping","id":"mine"}');
    const [json] = await s.waitFor(/\{"type":"pong"[^\n]*\}/);
    assert.equal(JSON.parse(json).commandId, 'mine');
    s.line('start web --prot 3000 -- x');
    await s.waitFor("unknown option '--prot' for start — did you mean '--port'?");
    s.line('status nobody');
    await s.waitFor("no project 'nobody': none was started yet");
    assert.doesNotMatch(s.text(), /^nobody +idle/m, 'a made-up row for an unknown project');
  }));

test('SIGTERM still shuts the front end down cleanly', T, () =>
  withPty({}, async (s) => {
    s.line(START);
    await s.waitFor(/web\s+starting → running/);
    for (const p of masterPids(s.rid)) process.kill(p, 'SIGTERM');
    const { code } = await s.exited;
    assert.equal(code, 0);
    await pollUntil(() => leftovers(s.rid).length === 0, 3000);
    assert.deepEqual(leftovers(s.rid), []);
  }));

test('a terminal that goes away (hangup) stops every project', T, async () => {
  const s = ptySession();
  try {
    await s.waitFor("Type 'help'", { from: 0 });
    s.line(START);
    await s.waitFor(/web\s+starting → running/);
    const pids = projectPids('web').filter((p) => leftovers(s.rid).includes(p));
    assert.ok(pids.length > 0, 'no process of web found');
    s.proc.kill('SIGKILL'); // script dies: the terminal is hung up under devsup
    assert.ok(await pollUntil(() => leftovers(s.rid).length === 0, 10000),
      `left after the hangup: ${leftovers(s.rid)}`);
  } finally {
    await s.close();
  }
});

test('a reaper\'s log lines come through devsup and print above the prompt', T, () =>
  withPty({}, async (s) => {
    s.line(START);
    await s.waitFor(/web\s+starting → running/);
    const [master] = masterPids(s.rid);
    const [reaper] = reaperPids(master);
    assert.ok(reaper, 'no reaper found');
    // not the terminal itself: a pipe devsup reads, so a line never lands inside the prompt
    assert.match(readlinkSync(`/proc/${reaper}/fd/2`), /^pipe:/, 'the reaper writes to the terminal directly');
    process.kill(reaper, 'SIGTERM');
    await s.waitFor(/devsup-reaper\[\d+\]: warn: SIGTERM: tearing web down/);
    await s.waitFor(/web\s+running → failed\s+killed/);
  }));

const ctrlZSkip = (!haveTmux() && 'tmux is not installed') ||
  (process.env.DEVSUP_VALGRIND && 'a program under valgrind does not stop on Ctrl-Z (SIGTSTP)');
test('Ctrl-Z and fg give the line editor back with the half-typed line', { ...T, skip: ctrlZSkip }, async () => {
  const t = tmuxSession({ shell: true });
  try {
    await t.waitFor("Type 'help'");
    t.keys('-l', 'pi');
    await t.waitFor(/devsup> pi$/m);
    t.keys('C-z');
    await t.waitFor(/Stopped/);
    t.keys('-l', 'fg');
    t.keys('Enter');
    await t.waitFor(/devsup> pi$/m);
    t.keys('-l', 'ng');
    t.keys('Enter');
    await t.waitFor(/pong: devsup/);
    t.keys('C-d');
    await t.waitFor('every project is stopped; bye', 30000);
    assert.ok(await pollUntil(() => leftovers(t.rid).length === 0, 5000), 'devsup still alive after Ctrl-D');
  } finally {
    await t.close();
  }
});

test('tmux: events print above the half-typed line, which is redrawn intact; Tab completes', { ...T, skip: !haveTmux() && 'tmux is not installed' }, async () => {
  const t = tmuxSession();
  try {
    await t.waitFor("Type 'help'");
    const ticker = 'i=0; while :; do i=$((i+1)); echo "tick $i"; sleep 0.2; done & exec node server.mjs';
    t.keys('-l', `start tick --cwd ${FIXTURES} --logs -- '${ticker}'`);
    t.keys('Enter');
    await t.waitFor(/tick\s+starting → running/);
    t.keys('-l', 'stat');
    // Lines keep arriving while "stat" is typed: each time, the prompt and "stat" come back
    // below them.
    let screen = await t.waitFor(/│ tick 5\n/);
    await sleep(600);
    screen = t.screen().trimEnd();
    const lines = screen.split('\n');
    assert.equal(lines.at(-1), 'devsup> stat', `the last line is not the redrawn prompt:\n${screen}`);
    assert.match(lines.at(-2), /tick\s+│ tick \d+$/, `no event right above the prompt:\n${screen}`);
    assert.ok(!lines.slice(0, -1).some((l) => l.includes('devsup> stat')), `a stale prompt was left behind:\n${screen}`);
    // Tab: "stat" -> "status ", then the project id.
    t.keys('Tab');
    await t.waitFor(/devsup> status *$/m); // capture-pane drops trailing blanks
    t.keys('-l', 'ti');
    t.keys('Tab');
    await t.waitFor(/devsup> status tick *$/m);
    t.keys('Enter');
    await t.waitFor(/^tick +running +\d+/m);
    t.keys('-l', 'quit!');
    t.keys('Enter');
    await t.waitFor('devsup exited 0', 30000);
    assert.deepEqual(leftovers(t.rid), []);
  } finally {
    await t.close();
  }
});

test('--no-tty keeps NDJSON even on a terminal', T, async () => {
  const s = ptySession({ args: ['--no-tty'] });
  try {
    const [line] = await s.waitFor(/\{"type":"ready"[^\n]*\}/, { from: 0 });
    assert.equal(JSON.parse(plain(line)).type, 'ready');
    s.type('{"type":"ping","id":1}\n');
    await s.waitFor(/\{"type":"pong"[^\n]*"commandId":1/);
    assert.doesNotMatch(s.text(), /devsup>/, 'a prompt in NDJSON mode');
  } finally {
    await s.close();
  }
});
