// berthd's incremental contexts (context-cache.ts) fed by the client's own scan and tar
// (client/build-context.ts): which files are asked for, the context a build gets (the same
// index digests and files as the whole tar gives), conflicts, a reload after a restart,
// eviction and prune.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readdir, readFile, readlink, rm, stat, symlink, truncate, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ContextCache } from '../../../src/build/context/context-cache.js';
import { MANIFEST_ENTRY, parseManifest } from '../../../src/build/context/context-manifest.js';
import { extractContextTar, hashContextSources } from '../../../src/build/context/context.js';
import { contextTar, scanContext, type ScannedContext } from '../../../src/client/build-context.js';
import { isBerthError } from '../../../src/errors.js';
import { encodeHeader, END_OF_ARCHIVE, padding } from '../../../src/image/layer/tar-writer.js';
import { makeTempDir, removeTempDir } from '../../harness/tmp.js';

const manifestOf = (s: ScannedContext): { entries: unknown[] } => ({ entries: s.entries.map(({ host: _h, data: _d, ...m }) => m) });

async function incremental(s: ScannedContext, need: string[]): Promise<Buffer> {
  const made = s.entries.filter((e) => e.data).map((e) => e.path);
  const t = contextTar(s, { only: new Set([...need, ...made]), head: [{ name: MANIFEST_ENTRY, data: Buffer.from(JSON.stringify(manifestOf(s))) }] });
  const chunks: Buffer[] = [];
  for await (const c of t.tar) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function* once(b: Buffer): AsyncGenerator<Buffer> {
  yield b;
}

async function fixture(): Promise<{ tmp: string; dir: string; data: string }> {
  const tmp = await makeTempDir('context-cache');
  const dir = join(tmp, 'ctx');
  await mkdir(join(dir, 'app'), { recursive: true });
  await writeFile(join(dir, 'Dockerfile'), 'FROM scratch\nCOPY . /\n');
  await writeFile(join(dir, '.dockerignore'), 'secret\n');
  await writeFile(join(dir, 'secret'), 's');
  await writeFile(join(dir, 'app', 'main.sh'), 'echo hi\n');
  await chmod(join(dir, 'app', 'main.sh'), 0o755);
  await symlink('app/main.sh', join(dir, 'latest'));
  return { tmp, dir, data: join(tmp, 'data') };
}

test('asks for every file first, then only the changed ones; the context equals the whole tar\'s', async () => {
  const { tmp, dir, data } = await fixture();
  try {
    const cache = new ContextCache(data);
    let s = await scanContext(dir, { path: join(dir, 'Dockerfile') });
    assert.deepEqual(s.entries.map((e) => e.path), ['.dockerignore', 'Dockerfile', 'app', 'app/main.sh', 'latest']);
    assert.deepEqual(await cache.need('k1', manifestOf(s)), ['.dockerignore', 'Dockerfile', 'app/main.sh']);
    const r = await cache.receive('k1', once(await incremental(s, ['.dockerignore', 'Dockerfile', 'app/main.sh'])), join(tmp, 'st1'));
    assert.deepEqual(r.stats, { filesReceived: 3, bytesReceived: 7 + 22 + 8, filesReused: 0, bytesReused: 0 });
    assert.equal(r.context.dockerfile, 'FROM scratch\nCOPY . /\n');
    assert.ok(r.context.matcher.ignores('secret'));
    // The same digests as the whole tar, received the docker CLI's way.
    const whole = await extractContextTar(once(await (async () => {
      const chunks: Buffer[] = [];
      for await (const c of contextTar(s).tar) chunks.push(c as Buffer);
      return Buffer.concat(chunks);
    })()), join(tmp, 'whole'));
    assert.equal(await hashContextSources(r.context, ['.']), await hashContextSources(whole, ['.']));
    await whole.cleanup();
    await r.context.materialize!();
    assert.equal(await readFile(join(r.context.root, 'app', 'main.sh'), 'utf8'), 'echo hi\n');
    assert.equal((await stat(join(r.context.root, 'app', 'main.sh'))).mode & 0o7777, 0o755);
    assert.equal(await readlink(join(r.context.root, 'latest')), 'app/main.sh');
    await r.context.cleanup();
    assert.equal(existsSync(join(tmp, 'st1')), false);

    assert.deepEqual(await cache.need('k1', manifestOf(s)), []);
    assert.deepEqual(await cache.need('other', manifestOf(s)), ['.dockerignore', 'Dockerfile', 'app/main.sh']);
    await writeFile(join(dir, 'app', 'main.sh'), 'echo HI\n'); // same size
    s = await scanContext(dir, { path: join(dir, 'Dockerfile') });
    assert.deepEqual(await cache.need('k1', manifestOf(s)), ['app/main.sh']);
    const r2 = await cache.receive('k1', once(await incremental(s, ['app/main.sh'])), join(tmp, 'st2'));
    assert.deepEqual([r2.stats.filesReceived, r2.stats.filesReused], [1, 2]);
    assert.equal(r2.context.index!.lookup('app/main.sh')!.digest, createHash('sha256').update('echo HI\n').digest('hex'));
    await r2.context.cleanup();
    // The old content is garbage now: one blob per distinct content held.
    assert.equal((await readdir(join(data, 'build-context', 'blobs'))).length, 3);

    // A restart keeps the key; a blob of the wrong size (a crash) makes its file asked for again.
    const after = new ContextCache(data);
    assert.deepEqual(await after.need('k1', manifestOf(s)), []);
    await truncate(join(data, 'build-context', 'blobs', createHash('sha256').update('echo HI\n').digest('hex')), 3);
    assert.deepEqual(await new ContextCache(data).need('k1', manifestOf(s)), ['app/main.sh']);
  } finally {
    await removeTempDir(tmp);
  }
});

test('a file neither sent nor held is a Conflict; a file sent that the manifest does not list is refused; nothing is left staged', async () => {
  const { tmp, dir, data } = await fixture();
  try {
    const cache = new ContextCache(data);
    const s = await scanContext(dir, { path: join(dir, 'Dockerfile') });
    await assert.rejects(cache.receive('k', once(await incremental(s, ['Dockerfile'])), join(tmp, 'st')), (e) => isBerthError(e, 'Conflict') && /"\.dockerignore"/.test((e as Error).message));
    assert.equal(existsSync(join(tmp, 'st')), false);
    const manifest = Buffer.from(JSON.stringify(manifestOf(s)));
    const stray = Buffer.concat([
      encodeHeader({ name: MANIFEST_ENTRY, type: 'file', mode: 0o600, uid: 0, gid: 0, size: manifest.length, mtime: new Date(0) }), manifest, padding(manifest.length),
      encodeHeader({ name: 'not-listed', type: 'file', mode: 0o644, uid: 0, gid: 0, size: 1, mtime: new Date(0) }), Buffer.from('x'), padding(1),
      END_OF_ARCHIVE,
    ]);
    await assert.rejects(cache.receive('k', once(stray), join(tmp, 'st')), /tar entry "not-listed" is not a file of the manifest/);
    await assert.rejects(cache.receive('k', once(await incremental(s, [])), join(tmp, 'st'), { dockerfile: '../x' }), /outside the build context|Conflict|holds no copy/);
    await assert.rejects(cache.need('bad/key', manifestOf(s)), /invalid build context key/);
    assert.equal(existsSync(join(tmp, 'st')), false);
  } finally {
    await removeTempDir(tmp);
  }
});

test('manifest fields are checked, naming the entry and field', () => {
  const ok = { path: 'a', type: 'file', mode: 0o644, size: 1, mtime: '1', ctime: '1', ino: '1', dev: '1', linkname: '' };
  assert.equal(parseManifest({ entries: [ok] }).length, 1);
  assert.throws(() => parseManifest({}), /"entries" must be an array/);
  assert.throws(() => parseManifest({ entries: [{ ...ok, mode: 0o10000 }] }), /entries\[0\]\.mode must be an integer from 0 to 07777/);
  assert.throws(() => parseManifest({ entries: [ok, ok] }), /entries\[1\]\.path must be unique/);
  assert.throws(() => parseManifest({ entries: [{ ...ok, mtime: 12 }] }), /entries\[0\]\.mtime must be a string of decimal digits/);
  assert.throws(() => parseManifest({ entries: [{ ...ok, type: 'symlink' }] }), /entries\[0\]\.linkname must be the target/);
});

test('least recently used keys are evicted beyond the limits, with their blobs; prune forgets every key', async () => {
  const { tmp, dir, data } = await fixture();
  try {
    const cache = new ContextCache(data, { maxKeys: 1 });
    const s = await scanContext(dir, { path: join(dir, 'Dockerfile') });
    for (const k of ['a', 'b']) {
      const r = await cache.receive(k, once(await incremental(s, await cache.need(k, manifestOf(s)))), join(tmp, `st-${k}`));
      await r.context.cleanup();
    }
    assert.equal((await cache.need('a', manifestOf(s))).length, 3);
    assert.deepEqual(await cache.need('b', manifestOf(s)), []);
    assert.deepEqual(await readdir(join(data, 'build-context', 'keys')), ['b.json']);
    const p = await cache.prune();
    assert.deepEqual(p.keys, ['b']);
    assert.equal(p.space, 7 + 22 + 8);
    assert.deepEqual(await readdir(join(data, 'build-context', 'blobs')), []);
    const small = new ContextCache(join(tmp, 'data2'), { maxBytes: 10 });
    for (const k of ['a', 'b']) {
      const r = await small.receive(k, once(await incremental(s, await small.need(k, manifestOf(s)))), join(tmp, `st2-${k}`));
      await r.context.cleanup();
    }
    // Over the byte limit: only the key just built is kept.
    assert.deepEqual(await readdir(join(tmp, 'data2', 'build-context', 'keys')), ['b.json']);
    await rm(join(tmp, 'data2'), { recursive: true });
  } finally {
    await removeTempDir(tmp);
  }
});

test('a blob is hard-linked into one context at a time: the same content under two modes or in two live builds keeps each file\'s mode and mtime', async () => {
  const { tmp, dir, data } = await fixture();
  try {
    await writeFile(join(dir, 'app', 'twin.sh'), 'echo hi\n'); // main.sh's content, mode 0644
    await utimes(join(dir, 'app', 'twin.sh'), 1_600_000_000, 1_600_000_000);
    const other = join(tmp, 'other');
    await mkdir(other);
    await writeFile(join(other, 'Dockerfile'), 'FROM scratch\n');
    await writeFile(join(other, 'main.sh'), 'echo hi\n');
    await chmod(join(other, 'main.sh'), 0o700);
    await utimes(join(other, 'main.sh'), 1_500_000_000, 1_500_000_000);
    const cache = new ContextCache(data);
    const s1 = await scanContext(dir, { path: join(dir, 'Dockerfile') });
    const s2 = await scanContext(other, { path: join(other, 'Dockerfile') });
    const r1 = await cache.receive('one', once(await incremental(s1, await cache.need('one', manifestOf(s1)))), join(tmp, 'st1'));
    const r2 = await cache.receive('two', once(await incremental(s2, await cache.need('two', manifestOf(s2)))), join(tmp, 'st2'));
    await r1.context.materialize!();
    await r2.context.materialize!();
    const look = async (p: string): Promise<[number, number, string]> => {
      const st = await stat(p);
      return [st.mode & 0o7777, Math.floor(st.mtimeMs / 1000), await readFile(p, 'utf8')];
    };
    const mainMtime = Math.floor((await stat(join(dir, 'app', 'main.sh'))).mtimeMs / 1000);
    assert.deepEqual(await look(join(r1.context.root, 'app', 'main.sh')), [0o755, mainMtime, 'echo hi\n']);
    assert.deepEqual(await look(join(r1.context.root, 'app', 'twin.sh')), [0o644, 1_600_000_000, 'echo hi\n']);
    assert.deepEqual(await look(join(r2.context.root, 'main.sh')), [0o700, 1_500_000_000, 'echo hi\n']);
    // The Dockerfile of the second context is used once anywhere: linked, not copied.
    assert.equal((await stat(join(r2.context.root, 'Dockerfile'))).nlink, 2);
    await r1.context.cleanup();
    await r2.context.cleanup();
  } finally {
    await removeTempDir(tmp);
  }
});
