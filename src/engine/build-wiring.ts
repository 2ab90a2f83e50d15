// berthd's wiring of the build service and the volume endpoints (docs/build.md, "POST /build"):
// the build service gets the image service's content store, image store, snapshotter and a
// quiet pull; its methods (and the volume methods over its VolumeStore) go onto the backend.

import type { ContentStore } from '../image/content/store.js';
import type { Snapshotter } from '../image/snapshot/snapshotter.js';
import type { ImageStore } from '../image/store.js';
import type { VolumeStore } from '../volume/store.js';
import { createBuildService, volumeBackend } from './build-service.js';

interface BuildCapableImages {
  buildParts?(): Promise<{ content: ContentStore; store: ImageStore; snapshotter: Snapshotter }>;
  pullQuiet?(ref: string, platform?: string): Promise<void>;
}

/** Undefined when the image service has no build parts (the interim one). */
export async function wireBuildsAndVolumes(dataRoot: string, execRoot: string, images: unknown): Promise<{ volumes: VolumeStore; plug(backend: object): void } | undefined> {
  const svc = images as BuildCapableImages;
  if (!svc.buildParts) return undefined;
  const { content, store, snapshotter } = await svc.buildParts();
  const pull = svc.pullQuiet?.bind(svc);
  const builds = createBuildService({ dataRoot, execRoot, content, images: store, snapshotter, ...(pull ? { pullImage: pull } : {}) });
  return {
    volumes: builds.volumes,
    plug(backend) {
      Object.assign(backend, { imageBuild: builds.imageBuild, buildContextNeed: builds.buildContextNeed, buildPrune: builds.buildPrune }, volumeBackend(builds.volumes));
    },
  };
}
