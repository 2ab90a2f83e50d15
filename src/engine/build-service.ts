// The build service of berthd, ready to plug into the engine: POST /build (the legacy
// builder's JSON stream) on top of src/build/, and the volume methods of EngineBackend on
// top of src/volume/. The engine passes its image store, content store, snapshotter and
// a pull function; nothing here knows about containers.
//
//   const builds = createBuildService({ dataRoot, execRoot, content, images, snapshotter, pullImage });
//   // EngineBackend: imageBuild: builds.imageBuild, buildPrune: builds.buildPrune,
//   //                ...volumeBackend(builds.volumes)

import { randomBytes } from 'node:crypto';
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { Builder } from '../build/executor/index.js';
import type { ContextCache, ContextCacheLimits } from '../build/context/context-cache.js';
import type { ContentStore } from '../image/content/store.js';
import type { Snapshotter } from '../image/snapshot/snapshotter.js';
import type { ImageStore } from '../image/store.js';
import { VolumeStore, type Volume, type VolumeCreateRequest } from '../volume/store.js';
import type { ProgressSink } from '../api/backend.js';
import type { ImageBuildOptions } from '../api/routes/build.js';

export interface BuildServiceOptions {
  dataRoot: string;
  /** The daemon's exec root: RUN steps' network namespaces are pinned under it. */
  execRoot: string;
  content: ContentStore;
  images: ImageStore;
  snapshotter: Snapshotter;
  /** Pulls an image into the store (FROM an image that is not there, `--pull`). */
  pullImage?: (ref: string, platform?: string) => Promise<void>;
  /** Bounds of the incremental contexts kept between builds (context-cache.ts). */
  contextCacheLimits?: ContextCacheLimits;
}

export interface BuildService {
  /** The builder, loaded with the build code on first use (a daemon at rest does not need it). */
  builder(): Promise<Builder>;
  readonly volumes: VolumeStore;
  imageBuild(opts: ImageBuildOptions, context: Readable, progress: ProgressSink): Promise<void>;
  /** The files of a context manifest berthd lacks for a context key (POST /_berth/build/context). */
  buildContextNeed(key: string, manifest: unknown): Promise<string[]>;
  buildPrune(opts: { all: boolean }): Promise<{ CachesDeleted: string[] | null; SpaceReclaimed: number }>;
}

export function createBuildService(o: BuildServiceOptions): BuildService {
  let loaded: Promise<Builder> | undefined;
  const builder = (): Promise<Builder> =>
    (loaded ??= Promise.all([import('../build/executor/index.js'), import('./build-sandbox.js')]).then(
      ([{ Builder: B }, { buildRunSandbox }]) => new B({ dataRoot: o.dataRoot, content: o.content, images: o.images, snapshotter: o.snapshotter, sandbox: buildRunSandbox(o.execRoot) }),
    ));
  let cache: Promise<ContextCache> | undefined;
  const contextCache = (): Promise<ContextCache> => (cache ??= import('../build/context/context-cache.js').then(({ ContextCache: C }) => new C(o.dataRoot, o.contextCacheLimits)));
  const volumes = new VolumeStore(o.dataRoot);
  return {
    builder,
    volumes,
    async buildContextNeed(key, manifest) {
      return (await contextCache()).need(key, manifest);
    },
    async imageBuild(opts, body, progress) {
      const staging = join(o.dataRoot, 'build', `context-${randomBytes(8).toString('hex')}`);
      let context;
      if (opts.contextKey !== undefined) {
        const r = await (await contextCache()).receive(opts.contextKey, body, staging, { dockerfile: opts.dockerfile });
        context = r.context;
        // Berth's own aux message: what the incremental context carried (berth build shows it).
        if (!opts.quiet) progress({ aux: { BerthContext: r.stats } });
      } else {
        const { extractContextTar } = await import('../build/context/context.js');
        context = await extractContextTar(body, staging, { dockerfile: opts.dockerfile });
      }
      try {
        const r = await (await builder()).build({
          context,
          tags: opts.tags,
          ...(opts.target !== undefined ? { target: opts.target } : {}),
          buildArgs: opts.buildArgs,
          labels: opts.labels,
          noCache: opts.noCache,
          pull: opts.pull,
          ...(o.pullImage ? { pullImage: o.pullImage } : {}),
          network: opts.networkMode === 'host' ? 'host' : 'none',
          ...(opts.platform ? { platform: opts.platform } : {}),
          onOutput: (text) => {
            if (opts.quiet) return;
            // dockerd sends the image ID as an aux message right before "Successfully built";
            // that line and the tags after it are sent below, once the aux message is out.
            if (text.startsWith('Successfully built ') || text.startsWith('Successfully tagged ')) return;
            progress({ stream: text });
          },
        });
        progress({ aux: { ID: r.imageId } });
        if (opts.quiet) progress({ stream: `${r.imageId}\n` });
        else {
          progress({ stream: `Successfully built ${r.imageId.slice(7, 19)}\n` });
          for (const t of r.tags) progress({ stream: `Successfully tagged ${t.includes(':') && t.lastIndexOf(':') > t.lastIndexOf('/') ? t : `${t}:latest`}\n` });
        }
      } finally {
        await context.cleanup();
      }
    },
    async buildPrune() {
      const dir = (await builder()).cache.dir;
      const deleted: string[] = [];
      let space = 0;
      for (const n of await readdir(dir).catch(() => [] as string[])) {
        if (!/^[a-f0-9]{64}$/.test(n)) continue;
        space += (await stat(join(dir, n)).catch(() => ({ size: 0 }))).size;
        await rm(join(dir, n), { force: true });
        deleted.push(n);
      }
      const contexts = await (await contextCache()).prune();
      return { CachesDeleted: [...deleted, ...contexts.keys.map((k) => `context:${k}`)], SpaceReclaimed: space + contexts.space };
    },
  };
}

/** The volume methods of EngineBackend over a VolumeStore (in-use counts come from acquire/release). */
export function volumeBackend(v: VolumeStore): {
  volumeList(filters: Record<string, string[]>): Promise<{ Volumes: Volume[]; Warnings: string[] | null }>;
  volumeInspect(name: string): Promise<Volume>;
  volumeCreate(req: VolumeCreateRequest): Promise<Volume>;
  volumeRemove(name: string, opts: { force: boolean }): Promise<void>;
  volumePrune(filters: Record<string, string[]>): Promise<{ VolumesDeleted: string[] | null; SpaceReclaimed: number }>;
} {
  return {
    volumeList: (filters) => v.list(filters),
    volumeInspect: (name) => v.inspect(name),
    volumeCreate: (req) => v.create(req),
    volumeRemove: (name, opts) => v.remove(name, opts),
    volumePrune: (filters) => v.prune(filters),
  };
}
