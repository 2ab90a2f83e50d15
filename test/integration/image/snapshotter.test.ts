import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdir, readFile, writeFile, readdir, rename, rm, lstat, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { BaseSnapshotter, OverlaySnapshotter, VfsSnapshotter, overlaySupported, type Mount, type Snapshotter } from '../../../src/image/snapshot/snapshotter.js';
import { ContentStore } from '../../../src/image/content/store.js';
import { unpackLayers, chainIds, recoverUnflushed } from '../../../src/image/unpack.js';
import type { ProgressEvent } from '../../../src/image/progress.js';
import { isBerthError } from '../../../src/errors.js';
import { makeTempDir, removeTempDir } from '../../harness/tmp.js';
import { busyboxImage, loadFixtureImage } from '../../harness/image-fixtures.js';

const run = promisify(execFile);
const isRoot = process.getuid?.() === 0;

/** Mounts a snapshot's mounts on `target` (what the runtime will do); returns an unmount. */
async function mountAll(mounts: Mount[], target: string): Promise<() => Promise<void>> {
  await mkdir(target, { recursive: true });
  const m = mounts[0]!;
  if (m.type === 'bind') {
    await run('mount', ['--bind', m.source, target]);
    if (m.options.includes('ro')) await run('mount', ['-o', 'remount,bind,ro', target]);
  } else {
    await run('mount', ['-t', 'overlay', m.source, '-o', m.options.join(','), target]);
  }
  return async () => {
    await run('umount', [target]);
  };
}

type Factory = (root: string) => Snapshotter;

/** The suite every Snapshotter passes. */
function snapshotterSuite(name: string, factory: Factory, skip: string | false): void {
  describe(`snapshotter suite: ${name}`, { skip }, () => {
    let dir: string;
    let sn: Snapshotter;
    const unmounts: (() => Promise<void>)[] = [];
    before(async () => {
      dir = await makeTempDir(`snap-${name}`);
      sn = factory(dir);
    });
    after(async () => {
      for (const u of unmounts.reverse()) await u().catch(() => undefined);
      await removeTempDir(dir);
    });

    test('prepare, write, commit, child sees the parent, changes stay in the child', async () => {
      await sn.prepare('base-active');
      const baseDir = await sn.applyDir('base-active');
      await writeFile(join(baseDir, 'a.txt'), 'from base');
      await writeFile(join(baseDir, 'gone.txt'), 'to delete');
      await sn.commit('base', 'base-active');
      assert.equal((await sn.stat('base')).kind, 'committed');
      await assert.rejects(sn.stat('base-active'), (e: unknown) => isBerthError(e, 'NotFound'));

      const mounts = await sn.prepare('child', 'base');
      assert.equal((await sn.stat('child')).parent, 'base');
      const target = join(dir, 'mnt-child');
      const umount = await mountAll(mounts, target);
      unmounts.push(umount);
      assert.equal(await readFile(join(target, 'a.txt'), 'utf8'), 'from base');
      await writeFile(join(target, 'b.txt'), 'from child');
      await rm(join(target, 'gone.txt'));
      assert.deepEqual((await readdir(target)).sort(), ['a.txt', 'b.txt']);
      await umount();
      unmounts.pop();
      // The parent is unchanged.
      const view = await sn.view('base-view', 'base');
      const vt = join(dir, 'mnt-view');
      const vu = await mountAll(view, vt);
      unmounts.push(vu);
      assert.deepEqual((await readdir(vt)).sort(), ['a.txt', 'gone.txt']);
      await assert.rejects(writeFile(join(vt, 'x'), 'x'), /EROFS|read-only/);
      await vu();
      unmounts.pop();
      await sn.remove('base-view');

      await sn.commit('child-layer', 'child');
      const top = await sn.view('top-view', 'child-layer');
      const tt = join(dir, 'mnt-top');
      const tu = await mountAll(top, tt);
      unmounts.push(tu);
      assert.deepEqual((await readdir(tt)).sort(), ['a.txt', 'b.txt']);
      await tu();
      unmounts.pop();
      await sn.remove('top-view');
    });

    test('errors: duplicate keys, removing a parent, committing a committed snapshot', async () => {
      await sn.prepare('dup');
      await assert.rejects(sn.prepare('dup'), (e: unknown) => isBerthError(e, 'Conflict'));
      await assert.rejects(sn.prepare('x', 'dup'), /not committed/);
      await assert.rejects(sn.prepare('y', 'no-such'), (e: unknown) => isBerthError(e, 'NotFound'));
      await assert.rejects(sn.remove('base'), (e: unknown) => isBerthError(e, 'Conflict') && /has a child/.test((e as Error).message));
      await assert.rejects(sn.commit('again', 'base'), /not active/);
      await sn.remove('dup');
    });

    test('commit flushes the files first: when the flush fails, nothing is recorded as committed', async () => {
      await sn.prepare('unflushable');
      const fs = await sn.applyDir('unflushable');
      await writeFile(join(fs, 'f'), 'data');
      // syncfs needs the directory: without it the flush fails, and so must the commit.
      await rm(fs, { recursive: true });
      await assert.rejects(sn.commit('flushed', 'unflushable'), (e: unknown) => isBerthError(e, 'System') && /syncfs/.test((e as Error).message));
      assert.equal((await sn.stat('unflushable')).kind, 'active');
      await assert.rejects(sn.stat('flushed'), (e: unknown) => isBerthError(e, 'NotFound'));
      await mkdir(fs);
      await sn.commit('flushed', 'unflushable');
      assert.equal((await sn.stat('flushed')).kind, 'committed');
      await sn.remove('flushed');
    });

    test('the metadata kept in memory is what the disk holds: a restarted snapshotter sees every change; one that fails to be written is seen by nobody', async () => {
      await sn.prepare('mem-active');
      await writeFile(join(await sn.applyDir('mem-active'), 'f'), 'x');
      await sn.commit('mem-layer', 'mem-active');
      await sn.prepare('mem-child', 'mem-layer', { k: 'v' });
      await sn.view('mem-view', 'mem-layer');
      await sn.remove('mem-view');
      const fresh = factory(dir);
      const byName = (xs: { name: string }[]): string[] => xs.map((x) => JSON.stringify(x)).sort();
      assert.deepEqual(byName(await fresh.list()), byName(await sn.list()));
      assert.deepEqual(await fresh.mounts('mem-child'), await sn.mounts('mem-child'));

      // The write fails (a directory stands where metadata.json is renamed to): the prepare
      // fails, and neither this snapshotter nor a restarted one knows the snapshot.
      const meta = join(dir, 'snapshots', 'metadata.json');
      await rename(meta, `${meta}.aside`);
      await mkdir(join(meta, 'blocker'), { recursive: true });
      try {
        await assert.rejects(sn.prepare('mem-unwritten', 'mem-layer'));
        await assert.rejects(sn.stat('mem-unwritten'), (e: unknown) => isBerthError(e, 'NotFound'));
      } finally {
        await rm(meta, { recursive: true });
        await rename(`${meta}.aside`, meta);
      }
      await assert.rejects(factory(dir).stat('mem-unwritten'), (e: unknown) => isBerthError(e, 'NotFound'));
      // Its directory is an orphan, which the start-up cleanup removes.
      assert.equal((await (sn as BaseSnapshotter).cleanup()).length, 1);
      await sn.remove('mem-child');
      await sn.remove('mem-layer');
      assert.deepEqual(byName(await factory(dir).list()), byName(await sn.list()));
    });

    test('list, mounts, usage', async () => {
      const names = (await sn.list()).map((s) => s.name).sort();
      assert.deepEqual(names, ['base', 'child-layer']);
      const m = await sn.mounts('child-layer');
      assert.equal(m.length, 1);
      const u = await sn.usage('base');
      assert.ok(u.inodes >= 2 && u.size > 0, JSON.stringify(u));
      await sn.remove('child-layer');
      await sn.remove('base');
      assert.deepEqual(await sn.list(), []);
    });

    test('unpack an image by chain ID; a second image with the same base shares it', async () => {
      const content = new ContentStore(dir);
      const img = await busyboxImage('oci');
      await loadFixtureImage(img, content);
      const diffIds = img.layers.map((l) => l.diffId);
      const events: ProgressEvent[] = [];
      const top = await unpackLayers(content, sn, img.layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.data.length })), diffIds, { onProgress: (e) => events.push(e) });
      const chains = chainIds(diffIds);
      assert.equal(top, chains[1]);
      assert.equal((await sn.stat(chains[0]!)).kind, 'committed');
      assert.equal((await sn.stat(chains[1]!)).parent, chains[0]);
      assert.ok(events.some((e) => e.status === 'extracting'));
      const mounts = await sn.prepare('container-rootfs', top);
      const target = join(dir, 'mnt-rootfs');
      const umount = await mountAll(mounts, target);
      unmounts.push(umount);
      assert.ok((await lstat(join(target, 'bin', 'busybox'))).isFile());
      assert.equal(await readlink(join(target, 'bin', 'sh')), '../bin/busybox');
      assert.equal(await readFile(join(target, 'hello.txt'), 'utf8'), 'hello from layer two\n');
      const { stdout } = await run('chroot', [target, '/bin/sh', '-c', 'cat /etc/motd']);
      assert.equal(stdout, 'Welcome to a Berth test image\n');
      await umount();
      unmounts.pop();
      await sn.remove('container-rootfs');
      // Unpacking again does nothing new.
      const before = (await sn.list()).length;
      await unpackLayers(content, sn, img.layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.data.length })), diffIds);
      assert.equal((await sn.list()).length, before);
    });
  });
}

const overlaySkip = !isRoot ? 'needs root to mount' : false;
snapshotterSuite('vfs', (root) => new VfsSnapshotter(root), overlaySkip);
snapshotterSuite('overlay', (root) => new OverlaySnapshotter(root), overlaySkip);

test('overlaySupported probes this kernel', { skip: overlaySkip }, async () => {
  const dir = await makeTempDir('overlay-probe');
  try {
    assert.equal(typeof (await overlaySupported(dir)), 'boolean');
    assert.deepEqual(await readdir(dir), []);
  } finally {
    await removeTempDir(dir);
  }
});

describe('layers committed unsynced (a pull): flushed, and made again after a machine crash', { skip: overlaySkip }, () => {
  const layersOf = (img: Awaited<ReturnType<typeof busyboxImage>>) => img.layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.data.length }));
  const marks = async (root: string): Promise<Record<string, string | undefined>> => {
    const meta = JSON.parse(await readFile(join(root, 'snapshots', 'metadata.json'), 'utf8')) as { snapshots: Record<string, { unflushed?: string }> };
    return Object.fromEntries(Object.entries(meta.snapshots).map(([k, v]) => [k, v.unflushed]));
  };
  /** Sets every mark to an earlier boot's id, as a crash of the machine would leave them. */
  const fromEarlierBoot = async (root: string): Promise<void> => {
    const path = join(root, 'snapshots', 'metadata.json');
    const meta = JSON.parse(await readFile(path, 'utf8')) as { snapshots: Record<string, { unflushed?: string }> };
    for (const r of Object.values(meta.snapshots)) if (r.unflushed) r.unflushed = 'an-earlier-boot';
    await writeFile(path, JSON.stringify(meta));
  };

  type Loaded = { dir: string; content: ContentStore; img: Awaited<ReturnType<typeof busyboxImage>>; diffIds: string[]; chains: string[] };
  /** A temp data root with the busybox fixture's blobs in its content store, for `fn`. */
  const withImage = async (label: string, fn: (l: Loaded) => Promise<void>): Promise<void> => {
    const dir = await makeTempDir(label);
    try {
      const content = new ContentStore(dir);
      const img = await busyboxImage('oci');
      await loadFixtureImage(img, content);
      const diffIds = img.layers.map((l) => l.diffId);
      await fn({ dir, content, img, diffIds, chains: chainIds(diffIds) });
    } finally {
      await removeTempDir(dir);
    }
  };

  test('durable: false marks the commit with this boot; flush syncs and clears it; vfs always syncs', () =>
    withImage('snap-unflushed', async ({ dir, content, img, diffIds, chains }) => {
      const sn = new OverlaySnapshotter(dir);
      await unpackLayers(content, sn, layersOf(img), diffIds, { durable: false });
      assert.deepEqual((await sn.unflushed()).map((u) => [u.name, u.stale]), chains.map((c) => [c, false]));
      const boot = (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim();
      assert.deepEqual(await marks(dir), Object.fromEntries(chains.map((c) => [c, boot])));
      assert.equal((await sn.stat(chains[0]!)).kind, 'committed', 'usable at once');
      await sn.flush();
      assert.deepEqual(await sn.unflushed(), []);
      assert.deepEqual(await marks(dir), Object.fromEntries(chains.map((c) => [c, undefined])));

      const vdir = join(dir, 'vfs');
      const vfs = new VfsSnapshotter(vdir);
      await unpackLayers(new ContentStore(dir), vfs, layersOf(img), diffIds, { durable: false });
      assert.deepEqual(await vfs.unflushed(), []);
    }));

  test('a mark from an earlier boot: the files are made again from the blob, torn or lost ones included', () =>
    withImage('snap-recover', async ({ dir, content, img, diffIds, chains }) => {
      const top = await unpackLayers(content, new OverlaySnapshotter(dir), layersOf(img), diffIds, { durable: false });
      // what a crash of the machine can leave: torn and missing files under a committed record
      const sn0 = new OverlaySnapshotter(dir);
      const upper = async (name: string): Promise<string> => {
        const m = await sn0.mounts(name);
        const lower = m[0]!.type === 'bind' ? m[0]!.source : m[0]!.options[0]!.replace(/^lowerdir=/, '').split(':')[0]!;
        return lower;
      };
      const topDir = await upper(top);
      await writeFile(join(topDir, 'hello.txt'), '');
      const baseDir = await upper(chains[0]!);
      await rm(join(baseDir, 'bin', 'busybox'));
      await fromEarlierBoot(dir);

      const sn = new OverlaySnapshotter(dir);
      assert.deepEqual((await sn.unflushed()).map((u) => u.stale), [true, true]);
      const lost: string[] = [];
      await recoverUnflushed(content, sn, (name) => lost.push(name));
      assert.deepEqual(lost, []);
      assert.deepEqual(await sn.unflushed(), []);
      assert.deepEqual(Object.values(await marks(dir)), [undefined, undefined]);
      const mounts = await sn.prepare('after-crash', top);
      const target = join(dir, 'mnt');
      const umount = await mountAll(mounts, target);
      try {
        assert.equal(await readFile(join(target, 'hello.txt'), 'utf8'), 'hello from layer two\n');
        assert.ok((await lstat(join(target, 'bin', 'busybox'))).isFile());
      } finally {
        await umount();
      }
    }));

  test('a mark from an earlier boot whose blob no longer applies, under another layer: reported, kept with its mark, the rest made again', () =>
    withImage('snap-corrupt', async ({ dir, content, img, diffIds, chains }) => {
      await unpackLayers(content, new OverlaySnapshotter(dir), layersOf(img), diffIds, { durable: false });
      await fromEarlierBoot(dir);
      const base = img.layers[0]!.digest;
      await writeFile(join(dir, 'content', 'blobs', 'sha256', base.slice(7)), 'not a layer any more');
      const sn = new OverlaySnapshotter(dir);
      const lost: [string, string][] = [];
      await recoverUnflushed(content, sn, (name, why) => lost.push([name, why]));
      assert.equal(lost.length, 1);
      assert.equal(lost[0]![0], chains[0]);
      assert.match(lost[0]![1], new RegExp(`^its blob ${base} does not apply: .+; kept, other snapshots are on top of it$`));
      assert.deepEqual((await sn.unflushed()).map((u) => [u.name, u.stale]), [[chains[0]!, true]], 'tried again at the next start');
    }));

  test('a mark from an earlier boot whose blob is gone: the snapshot is removed and reported', () =>
    withImage('snap-lost', async ({ dir, content, img, diffIds, chains }) => {
      const sn0 = new OverlaySnapshotter(dir);
      await unpackLayers(content, sn0, layersOf(img).slice(0, 1), diffIds.slice(0, 1), { durable: false });
      await fromEarlierBoot(dir);
      await content.delete(img.layers[0]!.digest);
      const sn = new OverlaySnapshotter(dir);
      const lost: [string, string][] = [];
      await recoverUnflushed(content, sn, (name, why) => lost.push([name, why]));
      assert.deepEqual(lost, [[chains[0]!, `its blob ${img.layers[0]!.digest} is gone; removed`]]);
      assert.deepEqual(await sn.list(), []);
    }));
});
