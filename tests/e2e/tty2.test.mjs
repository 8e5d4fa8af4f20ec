// The interactive front end as a person debugging at a shell meets it (issue 18): output to a
// file, long lines, Ctrl-R, narrow terminals, failure tails, typos, messages for people,
// `all`, merged logs, mute, a project file, the quit question, the stop countdown, and a
// history two devsups share. Each through a pseudo-terminal (script) or a tmux pane.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FIXTURES, HEAVY, pollUntil, sleep } from './lib/harness.mjs';
import { withPty, ptySession, tmuxSession, withTmux, haveTmux, leftovers } from './lib/pty.mjs';

const T = { timeout: 60000 };
const noTmux = !haveTmux() && 'tmux is not installed';
const server = (id, extra = '') => `start ${id} --cwd ${FIXTURES} ${extra} -- node server.mjs --port {port}`;
const ticker = (word) => `'i=0; while :; do i=$((i+1)); echo "${word} $i"; sleep 0.2; done & exec node server.mjs --port {port}'`;

const tmpDir = () => mkdtempSync(path.join(os.tmpdir(), 'devsup-tty2-'));

const type = (t, text) => { t.keys('-l', text); t.keys('Enter'); };

test('devsup --tty > out.txt: typed lines run, the file holds plain lines, the terminal edits', T, async () => {
  const dir = tmpDir();
  const out = path.join(dir, 'out.txt');
  const s = ptySession({ stdoutTo: out });
  try {
    // the prompt is drawn on the terminal, not in the file
    await s.waitFor('devsup> ', { from: 0 });
    s.line('ping');
    await pollUntil(() => existsSync(out) && /pong: devsup/.test(readFileSync(out, 'utf8')), 10000);
    s.line(server('web'));
    await pollUntil(() => /web +starting → running/.test(readFileSync(out, 'utf8')), 15000);
    s.line('quit!');
    const { code } = await s.exited;
    assert.equal(code, 0);
    const text = readFileSync(out, 'utf8');
    assert.match(text, /pong: devsup/, `ping did not run:\n${text}`);
    assert.match(text, /every project is stopped; bye/);
    assert.doesNotMatch(text, /[\r\x1b]/, `redraw escapes or CRs in the file:\n${JSON.stringify(text.slice(0, 300))}`);
    assert.doesNotMatch(text, /devsup> /, 'the prompt landed in the file');
    assert.ok(await pollUntil(() => leftovers(s.rid).length === 0, 5000), 'processes left');
  } finally {
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

// Not under valgrind: the redraw lags the 0.2 s ticks there, so the screen shows the events but
// not yet the line; what is checked is drawing, not memory.
const redrawSkip = noTmux || (process.env.DEVSUP_VALGRIND && 'under valgrind the redraw lags the events it is checked against');
test('a half-typed line longer than the terminal is not duplicated above events', { ...T, skip: redrawSkip }, () =>
  withTmux({ width: 60, height: 30 }, async (t) => {
    type(t, `start tick --cwd ${FIXTURES} --logs -- ${ticker('tick')}`);
    await t.waitFor(/tick +starting → running/);
    const long = `status ${'x'.repeat(100)}MARK`; // two rows and a half at 60 columns
    t.keys('-l', long);
    await t.waitFor('MARK');
    await sleep(1500); // several events arrive meanwhile
    const screen = t.joined();
    const rows = screen.split('\n').filter((l) => l.includes('xxxxxxxxxx'));
    assert.equal(rows.length, 1, `the typed line appears ${rows.length} times:\n${screen}`);
    assert.equal(screen.split('MARK').length - 1, 1, `MARK more than once:\n${screen}`);
    t.keys('C-u');
    type(t, 'quit!');
    await t.waitFor('devsup exited 0', 20000);
  }));

test('Ctrl-R finds an earlier line; nothing garbled runs or lands in the history', { ...T, skip: noTmux }, () =>
  withTmux({}, async (t) => {
    type(t, 'ping');
    await t.waitFor(/pong: devsup/);
    type(t, 'metrics');
    await t.waitFor(/^ *starts /m);
    t.keys('-l', 'pi');
    t.keys('C-r');
    await t.waitFor(/devsup> ping$/m);
    t.keys('Enter');
    await pollUntil(() => (t.screen().match(/pong: devsup/g) || []).length === 2, 5000);
    // what used to run as garbage (bck:cra) and be saved as \012bck:\^Dcra
    t.keys('C-r');
    t.keys('-l', 'cra');
    t.keys('Enter');
    await sleep(500);
    const screen = t.screen();
    assert.doesNotMatch(screen, /bck:/, `garbage ran:\n${screen}`);
    const history = readFileSync(path.join(t.home, '.devsup_history'), 'utf8');
    assert.doesNotMatch(history, /bck|[\x00-\x08\x0b-\x1f]|\\0|\\\^/, `garbage in the history: ${JSON.stringify(history)}`);
    assert.match(history, /^ping\nmetrics\nping\n/, JSON.stringify(history));
    type(t, 'quit!');
    await t.waitFor('devsup exited 0', 20000);
  }));

test('50 columns: a status row on one line, events folded under their text; resized, refitted', { ...T, skip: noTmux }, () =>
  withTmux({ width: 120, height: 40 }, async (t) => {
    type(t, server('web-frontend'));
    await t.waitFor(/web-frontend +starting → running/);
    t.resize(50, 40);
    await sleep(300); // SIGWINCH reaches devsup
    type(t, 'status');
    const screen = await t.waitFor(/^web-frontend +running/m);
    const joined = t.joined().split('\n');
    const row = joined.find((l) => l.startsWith('web-frontend '));
    assert.ok(row.length <= 50, `the status row takes more than one line at 50 columns: [${row}]\n${screen}`);
    assert.ok(joined.find((l) => l.startsWith('PROJECT')).length <= 50, 'the header wraps');
    type(t, `start web-frontend --cwd ${FIXTURES} -- node server.mjs`);
    await t.waitFor(/already_running/);
    const after = t.joined().split('\n');
    const from = after.findIndex((l) => l.includes('already_running'));
    const block = after.slice(from, from + 6);
    for (const l of block) assert.ok(l.length <= 50, `a line wraps at 50 columns: [${l}]\n${block.join('\n')}`);
    const textColumn = block[0].indexOf('✗');
    const lead = block[1].match(/^ */)[0].length; // under the ✗, or the text after it
    assert.ok(textColumn > 0 && lead >= textColumn && lead <= textColumn + 2,
      `not folded under the text:\n${block.join('\n')}`);
    type(t, 'quit!');
    await t.waitFor('devsup exited 0', 20000);
  }));

test('the failure tail shows the line naming the error and how many lines there are', T, () =>
  withPty({}, async (s) => {
    const says = ['> app@1.0.0 dev', '> vite', '', 'node:internal/errors:496', '    ErrorCaptureStackTrace(err);',
      'Error: Found another Vite dev process on port 5173', '    at a (file:///a.js:1:1)', '    at b (file:///a.js:2:1)',
      '    at c (file:///a.js:3:1)', '    at d (file:///a.js:4:1)', '    at e (file:///a.js:5:1)', '    at f (file:///a.js:6:1)',
      '    at g (file:///a.js:7:1)', '    at h (file:///a.js:8:1)', '    at i (file:///a.js:9:1)', 'Node.js v20.0.0'];
    const args = says.map((l) => `--stderr '${l}'`).join(' ');
    s.line(`start vite --cwd ${FIXTURES} -- node server.mjs --port {port} ${args} --exit-after 100 --exit-code 1`);
    const [block] = await s.waitFor(/✗ immediate_crash[^]*?lines shown[^\n]*\n/);
    assert.match(block, /│ Error: Found another Vite dev process on port 5173/, block);
    const [, shown, all] = block.match(/\((\d+) of (\d+) lines shown; logs vite shows them all\)/) || [];
    assert.ok(Number(all) >= 15 && Number(shown) < Number(all), `no count of the lines:\n${block}`);
  }));

test('typos: a swap and a beginning are understood; unknown projects are named, not faked', T, () =>
  withPty({}, async (s) => {
    s.line('stauts');
    await s.waitFor("unknown command 'stauts' — did you mean 'status'?");
    s.line('help stat');
    await s.waitFor("did you mean 'status'?");
    s.line(server('web'));
    await s.waitFor(/web +starting → running/);
    s.line('stop webb');
    await s.waitFor("no project 'webb' — did you mean 'web'?");
    s.line('status nope');
    await s.waitFor("no project 'nope'; the projects are web");
    assert.doesNotMatch(s.text(), /^nope +idle/m);
    assert.doesNotMatch(s.text(), /not running \(state: idle\)/);
  }));

test('messages for people; start takes --env-file, --health-*, --stop-timeout', T, () =>
  withPty({}, async (s) => {
    const dir = tmpDir();
    try {
      writeFileSync(path.join(dir, '.env'), '# for the test\nexport GREETING="hello there"\n');
      s.line(`start web --cwd ${FIXTURES} --env-file ${dir}/.env --stop-timeout 1 -- sh -c 'echo "greeting=$GREETING"; exec node server.mjs --port {port} --ignore-sigterm'`);
      await s.waitFor(/web +starting → running/);
      s.line('logs web');
      await s.waitFor('greeting=hello there');
      s.line(server('web'));
      const [block] = await s.waitFor(/✗ already_running[^\n]*\n[^\n]*→ [^\n]*\n/);
      assert.doesNotMatch(block, /restart-dev-server/, block);
      assert.match(block, /restart ID|restart/, block);
      const t0 = performance.now();
      s.line('stop web');
      await s.waitFor(/web +stopping → stopped +SIGKILL after \d+ ms, forced with SIGKILL/);
      assert.ok(performance.now() - t0 < 6000, '--stop-timeout 1 was not used');
      s.line(`start slow --cwd ${FIXTURES} --health-path /health --health-timeout 1 -- node server.mjs --port {port} --listen-after 5000`);
      const [err] = await s.waitFor(/✗ health_check_timeout[^\n]*\n[^\n]*→ [^\n]*\n/);
      assert.doesNotMatch(err, /healthCheck|timeoutMs|logTail|strictPort/, err);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }));

test('a start while devsup shuts down says shutting_down, not capacity', T, () =>
  withPty({}, async (s) => {
    s.line(server('stubborn', '--stop-timeout 3').replace('{port}', '{port} --ignore-sigterm'));
    await s.waitFor(/stubborn +starting → running/);
    s.line('quit!');
    await s.waitFor('stopping every project');
    s.line(server('late'));
    await s.waitFor(/✗ shutting_down: devsup is shutting down/);
    assert.doesNotMatch(s.text(), /✗ capacity/);
    const { code } = await s.exited;
    assert.equal(code, 0);
  }));

test('all, merged logs in colours, mute and unmute', { ...T, skip: noTmux || HEAVY }, () =>
  withTmux({}, async (t) => {
    type(t, `start aa --cwd ${FIXTURES} --logs -- ${ticker('alpha')}`);
    type(t, `start bb --cwd ${FIXTURES} --logs -- ${ticker('beta')}`);
    await t.waitFor(/aa +starting → running/);
    await t.waitFor(/bb +starting → running/);
    type(t, 'mute aa');
    await t.waitFor('aa muted');
    await sleep(600);
    type(t, 'clear');
    await sleep(1500);
    const later = t.screen();
    const tail = later.slice(later.lastIndexOf('unknown command'));
    assert.doesNotMatch(tail, /│ alpha \d+/, `aa's output still shows while muted:\n${tail}`);
    assert.match(tail, /│ beta \d+/, `bb's output stopped too:\n${tail}`);
    type(t, 'mute bb');
    type(t, 'logs all -n 3');
    const screen = await t.waitFor(/\d\d:\d\d:\d\d bb +│ beta \d+/);
    assert.match(screen, /\d\d:\d\d:\d\d aa +│ alpha \d+/, `logs all is not merged with names:\n${screen}`);
    type(t, 'stop all');
    await t.waitFor(/aa +stopping → stopped/);
    await t.waitFor(/bb +stopping → stopped/);
    t.keys('C-d'); // nothing live: no question
    await t.waitFor('devsup exited 0', 20000);
  }));

test('a project file: up starts in dependsOn order, a failed dependency fails its dependents, down stops', T, () =>
  withPty({}, async (s) => {
    const dir = tmpDir();
    try {
      const srv = (extra = []) => ({ command: ['node', `${FIXTURES}/server.mjs`, '--port', '{port}', ...extra] });
      writeFileSync(path.join(dir, 'devsup.json'), JSON.stringify({
        projects: {
          web: { ...srv(), dependsOn: ['api'] },
          api: { ...srv(['--listen-after', '700']) },
          broken: { command: ['node', '-e', 'process.exit(3)'] },
          needsbroken: { ...srv(), dependsOn: ['broken'] },
        },
      }));
      writeFileSync(path.join(dir, 'cycle.json'), JSON.stringify({
        projects: { a: { ...srv(), dependsOn: ['b'] }, b: { ...srv(), dependsOn: ['a'] } },
      }));
      s.line(`up --file ${dir}/cycle.json`);
      await s.waitFor('dependsOn has a cycle: a → b → a');
      s.line(`up --file ${dir}/devsup.json`);
      await s.waitFor('needsbroken not started: it depends on broken, which failed');
      await s.waitFor(/web +starting → running/);
      await s.waitFor('up: every project of the file is running or failed');
      const text = s.text();
      const apiUp = text.search(/api +starting → running/), webStarts = text.search(/web +idle → starting/);
      assert.ok(apiUp >= 0 && webStarts > apiUp, `web started before api ran:\n${text.slice(-2500)}`);
      assert.doesNotMatch(text, /needsbroken +idle → starting/, 'a dependent of a failed project was started');
      s.line(`down --file ${dir}/devsup.json`);
      await s.waitFor(/web +stopping → stopped/);
      await s.waitFor(/api +stopping → stopped/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }));

test('Ctrl-D with projects running asks once; no keeps them', T, () =>
  withPty({}, async (s) => {
    s.line(server('web'));
    await s.waitFor(/web +starting → running/);
    s.type('\x04');
    await s.waitFor('stop 1 project and exit? [y/N]');
    s.line('n');
    await s.waitFor('nothing stopped');
    s.line('ping');
    await s.waitFor(/pong/);
    s.line('quit');
    await s.waitFor('stop 1 project and exit? [y/N]');
    s.type('\x04'); // Ctrl-D at the question: yes
    await s.waitFor(/web +running → stopping/);
    const { code } = await s.exited;
    assert.equal(code, 0);
  }));

test('a stop waiting for its grace counts down in place', { ...T, skip: noTmux }, () =>
  withTmux({}, async (t) => {
    type(t, `start stubborn --cwd ${FIXTURES} -- node server.mjs --port {port} --ignore-sigterm`);
    await t.waitFor(/stubborn +starting → running/);
    type(t, 'stop stubborn --timeout 4');
    let screen = await t.waitFor(/devsup \(stopping stubborn\.\.\. SIGKILL in [23] s\)>$/m);
    screen = await t.waitFor(/devsup \(stopping stubborn\.\.\. SIGKILL in 1 s\)>$/m);
    assert.equal((screen.match(/SIGKILL in/g) || []).length, 1, `the countdown is not updated in place:\n${screen}`);
    screen = await t.waitFor(/stubborn +stopping → stopped +SIGKILL/);
    await sleep(300);
    assert.match(t.screen().trimEnd().split('\n').at(-1), /^devsup>$/, 'the countdown stayed');
    type(t, 'quit');
    await t.waitFor('devsup exited 0', 20000);
  }));

test('two devsups in two terminals append to one history; it stays bounded', { ...T, skip: HEAVY }, async () => {
  const home = tmpDir();
  // an old history of 1150 lines: cut to the newest 1000 once it grows past the bound
  writeFileSync(path.join(home, '.devsup_history'), Array.from({ length: 1150 }, (_, i) => `old ${i}`).join('\n') + '\n');
  const a = ptySession({ env: { HOME: home } });
  const b = ptySession({ env: { HOME: home } });
  try {
    await a.waitFor("Type 'help'", { from: 0 });
    await b.waitFor("Type 'help'", { from: 0 });
    a.line('ping');
    await a.waitFor(/pong/);
    b.line('status');
    await b.waitFor('no projects yet');
    b.line('quit');
    assert.equal((await b.exited).code, 0);
    a.line('metrics');
    await a.waitFor(/starts/);
    a.line('quit');
    assert.equal((await a.exited).code, 0);
    const lines = readFileSync(path.join(home, '.devsup_history'), 'utf8').split('\n').filter(Boolean);
    // each line as it was typed, whichever devsup took it: none overwrote the other's
    assert.deepEqual(lines.slice(-5), ['ping', 'status', 'quit', 'metrics', 'quit']);
    assert.ok(lines.length <= 1100 && lines.length >= 1000, `${lines.length} lines kept`);
    assert.ok(!existsSync(path.join(home, '.devsup_history.new')), 'the rewrite left its .new');
  } finally {
    await a.close();
    await b.close();
    rmSync(home, { recursive: true, force: true });
  }
});

const ctrlZSkip = noTmux || (process.env.DEVSUP_VALGRIND && 'a program under valgrind does not stop on Ctrl-Z (SIGTSTP)');
test('after Ctrl-Z and fg, the lines printed meanwhile carry the time they were printed', { ...T, skip: ctrlZSkip }, async () => {
  const t = tmuxSession({ shell: true });
  try {
    await t.waitFor("Type 'help'");
    const clock = `'while :; do echo "said $(date +%H:%M:%S)"; sleep 0.5; done & exec node server.mjs --port {port}'`;
    type(t, `start clock --cwd ${FIXTURES} --logs -- ${clock}`);
    await t.waitFor(/clock +starting → running/);
    t.keys('C-z');
    await t.waitFor(/Stopped/);
    await sleep(4000); // lines are printed while devsup is stopped
    type(t, 'fg');
    await sleep(1500);
    const lines = t.screen().split('\n').map((l) => l.match(/^(\d\d:\d\d:\d\d) clock +│ said (\d\d:\d\d:\d\d)$/)).filter(Boolean);
    const secs = (hms) => { const [h, m, s] = hms.split(':').map(Number); return h * 3600 + m * 60 + s; };
    assert.ok(lines.length >= 6, `too few lines on screen: ${lines.length}`);
    for (const [line, shown, said] of lines) {
      // a busy machine may read a line a little late; the backlog was 4 s late
      assert.ok(Math.abs(secs(shown) - secs(said)) <= 2, `stamped ${shown} but printed at ${said}: ${line}`);
    }
    type(t, 'quit!');
    await t.waitFor(/every project is stopped; bye/, 20000);
  } finally {
    await t.close();
  }
});

test('status names a failed project\'s last failure and exit code', T, () =>
  withPty({}, async (s) => {
    s.line(`start crash --cwd ${FIXTURES} -- node server.mjs --exit-after 50 --exit-code 4`);
    await s.waitFor(/✗ immediate_crash/);
    s.line('stop crash'); // refused (not running): not a failure of the project
    await s.waitFor(/not_running/);
    s.line('status');
    const [row] = await s.waitFor(/^crash +failed .*$/m);
    assert.match(row, /immediate_crash, exit 4$/, row);
  }));
