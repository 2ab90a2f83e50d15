// The context tar POST /build receives: stored and indexed, extracted only on demand, with
// the same refusals extraction makes (names outside the context, entries below symlinks).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readlink, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { extractContextTar, hashContextSources, resolveContextSources, walkContext } from '../../../src/build/context/context.js';
import { encodeHeader, END_OF_ARCHIVE, padding, type TarWriteHeader } from '../../../src/image/layer/tar-writer.js';
import { makeTempDir, removeTempDir } from '../../harness/tmp.js';

type Entry = Partial<TarWriteHeader> & { name: string; body?: string };

function tarOf(entries: Entry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const body = Buffer.from(e.body ?? '');
    const type = e.type ?? 'file';
    parts.push(encodeHeader({ mode: type === 'directory' ? 0o755 : 0o644, uid: 0, gid: 0, mtime: new Date(0), ...e, type, size: type === 'file' ? body.length : 0 }));
    if (type === 'file') parts.push(body, padding(body.length));
  }
  parts.push(END_OF_ARCHIVE);
  return Buffer.concat(parts);
}

async function* chunked(b: Buffer, size = 700): AsyncGenerator<Buffer> {
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}

const ctxFiles: Entry[] = [
  { name: 'Dockerfile', body: 'FROM scratch\nCOPY . /\n' },
  { name: '.dockerignore', body: 'secret\n' },
  { name: 'secret', body: 's' },
  { name: 'app/', type: 'directory' },
  { name: 'app/main.sh', body: 'echo hi\n', mode: 0o755 },
  { name: 'app/lib/util.sh', body: 'u\n' },
  { name: 'latest', type: 'symlink', linkname: 'app' },
  { name: 'abs', type: 'symlink', linkname: '/app/lib' },
  { name: 'hard', type: 'link', linkname: 'app/main.sh' },
];

test('a context tar is indexed, not extracted: Dockerfile, .dockerignore, walk, wildcards and digests from the index', async () => {
  const dir = await makeTempDir('tar-ctx');
  try {
    const ctx = await extractContextTar(chunked(gzipSync(tarOf(ctxFiles))), join(dir, 's'));
    try {
      assert.equal(ctx.dockerfile, 'FROM scratch\nCOPY . /\n');
      await assert.rejects(stat(ctx.root), { code: 'ENOENT' });
      assert.deepEqual((await walkContext(ctx)).map((e) => `${e.rel}:${e.type}`), [
        '.:directory', '.dockerignore:file', 'Dockerfile:file', 'abs:symlink', 'app:directory', 'app/lib:directory', 'app/lib/util.sh:file', 'app/main.sh:file', 'hard:file', 'latest:symlink',
      ]);
      // Symlinked parents are followed inside the context (an absolute target from its root).
      assert.deepEqual(await resolveContextSources(ctx, ['app/*.sh', 'latest/main.sh', 'abs/util.sh']), ['app/main.sh', 'latest/main.sh', 'abs/util.sh']);
      await assert.rejects(resolveContextSources(ctx, ['secret']), /excluded by .dockerignore/);
      const fromIndex = await hashContextSources(ctx, ['.', 'latest/lib']);
      await ctx.materialize!();
      assert.equal(await readFile(join(ctx.root, 'hard'), 'utf8'), 'echo hi\n');
      assert.equal((await stat(join(ctx.root, 'app/main.sh'))).mode & 0o777, 0o755);
      assert.equal(await readlink(join(ctx.root, 'abs')), '/app/lib');
      const { index: _, ...onDisk } = ctx;
      assert.equal(fromIndex, await hashContextSources(onDisk, ['.', 'latest/lib']));
    } finally {
      await ctx.cleanup();
    }
    await assert.rejects(stat(join(dir, 's')), { code: 'ENOENT' });
  } finally {
    await removeTempDir(dir);
  }
});

test('a changed file changes the digest; a Dockerfile reached through a symlink is read inside the context', async () => {
  const dir = await makeTempDir('tar-ctx');
  try {
    const a = await extractContextTar(chunked(tarOf(ctxFiles)), join(dir, 'a'));
    const b = await extractContextTar(chunked(tarOf(ctxFiles.map((e) => (e.name === 'app/lib/util.sh' ? { ...e, body: 'v\n' } : e)))), join(dir, 'b'));
    const c = await extractContextTar(chunked(tarOf([...ctxFiles, { name: 'build/', type: 'directory' }, { name: 'build/Dockerfile', type: 'symlink', linkname: '/Dockerfile' }])), join(dir, 'c'), { dockerfile: 'build/Dockerfile' });
    try {
      assert.notEqual(await hashContextSources(a, ['app']), await hashContextSources(b, ['app']));
      assert.equal(await hashContextSources(a, ['app/main.sh']), await hashContextSources(b, ['app/main.sh']));
      assert.equal(c.dockerfile, 'FROM scratch\nCOPY . /\n');
      assert.equal(c.dockerfileName, 'Dockerfile');
    } finally {
      for (const x of [a, b, c]) await x.cleanup();
    }
  } finally {
    await removeTempDir(dir);
  }
});

test('bad context tars are refused up front and leave nothing behind', async () => {
  const dir = await makeTempDir('tar-ctx');
  try {
    const df = { name: 'Dockerfile', body: 'FROM scratch\n' };
    const cases: [Entry[], RegExp][] = [
      [[df, { name: '../x', body: 'x' }], /outside the context/],
      [[df, { name: '/etc/x', body: 'x' }], /outside the context/],
      [[df, { name: 'l', type: 'symlink', linkname: '/etc' }, { name: 'l/passwd', body: 'x' }], /below a symlink/],
      [[df, { name: 'l', type: 'symlink', linkname: '/etc' }, { name: 'h', type: 'link', linkname: 'l/passwd' }], /points through a symlink/],
      [[df, { name: 'h', type: 'link', linkname: 'nothing' }], /not a file earlier in the tar/],
      [[df, { name: 'f', body: 'x' }, { name: 'f/g', body: 'y' }], /below a non-directory/],
      [[{ name: 'other', body: 'x' }], /Cannot locate specified Dockerfile: Dockerfile/],
    ];
    for (const [entries, re] of cases) {
      await assert.rejects(extractContextTar(chunked(tarOf(entries)), join(dir, 'x')), re);
      await assert.rejects(stat(join(dir, 'x')), { code: 'ENOENT' });
    }
  } finally {
    await removeTempDir(dir);
  }
});
