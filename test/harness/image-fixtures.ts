import { spawnSync } from 'node:child_process';
import { mkdir, readFile, rm, stat, writeFile, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { busyboxRootfs, publishFixture } from './fixtures.js';
import { FIXTURE_CACHE } from './paths.js';
import { makeTempDir, removeTempDir } from './tmp.js';
import { layerFromDirectory } from '../../src/image/layer/diff.js';
import { sha256Digest } from '../../src/image/content/digest.js';
import { MediaType, type Descriptor, type ImageConfig, type ImageManifest } from '../../src/image/media-types.js';
import type { ContentStore } from '../../src/image/content/store.js';

// A two-layer busybox image (the cached busybox rootfs, then a small layer on top), as an
// OCI or Docker v2.2 manifest with its config. Layer blobs are cached between runs.

export type FixtureFormat = 'oci' | 'docker';

export interface FixtureLayer {
  data: Buffer;
  digest: string;
  diffId: string;
  mediaType: string;
}

export interface FixtureImage {
  format: FixtureFormat;
  manifest: Buffer;
  /** Descriptor of the manifest (what a tag points at). */
  target: Descriptor;
  config: Buffer;
  configDescriptor: Descriptor;
  layers: FixtureLayer[];
}

const FIXED_MTIME = new Date('2024-01-01T00:00:00Z');
const CACHE_VERSION = 'busybox-image-v1';

async function exists(p: string): Promise<boolean> {
  return stat(p).then(() => true, () => false);
}

/** The two layer blobs (gzip tar) and their diff IDs, built once. */
async function fixtureLayers(): Promise<{ data: Buffer; digest: string; diffId: string }[]> {
  const dir = join(FIXTURE_CACHE, CACHE_VERSION);
  if (await exists(join(dir, '.complete'))) {
    const out = [];
    for (const i of [0, 1]) {
      const data = await readFile(join(dir, `layer${i}.tar.gz`));
      out.push({ data, digest: sha256Digest(data), diffId: (await readFile(join(dir, `layer${i}.diffid`), 'utf8')).trim() });
    }
    return out;
  }
  const base = await layerFromDirectory(await busyboxRootfs(), { mtime: FIXED_MTIME });
  const tmp = await makeTempDir('fixture-layer');
  let top;
  try {
    await mkdir(join(tmp, 'etc'), { recursive: true });
    await writeFile(join(tmp, 'etc', 'motd'), 'Welcome to a Berth test image\n');
    await writeFile(join(tmp, 'hello.txt'), 'hello from layer two\n');
    await symlink('hello.txt', join(tmp, 'hello-link'));
    top = await layerFromDirectory(tmp, { mtime: FIXED_MTIME });
  } finally {
    await removeTempDir(tmp);
  }
  const staging = `${dir}.${process.pid}.tmp`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  for (const [i, l] of [base, top].entries()) {
    await writeFile(join(staging, `layer${i}.tar.gz`), l.data);
    await writeFile(join(staging, `layer${i}.diffid`), l.diffId);
  }
  await writeFile(join(staging, '.complete'), '');
  await publishFixture(staging, dir);
  return [base, top];
}

export async function busyboxImage(format: FixtureFormat = 'oci'): Promise<FixtureImage> {
  const raw = await fixtureLayers();
  const layerType = format === 'oci' ? MediaType.ociLayerGzip : MediaType.dockerLayerGzip;
  const layers = raw.map((l) => ({ ...l, mediaType: layerType }));
  const imageConfig: ImageConfig = {
    architecture: 'amd64',
    os: 'linux',
    created: FIXED_MTIME.toISOString(),
    config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['sh'], WorkingDir: '/' },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: [
      { created: FIXED_MTIME.toISOString(), created_by: 'berth-test: busybox rootfs' },
      { created: FIXED_MTIME.toISOString(), created_by: 'berth-test: motd and hello.txt' },
      { created: FIXED_MTIME.toISOString(), created_by: 'CMD ["sh"]', empty_layer: true },
    ],
  };
  const config = Buffer.from(JSON.stringify(imageConfig));
  const configDescriptor: Descriptor = { mediaType: format === 'oci' ? MediaType.ociConfig : MediaType.dockerConfig, digest: sha256Digest(config), size: config.length };
  const manifestDoc: ImageManifest = {
    schemaVersion: 2,
    mediaType: format === 'oci' ? MediaType.ociManifest : MediaType.dockerManifest,
    config: configDescriptor,
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.data.length })),
  };
  const manifest = Buffer.from(JSON.stringify(manifestDoc, null, 2));
  const target: Descriptor = { mediaType: manifestDoc.mediaType!, digest: sha256Digest(manifest), size: manifest.length };
  return { format, manifest, target, config, configDescriptor, layers };
}

/** Puts every blob of a fixture image into a content store; returns the manifest descriptor. */
export async function loadFixtureImage(img: FixtureImage, content: ContentStore): Promise<Descriptor> {
  for (const l of img.layers) await content.put(l.data, { digest: l.digest, size: l.data.length });
  await content.put(img.config, img.configDescriptor);
  await content.put(img.manifest, img.target);
  return img.target;
}

/**
 * Fails (never skips) with the Debian package to install when a program an image test
 * needs is missing.
 */
export function requireTool(program: string, debianPackage: string): void {
  const r = spawnSync(program, ['--version'], { stdio: 'ignore' });
  if ((r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
    throw new Error(`this test needs ${program}: apt-get install ${debianPackage} (and add it to scripts/setup.sh)`);
  }
}

/** The busybox fixture as a `docker save` archive (busybox:latest) at `path`, for `load`. */
export async function writeBusyboxArchive(path: string): Promise<void> {
  const { ContentStore } = await import('../../src/image/content/store.js');
  const { ImageStore } = await import('../../src/image/store.js');
  const { saveImages } = await import('../../src/image/archive/save.js');
  const { createWriteStream } = await import('node:fs');
  const { pipeline } = await import('node:stream/promises');
  const root = await makeTempDir('busybox-archive');
  try {
    const content = new ContentStore(root);
    await new ImageStore(root, content).put('busybox:latest', await loadFixtureImage(await busyboxImage('docker'), content));
    await pipeline(await saveImages(new ImageStore(root, content), ['busybox:latest'], 'docker'), createWriteStream(path));
  } finally {
    await removeTempDir(root);
  }
}
