import { createHash, randomBytes } from 'node:crypto';
import { errorMessage, invalidParameter, isBerthError } from '../errors.js';
import type { ContentStore } from './content/store.js';
import type { Readable } from 'node:stream';
import { applyLayer, type ApplyResult } from './layer/apply.js';
import type { Descriptor } from './media-types.js';
import { progressEvent, type ProgressListener } from './progress.js';
import type { Snapshotter } from './snapshot/snapshotter.js';

// Unpack: an image's layers applied in order into committed snapshots named by chain ID,
// so images sharing a base share its snapshots.

/** OCI chain IDs: ChainID(L1) = DiffID(L1); ChainID(L1…Ln) = sha256(ChainID(L1…Ln-1) + " " + DiffID(Ln)). */
export function chainIds(diffIds: string[]): string[] {
  const out: string[] = [];
  for (const d of diffIds) {
    const prev = out[out.length - 1];
    out.push(prev === undefined ? d : `sha256:${createHash('sha256').update(`${prev} ${d}`).digest('hex')}`);
  }
  return out;
}

/** Labels of a committed layer snapshot: its unpacked size (ApplyResult.unpackedSize), its blob, its diff ID. */
export const LAYER_SIZE_LABEL = 'berth.layer.size';
export const LAYER_DIGEST_LABEL = 'berth.layer.digest';
export const LAYER_DIFFID_LABEL = 'berth.layer.diffid';

export interface UnpackOptions {
  onProgress?: ProgressListener;
  /**
   * Where a layer's bytes come from (default: the content store). `done` settles when the
   * blob is verified in the store; the snapshot is committed only after that. When reading
   * from the source fails, the layer is applied again from the stored blob.
   */
  source?: (layer: Descriptor) => Promise<{ stream: Readable; done: Promise<void> }>;
  /** false: commit without a sync (Snapshotter CommitOptions); the caller flushes later. */
  durable?: boolean;
}

/** Unpacks layers (with their diff IDs from the config); returns the top chain ID. */
export async function unpackLayers(content: ContentStore, snapshotter: Snapshotter, layers: Descriptor[], diffIds: string[], opts: UnpackOptions = {}): Promise<string> {
  if (layers.length !== diffIds.length) throw invalidParameter(`${layers.length} layers but ${diffIds.length} diff IDs`);
  if (layers.length === 0) throw invalidParameter('an image without layers cannot be unpacked');
  const chains = chainIds(diffIds);
  let parent: string | undefined;
  for (const [i, layer] of layers.entries()) {
    const chain = chains[i]!;
    const exists = await snapshotter.stat(chain).then(() => true, (e: unknown) => {
      if (isBerthError(e, 'NotFound')) return false;
      throw e;
    });
    if (!exists) {
      const key = `extract-${randomBytes(6).toString('hex')} ${chain}`;
      await snapshotter.prepare(key, parent, { [LAYER_DIGEST_LABEL]: layer.digest });
      try {
        let dir = await snapshotter.applyDir(key);
        opts.onProgress?.(progressEvent(layer.digest, 'extracting', 0, layer.size));
        const applyFrom = (input: Readable): Promise<ApplyResult> =>
          applyLayer(dir, input, {
            mode: snapshotter.driver,
            diffId: diffIds[i]!,
            onProgress: (n) => opts.onProgress?.(progressEvent(layer.digest, 'extracting', n)),
          });
        let applied: ApplyResult;
        if (opts.source) {
          const src = await opts.source(layer);
          try {
            applied = await applyFrom(src.stream);
            await src.done;
          } catch {
            // A blob that did not download or verify fails here, with the download's error.
            await src.done;
            // The blob is good but following it failed (a download restarted from zero, say):
            // start the layer over from the stored blob.
            await snapshotter.remove(key);
            await snapshotter.prepare(key, parent, { [LAYER_DIGEST_LABEL]: layer.digest });
            dir = await snapshotter.applyDir(key);
            applied = await applyFrom(await content.openRead(layer.digest));
          }
        } else {
          applied = await applyFrom(await content.openRead(layer.digest));
        }
        await snapshotter.commit(chain, key, { [LAYER_DIGEST_LABEL]: layer.digest, [LAYER_DIFFID_LABEL]: diffIds[i]!, [LAYER_SIZE_LABEL]: String(applied.unpackedSize) }, { durable: opts.durable !== false });
      } catch (e) {
        await snapshotter.remove(key).catch(() => undefined);
        // Another unpack may have committed the same chain meanwhile: that is fine.
        if (!(isBerthError(e, 'Conflict') && (await snapshotter.stat(chain).then(() => true, () => false)))) throw e;
      }
    }
    opts.onProgress?.(progressEvent(layer.digest, 'done'));
    parent = chain;
  }
  return parent!;
}

/**
 * Makes again the layer snapshots a crash may have lost: those committed without a sync
 * (`durable: false`) before this boot, from their blobs, verified against their diff IDs;
 * then syncs every unsynced one. A snapshot that cannot be made again (its blob gone or not
 * applying, or not a layer) is reported (`onLost`, saying what became of it): removed when
 * nothing is on top of it, else kept with its mark, to be tried again at the next start.
 */
export async function recoverUnflushed(content: ContentStore, snapshotter: Snapshotter, onLost: (name: string, why: string) => void = () => undefined): Promise<void> {
  for (const s of await snapshotter.unflushed()) {
    if (!s.stale) continue;
    const digest = s.labels[LAYER_DIGEST_LABEL];
    const diffId = s.labels[LAYER_DIFFID_LABEL];
    let why: string | undefined;
    if (!digest || !diffId) why = 'it is not a layer';
    else if (!(await content.has(digest))) why = `its blob ${digest} is gone`;
    else {
      try {
        const dir = await snapshotter.redoDir(s.name);
        await applyLayer(dir, await content.openRead(digest), { mode: snapshotter.driver, diffId });
        await snapshotter.redone(s.name);
      } catch (e) {
        why = `its blob ${digest} does not apply: ${errorMessage(e)}`;
      }
    }
    if (why === undefined) continue;
    const removed = await snapshotter.remove(s.name).then(() => true, () => false);
    onLost(s.name, `${why}; ${removed ? 'removed' : 'kept, other snapshots are on top of it'}`);
  }
  await snapshotter.flush();
}
