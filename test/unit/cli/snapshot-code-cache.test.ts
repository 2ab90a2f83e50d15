// dropCodeCache on real blobs of this node: one with Node's code cache of its built-ins
// (what `node --build-snapshot` writes), one built without (`withoutCodeCache`).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dropCodeCache, SnapshotFormatError } from '../../../src/cli/snapshot-code-cache.js';
import { makeTempDir, removeTempDir } from '../../harness/tmp.js';

const BUILDER = `
const { startupSnapshot } = require('node:v8');
const kept = { greeting: 'hello from the snapshot' };
// node:zlib is not in the heap: loaded after the start, it is compiled from its source.
startupSnapshot.setDeserializeMainFunction(() =>
  console.log(kept.greeting, process.argv.slice(1).join(' '), process.getBuiltinModule('node:zlib').gunzipSync(process.getBuiltinModule('node:zlib').gzipSync('zlib')).toString()));
`;

function node(args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, args, { encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
}

test('the code cache goes, the heap stays: the blob is smaller and still starts', async () => {
  const dir = await makeTempDir('snapshot-code-cache');
  try {
    writeFileSync(join(dir, 'builder.js'), BUILDER);
    const blob = join(dir, 'full.blob');
    const built = node(['--snapshot-blob', blob, '--build-snapshot', join(dir, 'builder.js')]);
    assert.equal(built.status, 0, built.stderr);
    const full = readFileSync(blob);
    const { blob: stripped, modules } = dropCodeCache(full);
    assert.ok(modules > 100, `code cache of ${modules} modules`);
    assert.ok(stripped.length < full.length - 1_000_000, `${full.length} → ${stripped.length} bytes`);
    assert.deepEqual(stripped.subarray(0, stripped.length - 8), full.subarray(0, stripped.length - 8));
    assert.equal(stripped.readBigUInt64LE(stripped.length - 8), 0n);
    const out = join(dir, 'stripped.blob');
    writeFileSync(out, stripped);
    const run = node(['--snapshot-blob', out, '--', 'a', 'b']);
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout, 'hello from the snapshot a b zlib\n');
    // Once stripped, there is nothing left to take out.
    const again = dropCodeCache(stripped);
    assert.equal(again.blob, stripped);
    assert.equal(again.modules, 0);
  } finally {
    await removeTempDir(dir);
  }
});

test('a blob built without a code cache is left as it is', async () => {
  const dir = await makeTempDir('snapshot-code-cache');
  try {
    writeFileSync(join(dir, 'builder.js'), BUILDER);
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ builder: join(dir, 'builder.js'), withoutCodeCache: true }));
    const blob = join(dir, 'bare.blob');
    const built = node(['--snapshot-blob', blob, '--build-snapshot-config', join(dir, 'config.json')]);
    assert.equal(built.status, 0, built.stderr);
    const bare = readFileSync(blob);
    const r = dropCodeCache(bare);
    assert.equal(r.blob, bare);
    assert.equal(r.modules, 0);
  } finally {
    await removeTempDir(dir);
  }
});

test('what is not a snapshot blob is refused, naming what is wrong', () => {
  assert.throws(() => dropCodeCache(Buffer.from('#!/bin/sh\necho not a blob\n')), (e: unknown) => e instanceof SnapshotFormatError && /not a Node\.js snapshot blob \(magic 0x[0-9a-f]+, expected 0x143da19\)/.test(e.message));
  const header = Buffer.alloc(13);
  header.writeUInt32LE(0x0143da19, 0);
  header.writeUInt8(1, 4);
  header.writeBigUInt64LE(1n << 40n, 5);
  assert.throws(() => dropCodeCache(header), (e: unknown) => e instanceof SnapshotFormatError && /the Node\.js version/.test(e.message));
});
