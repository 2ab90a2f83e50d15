// The json-file log reader: its fast path for berth-monitor's lines must read every line
// exactly as JSON.parse does, and leave anything else to JSON.parse.

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseLogLine, readJsonLog } from '../../../src/engine/monitor/json-log.js';

const TIME = '2026-11-22T09:47:08.017438764Z';
const line = (log: string, stream = 'stdout', time = TIME): string => JSON.stringify({ log, stream, time });

test('parseLogLine reads what JSON.parse reads, escapes and all', () => {
  const texts = ['1\n', '', 'no newline', 'tab\there\n', 'quote " inside\n', 'back\\slash\n', 'ends in backslash\\', 'ends \\\n', '","stream":"stderr\n', 'ünïcödé ✓\n', '\u0001ctl\n', 'a\nb\n', '\\n literal\n'];
  for (const t of texts) {
    for (const stream of ['stdout', 'stderr']) {
      assert.deepEqual(parseLogLine(line(t, stream)), { log: t, stream, time: TIME }, JSON.stringify(t));
    }
  }
});

test('parseLogLine refuses what is not an entry', () => {
  for (const l of ['', 'garbage', '{"log":"x\\n"', '{"log":"x\\n","stream":"stdin","time":"t"}', '{"log":1,"stream":"stdout","time":"t"}', '{"log":"x","stream":"stdout"}']) {
    assert.equal(parseLogLine(l), undefined, l);
  }
  // other key orders still parse (through JSON.parse)
  assert.deepEqual(parseLogLine(JSON.stringify({ stream: 'stderr', time: TIME, log: 'x\n' })), { log: 'x\n', stream: 'stderr', time: TIME });
});

test('readJsonLog filters by time only when asked', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-test-json-log-'));
  try {
    const path = join(dir, 'c-json.log');
    await writeFile(path, `${line('a\n', 'stdout', '2026-01-01T00:00:01.5Z')}\n${line('b\n', 'stderr', '2026-01-01T00:00:02.000000001Z')}\nnot json\n`);
    const all: string[] = [];
    for await (const e of readJsonLog(path)) all.push(`${e.stream}:${e.log}`);
    assert.deepEqual(all, ['stdout:a\n', 'stderr:b\n']);
    const since: string[] = [];
    for await (const e of readJsonLog(path, { since: new Date('2026-01-01T00:00:02Z') })) since.push(e.log);
    assert.deepEqual(since, ['b\n']);
    const until: string[] = [];
    for await (const e of readJsonLog(path, { until: 1767225602000000001n })) until.push(e.log);
    assert.deepEqual(until, ['a\n']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
