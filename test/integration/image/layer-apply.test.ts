import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough, Readable } from 'node:stream';
import { mkdir, readdir, readFile, lstat, readlink, writeFile, stat } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { pack, type Header } from 'tar-stream';
import { applyLayer, type ApplyMode, type ApplyOptions } from '../../../src/image/layer/apply.js';
import { packDirectory } from '../../../src/image/layer/diff.js';
import { isBerthError } from '../../../src/errors.js';
import { makeTempDir, removeTempDir } from '../../harness/tmp.js';

type Entry = Partial<Header> & { name: string; body?: string | Buffer };

async function tarOf(entries: Entry[]): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  // Read while writing: a big entry waits for the reader.
  const reading = (async () => {
    for await (const c of p) chunks.push(Buffer.from(c as Uint8Array));
  })();
  for (const { body, ...h } of entries) {
    await new Promise<void>((resolve, reject) => {
      const data = body === undefined ? undefined : Buffer.from(body);
      p.entry({ mode: 0o644, mtime: new Date('2024-01-01T00:00:00Z'), ...h, ...(data ? { size: data.length } : {}) }, data ?? '', (err) => (err ? reject(err) : resolve()));
    });
  }
  p.finalize();
  await reading;
  return Buffer.concat(chunks);
}

async function listTree(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    for (const n of (await readdir(join(dir, rel))).sort()) {
      const r = rel ? `${rel}/${n}` : n;
      out.push(r);
      const st = await lstat(join(dir, r));
      if (st.isDirectory()) await walk(r);
    }
  };
  await walk('');
  return out;
}

/** A sandbox: root (the snapshot) next to an `outside` dir that must stay untouched. */
async function sandbox<T>(fn: (root: string, outside: string) => Promise<T>): Promise<T> {
  const dir = await makeTempDir('apply');
  try {
    const root = join(dir, 'root');
    const outside = join(dir, 'outside');
    await mkdir(root);
    await mkdir(outside);
    await writeFile(join(outside, 'passwd'), 'outside\n');
    return await fn(root, outside);
  } finally {
    await removeTempDir(dir);
  }
}

async function rejectsEntry(entries: Entry[], entryName: string, why: RegExp, mode: ApplyMode = 'overlay', more: Partial<ApplyOptions> = {}): Promise<void> {
  await sandbox(async (root, outside) => {
    const tar = await tarOf(entries);
    await assert.rejects(applyLayer(root, Readable.from([tar]), { mode, ...more }), (e: unknown) => {
      assert.ok(isBerthError(e, 'InvalidParameter'), String(e));
      assert.ok((e as Error).message.includes(`"${entryName}"`), `${(e as Error).message} names ${entryName}`);
      assert.match((e as Error).message, why);
      return true;
    });
    assert.deepEqual(await listTree(outside), ['passwd'], 'nothing written outside');
    assert.equal(await readFile(join(outside, 'passwd'), 'utf8'), 'outside\n');
  });
}

describe('layer apply safety', () => {
  test('`..` escapes are rejected', async () => {
    await rejectsEntry([{ name: '../outside/x', body: 'x' }], '../outside/x', /\.\./);
    await rejectsEntry([{ name: 'a/../../outside/x', body: 'x' }], 'a/../../outside/x', /\.\./);
  });

  test('absolute paths are rejected', async () => {
    await rejectsEntry([{ name: '/etc/x', body: 'x' }], '/etc/x', /absolute/);
  });

  test('writing through a symlink is rejected', async () => {
    await rejectsEntry([{ name: 'a', type: 'symlink', linkname: '/' }, { name: 'a/x', body: 'x' }], 'a/x', /parent "a" is a symlink/);
    await sandbox(async (root, outside) => {
      const tar = await tarOf([{ name: 'esc', type: 'symlink', linkname: outside }, { name: 'esc/passwd', body: 'pwned' }]);
      await assert.rejects(applyLayer(root, Readable.from([tar]), { mode: 'vfs' }), /"esc\/passwd".*symlink/);
      assert.equal(await readFile(join(outside, 'passwd'), 'utf8'), 'outside\n');
    });
  });

  test('hard links out of the snapshot are rejected', async () => {
    await rejectsEntry([{ name: 'pw', type: 'link', linkname: '/etc/passwd' }], '/etc/passwd', /absolute/);
    await rejectsEntry([{ name: 'pw', type: 'link', linkname: '../outside/passwd' }], '../outside/passwd', /\.\./);
    await rejectsEntry([{ name: 'l', type: 'symlink', linkname: '/etc' }, { name: 'pw', type: 'link', linkname: 'l/passwd' }], 'pw', /goes through "l"/);
    await rejectsEntry([{ name: 'pw', type: 'link', linkname: 'missing' }], 'pw', /does not exist/);
  });

  test('a file replacing a directory of the same layer is rejected', async () => {
    await rejectsEntry([{ name: 'd/', type: 'directory', mode: 0o755 }, { name: 'd/f', body: 'x' }, { name: 'd', body: 'file now' }], 'd', /replaces directory "d"/);
  });

  test('oversized headers and names are rejected', async () => {
    const longName = `${'a'.repeat(200)}/`.repeat(25) + 'x';
    await rejectsEntry([{ name: longName, body: 'x' }], longName.slice(0, 64) + '…', /longer than 4096/);
    await rejectsEntry([{ name: `${'b'.repeat(300)}`, body: 'x' }], 'b'.repeat(300), /component longer than 255/);
    await sandbox(async (root) => {
      // A PAX header claiming 5 MiB.
      const tar = await tarOf([{ name: 'f', body: 'x', pax: { comment: 'c'.repeat(5 * 1024 * 1024) } } as Entry]);
      await assert.rejects(applyLayer(root, Readable.from([tar]), { mode: 'vfs' }), (e: unknown) => isBerthError(e, 'InvalidParameter') && /malformed/.test((e as Error).message));
    });
    await sandbox(async (root) => {
      const tar = await tarOf([{ name: 'big', body: 'y'.repeat(10000) }]);
      await assert.rejects(applyLayer(root, Readable.from([tar.subarray(0, 2048)]), { mode: 'vfs' }), /malformed|end/i);
    });
  });

  test('zstd layers get a clear error on this Node', async () => {
    await sandbox(async (root) => {
      const zstdMagic = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0]);
      await assert.rejects(applyLayer(root, Readable.from([zstdMagic]), { mode: 'vfs' }), (e: unknown) => isBerthError(e, 'NotImplemented') && /zstd/.test((e as Error).message));
    });
  });
});

describe('layer apply and diff', () => {
  const entries: Entry[] = [
    { name: 'etc/', type: 'directory', mode: 0o755 },
    { name: 'etc/conf', body: 'c', mode: 0o600, uid: 1000, gid: 1001 },
    { name: 'bin/', type: 'directory', mode: 0o755 },
    { name: 'bin/tool', body: '#!/bin/sh\n', mode: 0o4755 },
    { name: 'bin/tool-hard', type: 'link', linkname: 'bin/tool' },
    { name: 'bin/tool-sym', type: 'symlink', linkname: '/bin/tool' },
    { name: 'dev/', type: 'directory', mode: 0o755 },
    { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 },
    { name: 'dev/fifo', type: 'fifo', mode: 0o600 },
    { name: 'gone/', type: 'directory', mode: 0o755 },
    { name: 'gone/a', body: 'a' },
    { name: 'opq/', type: 'directory', mode: 0o755 },
    { name: 'opq/old', body: 'old' },
  ];

  for (const mode of ['vfs', 'overlay'] as const) {
    test(`${mode}: files, links, devices, owners, modes, times; whiteouts`, async () => {
      await sandbox(async (root) => {
        const base = await applyLayer(root, Readable.from([await tarOf(entries)]), { mode });
        assert.match(base.diffId, /^sha256:[a-f0-9]{64}$/);
        const conf = await stat(join(root, 'etc/conf'));
        assert.equal(conf.mode & 0o7777, 0o600);
        assert.equal(conf.uid, 1000);
        assert.equal(conf.gid, 1001);
        assert.equal(conf.mtime.toISOString(), '2024-01-01T00:00:00.000Z');
        assert.equal((await stat(join(root, 'bin/tool'))).mode & 0o7777, 0o4755);
        assert.equal((await stat(join(root, 'bin/tool'))).ino, (await stat(join(root, 'bin/tool-hard'))).ino);
        assert.equal(await readlink(join(root, 'bin/tool-sym')), '/bin/tool');
        const dev = await lstat(join(root, 'dev/null'));
        assert.ok(dev.isCharacterDevice());
        assert.equal(dev.rdev, (1 << 8) | 3);
        assert.ok((await lstat(join(root, 'dev/fifo'))).isFIFO());
        assert.equal((await stat(join(root, 'etc'))).mtime.toISOString(), '2024-01-01T00:00:00.000Z');
        // A second layer: delete `gone`, make `opq` opaque with a new file.
        const upper = mode === 'overlay' ? join(root, '..', 'upper') : root;
        if (mode === 'overlay') await mkdir(upper);
        await applyLayer(upper, Readable.from([await tarOf([
          { name: '.wh.gone', body: '' },
          { name: 'opq/', type: 'directory', mode: 0o755 },
          { name: 'opq/.wh..wh..opq', body: '' },
          { name: 'opq/new', body: 'new' },
        ])]), { mode });
        if (mode === 'vfs') {
          assert.deepEqual((await readdir(root)).sort(), ['bin', 'dev', 'etc', 'opq']);
          assert.deepEqual(await readdir(join(root, 'opq')), ['new']);
        } else {
          const wh = await lstat(join(upper, 'gone'));
          assert.ok(wh.isCharacterDevice() && wh.rdev === 0, 'whiteout is a 0:0 char device');
          const attr = execFileSync('getfattr', ['--only-values', '-n', 'trusted.overlay.opaque', join(upper, 'opq')], { encoding: 'utf8' });
          assert.equal(attr, 'y');
          // Diff turns them back into .wh. entries.
          const names: string[] = [];
          const { extract } = await import('tar-stream');
          const ex = extract();
          const reading = (async () => {
            for await (const e of ex) {
              names.push(e.header.name);
              e.resume();
            }
          })();
          packDirectory(upper, { overlay: true }).pipe(ex as unknown as NodeJS.WritableStream);
          await reading;
          assert.deepEqual(names, ['.wh.gone', 'opq/', 'opq/.wh..wh..opq', 'opq/new']);
        }
      });
    });
  }

  test('owners and modes that creating the name alone would not give', async () => {
    await sandbox(async (root) => {
      await applyLayer(root, Readable.from([await tarOf([
        // Names made in a set-group-ID directory take its group: they must be chowned back.
        { name: 'sg/', type: 'directory', mode: 0o2775, uid: 0, gid: 50 },
        { name: 'sg/f', body: 'f', uid: 0, gid: 0 },
        { name: 'sg/l', type: 'symlink', linkname: 'f', uid: 0, gid: 0 },
        { name: 'sg/d/', type: 'directory', mode: 0o755, uid: 0, gid: 0 },
        { name: 'sg/d/f', body: 'f', uid: 0, gid: 0 },
        // `sg/implicit` has no entry: made by the applier, it inherits the set-gid bit.
        { name: 'sg/implicit/f', body: 'f', uid: 0, gid: 0 },
        // Modes the umask would narrow, and set-id bits.
        { name: 'open/', type: 'directory', mode: 0o777 },
        { name: 'open/rw', body: 'x', mode: 0o666 },
        { name: 'open/sgid', body: 'x', mode: 0o2755, uid: 0, gid: 0 },
        { name: 'open/ro', body: 'x', mode: 0o400 },
      ])]), { mode: 'overlay' });
      const own = async (p: string): Promise<string> => {
        const st = await lstat(join(root, p));
        return `${st.uid}:${st.gid} ${(st.mode & 0o7777).toString(8)}`;
      };
      assert.equal(await own('sg'), '0:50 2775');
      assert.equal(await own('sg/f'), '0:0 644');
      assert.equal((await own('sg/l')).split(' ')[0], '0:0');
      assert.equal(await own('sg/d'), '0:0 755');
      assert.equal(await own('sg/d/f'), '0:0 644');
      assert.equal(await own('sg/implicit/f'), '0:0 644');
      assert.equal(await own('open'), '0:0 777');
      assert.equal(await own('open/rw'), '0:0 666');
      assert.equal(await own('open/sgid'), '0:0 2755');
      assert.equal(await own('open/ro'), '0:0 400');
      assert.equal(await readFile(join(root, 'open/ro'), 'utf8'), 'x');
    });
  });

  test('vfs: a layer replaces what lower layers left under the same names', async () => {
    await sandbox(async (root) => {
      await applyLayer(root, Readable.from([await tarOf([
        { name: 'a', body: 'file a' },
        { name: 'b', type: 'symlink', linkname: 'a' },
        { name: 'c', body: 'file c' },
        { name: 'd/', type: 'directory', mode: 0o755 },
        { name: 'd/x', body: 'x' },
        { name: 'e', body: 'file e' },
        { name: 'keep/', type: 'directory', mode: 0o700 },
        { name: 'keep/old', body: 'old' },
      ])]), { mode: 'vfs' });
      await applyLayer(root, Readable.from([await tarOf([
        { name: 'a', type: 'symlink', linkname: 'c' },
        { name: 'b', body: 'file b' },
        { name: 'c/', type: 'directory', mode: 0o750 },
        { name: 'd', body: 'file d' },
        { name: 'e', type: 'link', linkname: 'b' },
        { name: 'keep/', type: 'directory', mode: 0o755 },
        { name: 'keep/new', body: 'new' },
      ])]), { mode: 'vfs' });
      assert.equal(await readlink(join(root, 'a')), 'c');
      assert.ok((await lstat(join(root, 'b'))).isFile());
      assert.equal(await readFile(join(root, 'b'), 'utf8'), 'file b');
      assert.ok((await lstat(join(root, 'c'))).isDirectory());
      assert.equal((await lstat(join(root, 'c'))).mode & 0o7777, 0o750);
      assert.equal(await readFile(join(root, 'd'), 'utf8'), 'file d');
      assert.equal((await stat(join(root, 'e'))).ino, (await stat(join(root, 'b'))).ino);
      assert.deepEqual((await readdir(join(root, 'keep'))).sort(), ['new', 'old']);
      assert.equal((await lstat(join(root, 'keep'))).mode & 0o7777, 0o755);
    });
  });

  test('diff ID is checked', async () => {
    await sandbox(async (root) => {
      await assert.rejects(applyLayer(root, Readable.from([await tarOf([{ name: 'f', body: 'x' }])]), { mode: 'vfs', diffId: `sha256:${'0'.repeat(64)}` }), /diff ID mismatch/);
    });
  });
});

describe('layer apply: new files written on worker threads (overlay)', () => {
  /**
   * Everything a layer can set on a name, hard links as the first name of their inode; times
   * only of `timed` names (a directory no entry made, or a whiteout, is as new as the apply).
   */
  async function describeTree(root: string, timed: Set<string>): Promise<string[]> {
    const { createHash } = await import('node:crypto');
    const firstOfInode = new Map<number, string>();
    const out: string[] = [];
    for (const rel of await listTree(root)) {
      const abs = join(root, rel);
      const st = await lstat(abs);
      const kind = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? `symlink->${await readlink(abs)}` : st.isFile() ? 'file' : `node:${st.rdev}`;
      let extra = '';
      if (st.isFile()) {
        const first = firstOfInode.get(st.ino);
        if (first) extra = `link->${first}`;
        else {
          firstOfInode.set(st.ino, rel);
          extra = `${st.size}:${createHash('sha256').update(await readFile(abs)).digest('hex').slice(0, 16)}`;
        }
      }
      const time = st.isSymbolicLink() || !timed.has(rel) ? '' : st.mtime.toISOString();
      out.push(`${rel} ${kind} ${st.uid}:${st.gid} ${(st.mode & 0o7777).toString(8)} ${time} ${extra}`);
    }
    return out;
  }

  /** Applies with and without the threads; the trees must be the same. */
  async function sameBothWays(entries: Entry[]): Promise<string[]> {
    const { FileWriterPool } = await import('../../../src/image/layer/file-writer-pool.js');
    const tar = await tarOf(entries);
    const dir = await makeTempDir('apply-threads');
    try {
      const [threaded, single] = [join(dir, 'threaded'), join(dir, 'single')];
      await mkdir(threaded);
      await mkdir(single);
      const pool = FileWriterPool.shared();
      assert.ok(pool, 'the writer threads are available where the worker module is built');
      const handed = pool.handedFiles;
      const a = await applyLayer(threaded, Readable.from([tar]), { mode: 'overlay', writerThreadsAfter: 0 });
      assert.ok(pool.handedFiles > handed, 'files were handed to the threads');
      const b = await applyLayer(single, Readable.from([tar]), { mode: 'overlay', writerThreadsAfter: Infinity });
      assert.equal(a.diffId, b.diffId);
      const names = entries.map((e) => e.name.replace(/\/$/, ''));
      const whitedOut = new Set(names.filter((n) => n.split('/').pop()!.startsWith('.wh.')).map((n) => n.replace(/(^|\/)\.wh\.([^/]*)$/, '$1$2')));
      const timed = new Set(names.filter((n) => !n.includes('.wh.') && !whitedOut.has(n)));
      const tree = await describeTree(threaded, timed);
      assert.deepEqual(tree, await describeTree(single, timed));
      return tree;
    } finally {
      await removeTempDir(dir);
    }
  }

  test('a small layer starts no thread, and idle threads stop', async () => {
    const { FileWriterPool, IDLE_STOP_MS } = await import('../../../src/image/layer/file-writer-pool.js');
    await sandbox(async (root) => {
      await applyLayer(root, Readable.from([await tarOf([{ name: 'f', body: 'x' }])]), { mode: 'overlay', writerThreadsAfter: 0 });
      assert.ok(FileWriterPool.running, 'threads started');
      await new Promise((r) => setTimeout(r, IDLE_STOP_MS + 300));
      assert.ok(!FileWriterPool.running, 'threads stopped when idle');
      const small = join(root, '..', 'small');
      await mkdir(small);
      await applyLayer(small, Readable.from([await tarOf(Array.from({ length: 300 }, (_, i) => ({ name: `f${i}`, body: 'x'.repeat(1000) })))]), { mode: 'overlay' });
      assert.ok(!FileWriterPool.running, 'a layer under WRITER_THREADS_AFTER is written by the applying thread');
    });
  });

  test('a generated layer comes out the same as from one thread: owners, modes, set-id bits, times, contents, links', async () => {
    let seed = 7;
    const rand = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    const entries: Entry[] = [];
    const modes = [0o644, 0o755, 0o600, 0o400, 0o4755, 0o2755, 0o666, 0o1777];
    for (let d = 0; d < 12; d++) entries.push({ name: `d${d}/`, type: 'directory', mode: d % 3 === 0 ? 0o2775 : 0o755, gid: d % 3 === 0 ? 50 : 0 });
    for (let i = 0; i < 400; i++) {
      const size = i % 50 === 0 ? 300_000 + rand(200_000) : rand(9000);
      entries.push({
        name: `d${rand(12)}/${i % 7 === 0 ? `sub${i % 3}/` : ''}f${i}`,
        body: Buffer.alloc(size, i % 251),
        mode: modes[rand(modes.length)]!,
        uid: rand(3) * 1000,
        gid: rand(3) * 1000,
        mtime: new Date(Date.UTC(2020, 0, 1) + i * 60_000),
      });
      if (i % 40 === 0) entries.push({ name: `links/s${i}`, type: 'symlink', linkname: `../d0/f${i}` });
    }
    // A file the applying thread writes itself (over MAX_HANDED_FILE), between handed ones.
    entries.push({ name: 'big', body: Buffer.alloc(5 << 20, 1), mode: 0o640 });
    const tree = await sameBothWays(entries);
    assert.ok(tree.length > 400, `${tree.length} names`);
  });

  test('the batch buffers go back and forth: a big layer makes only what was in flight at once', async () => {
    const { FileWriterPool } = await import('../../../src/image/layer/file-writer-pool.js');
    // 48 MiB in 192 files: 48 batches of 1 MiB; at most 16 MiB (and the batch being filled) in flight.
    const entries: Entry[] = Array.from({ length: 192 }, (_, i) => ({ name: `f${i}`, body: Buffer.alloc(256 << 10, i % 251) }));
    await sandbox(async (root) => {
      const pool = FileWriterPool.shared()!;
      const [batches, made] = [pool.batches, pool.buffersMade];
      await applyLayer(root, Readable.from([await tarOf(entries)]), { mode: 'overlay', writerThreadsAfter: 0 });
      const sent = FileWriterPool.shared()!.batches - batches;
      const fresh = FileWriterPool.shared()!.buffersMade - made;
      assert.ok(sent >= 48, `${sent} batches`);
      assert.ok(fresh <= 18, `${fresh} buffers made for ${sent} batches`);
      for (const i of [0, 97, 191]) assert.deepEqual(await readFile(join(root, `f${i}`)), Buffer.alloc(256 << 10, i % 251), `f${i}`);
    });
  });

  test('writer threads that die mid-layer fail the apply with an entry named; the next apply starts new ones', async () => {
    const { FileWriterPool } = await import('../../../src/image/layer/file-writer-pool.js');
    const entries: Entry[] = Array.from({ length: 400 }, (_, i) => ({ name: `f${i}`, body: Buffer.alloc(50_000, i % 251) }));
    const tar = await tarOf(entries);
    await sandbox(async (root) => {
      const input = new PassThrough();
      const applying = applyLayer(join(root), input, { mode: 'overlay', writerThreadsAfter: 0 });
      applying.catch(() => undefined);
      input.write(tar.subarray(0, tar.length >> 2));
      let pool = FileWriterPool.shared();
      for (let i = 0; i < 200 && !(pool && pool.handedFiles > 0 && FileWriterPool.running); i++) {
        await new Promise((r) => setTimeout(r, 10));
        pool = FileWriterPool.shared();
      }
      assert.ok(pool && pool.handedFiles > 0, 'files were handed to the threads');
      // As if each thread had crashed (out of memory, say): white-box, the pool keeps them private.
      for (const slot of [...(pool as unknown as { slots: { worker: { terminate(): Promise<number> } }[] }).slots]) await slot.worker.terminate();
      input.end(tar.subarray(tar.length >> 2));
      await assert.rejects(applying, (e: unknown) => {
        assert.match((e as Error).message, /^layer entry "f\d+": write: file writer thread/);
        return true;
      });
      const again = join(root, '..', 'again');
      await mkdir(again);
      await applyLayer(again, Readable.from([tar]), { mode: 'overlay', writerThreadsAfter: 0 });
      assert.notEqual(FileWriterPool.shared(), pool, 'a new pool');
      assert.equal((await readdir(again)).length, entries.length);
      assert.deepEqual(await readFile(join(again, 'f399')), Buffer.alloc(50_000, 399 % 251));
    });
  });

  test('a name met again in the same layer: the later entry wins, links and whiteouts see the file', async () => {
    const tree = await sameBothWays([
      { name: 'a', body: 'first', mode: 0o600 },
      { name: 'b', body: 'b' },
      ...Array.from({ length: 100 }, (_, i) => ({ name: `pad/${i}`, body: 'p' })),
      { name: 'a', body: 'second, longer', mode: 0o644, uid: 1000 },
      { name: 'b-hard', type: 'link', linkname: 'b' },
      { name: 'c', body: 'c' },
      { name: '.wh.c', body: '' },
      { name: 'e', body: 'will be a dir' },
      { name: 'e', type: 'symlink', linkname: 'a' },
    ]);
    const line = (n: string): string => tree.find((l) => l.startsWith(`${n} `)) ?? '';
    assert.match(line('a'), /^a file 1000:0 644 .* 14:/);
    assert.match(line('b-hard'), /link->b$/);
    assert.match(line('c'), /^c node:0 /, 'a whiteout replaced the file of the same layer');
    assert.match(line('e'), /^e symlink->a /);
  });

  test('a directory replaced while its files are being written is still rejected, nothing outside touched', async () => {
    await rejectsEntry(
      [{ name: 'd/', type: 'directory', mode: 0o755 }, ...Array.from({ length: 200 }, (_, i) => ({ name: `d/f${i}`, body: 'x'.repeat(3000) })), { name: 'd', type: 'symlink', linkname: '../outside' }, { name: 'd/passwd', body: 'pwned' }],
      'd',
      /replaces directory "d"/,
      'overlay',
      { writerThreadsAfter: 0 },
    );
  });

  test('a write that fails on a thread fails the apply with the entry named, and nothing is written after', async () => {
    const dir = await makeTempDir('apply-enospc');
    const fs = join(dir, 'fs');
    await mkdir(fs);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0755', 'tmpfs', fs]);
    try {
      for (const writerThreads of [true, false]) {
        const root = join(fs, String(writerThreads));
        await mkdir(root);
        const tar = await tarOf(Array.from({ length: 200 }, (_, i) => ({ name: `f${i}`, body: Buffer.alloc(20_000, 1) })));
        await assert.rejects(applyLayer(root, Readable.from([tar]), { mode: 'overlay', writerThreadsAfter: writerThreads ? 0 : Infinity }), (e: unknown) => {
          assert.match((e as Error).message, /layer entry "f\d+": write: ENOSPC/, `threads ${writerThreads}`);
          assert.equal((e as NodeJS.ErrnoException).code, 'ENOSPC');
          return true;
        });
        const after = await listTree(root);
        await new Promise((r) => setTimeout(r, 200));
        assert.deepEqual(await listTree(root), after, 'no file appears once the apply has failed');
        await import('node:fs/promises').then((f) => f.rm(root, { recursive: true }));
      }
    } finally {
      execFileSync('umount', [fs]);
      await removeTempDir(dir);
    }
  });
});
