import { randomBytes } from 'node:crypto';
// A build environment for the integration tests: a temp data root with a content store,
// the overlay snapshotter, an image store holding the busybox fixture as busybox:latest,
// and a Builder; plus checks that a build left nothing behind.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ContentStore } from '../../../src/image/content/store.js';
import { ImageStore } from '../../../src/image/store.js';
import { OverlaySnapshotter } from '../../../src/image/snapshot/snapshotter.js';
import { readTar } from '../../../src/image/layer/tar-reader.js';
import { Builder } from '../../../src/build/executor/index.js';
import { buildRunSandbox } from '../../../src/engine/build-sandbox.js';
import { openContextDir } from '../../../src/build/context/context.js';
import type { BuildOptions, BuildResult } from '../../../src/build/executor/index.js';
import { busyboxImage, loadFixtureImage } from '../../harness/image-fixtures.js';
import { cgroupHierarchies } from '../../harness/cgroups.js';
import { makeTempDir, removeTempDir } from '../../harness/tmp.js';

export interface BuildEnv {
  dataRoot: string;
  contextDir: string;
  content: ContentStore;
  images: ImageStore;
  snapshotter: OverlaySnapshotter;
  builder: Builder;
  /** Writes files into the context dir. */
  files(files: Record<string, string | Buffer>): Promise<void>;
  /** Builds the context dir; output collected in `log`. */
  build(opts?: Partial<BuildOptions>): Promise<BuildResult & { log: string }>;
  /** The files of one layer blob: name → content (directories as ''). */
  layerFiles(digest: string): Promise<Map<string, string>>;
  /** What a build may have left: mounts, active snapshots, cgroups, build dirs, processes. */
  leftovers(): Promise<string[]>;
  close(): Promise<void>;
}

export async function buildEnv(): Promise<BuildEnv> {
  const dataRoot = await makeTempDir('build-root');
  const contextDir = await makeTempDir('build-ctx');
  const content = new ContentStore(dataRoot);
  const snapshotter = new OverlaySnapshotter(dataRoot);
  const images = new ImageStore(dataRoot, content, snapshotter);
  const fixture = await busyboxImage('oci');
  await images.put('busybox:latest', await loadFixtureImage(fixture, content));
  // Builds of this harness only: other test files run builds at the same time.
  const cgroupPrefix = `berth-build-t${randomBytes(3).toString('hex')}`;
  const builder = new Builder({ dataRoot, content, images, snapshotter, cgroupPrefix, sandbox: buildRunSandbox(join(dataRoot, 'exec')) });
  const env: BuildEnv = {
    dataRoot,
    contextDir,
    content,
    images,
    snapshotter,
    builder,
    async files(files) {
      for (const [name, data] of Object.entries(files)) {
        await mkdir(dirname(join(contextDir, name)), { recursive: true });
        await writeFile(join(contextDir, name), data);
      }
    },
    async build(opts = {}) {
      let log = '';
      const context = await openContextDir(contextDir);
      const r = await builder.build({ context, onOutput: (t) => (log += t), ...opts });
      return { ...r, log };
    },
    async layerFiles(digest) {
      const out = new Map<string, string>();
      for await (const e of readTar(await content.openRead(digest))) {
        const chunks: Buffer[] = [];
        for await (const c of e.body) chunks.push(c);
        out.set(e.header.name.replace(/\/$/, ''), e.header.type === 'symlink' ? `-> ${e.header.linkname}` : Buffer.concat(chunks).toString());
      }
      return out;
    },
    async leftovers() {
      const out: string[] = [];
      for (const l of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) if (l.includes(dataRoot)) out.push(`mount: ${l}`);
      for (const s of await snapshotter.list()) if (s.kind !== 'committed') out.push(`snapshot: ${s.name} (${s.kind})`);
      for (const h of cgroupHierarchies()) {
        if (!existsSync(h.mountPoint)) continue;
        for (const d of readdirSync(h.mountPoint)) if (d.startsWith(`${cgroupPrefix}-`)) out.push(`cgroup: ${join(h.mountPoint, d)}`);
      }
      const netnsDir = join(dataRoot, 'exec', 'netns');
      if (existsSync(netnsDir)) for (const n of readdirSync(netnsDir)) out.push(`netns: ${n}`);
      const buildDir = join(dataRoot, 'build');
      if (existsSync(buildDir)) for (const d of readdirSync(buildDir)) out.push(`build dir: ${d}`);
      for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
        try {
          const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
          const cg = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
          if (cg.includes(`/${cgroupPrefix}-`)) out.push(`process: ${pid} ${cmd}`);
        } catch { /* gone */ }
      }
      return out;
    },
    async close() {
      await removeTempDir(contextDir);
      await removeTempDir(dataRoot);
    },
  };
  return env;
}
