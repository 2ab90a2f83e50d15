// prepareRootfs / mountRootfs / unmountRootfs / removeRootfs on the real kernel: an
// overlay (and a vfs) rootfs of the fixture busybox image appears mounted with the
// image's files, survives an unmount and re-mount, and removal leaves no mount, no
// snapshot and no mount point.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, open, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ContentStore } from '../../../src/image/content/store.js';
import { ImageStore } from '../../../src/image/store.js';
import { isMountPoint, mountSnapshot, unmountAll } from '../../../src/engine/images/rootfs-mount.js';
import { createEngineImages } from '../../../src/engine/images/index.js';
import { isBerthError } from '../../../src/errors.js';
import { busyboxImage, loadFixtureImage } from '../../harness/image-fixtures.js';
import { makeTempDir, removeTempDir } from '../../harness/tmp.js';

const root = process.getuid?.() === 0 ? false : 'needs root (mounts)';

async function snapshotNames(dataRoot: string): Promise<string[]> {
  const meta = JSON.parse(await readFile(join(dataRoot, 'snapshots', 'metadata.json'), 'utf8')) as { snapshots: Record<string, unknown> };
  return Object.keys(meta.snapshots);
}

for (const driver of ['overlay', 'vfs'] as const) {
  describe(`container rootfs (${driver})`, { skip: root }, () => {
    test('prepare, mount again, unmount, remove', async () => {
      const dataRoot = await makeTempDir(`engine-rootfs-${driver}`);
      let images: ReturnType<typeof createEngineImages> | undefined;
      let rootfs: string | undefined;
      try {
        images = createEngineImages({ dataRoot, registryMirrors: [], insecureRegistries: [], snapshotter: driver });
        const img = await busyboxImage('docker');
        const target = await loadFixtureImage(img, new ContentStore(dataRoot));
        await new ImageStore(dataRoot, new ContentStore(dataRoot)).put('busybox:latest', target);

        const resolved = await images.resolveImage('busybox');
        assert.equal(resolved.id, img.configDescriptor.digest);
        assert.equal(resolved.ref, 'busybox:latest');
        assert.deepEqual(resolved.config.Cmd, ['sh']);
        assert.equal(images.driverName?.(), driver === 'vfs' ? 'vfs' : 'overlay2');
        assert.equal((await images.resolveImage(resolved.id.slice(7, 19))).id, resolved.id);
        assert.equal((await images.resolveImage(resolved.id)).ref, resolved.id);
        await assert.rejects(images.resolveImage('nosuch'), (e: unknown) => isBerthError(e, 'NotFound') && (e as Error).message === 'No such image: nosuch:latest');

        const cid = 'c0ffee'.padEnd(64, '0');
        rootfs = await images.prepareRootfs(cid, resolved.id);
        assert.equal(rootfs, join(dataRoot, 'rootfs', cid));
        assert.ok(await isMountPoint(rootfs), 'rootfs is mounted');
        assert.equal(await readFile(join(rootfs, 'hello.txt'), 'utf8'), 'hello from layer two\n');
        assert.ok((await stat(join(rootfs, 'bin', 'busybox'))).isFile());
        await writeFile(join(rootfs, 'written-by-container'), 'x'.repeat(10000));
        assert.ok((await images.rootfsSize!(cid)) >= 10000, 'the container layer’s size');
        assert.deepEqual(images.imageUsedBy?.(resolved.id), [cid]);

        // Idempotent: prepare and mount again change nothing.
        assert.equal(await images.prepareRootfs(cid, resolved.id), rootfs);
        assert.equal(await images.mountRootfs(cid), rootfs);
        await images.unmountRootfs(cid);
        assert.ok(!(await isMountPoint(rootfs)), 'unmounted');
        await images.unmountRootfs(cid);
        assert.equal(await images.mountRootfs(cid), rootfs);
        assert.equal(await readFile(join(rootfs, 'written-by-container'), 'utf8'), 'x'.repeat(10000), 'the container layer is kept across re-mounts');

        // A fresh service over the same data root (a restarted berthd) mounts it again.
        const again = createEngineImages({ dataRoot, registryMirrors: [], insecureRegistries: [], snapshotter: driver });
        await again.unmountRootfs(cid);
        assert.equal(await again.mountRootfs(cid), rootfs);
        assert.deepEqual(again.imageUsedBy?.(resolved.id), [cid]);
        assert.ok((await snapshotNames(dataRoot)).includes(`container-${cid}`));

        await again.removeRootfs(cid);
        assert.ok(!(await isMountPoint(rootfs)), 'no mount left');
        await assert.rejects(stat(rootfs), /ENOENT/);
        assert.ok(!(await snapshotNames(dataRoot)).includes(`container-${cid}`), 'no snapshot left');
        assert.deepEqual(again.imageUsedBy?.(resolved.id), []);
        await again.removeRootfs(cid); // nothing left to remove: fine
        rootfs = undefined;
      } finally {
        if (rootfs) await images?.removeRootfs('c0ffee'.padEnd(64, '0')).catch(() => undefined);
        await removeTempDir(dataRoot);
      }
    });
  });
}

describe('mounting through mount(2)', { skip: root }, () => {
  test('a read-only bind mount, a busy unmount detached, a failed mount naming its target', async () => {
    const dir = await makeTempDir('engine-rootfs-mount');
    const source = join(dir, 'source');
    const target = join(dir, 'target');
    try {
      await mkdir(source);
      await mkdir(target);
      await writeFile(join(source, 'f'), 'content');
      await mountSnapshot([{ type: 'bind', source, options: ['ro', 'rbind'] }], target);
      assert.ok(await isMountPoint(target));
      assert.equal(await readFile(join(target, 'f'), 'utf8'), 'content');
      await assert.rejects(writeFile(join(target, 'g'), 'x'), /EROFS/);
      // A file open below it makes umount2 fail with EBUSY: the tree is detached lazily.
      const held = await open(join(target, 'f'), 'r');
      try {
        await unmountAll(target);
        assert.ok(!(await isMountPoint(target)), 'detached although busy');
      } finally {
        await held.close();
      }
      await unmountAll(target); // not a mount point: nothing to do
      await assert.rejects(
        mountSnapshot([{ type: 'overlay', source: 'overlay', options: [`lowerdir=${join(dir, 'nosuch')}`] }], target),
        (e: unknown) => isBerthError(e, 'System') && (e as Error).message.startsWith(`mount overlay rootfs on ${target}: mount ${target}: `),
      );
      assert.ok(!(await isMountPoint(target)));
    } finally {
      await unmountAll(target).catch(() => undefined);
      await removeTempDir(dir);
    }
  });
});
