import type { FileHandle } from 'node:fs/promises';

// Appends a download to its ingest file in batches: the chunks that arrive while one write
// is on the thread pool go down together in the next (writev), so a 60 MB layer costs some
// tens of round trips instead of one per 64 KiB socket read. The main thread parses HTTP,
// hashes and applies the layer meanwhile; every round trip it saves is time for those.

/** Data received but not yet written beyond which the reader waits (memory bound). */
const MAX_PENDING = 8 << 20;

export class IngestWriter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private writing: Promise<void> | undefined;
  private error: unknown;

  /**
   * @param written bytes already in the file; data is written from there on
   * @param onWritten told the file's size after each write
   */
  constructor(
    private readonly fh: FileHandle,
    private written: number,
    private readonly onWritten: (written: number) => void,
  ) {}

  /** Queues a chunk (not to be changed afterwards); waits only while too much is queued. */
  async push(chunk: Buffer): Promise<void> {
    if (this.error !== undefined) throw this.error;
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    this.kick();
    while (this.pendingBytes > MAX_PENDING && this.writing) await this.writing;
    if (this.error !== undefined) throw this.error;
  }

  /** Writes what is queued and waits for it; throws the first write's failure. */
  async end(): Promise<number> {
    while (this.writing) await this.writing;
    if (this.error !== undefined) throw this.error;
    return this.written;
  }

  private kick(): void {
    if (this.writing || this.pending.length === 0 || this.error !== undefined) return;
    const bufs = this.pending;
    const size = this.pendingBytes;
    this.pending = [];
    this.pendingBytes = 0;
    this.writing = this.writeAll(bufs, size).then(
      () => {
        this.written += size;
        this.writing = undefined;
        this.onWritten(this.written);
        this.kick();
      },
      (e: unknown) => {
        // Nothing after a failed write is written: the file stays a prefix of the blob.
        this.error = e;
        this.writing = undefined;
        this.pending = [];
        this.pendingBytes = 0;
      },
    );
  }

  private async writeAll(bufs: Buffer[], size: number): Promise<void> {
    const done = (await this.fh.writev(bufs, this.written)).bytesWritten;
    // A short write (the disk filling up, say) goes on with the rest, or fails with the reason.
    if (done === size) return;
    const rest = Buffer.concat(bufs).subarray(done);
    for (let off = 0; off < rest.length; ) {
      const n = (await this.fh.write(rest, off, rest.length - off, this.written + done + off)).bytesWritten;
      if (n === 0) throw new Error(`ingest write made no progress at byte ${this.written + done + off}`);
      off += n;
    }
  }
}
