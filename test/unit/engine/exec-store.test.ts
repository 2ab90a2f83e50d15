// The exec journal (src/engine/exec-store.ts): appends, an exec's last line wins, a line torn
// by a crash is cut off before the next append, compaction, the files of earlier versions.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExecStore, type StoredExec } from '../../../src/engine/exec-store.js';

const CID = 'c'.repeat(64);
const id = (n: number): string => n.toString(16).padStart(64, '0');
const exec = (n: number, running: boolean): StoredExec => ({
  id: id(n),
  containerId: CID,
  config: { Cmd: ['true'] },
  running,
  exitCode: running ? null : n % 256,
  pid: 100 + n,
  monitorPid: 200 + n,
  dir: `/run/x/e-${id(n)}`,
});

function withRoot(fn: (root: string, journal: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const root = mkdtempSync(join(tmpdir(), 'berth-test-exec-store-'));
    try {
      mkdirSync(join(root, CID));
      await fn(root, join(root, CID, 'execs.jsonl'));
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  };
}

test(
  'each state is one appended line; the last line of an exec is its state',
  withRoot(async (root, journal) => {
    const s = new ExecStore(root);
    s.save(exec(1, true));
    s.save(exec(2, true));
    s.save(exec(1, false));
    assert.equal(readFileSync(journal, 'utf8').split('\n').length, 4, 'three lines and the final newline');
    assert.deepEqual(readdirSync(join(root, CID)), ['execs.jsonl'], 'no temp or per-exec files');
    const got = await new ExecStore(root).load(CID);
    assert.deepEqual(
      got.map((e) => [e.id, e.running, e.exitCode]),
      [
        [id(2), true, null],
        [id(1), false, 1],
      ],
    );
  }),
);

test(
  'a line torn by a crash is reported when read and cut off before the next append',
  withRoot(async (root, journal) => {
    new ExecStore(root).save(exec(1, true));
    appendFileSync(journal, JSON.stringify(exec(2, true)).slice(0, 40));
    const bad: string[] = [];
    assert.deepEqual((await new ExecStore(root).load(CID, (where) => bad.push(where))).map((e) => e.id), [id(1)]);
    assert.deepEqual(bad, [`${journal}:2`]);
    // A berthd started after the crash appends: the torn bytes go first, the new line stays whole.
    new ExecStore(root).save(exec(3, false));
    const lines = readFileSync(journal, 'utf8').split('\n');
    assert.equal(lines.length, 3);
    assert.deepEqual((await new ExecStore(root).load(CID)).map((e) => e.id), [id(1), id(3)]);
  }),
);

test(
  'rewritten with one line per exec once it holds more than twice as many lines as execs (+64)',
  withRoot(async (root, journal) => {
    const s = new ExecStore(root);
    for (let i = 0; i < 40; i++) {
      s.save(exec(i, true));
      s.save(exec(i, false));
    }
    // 80 lines for 40 execs is within 2 × 40 + 64; the journal grows on.
    assert.equal(readFileSync(journal, 'utf8').trim().split('\n').length, 80);
    for (let k = 0; k < 65; k++) s.save(exec(0, false));
    const lines = readFileSync(journal, 'utf8').trim().split('\n');
    assert.ok(lines.length <= 41, `compacted to ${lines.length} lines`);
    const got = await new ExecStore(root).load(CID);
    assert.equal(got.length, 40);
    assert.ok(got.every((e) => !e.running && e.exitCode === Number.parseInt(e.id, 16) % 256));
    assert.deepEqual(readdirSync(join(root, CID)), ['execs.jsonl'], 'no temp file left');
  }),
);

test(
  'records of earlier versions (execs/<id>.json) are read; the journal has the later states',
  withRoot(async (root) => {
    mkdirSync(join(root, CID, 'execs'));
    writeFileSync(join(root, CID, 'execs', `${id(1)}.json`), JSON.stringify(exec(1, true)));
    writeFileSync(join(root, CID, 'execs', `${id(2)}.json`), JSON.stringify(exec(2, true)));
    writeFileSync(join(root, CID, 'execs', `${id(3)}.json`), '{"torn');
    new ExecStore(root).save(exec(2, false));
    const bad: string[] = [];
    const got = await new ExecStore(root).load(CID, (where) => bad.push(where));
    assert.deepEqual(
      got.map((e) => [e.id, e.running]),
      [
        [id(1), true],
        [id(2), false],
      ],
    );
    assert.deepEqual(bad, [join(root, CID, 'execs', `${id(3)}.json`)]);
  }),
);

test(
  'a container without a directory: the append fails with ENOENT and makes nothing',
  withRoot(async (root) => {
    const s = new ExecStore(root);
    const other = { ...exec(1, true), containerId: 'd'.repeat(64) };
    assert.throws(() => s.save(other), { code: 'ENOENT' });
    assert.deepEqual(await s.load('d'.repeat(64)), []);
  }),
);

test(
  'drop: the journal is rewritten without the given execs, their files of earlier versions go, later appends count from there',
  withRoot(async (root, journal) => {
    mkdirSync(join(root, CID, 'execs'));
    writeFileSync(join(root, CID, 'execs', `${id(3)}.json`), JSON.stringify(exec(3, false)));
    const s = new ExecStore(root);
    for (const n of [1, 2, 4]) s.save(exec(n, true));
    for (const n of [1, 2]) s.save(exec(n, false));
    s.drop(CID, new Set([id(1), id(3)]));
    assert.deepEqual(readdirSync(join(root, CID)).sort(), ['execs', 'execs.jsonl'], 'no temp file left');
    assert.deepEqual(readdirSync(join(root, CID, 'execs')), [], 'the legacy file of a dropped exec is gone');
    assert.equal(readFileSync(journal, 'utf8').split('\n').length, 3, 'one line per exec kept');
    s.save(exec(4, false));
    const got = await new ExecStore(root).load(CID);
    assert.deepEqual(
      got.map((e) => [e.id, e.running]),
      [
        [id(2), false],
        [id(4), false],
      ],
    );
    new ExecStore(root).drop('d'.repeat(64), new Set([id(1)])); // no directory, no journal: nothing to do
  }),
);
