import { test } from 'node:test';
import assert from 'node:assert/strict';
import { open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { IngestWriter } from '../../../src/image/content/ingest-writer.js';
import { makeTempDir, removeTempDir } from '../../harness/tmp.js';

async function inTemp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await makeTempDir('ingest-writer');
  try {
    await fn(dir);
  } finally {
    await removeTempDir(dir);
  }
}

test('chunks land in order after what the file held, in fewer writes than chunks', async () => {
  await inTemp(async (dir) => {
    const path = join(dir, 'data');
    await writeFile(path, 'head:');
    const fh = await open(path, 'r+');
    const reports: number[] = [];
    try {
      const w = new IngestWriter(fh, 5, (n) => reports.push(n));
      const chunks = Array.from({ length: 200 }, (_, i) => Buffer.from(`<${i}>`));
      for (const c of chunks) await w.push(c);
      const total = await w.end();
      const expected = Buffer.concat([Buffer.from('head:'), ...chunks]);
      assert.equal(total, expected.length);
      assert.deepEqual(await readFile(path), expected);
      assert.equal(reports.at(-1), expected.length, 'the last report is the whole file');
      assert.deepEqual(reports, [...reports].sort((a, b) => a - b), 'reports only grow');
      assert.ok(reports.length < chunks.length, `${reports.length} writes for ${chunks.length} chunks`);
    } finally {
      await fh.close();
    }
  });
});

test('a failed write fails the next push and end, and nothing after it is written', async () => {
  await inTemp(async (dir) => {
    const path = join(dir, 'data');
    await writeFile(path, '');
    const fh = await open(path, 'r'); // read-only: every write fails with EBADF
    try {
      const w = new IngestWriter(fh, 0, () => assert.fail('nothing was written'));
      await w.push(Buffer.from('a'));
      await assert.rejects(w.end(), { code: 'EBADF' });
      await assert.rejects(w.push(Buffer.from('b')), { code: 'EBADF' });
      assert.equal((await readFile(path)).length, 0);
    } finally {
      await fh.close();
    }
  });
});
