import { setTimeout as sleep } from 'node:timers/promises';
import { isBerthError } from '../errors.js';
import type { ContentStore } from './content/store.js';
import type { Descriptor } from './media-types.js';
import { progressEvent, type ProgressListener } from './progress.js';
import type { Repository } from './registry/client.js';

// One layer blob from a registry into the content store, resumable: a dropped connection
// is retried with back-off from what the ingest already holds. Runs on the pulling thread
// (pull without unpack) or in the download worker (blob-fetch-worker.ts).

/** Told how many bytes the ingest's data file holds (WriteOptions.onWrite): a BlobFollower. */
export interface WriteWatcher {
  update(written: number): void;
}

/** Fetches one blob into the store, retrying dropped connections from the partial offset. */
export async function fetchBlob(content: ContentStore, repo: Repository, desc: Descriptor, attempts: number, onProgress?: ProgressListener, watcher?: WriteWatcher): Promise<void> {
  if (await content.has(desc.digest)) {
    onProgress?.(progressEvent(desc.digest, 'exists', desc.size, desc.size));
    return;
  }
  for (let attempt = 1; ; attempt++) {
    try {
      await content.write({ digest: desc.digest, size: desc.size }, (offset) => repo.openBlob(desc.digest, offset), {
        onProgress: (n, total) => onProgress?.(progressEvent(desc.digest, 'downloading', n, total)),
        onVerifying: () => onProgress?.(progressEvent(desc.digest, 'verifying', desc.size, desc.size)),
        ...(watcher ? { onWrite: (n: number) => watcher.update(n) } : {}),
      });
      onProgress?.(progressEvent(desc.digest, 'downloaded', desc.size, desc.size));
      return;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const transient = isBerthError(e, 'Unavailable') || code === 'ECONNRESET' || code === 'ETIMEDOUT' || code === 'EPIPE' || code === 'ERR_STREAM_PREMATURE_CLOSE';
      if (!transient || attempt >= attempts) throw e;
      await sleep(Math.min(5000, 200 * 2 ** (attempt - 1)));
    }
  }
}
