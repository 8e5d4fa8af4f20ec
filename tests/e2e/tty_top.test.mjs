// The front end's live `top` view (SPEC §9, issue 16), on a real terminal screen (tmux): it
// appears, refreshes by itself, sorts by CPU or memory, and gives the line editor back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FIXTURES, pollUntil } from './lib/harness.mjs';
import { tmuxSession, haveTmux, leftovers } from './lib/pty.mjs';

const T = { timeout: 90000, skip: !haveTmux() && 'tmux is not installed' };

test('top: appears, refreshes every second, sorts by c/m, and q gives the prompt back', T, async () => {
  const t = tmuxSession();
  try {
    await t.waitFor("Type 'help'");
    t.keys('-l', `start light --cwd ${FIXTURES} -- node server.mjs --port {port}`);
    t.keys('Enter');
    await t.waitFor(/light\s+starting → running/);
    t.keys('-l', `start heavy --memory 1G --cwd ${FIXTURES} -- node resources.mjs --hold 80`);
    t.keys('Enter');
    await t.waitFor(/heavy\s+starting → running/);
    t.keys('-l', 'top');
    t.keys('Enter');
    let screen = await t.waitFor(/devsup top — 2 live projects, sorted by CPU +(\d\d:\d\d:\d\d)/);
    assert.match(screen, /^PROJECT +STATE +PORT +PROCS +CPU% +MEM +CPU TIME/m);
    assert.match(screen, /^light +running +\d+ +1 +\d+\.\d +\d+(\.\d)? MiB/m);
    assert.doesNotMatch(screen, /devsup> /, 'the prompt is not on the top screen');
    // it refreshes by itself: the clock moves without a key
    const clock = screen.match(/sorted by CPU +(\d\d:\d\d:\d\d)/)[1];
    await t.waitFor(new RegExp(`sorted by CPU +(?!${clock})\\d\\d:\\d\\d:\\d\\d`), 5000);
    // m: by memory, the 80 MB holder first
    t.keys('m');
    screen = await t.waitFor(/sorted by memory/);
    await t.waitFor(/heavy +running[^\n]*\n(?:.*\n)*light +running/, 5000);
    t.keys('c');
    await t.waitFor(/sorted by CPU/);
    // q: the screen as it was, the prompt back, commands work
    t.keys('q');
    screen = await t.waitFor(/devsup> *$/m);
    assert.doesNotMatch(screen, /devsup top —/, `the top screen was left behind:\n${screen}`);
    assert.match(screen, /heavy\s+starting → running/, 'the screen before top is back');
    t.keys('-l', 'ping');
    t.keys('Enter');
    await t.waitFor(/pong: devsup/);
    // Ctrl-C leaves it too
    t.keys('-l', 'top');
    t.keys('Enter');
    await t.waitFor(/devsup top —/);
    t.keys('C-c');
    await t.waitFor(/devsup> *$/m);
    t.keys('-l', 'quit!'); // Ctrl-D would ask first, with projects live
    t.keys('Enter');
    await t.waitFor('devsup exited 0', 30000);
    assert.ok(await pollUntil(() => leftovers(t.rid).length === 0, 5000), 'processes left after Ctrl-D');
  } finally {
    await t.close();
  }
});
