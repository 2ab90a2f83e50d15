// Containers' root filesystems: one active snapshot per container, on top of the committed
// snapshot of its image's top layer (unpacked on demand, shared by chain ID), mounted at
// <data-root>/rootfs/<container-id>. The snapshot is named `container-<id>` and labelled
// with the image ID, so the image service can tell which images containers use.

import { mkdir, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { invalidParameter, isBerthError } from '../../errors.js';
import type { ContentStore } from '../../image/content/store.js';
import type { Mount, Snapshotter } from '../../image/snapshot/snapshotter.js';
import type { ImageStore, ResolvedImage } from '../../image/store.js';
import { chainIds, unpackLayers } from '../../image/unpack.js';
import { isMountPoint, mountSnapshot, unmountAll } from './rootfs-mount.js';

export const IMAGE_LABEL = 'berth.image';
export const CONTAINER_LABEL = 'berth.container';
const KEY_PREFIX = 'container-';

export function containerSnapshotKey(containerId: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(containerId)) throw invalidParameter(`invalid container ID "${containerId}"`);
  return `${KEY_PREFIX}${containerId}`;
}

async function exists(sn: Snapshotter, key: string): Promise<boolean> {
  return sn.stat(key).then(
    () => true,
    (e: unknown) => {
      if (isBerthError(e, 'NotFound')) return false;
      throw e;
    },
  );
}

/** Where a container's rootfs is mounted (known before it is made: the record names it). */
export function rootfsMountPath(dataRoot: string, containerId: string): string {
  containerSnapshotKey(containerId);
  return join(dataRoot, 'rootfs', containerId);
}

export class RootfsManager {
  constructor(
    private readonly dataRoot: string,
    private readonly content: ContentStore,
    private readonly images: ImageStore,
    private readonly snapshotter: Snapshotter,
  ) {}

  mountPath(containerId: string): string {
    return rootfsMountPath(this.dataRoot, containerId);
  }

  /** Whether the container has a rootfs snapshot. */
  has(containerId: string): Promise<boolean> {
    return exists(this.snapshotter, containerSnapshotKey(containerId));
  }

  /**
   * Unpacks an image (its layers, by chain ID) when it is not yet; returns the top chain ID.
   * `image`: its ID, or the image already resolved by the caller.
   */
  async unpackImage(image: string | ResolvedImage): Promise<string> {
    const img = typeof image === 'string' ? await this.images.resolve(image) : image;
    const diffIds = img.config.rootfs?.diff_ids ?? [];
    const top = chainIds(diffIds).at(-1);
    if (top === undefined) throw invalidParameter(`image ${img.id} has no layers`);
    if (!(await exists(this.snapshotter, top))) await unpackLayers(this.content, this.snapshotter, img.manifestDoc.layers, diffIds);
    return top;
  }

  async prepare(containerId: string, image: string | ResolvedImage): Promise<string> {
    const key = containerSnapshotKey(containerId);
    let mounts: Mount[] | undefined;
    if (!(await exists(this.snapshotter, key))) {
      const img = typeof image === 'string' ? await this.images.resolve(image) : image;
      const parent = await this.unpackImage(img);
      mounts = await this.snapshotter.prepare(key, parent, { [IMAGE_LABEL]: img.id, [CONTAINER_LABEL]: containerId });
    }
    return this.mount(containerId, mounts);
  }

  /** Mounts the container's snapshot (`mounts`: its mounts when the caller has them). */
  async mount(containerId: string, mounts?: Mount[]): Promise<string> {
    const key = containerSnapshotKey(containerId);
    const target = this.mountPath(containerId);
    mounts ??= await this.snapshotter.mounts(key);
    // A mount point this call made cannot have anything mounted on it yet.
    const made = await mkdir(target, { recursive: true, mode: 0o755 });
    if (made !== undefined || !(await isMountPoint(target))) await mountSnapshot(mounts, target);
    return target;
  }

  async unmount(containerId: string): Promise<void> {
    await unmountAll(this.mountPath(containerId));
  }

  async remove(containerId: string): Promise<void> {
    const key = containerSnapshotKey(containerId);
    const target = this.mountPath(containerId);
    await unmountAll(target);
    await this.snapshotter.remove(key).catch((e: unknown) => {
      if (!isBerthError(e, 'NotFound')) throw e;
    });
    // Only an empty mount point is removed: never recurse into what might still be mounted.
    await rmdir(target).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
    });
  }

  /** Container IDs whose rootfs snapshot was made from the image. */
  async containersOf(imageId: string): Promise<string[]> {
    const out: string[] = [];
    for (const s of await this.snapshotter.list()) {
      if (s.labels[IMAGE_LABEL] === imageId && s.name.startsWith(KEY_PREFIX)) out.push(s.labels[CONTAINER_LABEL] ?? s.name.slice(KEY_PREFIX.length));
    }
    return out;
  }

  /** Every container rootfs snapshot: container ID → image ID. */
  async all(): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const s of await this.snapshotter.list()) {
      if (s.name.startsWith(KEY_PREFIX) && s.kind === 'active') out.set(s.labels[CONTAINER_LABEL] ?? s.name.slice(KEY_PREFIX.length), s.labels[IMAGE_LABEL] ?? '');
    }
    return out;
  }
}

