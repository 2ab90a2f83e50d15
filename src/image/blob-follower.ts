import { open, type FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { unavailable } from '../errors.js';
import { READ_CHUNK, type ContentStore } from './content/store.js';

// A reader that follows a blob while it is being downloaded: it reads the ingest's data
// file up to what the writer reports written (WriteOptions.onWrite), waits for more, and
// ends when the writer has verified and committed the blob. This lets a layer be
// decompressed and extracted while it downloads, without holding it in memory and
// without slowing the download when extraction lags (the bytes wait in the page cache).
// The digest is checked by the writer; the follower's reader only learns at the end that
// the blob was good (or not: then it fails, and what was extracted must be discarded).

export class BlobFollower {
  private written = 0;
  private done = false;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;
  /** The writer went back (a source that could not resume): what was read is stale. */
  private rewound = false;
  private pos = 0;

  constructor(
    private readonly content: ContentStore,
    private readonly digest: string,
    private readonly ref = digest,
  ) {}

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  /** WriteOptions.onWrite. */
  update(written: number): void {
    if (written < this.pos) this.rewound = true;
    this.written = written;
    this.notify();
  }

  /** The blob is committed (verified) in the store. */
  finish(): void {
    this.done = true;
    this.notify();
  }

  fail(e: unknown): void {
    this.failure = e instanceof Error ? e : new Error(String(e));
    this.notify();
  }

  private check(): void {
    if (this.failure) throw this.failure;
    if (this.rewound) throw unavailable(`blob ${this.digest}: the download restarted from the beginning while being followed`);
  }

  private async waitForChange(): Promise<void> {
    await new Promise<void>((resolve) => (this.wake = resolve));
  }

  private async *chunks(): AsyncGenerator<Buffer> {
    let fh: FileHandle | undefined;
    try {
      // Open the ingest file once it has data, or the blob once committed.
      for (;;) {
        this.check();
        if (this.done) {
          fh = await open(this.content.blobPath(this.digest), 'r');
          break;
        }
        if (this.written > 0) {
          try {
            fh = await open(this.content.ingestDataPath(this.ref), 'r');
            break;
          } catch (e) {
            // Committed (renamed) between the check and the open: take the blob.
            if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
            if (!this.done) await this.waitForChange();
            continue;
          }
        }
        await this.waitForChange();
      }
      const size = READ_CHUNK;
      for (;;) {
        this.check();
        const limit = this.done ? Infinity : this.written;
        if (this.pos < limit) {
          const buf = Buffer.allocUnsafe(Math.min(size, limit - this.pos));
          const { bytesRead } = await fh.read(buf, 0, buf.length, this.pos);
          if (bytesRead === 0) {
            if (this.done) return;
            await this.waitForChange();
            continue;
          }
          this.pos += bytesRead;
          yield bytesRead === buf.length ? buf : buf.subarray(0, bytesRead);
        } else if (this.done) {
          // Everything written was read; the writer may have written more before finishing.
          const buf = Buffer.allocUnsafe(size);
          const { bytesRead } = await fh.read(buf, 0, size, this.pos);
          if (bytesRead === 0) return;
          this.pos += bytesRead;
          yield buf.subarray(0, bytesRead);
        } else {
          await this.waitForChange();
        }
      }
    } finally {
      await fh?.close();
    }
  }

  /** The blob's bytes as they arrive; ends once it is committed, throws if the download fails. */
  stream(): Readable {
    return Readable.from(this.chunks(), { objectMode: false, highWaterMark: READ_CHUNK });
  }
}
