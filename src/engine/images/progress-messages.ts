// The JSON progress messages dockerd writes for pull and push, shaped from the image
// layer's per-layer events. Pure: the clock is passed in, so throttling is testable.
//
// Pull (per layer id = first 12 hex digits of the compressed digest):
//   Pulling fs layer → Downloading {current,total}… → Verifying Checksum → Download complete
//   → Extracting {current}… → Pull complete;  or Already exists.
// Push (per layer id = first 12 hex digits of the diff ID, as dockerd shows them):
//   Preparing → Pushing {current,total} → Pushed;  or Layer already exists, Mounted from <repo>.

import type { JSONMessage } from '../../api/json-stream.js';
import type { ProgressEvent } from '../../image/progress.js';

export type Sink = (message: JSONMessage) => void;

/** How often (ms) a layer's byte counts are reported at most; the last one always is. */
export const PROGRESS_INTERVAL_MS = 100;

/** docker's units.HumanSize: decimal units, about 3 significant digits ("1.23MB"). */
export function humanSize(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${Number(v.toPrecision(3))}${units[i]}`;
}

/** The bar dockerd puts in `progress` (the docker CLI renders progressDetail itself). */
export function progressBar(current: number, total?: number): string {
  if (total === undefined || total <= 0) return humanSize(current).padStart(8);
  const filled = Math.min(50, Math.floor(((current / total) * 100) / 2));
  return `[${'='.repeat(filled)}>${' '.repeat(50 - filled)}] ${humanSize(current).padStart(8)}/${humanSize(total)}`;
}

function detailed(status: string, id: string, current: number, total?: number): JSONMessage {
  const progressDetail: { current: number; total?: number } = { current };
  if (total !== undefined && total > 0) progressDetail.total = total;
  return { status, progressDetail, progress: progressBar(current, total), id };
}

function plain(status: string, id: string): JSONMessage {
  return { status, progressDetail: {}, id };
}

/** Emits at most one byte-count message per layer and interval. */
class Throttle {
  private last = new Map<string, number>();
  constructor(private readonly now: () => number) {}
  due(key: string, final: boolean): boolean {
    const t = this.now();
    const prev = this.last.get(key);
    if (!final && prev !== undefined && t - prev < PROGRESS_INTERVAL_MS) return false;
    this.last.set(key, t);
    return true;
  }
  reset(key: string): void {
    this.last.delete(key);
  }
}

/**
 * Pull messages. `header` ("Pulling from library/busybox" with the tag as id) is written
 * before the first layer message, so that a failure before any layer (an unknown
 * manifest) reaches the client as an HTTP error status rather than inside the stream.
 */
export class PullProgress {
  private readonly throttle: Throttle;
  private started = false;
  /** Layers announced ("Pulling fs layer") but not yet started. */
  private readonly pending: string[] = [];
  /** "Already exists" lines held back: dropped when no layer needed a download. */
  private readonly existing: string[] = [];
  private downloading = false;
  private readonly completed = new Set<string>();
  /** Layers whose download has reported (exists or downloaded). */
  private readonly fetched = new Set<string>();
  /**
   * Layers the unpack finished before their download reported: an unpack that found the
   * layer's snapshot already there says `done` at once, and the download's `exists` may
   * come after it. Shown when the download reports, as what it reports.
   */
  private readonly doneEarly = new Set<string>();

  constructor(
    private readonly sink: Sink,
    private readonly header: JSONMessage,
    now: () => number = Date.now,
  ) {
    this.throttle = new Throttle(now);
  }

  private start(): void {
    if (this.started) return;
    this.started = true;
    this.sink(this.header);
  }

  private emit(m: JSONMessage): void {
    this.start();
    this.sink(m);
  }

  /** The first layer that needs a download: what was held back is shown now. */
  private flush(): void {
    if (this.downloading) return;
    this.downloading = true;
    for (const id of this.existing.splice(0)) this.emit(plain('Already exists', id));
    for (const id of this.pending.splice(0)) this.emit(plain('Pulling fs layer', id));
  }

  /** Events of the download (pullImage's onProgress). */
  download(e: ProgressEvent): void {
    switch (e.status) {
      case 'waiting':
        if (this.downloading) this.emit(plain('Pulling fs layer', e.id));
        else if (!this.pending.includes(e.id)) this.pending.push(e.id);
        return;
      case 'exists': {
        this.fetched.add(e.id);
        this.doneEarly.delete(e.id);
        const i = this.pending.indexOf(e.id);
        if (i >= 0) this.pending.splice(i, 1);
        this.completed.add(e.id);
        if (this.downloading) this.emit(plain('Already exists', e.id));
        else this.existing.push(e.id);
        return;
      }
      case 'downloading':
        this.flush();
        if ((e.current ?? 0) > 0 && this.throttle.due(`d:${e.id}`, e.total !== undefined && e.current === e.total)) this.emit(detailed('Downloading', e.id, e.current ?? 0, e.total));
        return;
      case 'verifying':
        this.flush();
        this.emit(plain('Verifying Checksum', e.id));
        return;
      case 'downloaded':
        this.fetched.add(e.id);
        this.flush();
        this.emit(plain('Download complete', e.id));
        if (this.doneEarly.delete(e.id)) this.extract({ ...e, status: 'done' });
        return;
      default:
        return; // 'done' of the download phase: the layer is complete after extraction.
    }
  }

  /** Events of the unpack (unpackLayers' onProgress); totals are left out (they count uncompressed bytes). */
  extract(e: ProgressEvent): void {
    if (e.status === 'extracting') {
      if (this.completed.has(e.id)) return;
      this.flush();
      // Nothing at 0 bytes: the docker CLI prints a count-less progress line when it has no terminal.
      if ((e.current ?? 0) > 0 && this.throttle.due(`x:${e.id}`, false)) this.emit(detailed('Extracting', e.id, e.current ?? 0));
    } else if (e.status === 'done') {
      if (this.completed.has(e.id)) return;
      if (!this.fetched.has(e.id)) {
        this.doneEarly.add(e.id);
        return;
      }
      this.completed.add(e.id);
      this.flush();
      this.emit(plain('Pull complete', e.id));
    }
  }

  /** The closing lines: the digest and whether the name now points at something new. */
  finish(digest: string, familiarRef: string, newer: boolean): void {
    this.start();
    this.sink({ status: `Digest: ${digest}` });
    this.sink({ status: newer ? `Status: Downloaded newer image for ${familiarRef}` : `Status: Image is up to date for ${familiarRef}` });
  }
}

/** Push messages; layer ids are shown by diff ID as dockerd does, the config is not shown. */
export class PushProgress {
  private readonly throttle: Throttle;

  /**
   * @param layerIds compressed layer digest → diff ID (only these digests are reported)
   * @param mountedFrom the repository named in "Mounted from …"
   */
  constructor(
    private readonly sink: Sink,
    private readonly layerIds: Map<string, string>,
    private readonly mountedFrom: string | undefined,
    now: () => number = Date.now,
  ) {
    this.throttle = new Throttle(now);
  }

  private id(digest: string): string | undefined {
    const diffId = this.layerIds.get(digest);
    return diffId === undefined ? undefined : diffId.replace(/^sha256:/, '').slice(0, 12);
  }

  /** "Preparing" for every layer, before any upload. */
  prepare(): void {
    const seen = new Set<string>();
    for (const digest of this.layerIds.keys()) {
      const id = this.id(digest)!;
      if (seen.has(id)) continue;
      seen.add(id);
      this.sink(plain('Preparing', id));
    }
  }

  event(e: ProgressEvent): void {
    const id = this.id(e.digest);
    if (id === undefined) return;
    switch (e.status) {
      case 'exists':
        this.sink(plain('Layer already exists', id));
        return;
      case 'mounted':
        this.sink(plain(this.mountedFrom ? `Mounted from ${this.mountedFrom}` : 'Mounted', id));
        return;
      case 'uploading':
        if (this.throttle.due(id, e.current === 0 || e.current === e.total)) this.sink(detailed('Pushing', id, e.current ?? 0, e.total));
        return;
      case 'pushed':
        this.sink(plain('Pushed', id));
        return;
      default:
        return;
    }
  }

  /** `latest: digest: sha256:… size: 527` and the aux record the CLI reads. */
  finish(tag: string, digest: string, size: number): void {
    this.sink({ status: `${tag}: digest: ${digest} size: ${size}` });
    this.sink({ progressDetail: {}, aux: { Tag: tag, Digest: digest, Size: size } });
  }
}
