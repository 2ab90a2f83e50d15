import { BerthError, invalidParameter } from '../errors.js';
import type { ContentStore } from './content/store.js';
import { isIndexMediaType, isManifestMediaType, type Descriptor, type ImageConfig, type ImageIndex, type ImageManifest, type Platform } from './media-types.js';
import { hostPlatform, selectPlatformManifest } from './platform.js';
import { progressEvent, type ProgressListener } from './progress.js';
import { formatReference, referenceObject, type Reference } from './reference.js';
import type { RegistryClient, Repository } from './registry/client.js';
import { BlobFollower } from './blob-follower.js';
import { DownloadThread } from './download-thread.js';
import { fetchBlob } from './fetch-blob.js';
import type { Snapshotter } from './snapshot/snapshotter.js';
import { unpackLayers } from './unpack.js';

// Pull: resolve the reference to a manifest (choosing a platform from an index), then
// fetch config and layers into the content store, layers in parallel, each resumable.

export interface PullOptions {
  platform?: Platform;
  onProgress?: ProgressListener;
  /** Layers downloaded at once. Default 3. */
  concurrency?: number;
  /** Attempts per blob when the connection drops (resuming each time). Default 5. */
  attempts?: number;
  /**
   * Unpack into this snapshotter as the layers download: each layer is decompressed,
   * hashed and extracted while its bytes arrive (following the ingest file), in order;
   * its snapshot is committed only once the blob's digest and the diff ID are verified.
   */
  /**
   * Unpack into the snapshotter as the layers download. `durable: false`: the snapshots are
   * committed without a sync; the caller flushes the snapshotter afterwards (the blobs are
   * durable, so a snapshot a crash loses is made again: unpack.ts, recoverUnflushed).
   */
  unpack?: { snapshotter: Snapshotter; durable?: boolean };
  /**
   * With `unpack`: download the layers on a worker thread (download-thread.ts) instead of
   * this one. Off by default: on a loaded 2-CPU machine it measured slower (see
   * docs/benchmarks.md, "Image pull"); kept to be measured where CPUs are idle.
   */
  downloadThread?: boolean;
}

export interface PulledImage {
  /** The normalised reference that was pulled. */
  name: string;
  /** What the tag or digest points at (an index or a manifest). */
  target: Descriptor;
  /** The image manifest for the platform. */
  manifest: Descriptor;
  config: Descriptor;
  layers: Descriptor[];
  imageConfig: ImageConfig;
  /** With `unpack`: the chain ID of the top layer's snapshot. */
  chainId?: string;
}

export function parseJson<T>(bytes: Buffer, what: string): T {
  try {
    return JSON.parse(bytes.toString('utf8')) as T;
  } catch {
    throw invalidParameter(`${what}: not valid JSON`);
  }
}

async function fetchSmall(content: ContentStore, repo: Repository, desc: Descriptor): Promise<Buffer> {
  if (!(await content.has(desc.digest))) {
    await content.write({ digest: desc.digest, size: desc.size }, (offset) => repo.openBlob(desc.digest, offset));
  }
  return content.get(desc.digest);
}

async function runLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++]!;
      await fn(item);
    }
  });
  await Promise.all(workers);
}

/** Pulls an image into the content store; the image store records the name afterwards. */
export async function pullImage(registry: RegistryClient, content: ContentStore, ref: Reference, opts: PullOptions = {}): Promise<PulledImage> {
  if (!opts.unpack || !opts.downloadThread) return pullLayers(registry, content, ref, opts);
  // Started first, so that its start-up overlaps the manifest and config requests.
  const thread = new DownloadThread(registry, content, ref, opts.attempts ?? 5);
  thread.start();
  try {
    return await pullLayers(registry, content, ref, opts, thread);
  } finally {
    await thread.close();
  }
}

async function pullLayers(registry: RegistryClient, content: ContentStore, ref: Reference, opts: PullOptions, thread?: DownloadThread): Promise<PulledImage> {
  const repo = registry.repository(ref);
  const name = formatReference(ref);
  const fetched = await repo.getManifest(referenceObject(ref));
  if (ref.digest && fetched.digest !== ref.digest) throw invalidParameter(`${name}: manifest digest ${fetched.digest} does not match`);
  await content.put(fetched.bytes, { digest: fetched.digest, size: fetched.bytes.length });
  const target: Descriptor = { mediaType: fetched.mediaType, digest: fetched.digest, size: fetched.bytes.length };
  let manifestDesc = target;
  let manifestBytes = fetched.bytes;
  if (isIndexMediaType(fetched.mediaType)) {
    const index = parseJson<ImageIndex>(fetched.bytes, `index ${fetched.digest}`);
    const chosen = selectPlatformManifest(index.manifests ?? [], opts.platform ?? hostPlatform());
    const m = await repo.getManifest(chosen.digest);
    if (m.bytes.length !== chosen.size) throw invalidParameter(`manifest ${chosen.digest}: size ${m.bytes.length}, index says ${chosen.size}`);
    await content.put(m.bytes, { digest: chosen.digest, size: chosen.size });
    manifestDesc = { ...chosen, mediaType: chosen.mediaType ?? m.mediaType };
    manifestBytes = m.bytes;
  }
  if (!isManifestMediaType(manifestDesc.mediaType)) {
    throw new BerthError('NotImplemented', `${name}: unsupported manifest media type "${manifestDesc.mediaType}" (schema 1 manifests are not supported)`);
  }
  const manifest = parseJson<ImageManifest>(manifestBytes, `manifest ${manifestDesc.digest}`);
  if (!manifest.config || !Array.isArray(manifest.layers)) throw invalidParameter(`manifest ${manifestDesc.digest}: missing config or layers`);
  const attempts = opts.attempts ?? 5;
  for (const l of manifest.layers) opts.onProgress?.(progressEvent(l.digest, 'waiting', 0, l.size));
  const configBytes = await fetchSmall(content, repo, manifest.config);
  const imageConfig = parseJson<ImageConfig>(configBytes, `config ${manifest.config.digest}`);
  if (imageConfig.rootfs?.diff_ids?.length !== manifest.layers.length) {
    throw invalidParameter(`image ${name}: config lists ${imageConfig.rootfs?.diff_ids?.length ?? 0} diff_ids for ${manifest.layers.length} layers`);
  }
  const unique = [...new Map(manifest.layers.map((l) => [l.digest, l])).values()];
  const result: PulledImage = { name, target, manifest: manifestDesc, config: manifest.config, layers: manifest.layers, imageConfig };
  if (!opts.unpack) {
    await runLimited(unique, opts.concurrency ?? 3, (l) => fetchBlob(content, repo, l, attempts, opts.onProgress));
    for (const l of manifest.layers) opts.onProgress?.(progressEvent(l.digest, 'done', l.size, l.size));
    return result;
  }
  // Download and unpack at once: followers feed the unpacker from the ingest files (the
  // downloads run here or on the download thread).
  const fetch = (l: Descriptor, f: BlobFollower): Promise<void> => (thread ? thread.fetch(l, opts.onProgress, f) : fetchBlob(content, repo, l, attempts, opts.onProgress, f));
  const followers = new Map(unique.map((l) => [l.digest, new BlobFollower(content, l.digest)]));
  const downloads = new Map<string, Promise<void>>();
  const started = runLimited(unique, opts.concurrency ?? 3, async (l) => {
    const f = followers.get(l.digest)!;
    const p = fetch(l, f).then(
      () => f.finish(),
      (e: unknown) => {
        f.fail(e);
        throw e;
      },
    );
    downloads.set(l.digest, p);
    await p;
  });
  const downloaded = (digest: string): Promise<void> => downloads.get(digest) ?? started.then(() => downloads.get(digest));
  const unpacking = unpackLayers(content, opts.unpack.snapshotter, manifest.layers, imageConfig.rootfs.diff_ids, {
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    ...(opts.unpack.durable === false ? { durable: false } : {}),
    source: async (layer) => ({ stream: followers.get(layer.digest)!.stream(), done: downloaded(layer.digest) }),
  });
  // Downloads are let finish (or fail) before the thread stops, whatever the unpack did:
  // a partial blob stays in its ingest, to resume from.
  const [downloadsDone, unpacked] = await Promise.allSettled([started, unpacking]);
  if (unpacked.status === 'rejected') throw unpacked.reason;
  if (downloadsDone.status === 'rejected') throw downloadsDone.reason;
  const chain = unpacked.value;
  result.chainId = chain;
  return result;
}
