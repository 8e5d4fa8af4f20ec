// docs/protocol.md cannot drift from the wire: its JSON examples are checked against the real
// binary. The commands of the "Examples" session (lines starting with `> `) are sent in order
// (with /srv/web and /srv/api standing for the fixtures directory); every event shown in the
// document, in any section, must have the shape of an event devsup really sent (same type and
// kind, the same field names with the same JSON types, nested objects too). The commands of the
// other sections must pass devsup's validation.
//
// DOCS_PRINT=FILE writes the real session there, to paste into the document after a change.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { withDevsup, REPO, FIXTURES, pollUntil } from './lib/harness.mjs';

const T = { timeout: 90000 };
const DOC = path.join(REPO, 'docs', 'protocol.md');
const COMMANDS = new Set(['start-dev-server', 'stop-dev-server', 'restart-dev-server', 'status', 'logs',
  'follow-logs', 'ping', 'metrics', 'shutdown']);
const INTERMEDIATE = new Set(['dev-server-state', 'log', 'log-stream-ended']);

/** Every ```json block of the document: {section, lines: [{command, raw, json}]}. */
function docBlocks() {
  const text = readFileSync(DOC, 'utf8');
  const blocks = [];
  let section = '';
  let inBlock = null;
  for (const line of text.split('\n')) {
    if (!inBlock && /^#+ /.test(line)) section = line.replace(/^#+ /, '');
    if (!inBlock && line.trim() === '```json') { inBlock = { section, lines: [] }; continue; }
    if (inBlock && line.trim() === '```') { blocks.push(inBlock); inBlock = null; continue; }
    if (!inBlock || !line.trim()) continue;
    const command = line.startsWith('> ');
    const raw = command ? line.slice(2) : line;
    let json = null;
    try { json = JSON.parse(raw); } catch { /* a deliberately broken command line */ }
    // outside the session, a command is a line without `>`: one of a command's type that is
    // not an event (events always carry a timestamp; `status` is both)
    inBlock.lines.push({ command: command || Boolean(json && COMMANDS.has(json.type) && !('timestamp' in json)), raw, json });
  }
  return blocks;
}

/** The shape of a JSON value: types, and for objects their keys' shapes. */
function shape(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return v.length ? ['array', shape(v[0])] : ['array'];
  if (typeof v === 'object') {
    const o = {};
    for (const k of Object.keys(v).sort()) o[k] = shape(v[k]);
    return o;
  }
  return typeof v;
}

/** a matches b: the same keys, each of the same shape (an empty array matches any array). */
function sameShape(a, b) {
  if (Array.isArray(a) && Array.isArray(b)) return a.length === 1 || b.length === 1 || sameShape(a[1], b[1]);
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => k in b && sameShape(a[k], b[k]));
  }
  return a === b;
}

/** The kind of an event: events of one kind have one shape, up to optional fields. */
const kind = (e) => [e.type, e.reason ?? '', e.from ?? '', e.to ?? '',
  e.commandId === undefined ? 'no-id' : 'id'].join('|');

/** The session as the document shows it: commands, then what followed each; values shortened. */
function printSession(d, marks) {
  const [lo] = d.portRange;
  const out = [];
  const clean = (e) => {
    const c = { ...e };
    if (c.timestamp) c.timestamp = '…';
    let text = JSON.stringify(c).replaceAll(FIXTURES, '/srv/web').replaceAll(d.runnerId, 'docs');
    for (let port = lo + 19; port >= lo; port--) text = text.replaceAll(String(port), String(3000 + port - lo));
    return text.replace(/on PATH \([^)]*\)/, 'on PATH (/usr/local/bin:/usr/bin:/bin)');
  };
  out.push(clean(d.events[0]));
  marks.forEach((m, i) => {
    out.push(`> ${m.raw}`);
    for (const e of d.events.slice(m.from, marks[i + 1]?.from ?? d.events.length)) out.push(clean(e));
  });
  writeFileSync(process.env.DOCS_PRINT, `${out.join('\n')}\n`);
}

const forDevsup = (raw) => raw.replaceAll('/srv/web', FIXTURES).replaceAll('/srv/api', FIXTURES);

test('every JSON example in docs/protocol.md has the shape of what devsup sends', T, () =>
  withDevsup({}, async (d) => {
    const blocks = docBlocks();
    const session = blocks.find((b) => b.section.startsWith('Examples'));
    assert.ok(session, 'no Examples section in docs/protocol.md');
    // the kinds of events shown before the shutdown: the session waits for those that come
    // by themselves (a crash, a tunnel dying) before it ends
    const end = session.lines.findIndex((x) => x.json?.type === 'shutdown');
    const later = session.lines.slice(0, end).filter((x) => !x.command).map((x) => kind(x.json ?? {}));
    const marks = [];
    for (const l of session.lines.filter((x) => x.command)) {
      const id = l.json?.id ?? l.raw.match(/"id":"([^"]+)"/)?.[1];
      if (l.json?.type === 'shutdown') {
        await pollUntil(() => later.every((k) => d.events.some((e) => kind(e) === k)), 15000);
      }
      const from = d.events.length;
      marks.push({ raw: l.raw, from });
      d.sendRaw(forDevsup(l.raw) + '\n');
      if (l.json?.type === 'shutdown') break;
      await pollUntil(() => d.events.slice(from).some((e) => (id === undefined
        ? e.type === 'error' && e.commandId === undefined
        : e.commandId === id && !INTERMEDIATE.has(e.type) && !e.type.startsWith('tunnel-'))), 30000);
      assert.ok(d.events.slice(from).length, `no answer to ${l.raw}`);
    }
    await d.exited;
    if (process.env.DOCS_PRINT) printSession(d, marks);
    const real = new Map();
    for (const e of d.events) {
      const k = kind(e);
      if (!real.has(k)) real.set(k, []);
      real.get(k).push(shape(e));
    }
    const problems = [];
    for (const b of blocks) {
      for (const l of b.lines) {
        if (l.command) continue;
        assert.ok(l.json, `an example event is not JSON (${b.section}): ${l.raw}`);
        const k = kind(l.json);
        const seen = real.get(k);
        if (!seen) problems.push(`${b.section}: no event of this kind (${k}) in the real session: ${l.raw}`);
        else if (!seen.some((s) => sameShape(shape(l.json), s))) {
          problems.push(`${b.section}: ${l.raw}\n    has shape ${JSON.stringify(shape(l.json))}\n    devsup sent ${seen.map((s) => JSON.stringify(s)).join('\n             or ')}`);
        }
      }
    }
    assert.deepEqual(problems, [], problems.join('\n'));
  }));

test('the commands shown outside the session pass devsup\'s validation', T, () =>
  withDevsup({}, async (d) => {
    for (const b of docBlocks().filter((x) => !x.section.startsWith('Examples'))) {
      for (const l of b.lines.filter((x) => x.command && x.json)) {
        const ans = await d.request({ ...l.json, id: `doc-${Math.random()}` }, 30000);
        assert.ok(!['invalid_command', 'unknown_command', 'invalid_json'].includes(ans.reason),
          `${b.section}: ${l.raw} is refused: ${JSON.stringify(ans)}`);
        if (ans.type === 'dev-server-started') await d.request({ type: 'stop-dev-server', projectId: ans.projectId });
      }
    }
  }));
