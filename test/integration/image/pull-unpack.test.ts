import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir, writeFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { ContentStore } from '../../../src/image/content/store.js';
import { RegistryClient } from '../../../src/image/registry/client.js';
import { pullImage } from '../../../src/image/pull.js';
import { pushImage } from '../../../src/image/push.js';
import { parseNormalizedReference } from '../../../src/image/reference.js';
import { OverlaySnapshotter, VfsSnapshotter, overlaySupported, type Snapshotter } from '../../../src/image/snapshot/snapshotter.js';
import { chainIds } from '../../../src/image/unpack.js';
import type { ProgressEvent } from '../../../src/image/progress.js';
import { isBerthError } from '../../../src/errors.js';
import { hasDockerRegistry, startRegistry, type TestRegistry } from '../../harness/registry.js';
import { busyboxImage, loadFixtureImage, type FixtureImage } from '../../harness/image-fixtures.js';
import { makeTempDir, removeTempDir } from '../../harness/tmp.js';

// Pull with unpack: layers extracted while they download, committed once verified.

describe('pull and unpack at once', () => {
  let reg: TestRegistry;
  let img: FixtureImage;
  before(async () => {
    if (!hasDockerRegistry()) throw new Error('docker-registry is required: apt-get install docker-registry');
    reg = await startRegistry();
    img = await busyboxImage('oci');
    const src = await makeTempDir('image-store');
    try {
      const content = new ContentStore(src);
      await pushImage(new RegistryClient(), content, parseNormalizedReference(`${reg.host}/berth/unpack:v1`), await loadFixtureImage(img, content));
      await pushImage(new RegistryClient(), content, parseNormalizedReference(`${reg.host}/berth/corrupt:v1`), img.target);
    } finally {
      await removeTempDir(src);
    }
  });
  after(async () => {
    await reg?.stop();
  });

  for (const driver of ['vfs', 'overlay'] as const) {
    test(`${driver}: the image is unpacked by chain ID, events in order`, async (t) => {
      const root = await makeTempDir('pull-unpack');
      try {
        if (driver === 'overlay' && !(await overlaySupported(root))) return t.skip('overlayfs is not available here');
        const content = new ContentStore(root);
        const sn: Snapshotter = driver === 'vfs' ? new VfsSnapshotter(root) : new OverlaySnapshotter(root);
        const events: ProgressEvent[] = [];
        const pulled = await pullImage(new RegistryClient(), content, parseNormalizedReference(`${reg.host}/berth/unpack:v1`), { unpack: { snapshotter: sn }, onProgress: (e) => events.push(e) });
        const chains = chainIds(img.layers.map((l) => l.diffId));
        assert.equal(pulled.chainId, chains.at(-1));
        assert.deepEqual((await sn.list()).filter((s) => s.kind === 'committed').map((s) => s.name).sort(), [...chains].sort());
        for (const l of img.layers) {
          assert.ok((await content.get(l.digest)).equals(l.data));
          const statuses = events.filter((e) => e.digest === l.digest).map((e) => e.status);
          assert.ok(statuses.includes('extracting') && statuses.includes('downloaded') && statuses.at(-1) === 'done', statuses.join(','));
        }
        const top = (await sn.mounts(pulled.chainId!))[0]!;
        const dirs = top.type === 'bind' ? [top.source] : top.options.find((o) => o.startsWith('lowerdir='))!.slice(9).split(':');
        assert.equal(await readFile(join(dirs[0]!, 'hello.txt'), 'utf8'), 'hello from layer two\n');
        assert.ok((await readdir(dirs.at(-1)!)).includes('bin'));
        // Pulling again finds everything there.
        const again = await pullImage(new RegistryClient(), content, parseNormalizedReference(`${reg.host}/berth/unpack:v1`), { unpack: { snapshotter: sn } });
        assert.equal(again.chainId, pulled.chainId);
        assert.deepEqual(await content.ingests(), []);
      } finally {
        await removeTempDir(root);
      }
    });
  }

  for (const downloadThread of [false, true]) test(`a corrupted layer fails the pull and leaves no snapshot and no blob${downloadThread ? ' (download thread)' : ''}`, async () => {
    // Corrupt the base layer's data in the registry's storage (the registry serves it as is).
    const hex = img.layers[0]!.digest.slice(7);
    const path = join(reg.storage, 'docker', 'registry', 'v2', 'blobs', 'sha256', hex.slice(0, 2), hex, 'data');
    const original = await readFile(path);
    const bad = Buffer.from(original);
    bad[bad.length - 100] = bad[bad.length - 100]! ^ 0xff;
    await chmod(path, 0o644);
    await writeFile(path, bad);
    const root = await makeTempDir('pull-unpack');
    try {
      const content = new ContentStore(root);
      const sn = new VfsSnapshotter(root);
      await assert.rejects(
        pullImage(new RegistryClient({ attempts: 1 }), content, parseNormalizedReference(`${reg.host}/berth/corrupt:v1`), { unpack: { snapshotter: sn }, attempts: 1, downloadThread }),
        (e: unknown) => isBerthError(e, 'InvalidParameter') && /digest mismatch|decompression|malformed|diff ID/.test((e as Error).message),
      );
      assert.deepEqual((await sn.list()).filter((s) => s.kind === 'committed'), []);
      assert.equal(await content.has(img.layers[0]!.digest), false);
    } finally {
      await writeFile(path, original);
      await removeTempDir(root);
    }
  });
});
