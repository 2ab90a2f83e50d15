// The context tar `berth build` sends (src/cli/commands/build.ts): .dockerignore applied,
// the Dockerfile and .dockerignore always sent, a Dockerfile outside the context added under
// a generated name that the sent .dockerignore hides, owners 0:0, and what the daemon's
// extraction makes of it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { packContext } from '../../../src/client/build-context.js';
import { extractContextTar, hashContextSources, walkContext } from '../../../src/build/context/context.js';
import { readTar } from '../../../src/image/layer/tar-reader.js';
import { makeTempDir, removeTempDir } from '../../harness/tmp.js';

async function entries(tar: AsyncIterable<Buffer>): Promise<Map<string, { type: string; uid: number; body: string }>> {
  const out = new Map<string, { type: string; uid: number; body: string }>();
  for await (const e of readTar(tar)) {
    const chunks: Buffer[] = [];
    for await (const c of e.body) chunks.push(c);
    out.set(e.header.name, { type: e.header.type, uid: e.header.uid, body: Buffer.concat(chunks).toString() });
  }
  return out;
}

test('the context tar leaves out what .dockerignore ignores, keeps exceptions, Dockerfile and .dockerignore', async () => {
  const dir = await makeTempDir('cli-ctx');
  try {
    await mkdir(join(dir, 'node_modules', 'x'), { recursive: true });
    await mkdir(join(dir, 'src'), { recursive: true });
    await writeFile(join(dir, 'node_modules', 'x', 'i.js'), 'x');
    await writeFile(join(dir, 'src', 'a.go'), 'package a\n');
    await writeFile(join(dir, 'src', 'a_test.go'), 'package a\n');
    await writeFile(join(dir, 'debug.log'), 'd');
    await writeFile(join(dir, 'keep.log'), 'k');
    await symlink('src/a.go', join(dir, 'link'));
    await writeFile(join(dir, 'Dockerfile'), 'FROM scratch\n');
    await writeFile(join(dir, '.dockerignore'), 'node_modules\n**/*_test.go\n*.log\n!keep.log\nDockerfile\n.dockerignore\n');
    const packed = await packContext(dir, { path: join(dir, 'Dockerfile') });
    assert.equal(packed.dockerfile, 'Dockerfile');
    const got = await entries(packed.tar);
    assert.deepEqual([...got.keys()].sort(), ['.dockerignore', 'Dockerfile', 'keep.log', 'link', 'src/', 'src/a.go']);
    assert.equal(got.get('link')!.type, 'symlink');
    assert.equal(got.get('src/a.go')!.body, 'package a\n');
    assert.ok([...got.values()].every((e) => e.uid === 0));
    assert.ok(packed.size() > 0 && packed.size() % 512 === 0);
  } finally {
    await removeTempDir(dir);
  }
});

test('a Dockerfile outside the context goes under a generated name, hidden from COPY by the sent .dockerignore', async () => {
  const dir = await makeTempDir('cli-ctx');
  const other = await makeTempDir('cli-df');
  const staging = await makeTempDir('cli-staging');
  try {
    await writeFile(join(dir, 'a.txt'), 'a');
    await writeFile(join(dir, '.dockerignore'), 'b.txt\n');
    await writeFile(join(dir, 'b.txt'), 'b');
    await writeFile(join(other, 'Build.df'), 'FROM busybox\nCOPY . /\n');
    const packed = await packContext(dir, { path: join(other, 'Build.df') });
    assert.match(packed.dockerfile, /^\.dockerfile\.[0-9a-f]{20}$/);
    const got = await entries(packed.tar);
    assert.equal(got.get(packed.dockerfile)!.body, 'FROM busybox\nCOPY . /\n');
    assert.ok(!got.has('b.txt'));
    assert.match(got.get('.dockerignore')!.body, new RegExp(`^b\\.txt\\n\\n${packed.dockerfile.replace(/\./g, '\\.')}\\n$`));
    // The daemon's side: the Dockerfile is read, and COPY . does not see it.
    const again = await packContext(dir, { text: 'FROM scratch\n' });
    const ctx = await extractContextTar(again.tar, join(staging, 'x'), { dockerfile: again.dockerfile });
    try {
      assert.equal(ctx.dockerfile, 'FROM scratch\n');
      assert.deepEqual((await walkContext(ctx)).map((e) => e.rel), ['.', '.dockerignore', 'a.txt']);
      // Nothing is extracted until a step copies: the sources' digest comes from the index,
      // and is the one reading the extracted files gives.
      assert.ok(ctx.index);
      await assert.rejects(stat(ctx.root), { code: 'ENOENT' });
      const fromIndex = await hashContextSources(ctx, ['.']);
      await ctx.materialize!();
      const { index: _, ...onDisk } = ctx;
      assert.equal(fromIndex, await hashContextSources(onDisk, ['.']));
    } finally {
      await ctx.cleanup();
    }
  } finally {
    await removeTempDir(dir);
    await removeTempDir(other);
    await removeTempDir(staging);
  }
});
