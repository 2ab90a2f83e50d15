// The image half of berthd's engine: the image layer (content store, snapshots, registry
// client, image store) composed behind two faces —
//  - ImageService, what the container engine needs: resolve an image, prepare, mount,
//    unmount and remove a container's root filesystem;
//  - the image methods of the API's EngineBackend (list, inspect, history, pull, import,
//    push, tag, remove, prune, save, load) and /auth, with dockerd's messages and streams.
// Everything lives under the data root: content/, images/, snapshots/, and rootfs/<id>
// (containers' mount points).

import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { Filters } from '../../api/body.js';
import { filterBool, validateFilters } from '../../api/body.js';
import type { ImageImportOptions, ImageListOptions, ImagePullOptions, ImagePushOptions, ProgressSink, ImageBackend, SystemBackend } from '../../api/backend.js';
import type { ImageDeleteItem, ImageHistoryItem, ImageInspect, ImagePruneReport, ImageSearchResult, ImageSummary } from '../../api/types/image.js';
import type { AuthConfig, AuthResponse } from '../../api/types/system.js';
import { BerthError, conflict, errorMessage, invalidParameter, isBerthError, notFound, notImplemented } from '../../errors.js';
import { ContentStore } from '../../image/content/store.js';
import { isIndexMediaType, type Descriptor, type ImageConfig, type ImageIndex, type ImageManifest } from '../../image/media-types.js';
import { parsePlatform } from '../../image/platform.js';
import { familiarName, familiarString, formatReference, parseNormalizedReference, parseReference, referenceName, type Reference } from '../../image/reference.js';
import type { RegistryClient } from '../../image/registry/client.js';
import { dockerConfigCredentials, type CredentialLookup } from '../../image/registry/credentials.js';
import { BaseSnapshotter, defaultSnapshotter, OverlaySnapshotter, VfsSnapshotter, type Snapshotter } from '../../image/snapshot/snapshotter.js';
import { ImageStore, type ImageRecord, type ResolvedImage } from '../../image/store.js';
import { chainIds, recoverUnflushed } from '../../image/unpack.js';
import { MediaType } from '../../image/media-types.js';
import { createHash } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { createGzip } from 'node:zlib';
import { filterListed, IMAGE_LIST_FILTERS, IMAGE_PRUNE_FILTERS, pruneLabelsMatch, untilFilter } from './filters.js';
import { GcGuard } from './gc-guard.js';
import { PullProgress, PushProgress } from './progress-messages.js';
import { containerSnapshotKey, RootfsManager, rootfsMountPath } from './rootfs.js';

/** The `config` object of an image config (Env, Cmd, Entrypoint, WorkingDir, User, Labels, Healthcheck…). */
export type OciImageConfig = NonNullable<ImageConfig['config']> & {
  Healthcheck?: { Test?: string[]; Interval?: number; Timeout?: number; Retries?: number; StartPeriod?: number; StartInterval?: number };
};

export interface ImageService {
  /**
   * The image a container is created from: by name (`busybox`, `busybox:1`,
   * `repo@sha256:…`), full ID or short ID. NotFound `No such image: busybox:latest`.
   * `ref` is the familiar name with its tag (or digest) when `ref` was a name, else the ID.
   */
  resolveImage(ref: string): Promise<{ id: string; ref: string; config: OciImageConfig }>;
  /** An active snapshot for the container on top of the image (unpacked on demand), mounted; returns its path. */
  prepareRootfs(containerId: string, imageId: string): Promise<string>;
  /** Where prepareRootfs mounts the container's rootfs. */
  rootfsPath(containerId: string): string;
  /** Whether the container has a rootfs snapshot (prepareRootfs done, removeRootfs not). */
  hasRootfs(containerId: string): Promise<boolean>;
  /** Mounts the container's snapshot again when it is not mounted (after a restart or reboot). */
  mountRootfs(containerId: string): Promise<string>;
  unmountRootfs(containerId: string): Promise<void>;
  /** Unmounts and deletes the container's snapshot (nothing to do when there is none). */
  removeRootfs(containerId: string): Promise<void>;
  /** IDs of the containers whose rootfs was made from the image. */
  imageUsedBy?(imageId: string): string[];
  /** Bytes written in the container's own layer (SizeRw). */
  rootfsSize?(containerId: string): Promise<number>;
  /** The storage driver name for inspect and /info: `overlay2` or `vfs`. */
  driverName?(): string;
  /** The rootfs layer directories, the container's own first (docker diff). */
  containerLayers(containerId: string): Promise<{ driver: 'overlay' | 'vfs'; dirs: string[] }>;
  /** The container's filesystem as a tar (docker export). */
  exportRootfs(containerId: string): Promise<Readable>;
  /** A new image from the container's layer (docker commit). */
  commitContainer(opts: CommitOptions): Promise<{ id: string }>;
  /** Syncs what pulls left unsynced (at shutdown: the snapshots are then durable). */
  flush?(): Promise<void>;
}

export interface EngineImagesOptions {
  dataRoot: string;
  /** docker.io mirrors (`registry-mirrors`), tried before Docker Hub. */
  registryMirrors: string[];
  /** Hosts or CIDRs spoken to over plain http (`insecure-registries`); loopback always is. */
  insecureRegistries: string[];
  /** Where the daemon's own config.json with registry credentials is (default: none). */
  dockerConfigDir?: string;
  /** The engine's answer: containers (IDs) created from the image. */
  containersUsingImage?: (imageId: string) => string[];
  /** The engine's answer: whether a container is running (a running user is a hard conflict for rmi -f). */
  isContainerRunning?: (containerId: string) => boolean;
  /** Force a snapshotter instead of probing overlayfs. */
  snapshotter?: 'overlay' | 'vfs';
  /** Where a layer snapshot remade or lost after a crash is reported. */
  log?: (level: 'warn' | 'info', message: string) => void;
}

export interface CommitOptions {
  containerId: string;
  imageId: string;
  /** `repo:tag` to record, normalised by the caller; undefined: untagged. */
  name?: string;
  untaggedRepo?: string;
  /** The container's config (Cmd, Env, …) that the image config takes. */
  config: OciImageConfig;
  changes: string[];
  comment: string;
  author: string;
  createdBy: string;
}

export type EngineImages = ImageService & ImageBackend & Pick<SystemBackend, 'authenticate'>;

interface Parts {
  content: ContentStore;
  snapshotter: Snapshotter;
  store: ImageStore;
  rootfs: RootfsManager;
}

const USER_AGENT = 'berth/0.1 (docker-compatible)';

function shortId(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}

/** True when `input` names the image by (a prefix of) its ID rather than by a reference. */
function isIdReference(input: string, imageId: string): boolean {
  const hex = input.replace(/^sha256:/, '');
  return /^[a-f0-9]{4,64}$/.test(hex) && imageId.slice(7).startsWith(hex);
}

/** `busybox` + `1.36` → `busybox:1.36`; a digest as tag → `busybox@sha256:…`. */
export function pullReference(image: string, tag: string): string {
  if (tag === '') return image;
  if (/^[a-z0-9]+:[a-f0-9]{32,}$/.test(tag)) return `${image}@${tag}`;
  return `${image}:${tag}`;
}

/** The name in a not-found message: the familiar reference with its tag when it is one. */
export function displayName(input: string): string {
  try {
    if (/^(sha256:)?[a-f0-9]{4,64}$/.test(input)) return input;
    return familiarString(parseNormalizedReference(input));
  } catch {
    return input;
  }
}

interface DeleteConflict {
  hard: boolean;
  used: boolean;
  message: string;
}

// Registry transfers, archives (save, load, import, export) and commit load their code on
// first use (dynamic imports below): a daemon at rest does none of them, and that code
// with node:https is ~2 MiB of its RSS.

export class EngineImagesService implements EngineImages {
  private parts: Promise<Parts> | undefined;
  private readonly guard = new GcGuard();
  private registry: Promise<RegistryClient> | undefined;
  private readonly configCredentials: CredentialLookup | undefined;
  /** container ID → image ID of the rootfs snapshots (kept in memory for imageUsedBy). */
  private readonly rootfsImages = new Map<string, string>();
  /** Known once the stores are open (overlay is what the probe finds on most hosts). */
  private driverInUse: 'overlay' | 'vfs' | undefined;

  constructor(private readonly opts: EngineImagesOptions) {
    this.driverInUse = opts.snapshotter;
    this.configCredentials = opts.dockerConfigDir ? dockerConfigCredentials(join(opts.dockerConfigDir, 'config.json')) : undefined;
  }

  private async newClient(auth: AuthConfig | undefined): Promise<RegistryClient> {
    const [{ RegistryClient: Client }, { authCredentials, combinedLookup }] = await Promise.all([import('../../image/registry/client.js'), import('./registry-auth.js')]);
    const creds = authCredentials(auth);
    const fallback = this.configCredentials;
    return new Client({
      mirrors: this.opts.registryMirrors,
      insecureRegistries: this.opts.insecureRegistries,
      userAgent: USER_AGENT,
      ...(creds || fallback ? { credentials: combinedLookup(creds, fallback) } : {}),
    });
  }

  private async clientFor(auth: AuthConfig | undefined): Promise<RegistryClient> {
    const { authCredentials } = await import('./registry-auth.js');
    return authCredentials(auth) ? this.newClient(auth) : (this.registry ??= this.newClient(undefined));
  }

  /** Opens the stores once: probes overlayfs, drops leftovers of interrupted unpacks. */
  private ready(): Promise<Parts> {
    this.parts ??= (async () => {
      const root = this.opts.dataRoot;
      for (const d of ['content', 'images', 'snapshots', 'rootfs']) await mkdir(join(root, d), { recursive: true });
      const content = new ContentStore(root);
      const snapshotter =
        this.opts.snapshotter === 'vfs' ? new VfsSnapshotter(root) : this.opts.snapshotter === 'overlay' ? new OverlaySnapshotter(root) : await defaultSnapshotter(root);
      for (const s of await snapshotter.list()) {
        if (s.kind === 'active' && s.name.startsWith('extract-')) await snapshotter.remove(s.name).catch(() => undefined);
      }
      if (snapshotter instanceof BaseSnapshotter) await snapshotter.cleanup();
      // Layers a pull committed unsynced before a crash of the machine: made again from their blobs.
      await recoverUnflushed(content, snapshotter, (name, why) => this.opts.log?.('warn', `layer snapshot ${name}, unsynced when the machine went down, cannot be made again: ${why}`));
      this.driverInUse = snapshotter.driver;
      const store = new ImageStore(root, content, snapshotter);
      const rootfs = new RootfsManager(root, content, store, snapshotter);
      for (const [c, i] of await rootfs.all()) this.rootfsImages.set(c, i);
      return { content, snapshotter, store, rootfs };
    })().catch((e: unknown) => {
      this.parts = undefined;
      throw e;
    });
    return this.parts;
  }

  private flushing: Promise<void> | undefined;

  /** Syncs the snapshots pulls committed unsynced, after the current call has answered. */
  private flushSoon(snapshotter: Snapshotter): void {
    const f = new Promise<void>((r) => setImmediate(r))
      .then(() => snapshotter.flush())
      .catch((e: unknown) => this.opts.log?.('warn', `sync pulled layers: ${errorMessage(e)}`))
      .finally(() => {
        if (this.flushing === f) this.flushing = undefined;
      });
    this.flushing = f;
  }

  async flush(): Promise<void> {
    await this.flushing;
    if (this.parts) await (await this.parts).snapshotter.flush();
  }

  /** Opens the stores (done by the first call anyway). */
  async open(): Promise<void> {
    await this.ready();
  }

  /** The image layer's objects, for the build service (content store, image store, snapshotter). */
  async buildParts(): Promise<{ content: ContentStore; store: ImageStore; snapshotter: Snapshotter }> {
    const { content, store, snapshotter } = await this.ready();
    return { content, store, snapshotter };
  }

  /** Pulls `ref` with no progress output (a build's FROM of a missing image, `--pull`). */
  async pullQuiet(ref: string, platform?: string): Promise<void> {
    await this.imagePull({ image: ref, tag: '', signal: new AbortController().signal, ...(platform ? { platform } : {}) }, () => undefined);
  }

  /** The snapshotter driver in use ('overlay' or 'vfs'), for /info. */
  async driver(): Promise<'overlay' | 'vfs'> {
    return (await this.ready()).snapshotter.driver;
  }

  /** An image by name or ID, with dockerd's not-found wording. */
  private async find(input: string): Promise<ResolvedImage> {
    const { store } = await this.ready();
    if (input === '') throw notFound('No such image: ');
    try {
      return await store.resolve(input);
    } catch (e) {
      if (isBerthError(e, 'NotFound')) throw notFound(`No such image: ${displayName(input)}`);
      throw e;
    }
  }

  // --- ImageService ------------------------------------------------------------------------

  async resolveImage(ref: string): Promise<{ id: string; ref: string; config: OciImageConfig }> {
    const img = await this.find(ref);
    return { id: img.id, ref: isIdReference(ref, img.id) ? img.id : displayName(ref), config: (img.config.config ?? {}) as OciImageConfig };
  }

  async prepareRootfs(containerId: string, imageId: string): Promise<string> {
    const { rootfs } = await this.ready();
    const img = await this.find(imageId);
    const path = await this.guard.shared(() => rootfs.prepare(containerId, img));
    this.rootfsImages.set(containerId, img.id);
    return path;
  }

  rootfsPath(containerId: string): string {
    return rootfsMountPath(this.opts.dataRoot, containerId);
  }

  async hasRootfs(containerId: string): Promise<boolean> {
    const { rootfs } = await this.ready();
    return rootfs.has(containerId);
  }

  async mountRootfs(containerId: string): Promise<string> {
    const { rootfs } = await this.ready();
    return rootfs.mount(containerId);
  }

  async unmountRootfs(containerId: string): Promise<void> {
    const { rootfs } = await this.ready();
    await rootfs.unmount(containerId);
  }

  async removeRootfs(containerId: string): Promise<void> {
    const { rootfs } = await this.ready();
    await rootfs.remove(containerId);
    this.rootfsImages.delete(containerId);
  }

  async rootfsSize(containerId: string): Promise<number> {
    const { snapshotter } = await this.ready();
    return (await snapshotter.usage(containerSnapshotKey(containerId))).size;
  }

  driverName(): string {
    return this.driverInUse === 'vfs' ? 'vfs' : 'overlay2';
  }

  imageUsedBy(imageId: string): string[] {
    const out = new Set(this.opts.containersUsingImage?.(imageId) ?? []);
    for (const [c, i] of this.rootfsImages) if (i === imageId) out.add(c);
    return [...out];
  }

  // --- a container's layer: export, changes, commit -------------------------------------

  /** The directories of the container's rootfs, top (its own layer) first; one for vfs. */
  async containerLayers(containerId: string): Promise<{ driver: 'overlay' | 'vfs'; dirs: string[] }> {
    const { snapshotter } = await this.ready();
    const { mountLayers } = await import('../../image/archive/export.js');
    return { driver: snapshotter.driver, dirs: mountLayers(await snapshotter.mounts(containerSnapshotKey(containerId))) };
  }

  /** `docker export`: the container's whole filesystem as a tar, read from its layers (nothing mounted). */
  async exportRootfs(containerId: string): Promise<Readable> {
    const { snapshotter } = await this.ready();
    const { exportSnapshot } = await import('../../image/archive/export.js');
    return exportSnapshot(snapshotter, containerSnapshotKey(containerId));
  }

  /**
   * `docker commit`: the container's own layer (overlay upper dir, whiteouts as `.wh.`
   * entries) becomes a new layer on top of its image; the config is the image's with the
   * container's `config` and the `changes` lines applied, a history entry added.
   */
  async commitContainer(opts: CommitOptions): Promise<{ id: string }> {
    const { store, snapshotter, content } = await this.ready();
    if (snapshotter.driver !== 'overlay') throw notImplemented('commit needs the overlay snapshotter (vfs keeps no separate container layer)');
    const parent = await this.find(opts.imageId);
    const [{ mountLayers }, { packDirectory }, { applyChanges }] = await Promise.all([import('../../image/archive/export.js'), import('../../image/layer/diff.js'), import('../../image/archive/changes.js')]);
    const [upper] = mountLayers(await snapshotter.mounts(containerSnapshotKey(opts.containerId)));
    if (!upper) throw notFound(`no layer for container ${opts.containerId}`);
    const diffHash = createHash('sha256');
    const tee = new PassThrough();
    tee.on('data', (c: Buffer) => diffHash.update(c));
    const gz = createGzip();
    packDirectory(upper, { overlay: true }).on('error', (e) => gz.destroy(e)).pipe(tee).pipe(gz);
    const layer = await content.ingestStream(gz);
    const diffId = `sha256:${diffHash.digest('hex')}`;
    const created = new Date().toISOString();
    const base = parent.config;
    const config: ImageConfig = {
      ...base,
      created,
      ...(opts.author ? { author: opts.author } : {}),
      config: applyChanges({ ...(base.config ?? {}), ...opts.config }, opts.changes),
      rootfs: { type: 'layers', diff_ids: [...(base.rootfs?.diff_ids ?? []), diffId] },
      history: [...(base.history ?? []), { created, created_by: opts.createdBy, ...(opts.author ? { author: opts.author } : {}), ...(opts.comment ? { comment: opts.comment } : {}) }],
    };
    const configBytes = Buffer.from(JSON.stringify(config));
    const configInfo = await content.put(configBytes);
    const ociLayers = parent.manifestDoc.layers.map((l) => ({ ...l, mediaType: l.mediaType.includes('docker') ? MediaType.ociLayerGzip : l.mediaType }));
    const manifest: ImageManifest = {
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: { mediaType: MediaType.ociConfig, digest: configInfo.digest, size: configBytes.length },
      layers: [...ociLayers, { mediaType: MediaType.ociLayerGzip, digest: layer.digest, size: layer.size }],
    };
    const manifestBytes = Buffer.from(JSON.stringify(manifest));
    const manifestInfo = await content.put(manifestBytes);
    const target: Descriptor = { mediaType: MediaType.ociManifest, digest: manifestInfo.digest, size: manifestBytes.length };
    // An untagged commit is recorded by digest, so the image is listed (as <none>) and kept.
    const name = opts.name ?? `${opts.untaggedRepo ?? 'berth-commit'}@${manifestInfo.digest}`;
    await store.put(name, target);
    return { id: configInfo.digest };
  }

  // --- list, inspect, history, tag ------------------------------------------------------------

  async imageList(opts: ImageListOptions): Promise<ImageSummary[]> {
    const { store } = await this.ready();
    const f = opts.filters;
    validateFilters(f, IMAGE_LIST_FILTERS);
    const createdOf = async (name: string): Promise<number> => {
      const img = await this.find(name);
      return img.config.created ? Math.floor(Date.parse(img.config.created) / 1000) : 0;
    };
    const times: { before?: number; since?: number; until?: number } = {};
    if (f.before?.[0] !== undefined) times.before = await createdOf(f.before[0]);
    if (f.since?.[0] !== undefined) times.since = await createdOf(f.since[0]);
    const until = untilFilter(f);
    if (until !== undefined) times.until = until;
    const out: ImageSummary[] = [];
    for (const s of await store.list()) {
      const kept = filterListed({ created: s.Created, repoTags: s.RepoTags, repoDigests: s.RepoDigests, labels: s.Labels }, f, times);
      if (!kept) continue;
      out.push({ ...s, RepoTags: kept.repoTags, RepoDigests: kept.repoDigests, Containers: this.imageUsedBy(s.Id).length });
    }
    return out;
  }

  async imageInspect(name: string): Promise<ImageInspect> {
    const { store } = await this.ready();
    const img = await this.find(name);
    return (await store.inspect(img.id)) as unknown as ImageInspect;
  }

  async imageHistory(name: string): Promise<ImageHistoryItem[]> {
    const { store } = await this.ready();
    const img = await this.find(name);
    return store.history(img.id);
  }

  async imageTag(name: string, repo: string, tag: string): Promise<void> {
    const { store } = await this.ready();
    if (repo === '') throw invalidParameter('repository name must have at least one component');
    const written = tag === '' ? repo : `${repo}:${tag}`;
    if (/^[a-z0-9]+:[a-f0-9]{32,}$/.test(tag)) throw invalidParameter('refusing to create an ambiguous tag using digest algorithm as name');
    const ref = parseNormalizedReference(written);
    if (ref.digest !== undefined) throw invalidParameter('refusing to create a tag with a digest reference');
    const img = await this.find(name);
    await store.put(formatReference(ref), img.records[0]!.target);
  }

  // --- pull ---------------------------------------------------------------------------------

  async imagePull(opts: ImagePullOptions, progress: ProgressSink): Promise<void> {
    const { content, snapshotter, store } = await this.ready();
    const ref = parseNormalizedReference(pullReference(opts.image, opts.tag));
    const platform = opts.platform !== undefined ? parsePlatform(opts.platform) : undefined;
    const registry = await this.clientFor(opts.auth);
    const [{ pullImage }, { translatePullError }] = await Promise.all([import('../../image/pull.js'), import('./registry-errors.js')]);
    const name = formatReference(ref);
    const shaper = new PullProgress(progress, { status: `Pulling from ${ref.path}`, id: ref.digest ?? ref.tag ?? 'latest' });
    const aborted = (): void => {
      if (opts.signal.aborted) throw new BerthError('Unavailable', `pull of ${familiarString(ref)} cancelled: the client went away`);
    };
    try {
      await this.guard.shared(async () => {
        let pulled;
        try {
          // Layers are extracted while they download; their snapshots are committed once verified.
          // Unsynced: the answer does not wait for the layers' writeback (flushed just after;
          // a machine crash before that makes them again from the fsynced blobs, at the next start).
          pulled = await pullImage(registry, content, ref, {
            onProgress: (e) => (e.status === 'extracting' || e.status === 'done' ? shaper.extract(e) : shaper.download(e)),
            unpack: { snapshotter, durable: false },
            ...(platform ? { platform } : {}),
          });
        } catch (e) {
          throw translatePullError(e, ref);
        }
        aborted();
        const before = (await store.records()).find((r) => r.name === name);
        await store.put(name, pulled.target);
        shaper.finish(pulled.target.digest, familiarString(ref), before?.target.digest !== pulled.target.digest);
      });
    } finally {
      this.flushSoon(snapshotter);
    }
  }

  // --- push ---------------------------------------------------------------------------------

  async imagePush(name: string, opts: ImagePushOptions, progress: ProgressSink): Promise<void> {
    const { content, store } = await this.ready();
    const written = parseReference(name);
    if (written.digest !== undefined) throw invalidParameter(`cannot push a digest reference "${name}"`);
    const repoRef = parseNormalizedReference(written.tag !== undefined ? name.slice(0, name.length - written.tag.length - 1) : name);
    const repo = referenceName(repoRef);
    const wantTag = opts.tag ?? written.tag;
    progress({ status: `The push refers to repository [${repo}]` });
    const records = await store.records();
    const tagged = records.filter((r) => {
      const ref = parseNormalizedReference(r.name);
      return referenceName(ref) === repo && ref.tag !== undefined && ref.digest === undefined && (wantTag === undefined || ref.tag === wantTag);
    });
    if (tagged.length === 0) {
      if (wantTag !== undefined && records.some((r) => referenceName(parseNormalizedReference(r.name)) === repo)) {
        throw notFound(`tag does not exist: ${familiarString({ ...repoRef, tag: wantTag, digest: undefined })}`);
      }
      throw notFound(`An image does not exist locally with the tag: ${familiarName(repoRef)}`);
    }
    const registry = await this.clientFor(opts.auth);
    const [{ parseJson }, { pushImage }, { translateRegistryError }] = await Promise.all([import('../../image/pull.js'), import('../../image/push.js'), import('./registry-errors.js')]);
    for (const rec of tagged.sort((a, b) => a.name.localeCompare(b.name))) {
      const ref = parseNormalizedReference(rec.name);
      const target = await this.pushTarget(store, rec.target);
      const manifest = await store.manifestOf(target);
      const doc = parseJson<ImageManifest>(await content.get(manifest.digest), `manifest ${manifest.digest}`);
      const config = parseJson<ImageConfig>(await content.get(doc.config.digest), `config ${doc.config.digest}`);
      const layerIds = new Map<string, string>();
      doc.layers.forEach((l, i) => layerIds.set(l.digest, config.rootfs.diff_ids[i] ?? l.digest));
      const img = await store.resolve(rec.name);
      const mountFrom = [...new Set(img.records.map((r) => parseNormalizedReference(r.name)).filter((r) => r.domain === ref.domain && r.path !== ref.path).map((r) => r.path))];
      const shaper = new PushProgress(progress, layerIds, mountFrom[0]);
      shaper.prepare();
      let digest: string;
      try {
        digest = await pushImage(registry, content, ref, target, { onProgress: (e) => shaper.event(e), mountFrom });
      } catch (e) {
        throw translateRegistryError(e);
      }
      shaper.finish(ref.tag!, digest, target.size);
    }
  }

  /** What to push for a record: its target, or its platform manifest when an index lacks children. */
  private async pushTarget(store: ImageStore, target: Descriptor): Promise<Descriptor> {
    if (!isIndexMediaType(target.mediaType)) return target;
    const { parseJson } = await import('../../image/pull.js');
    const index = parseJson<ImageIndex>(await store.content.get(target.digest), `index ${target.digest}`);
    for (const m of index.manifests) if (!(await store.content.has(m.digest))) return store.manifestOf(target);
    return target;
  }

  // --- remove and prune -----------------------------------------------------------------------

  private conflictOf(img: ResolvedImage, soft: boolean, activeReference: boolean): DeleteConflict | undefined {
    const users = this.imageUsedBy(img.id);
    const running = users.find((c) => this.opts.isContainerRunning?.(c) ?? false);
    if (running) return { hard: true, used: true, message: `image is being used by running container ${shortId(running)}` };
    if (!soft) return undefined;
    if (activeReference && img.records.length > 0) return { hard: false, used: false, message: 'image is referenced in multiple repositories' };
    const stopped = users[0];
    if (stopped) return { hard: false, used: true, message: `image is being used by stopped container ${shortId(stopped)}` };
    return undefined;
  }

  private static conflictError(imageId: string, c: DeleteConflict): BerthError {
    return conflict(`conflict: unable to delete ${shortId(imageId)} (${c.hard ? 'cannot be forced' : 'must be forced'}) - ${c.message}`);
  }

  private async untag(store: ImageStore, rec: ImageRecord, out: ImageDeleteItem[]): Promise<void> {
    await store.untag(rec.name);
    out.push({ Untagged: familiarString(parseNormalizedReference(rec.name)) });
  }

  /**
   * dockerd's image delete without the collection of blobs: by name, untag (refused while
   * a container uses the image through its last name, unless forced), deleting the image
   * when that was its last name; by ID, all names when they are one repository's at most
   * one tag (or with force). Returns the items and whether the image itself went.
   */
  private async deleteImage(input: string, force: boolean): Promise<{ items: ImageDeleteItem[]; deleted?: ResolvedImage }> {
    const { store } = await this.ready();
    let img = await this.find(input);
    const items: ImageDeleteItem[] = [];
    let quiet = false;
    if (!isIdReference(input, img.id)) {
      const ref = parseNormalizedReference(input);
      const full = formatReference(ref);
      const rec = img.records.find((r) => r.name === full) ?? img.records.find((r) => ref.digest !== undefined && referenceName(parseNormalizedReference(r.name)) === referenceName(ref));
      if (!rec) throw notFound(`No such image: ${displayName(input)}`);
      if (img.records.length === 1 && !force) {
        const user = this.imageUsedBy(img.id)[0];
        if (user) throw conflict(`conflict: unable to remove repository reference "${input}" (must force) - container ${shortId(user)} is using its referenced image ${shortId(img.id)}`);
      }
      await this.untag(store, rec, items);
      // A removed tag leaves the repository's digest-only names behind: those go too.
      const repo = referenceName(parseNormalizedReference(rec.name));
      const rest = img.records.filter((r) => r !== rec);
      const sameRepo = rest.filter((r) => referenceName(parseNormalizedReference(r.name)) === repo);
      if (sameRepo.length > 0 && sameRepo.every((r) => parseNormalizedReference(r.name).tag === undefined)) {
        for (const r of sameRepo) await this.untag(store, r, items);
      }
      const remaining = rest.filter((r) => !sameRepo.includes(r) || parseNormalizedReference(r.name).tag !== undefined);
      if (remaining.length > 0) return { items };
      img = { ...img, records: [] };
      quiet = true;
    } else {
      const repos = new Set(img.records.map((r) => referenceName(parseNormalizedReference(r.name))));
      const tags = img.records.filter((r) => parseNormalizedReference(r.name).tag !== undefined);
      if (repos.size <= 1 && tags.length <= 1) {
        const c = this.conflictOf(img, !force, false);
        if (c) throw EngineImagesService.conflictError(img.id, c);
        for (const r of img.records) await this.untag(store, r, items);
        img = { ...img, records: [] };
      }
    }
    const c = this.conflictOf(img, !force, true);
    if (c) {
      // After untagging its last name, a conflict only matters for an unused image.
      if (quiet && c.used) return { items };
      throw EngineImagesService.conflictError(img.id, c);
    }
    for (const r of img.records) await this.untag(store, r, items);
    items.push({ Deleted: img.id });
    return { items, deleted: img };
  }

  /** Collects unreferenced blobs and snapshots; the chain IDs that went, among `chains`. */
  private async collect(chains: string[]): Promise<{ removed: string[]; reclaimed: number }> {
    const { content, store } = await this.ready();
    return this.guard.exclusive(async () => {
      const sizes = new Map((await content.list()).map((b) => [b.digest, b.size]));
      const gone = await store.gc();
      const reclaimed = gone.blobs.reduce((n, d) => n + (sizes.get(d) ?? 0), 0);
      const went = new Set(gone.snapshots);
      return { removed: chains.filter((c) => went.has(c)).reverse(), reclaimed };
    });
  }

  async imageRemove(name: string, opts: { force: boolean; noPrune: boolean }): Promise<ImageDeleteItem[]> {
    const { items, deleted } = await this.deleteImage(name, opts.force);
    if (deleted) {
      const { removed } = await this.collect(chainIds(deleted.config.rootfs?.diff_ids ?? []));
      for (const c of removed) items.push({ Deleted: c });
    }
    return items;
  }

  async imagePrune(filters: Filters): Promise<ImagePruneReport> {
    const { store } = await this.ready();
    validateFilters(filters, IMAGE_PRUNE_FILTERS);
    const danglingOnly = filterBool(filters, 'dangling', true);
    const until = untilFilter(filters);
    const deleted: ImageDeleteItem[] = [];
    const chains: string[] = [];
    for (const s of await store.list()) {
      if (this.imageUsedBy(s.Id).length > 0) continue;
      if (until !== undefined && s.Created >= until) continue;
      if (!pruneLabelsMatch(filters, s.Labels)) continue;
      if (danglingOnly && s.RepoTags.length > 0) continue;
      const img = await this.find(s.Id);
      try {
        const names = img.records.map((r) => r.name);
        const targets = names.length > 0 ? names : [img.id];
        for (const n of targets) {
          const r = await this.deleteImage(isIdReference(n, img.id) ? n : familiarString(parseNormalizedReference(n)), false).catch((e: unknown) => {
            if (isBerthError(e, 'NotFound')) return { items: [] as ImageDeleteItem[], deleted: undefined };
            throw e;
          });
          deleted.push(...r.items);
          if (r.deleted) chains.push(...chainIds(r.deleted.config.rootfs?.diff_ids ?? []));
        }
      } catch (e) {
        if (!isBerthError(e, 'Conflict')) throw e;
      }
    }
    const { removed, reclaimed } = await this.collect(chains);
    for (const c of removed) deleted.push({ Deleted: c });
    return { ImagesDeleted: deleted.length > 0 ? deleted : null, SpaceReclaimed: reclaimed };
  }

  // --- import, save, load ---------------------------------------------------------------------

  async imageImport(opts: ImageImportOptions, progress: ProgressSink): Promise<void> {
    const { store } = await this.ready();
    const { runImport } = await import('./archives.js');
    await this.guard.shared(() => runImport(store, opts, progress));
  }

  async imageSave(names: string[], _opts: { platform?: string }): Promise<Readable> {
    const { store } = await this.ready();
    // Unknown names are refused before the stream starts, in dockerd's words.
    for (const n of names) await this.find(n);
    const { runSave } = await import('./archives.js');
    return runSave(store, names);
  }

  async imageLoad(archive: Readable, _opts: { quiet: boolean; platform?: string; signal: AbortSignal }, progress: ProgressSink): Promise<void> {
    const { store } = await this.ready();
    const { runLoad } = await import('./archives.js');
    await this.guard.shared(() => runLoad(store, archive, progress));
  }

  async imageSearch(_term: string, _opts: { limit: number; filters: Filters; auth?: AuthConfig }): Promise<ImageSearchResult[]> {
    throw notImplemented('image search is not supported by this Berth daemon yet (not implemented)');
  }

  // --- /auth ----------------------------------------------------------------------------------

  async authenticate(config: AuthConfig): Promise<AuthResponse> {
    const { login } = await import('./registry-auth.js');
    return login(config, { insecureRegistries: this.opts.insecureRegistries }, USER_AGENT);
  }
}

export function createEngineImages(opts: EngineImagesOptions): EngineImages {
  const svc = new EngineImagesService(opts);
  // Open the stores now, so imageUsedBy (synchronous) knows the existing rootfs snapshots
  // early; a failure is reported again by the first call that needs them.
  svc.open().catch(() => undefined);
  return svc;
}

export type { Reference };
