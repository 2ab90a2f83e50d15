import { statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { conflict, invalidParameter, isBerthError, notFound, systemError } from '../errors.js';
import { atomicWriteFile } from '../sys/atomic-write.js';
import type { ContentStore } from './content/store.js';
import { isIndexMediaType, isManifestMediaType, type Descriptor, type HistoryEntry, type ImageConfig, type ImageIndex, type ImageManifest } from './media-types.js';
import { hostPlatform, selectPlatformManifest } from './platform.js';
import { parseJson } from './pull.js';
import { familiarName, familiarString, formatReference, parseNormalizedReference, referenceName } from './reference.js';
import type { Snapshotter } from './snapshot/snapshotter.js';
import { chainIds, LAYER_SIZE_LABEL } from './unpack.js';
import { measureLayer } from './layer/apply.js';
import { Mutex } from '../sys/mutex.js';

// Images: names → descriptors (containerd's image service), kept in one JSON file under
// <root>/images/ written atomically, plus the Docker shapes (ImageSummary, ImageInspect,
// history) computed from the content store, and garbage collection.

export interface ImageRecord {
  /** Normalised reference: `docker.io/library/busybox:latest` or `repo@sha256:…`. */
  name: string;
  /** What the name points at: an index or a manifest. */
  target: Descriptor;
  createdAt: string;
  updatedAt: string;
}

interface ImagesFile {
  version: 1;
  images: Record<string, ImageRecord>;
}

export interface ResolvedImage {
  /** The image ID: the config digest. */
  id: string;
  manifest: Descriptor;
  manifestDoc: ImageManifest;
  config: ImageConfig;
  records: ImageRecord[];
}

export interface ImageSummary {
  Id: string;
  ParentId: string;
  RepoTags: string[];
  RepoDigests: string[];
  Created: number;
  Size: number;
  SharedSize: number;
  Labels: Record<string, string>;
  Containers: number;
}

export interface ImageInspect {
  Id: string;
  RepoTags: string[];
  RepoDigests: string[];
  Parent: string;
  Comment: string;
  Created: string;
  DockerVersion: string;
  Author: string;
  Config: ImageConfig['config'] | null;
  Architecture: string;
  Variant?: string;
  Os: string;
  Size: number;
  GraphDriver: { Name: string; Data: Record<string, string> | null };
  RootFS: { Type: string; Layers: string[] };
  Metadata: { LastTagTime: string };
}

export interface HistoryItem {
  Id: string;
  Created: number;
  CreatedBy: string;
  Tags: string[] | null;
  Size: number;
  Comment: string;
}

export type DeleteResponseItem = { Untagged: string } | { Deleted: string };

export interface RemoveOptions {
  force?: boolean;
  /** True when a container uses the image ID (the engine answers). */
  inUse?: (imageId: string) => boolean;
}

export class ImageStore {
  private readonly path: string;
  private readonly sizesPath: string;
  private readonly lock = new Mutex();
  private cached: { key: string; text: string } | undefined;

  constructor(
    dataRoot: string,
    readonly content: ContentStore,
    readonly snapshotter?: Snapshotter,
  ) {
    this.path = join(dataRoot, 'images', 'images.json');
    this.sizesPath = join(dataRoot, 'images', 'layer-sizes.json');
  }

  /**
   * images.json, parsed afresh for each caller (they change it). Its text is kept while the
   * file's inode, mtime and size stay the same: every write replaces the file (a new inode),
   * so a stat tells whether it changed, without a read through the thread pool per create.
   */
  private async load(): Promise<ImagesFile> {
    try {
      const st = statSync(this.path, { bigint: true });
      const key = `${st.ino}:${st.mtimeNs}:${st.size}`;
      if (this.cached?.key !== key) this.cached = { key, text: await readFile(this.path, 'utf8') };
      return JSON.parse(this.cached.text) as ImagesFile;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, images: {} };
      throw systemError(`read ${this.path}`, e);
    }
  }

  private exclusive<T>(fn: (f: ImagesFile) => Promise<T>): Promise<T> {
    return this.lock.run(async () => fn(await this.load()));
  }

  private save(f: ImagesFile): Promise<void> {
    return atomicWriteFile(this.path, JSON.stringify(f, null, 1));
  }

  /** Records `name` → `target` (replacing what the name pointed at). */
  async put(name: string, target: Descriptor): Promise<ImageRecord> {
    const full = formatReference(parseNormalizedReference(name));
    if (!(await this.content.has(target.digest))) throw notFound(`image target ${target.digest} is not in the content store`);
    return this.exclusive(async (f) => {
      const now = new Date().toISOString();
      const rec: ImageRecord = { name: full, target, createdAt: f.images[full]?.createdAt ?? now, updatedAt: now };
      f.images[full] = rec;
      await this.save(f);
      return rec;
    });
  }

  async records(): Promise<ImageRecord[]> {
    return this.exclusive(async (f) => Object.values(f.images));
  }

  /** The platform manifest of a target (choosing the host platform in an index). */
  async manifestOf(target: Descriptor): Promise<Descriptor> {
    if (isManifestMediaType(target.mediaType)) return target;
    if (isIndexMediaType(target.mediaType)) {
      const index = parseJson<ImageIndex>(await this.content.get(target.digest), `index ${target.digest}`);
      const present: Descriptor[] = [];
      for (const m of index.manifests) if (await this.content.has(m.digest)) present.push(m);
      return selectPlatformManifest(present, hostPlatform());
    }
    throw invalidParameter(`unsupported image media type "${target.mediaType}"`);
  }

  private async resolveTarget(target: Descriptor, records: ImageRecord[]): Promise<ResolvedImage> {
    const manifest = await this.manifestOf(target);
    const manifestDoc = parseJson<ImageManifest>(await this.content.get(manifest.digest), `manifest ${manifest.digest}`);
    const config = parseJson<ImageConfig>(await this.content.get(manifestDoc.config.digest), `config ${manifestDoc.config.digest}`);
    return { id: manifestDoc.config.digest, manifest, manifestDoc, config, records };
  }

  /** All images grouped by ID. */
  private async all(): Promise<Map<string, ResolvedImage>> {
    const out = new Map<string, ResolvedImage>();
    for (const rec of await this.records()) {
      const r = await this.resolveTarget(rec.target, [rec]);
      const have = out.get(r.id);
      if (have) have.records.push(rec);
      else out.set(r.id, r);
    }
    return out;
  }

  /** Finds an image by name (`busybox`, `x:tag`, `x@sha256:…`), full ID, or ID prefix. */
  async resolve(nameOrId: string): Promise<ResolvedImage> {
    const images = await this.all();
    const id = nameOrId.replace(/^sha256:/, '');
    if (/^[a-f0-9]{4,64}$/.test(id)) {
      const hits = [...images.values()].filter((i) => i.id.slice(7).startsWith(id));
      if (hits.length === 1) return hits[0]!;
      if (hits.length > 1) throw invalidParameter(`image ID prefix "${nameOrId}" is ambiguous`);
    }
    let full: string;
    try {
      full = formatReference(parseNormalizedReference(nameOrId));
    } catch (e) {
      if (isBerthError(e, 'InvalidParameter')) throw notFound(`No such image: ${nameOrId}`);
      throw e;
    }
    for (const img of images.values()) if (img.records.some((r) => r.name === full)) return img;
    // repo@digest matches any record of that repository pointing at the digest.
    const ref = parseNormalizedReference(nameOrId);
    if (ref.digest) {
      for (const img of images.values()) {
        if (img.records.some((r) => referenceName(parseNormalizedReference(r.name)) === referenceName(ref) && (r.target.digest === ref.digest || img.manifest.digest === ref.digest))) return img;
      }
    }
    throw notFound(`No such image: ${nameOrId}`);
  }

  /** Gives `source`'s image another name. */
  async tag(source: string, target: string): Promise<void> {
    const img = await this.resolve(source);
    const ref = parseNormalizedReference(target);
    if (ref.digest) throw invalidParameter(`refusing to tag with a digest reference "${target}"`);
    await this.put(target, img.records[0]!.target);
  }

  /** Removes one name; the image stays while it has others. */
  async untag(name: string): Promise<void> {
    const full = formatReference(parseNormalizedReference(name));
    await this.exclusive(async (f) => {
      if (!f.images[full]) throw notFound(`No such image: ${name}`);
      delete f.images[full];
      await this.save(f);
    });
  }

  /**
   * `docker rmi`: by name, untags it (and deletes the image when that was its last name);
   * by ID, deletes the image with all its names (only with force when it has several).
   * Refused while a container uses it, unless forced. Blobs go at the next gc().
   */
  async remove(nameOrId: string, opts: RemoveOptions = {}): Promise<DeleteResponseItem[]> {
    const img = await this.resolve(nameOrId);
    const id = nameOrId.replace(/^sha256:/, '');
    const byId = /^[a-f0-9]{4,64}$/.test(id) && img.id.slice(7).startsWith(id);
    if (opts.inUse?.(img.id) && !opts.force) {
      throw conflict(`conflict: unable to remove image ${nameOrId} (must force) - image is being used by a container`);
    }
    const out: DeleteResponseItem[] = [];
    let names: ImageRecord[];
    if (byId) {
      if (img.records.length > 1 && !opts.force) {
        throw conflict(`conflict: unable to delete ${img.id.slice(7, 19)} (must be forced) - image is referenced in multiple repositories`);
      }
      names = img.records;
    } else {
      const full = formatReference(parseNormalizedReference(nameOrId));
      names = img.records.filter((r) => r.name === full);
      if (names.length === 0) names = img.records.filter((r) => r.target.digest === parseNormalizedReference(nameOrId).digest);
    }
    await this.exclusive(async (f) => {
      for (const r of names) {
        delete f.images[r.name];
        out.push({ Untagged: familiarString(parseNormalizedReference(r.name)) });
      }
      await this.save(f);
    });
    if (names.length === img.records.length) out.push({ Deleted: img.id });
    return out;
  }

  private repoTagsAndDigests(img: ResolvedImage): { tags: string[]; digests: string[] } {
    const tags: string[] = [];
    const digests = new Set<string>();
    for (const r of img.records) {
      const ref = parseNormalizedReference(r.name);
      if (ref.tag !== undefined && ref.digest === undefined) tags.push(familiarString(ref));
      digests.add(`${familiarName(ref)}@${r.target.digest}`);
    }
    return { tags: tags.sort(), digests: [...digests].sort() };
  }

  /** Unpacked layer sizes by diff ID: from the layer's snapshot label, a cache file, or by reading the blob once. */
  private layerSizes: Map<string, number> | undefined;

  private async layerSize(layer: Descriptor, diffId: string, chain: string): Promise<number> {
    if (!this.layerSizes) {
      this.layerSizes = new Map();
      try {
        const saved = JSON.parse(await readFile(this.sizesPath, 'utf8')) as Record<string, number>;
        for (const [k, v] of Object.entries(saved)) if (typeof v === 'number') this.layerSizes.set(k, v);
      } catch { /* none yet */ }
    }
    const known = this.layerSizes.get(diffId);
    if (known !== undefined) return known;
    let size: number | undefined;
    const label = await this.snapshotter?.stat(chain).then((s) => s.labels[LAYER_SIZE_LABEL], () => undefined);
    if (label !== undefined && /^\d+$/.test(label)) size = Number(label);
    if (size === undefined) {
      if (!(await this.content.has(layer.digest))) return 0;
      size = (await measureLayer(await this.content.openRead(layer.digest), diffId)).unpackedSize;
    }
    this.layerSizes.set(diffId, size);
    await atomicWriteFile(this.sizesPath, JSON.stringify(Object.fromEntries(this.layerSizes)));
    return size;
  }

  /** Per layer, what it takes unpacked (as docker's Size counts it). */
  private async layerSizesOf(img: ResolvedImage): Promise<number[]> {
    const diffIds = img.config.rootfs?.diff_ids ?? [];
    const chains = chainIds(diffIds);
    const out: number[] = [];
    for (const [i, l] of img.manifestDoc.layers.entries()) out.push(diffIds[i] ? await this.layerSize(l, diffIds[i]!, chains[i]!) : 0);
    return out;
  }

  /** An image's Size as docker reports it: the unpacked size of its layers. */
  private async size(img: ResolvedImage): Promise<number> {
    return (await this.layerSizesOf(img)).reduce((a, b) => a + b, 0);
  }

  async list(): Promise<ImageSummary[]> {
    const out: ImageSummary[] = [];
    for (const img of (await this.all()).values()) {
      const { tags, digests } = this.repoTagsAndDigests(img);
      out.push({
        Id: img.id,
        ParentId: '',
        RepoTags: tags,
        RepoDigests: digests,
        Created: img.config.created ? Math.floor(Date.parse(img.config.created) / 1000) : 0,
        Size: await this.size(img),
        SharedSize: -1,
        Labels: (img.config.config?.Labels as Record<string, string> | null | undefined) ?? {},
        Containers: -1,
      });
    }
    return out.sort((a, b) => b.Created - a.Created);
  }

  async inspect(nameOrId: string): Promise<ImageInspect> {
    const img = await this.resolve(nameOrId);
    const { tags, digests } = this.repoTagsAndDigests(img);
    const lastTag = img.records.map((r) => r.updatedAt).sort().at(-1) ?? '';
    const out: ImageInspect = {
      Id: img.id,
      RepoTags: tags,
      RepoDigests: digests,
      Parent: '',
      Comment: '',
      Created: img.config.created ?? new Date(0).toISOString(),
      DockerVersion: '',
      Author: img.config.author ?? '',
      Config: img.config.config ?? null,
      Architecture: img.config.architecture,
      Os: img.config.os,
      Size: await this.size(img),
      GraphDriver: { Name: this.snapshotter?.driver === 'vfs' ? 'vfs' : 'overlay2', Data: null },
      RootFS: { Type: 'layers', Layers: img.config.rootfs.diff_ids },
      Metadata: { LastTagTime: lastTag },
    };
    if (img.config.variant) out.Variant = img.config.variant;
    return out;
  }

  /** `docker history`: newest first; entries that made no layer have size 0. */
  async history(nameOrId: string): Promise<HistoryItem[]> {
    const img = await this.resolve(nameOrId);
    const { tags } = this.repoTagsAndDigests(img);
    const hist: HistoryEntry[] = img.config.history ?? img.manifestDoc.layers.map(() => ({}));
    const layers = await this.layerSizesOf(img);
    const items: HistoryItem[] = hist.map((h) => ({
      Id: '<missing>',
      Created: h.created ? Math.floor(Date.parse(h.created) / 1000) : 0,
      CreatedBy: h.created_by ?? '',
      Tags: null,
      Size: h.empty_layer ? 0 : (layers.shift() ?? 0),
      Comment: h.comment ?? '',
    }));
    items.reverse();
    if (items[0]) {
      items[0].Id = img.id;
      items[0].Tags = tags;
    }
    return items;
  }

  /**
   * Deletes blobs no image reaches and committed snapshots no image's chain uses (and
   * that have no children, such as container snapshots). Returns what went.
   */
  async gc(): Promise<{ blobs: string[]; snapshots: string[] }> {
    const keep = new Set<string>();
    const chains = new Set<string>();
    const visit = async (d: Descriptor): Promise<void> => {
      keep.add(d.digest);
      if (!(await this.content.has(d.digest))) return;
      if (isIndexMediaType(d.mediaType)) {
        const idx = parseJson<ImageIndex>(await this.content.get(d.digest), `index ${d.digest}`);
        for (const m of idx.manifests) await visit(m);
      } else if (isManifestMediaType(d.mediaType)) {
        const m = parseJson<ImageManifest>(await this.content.get(d.digest), `manifest ${d.digest}`);
        keep.add(m.config.digest);
        for (const l of m.layers) keep.add(l.digest);
        if (await this.content.has(m.config.digest)) {
          const cfg = parseJson<ImageConfig>(await this.content.get(m.config.digest), `config ${m.config.digest}`);
          for (const c of chainIds(cfg.rootfs?.diff_ids ?? [])) chains.add(c);
        }
      }
    };
    for (const r of await this.records()) await visit(r.target);
    const blobs: string[] = [];
    for (const b of await this.content.list()) {
      if (keep.has(b.digest)) continue;
      await this.content.delete(b.digest).catch(() => undefined);
      blobs.push(b.digest);
    }
    const snapshots: string[] = [];
    if (this.snapshotter) {
      for (let changed = true; changed; ) {
        changed = false;
        const all = await this.snapshotter.list();
        const parents = new Set(all.map((s) => s.parent).filter((p): p is string => p !== undefined));
        for (const s of all) {
          if (s.kind !== 'committed' || chains.has(s.name) || parents.has(s.name)) continue;
          await this.snapshotter.remove(s.name);
          snapshots.push(s.name);
          changed = true;
        }
      }
    }
    return { blobs, snapshots };
  }
}
