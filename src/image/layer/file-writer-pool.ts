// Regular files of a layer created on worker threads while the applying thread goes on
// parsing the tar (apply.ts). Creating a file is kernel work (allocation, the journal, the
// page cache) that runs as fast on two threads as on one for each: unpacking a Debian
// layer is bound by it, not by gunzip (docs/benchmarks.md, "Image pull").
//
// A session batches the files of one apply (up to BATCH_FILES files or BATCH_BYTES bytes, in
// one transferred buffer) and keeps at most MAX_PENDING_BYTES in flight. Its files are
// independent of each other and of whatever the applying thread does meanwhile, as long as
// that thread waits for them (drain) before anything that could touch an existing name:
// apply.ts decides when.

import { availableParallelism } from 'node:os';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Worker } from 'node:worker_threads';

export interface WriteJob {
  /** Absolute path, every parent a real directory of the snapshot. */
  path: string;
  /** The tar entry's name, for errors. */
  name: string;
  /** The content: [offset, offset + size) of the batch's buffer. */
  offset: number;
  size: number;
  mode: number;
  uid: number;
  gid: number;
  /** mtime in ms since the epoch. */
  mtime: number;
  chown: boolean;
  chmod: boolean;
}

export interface WriteBatch {
  id: number;
  data: ArrayBuffer;
  jobs: WriteJob[];
}

export interface WriteReply {
  id: number;
  error?: { name: string; message: string; code?: string };
  /** The batch's buffer, transferred back to be filled again. */
  data?: ArrayBuffer;
}

const BATCH_FILES = 64;
const BATCH_BYTES = 1 << 20;
const MAX_PENDING_BYTES = 16 << 20;
/** Idle threads are stopped after this long: a daemon at rest keeps no thread's heap. */
export const IDLE_STOP_MS = 1000;
/** A bigger file is written by the applying thread: copying it would cost more than it saves. */
export const MAX_HANDED_FILE = 4 << 20;

export class FileWriteError extends Error {
  constructor(
    readonly entry: string,
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

interface Slot {
  worker: Worker;
  pending: number;
}

export class FileWriterPool {
  private static instance: FileWriterPool | undefined;
  private readonly slots: Slot[] = [];
  private readonly waiting = new Map<number, { slot: Slot; firstEntry: string; done: (r: WriteReply) => void }>();
  private nextId = 1;
  private sessions = 0;
  private idleTimer: NodeJS.Timeout | undefined;
  /** Files handed to the threads since the pool started (for tests and traces). */
  handedFiles = 0;
  /** Batches sent, and the buffers made for them (the rest were filled again). */
  batches = 0;
  buffersMade = 0;

  /**
   * The process's pool, started at the first use; undefined where there is no worker file
   * next to this module (a bundle) or BERTH_UNPACK_THREADS=0.
   */
  static shared(): FileWriterPool | undefined {
    if (FileWriterPool.instance && FileWriterPool.instance.slots.length > 0) return FileWriterPool.instance;
    FileWriterPool.instance?.stop();
    const url = new URL('./file-writer-worker.js', import.meta.url);
    if (url.protocol !== 'file:' || !existsSync(fileURLToPath(url))) return undefined;
    const env = process.env.BERTH_UNPACK_THREADS;
    const n = env !== undefined && env !== '' ? Number(env) : Math.min(2, availableParallelism());
    if (!Number.isInteger(n) || n <= 0) return undefined;
    FileWriterPool.instance = new FileWriterPool(url, n);
    return FileWriterPool.instance;
  }

  private constructor(url: URL, n: number) {
    // Loaded with the first pool, not with the module: berthd imports this one at start and
    // may never unpack a big layer (half a MiB of RSS at rest).
    const { Worker: WorkerThread } = process.getBuiltinModule('node:worker_threads');
    for (let i = 0; i < n; i++) {
      const worker = new WorkerThread(url);
      const slot: Slot = { worker, pending: 0 };
      worker.unref(); // referenced only while it has work: an idle pool never keeps a process alive
      worker.on('message', (r: WriteReply) => this.answered(r));
      const fail = (why: string): void => {
        const i = this.slots.indexOf(slot);
        if (i >= 0) this.slots.splice(i, 1);
        for (const [id, w] of this.waiting) {
          if (w.slot !== slot) continue;
          this.waiting.delete(id);
          w.done({ id, error: { name: w.firstEntry, message: `file writer thread: ${why}` } });
        }
      };
      worker.on('error', (e) => fail(e.message));
      worker.on('exit', (code) => fail(`exited with code ${code}`));
      this.slots.push(slot);
    }
  }

  private answered(r: WriteReply): void {
    const w = this.waiting.get(r.id);
    if (!w) return;
    this.waiting.delete(r.id);
    if (--w.slot.pending === 0) w.slot.worker.unref();
    w.done(r);
    this.stopWhenIdle();
  }

  /** Whether the process has writer threads now (they stop IDLE_STOP_MS after the last use). */
  static get running(): boolean {
    return (FileWriterPool.instance?.slots.length ?? 0) > 0;
  }

  private stopWhenIdle(): void {
    if (this.sessions > 0 || this.waiting.size > 0) return;
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => this.stop(), IDLE_STOP_MS).unref();
  }

  private stop(): void {
    clearTimeout(this.idleTimer);
    if (FileWriterPool.instance === this) FileWriterPool.instance = undefined;
    for (const s of this.slots.splice(0)) void s.worker.terminate();
  }

  /** Sends a batch to the least busy thread; resolves with its reply. */
  post(data: ArrayBuffer, jobs: WriteJob[]): Promise<WriteReply> {
    const id = this.nextId++;
    this.handedFiles += jobs.length;
    this.batches++;
    // Every thread died (each failed what it had): this batch fails the same way.
    if (this.slots.length === 0) return Promise.resolve({ id, error: { name: jobs[0]?.name ?? '', message: 'file writer threads: none left' } });
    const slot = this.slots.reduce((a, b) => (b.pending < a.pending ? b : a));
    return new Promise((resolve) => {
      this.waiting.set(id, { slot, firstEntry: jobs[0]?.name ?? '', done: resolve });
      if (slot.pending++ === 0) slot.worker.ref();
      const batch: WriteBatch = { id, data, jobs };
      slot.worker.postMessage(batch, [data]);
    });
  }

  /** A session keeps the threads until it is closed. */
  session(): WriteSession {
    clearTimeout(this.idleTimer);
    this.sessions++;
    return new WriteSession(this, () => {
      this.sessions--;
      this.stopWhenIdle();
    });
  }
}

/** The files of one apply. */
export class WriteSession {
  private jobs: WriteJob[] = [];
  private chunks: Buffer[] = [];
  private bytes = 0;
  private readonly inFlight = new Map<Promise<void>, number>();
  private inFlightBytes = 0;
  private error: FileWriteError | undefined;
  /**
   * Batch buffers the threads gave back. Filling these again instead of new ones spares the
   * applying thread a fresh, zeroed MiB per batch (a page fault every 4 KiB of it); at most
   * what was in flight at once is kept, and only for the session.
   */
  private spare: ArrayBuffer[] = [];

  constructor(
    private readonly pool: FileWriterPool,
    private readonly release: () => void,
  ) {}

  /** After drain or settle: the pool may stop its threads. */
  close(): void {
    this.spare = [];
    this.release();
  }

  /** Nothing handed over is still being written. */
  get idle(): boolean {
    return this.jobs.length === 0 && this.inFlight.size === 0;
  }

  /** Hands over a new file (its chunks are kept until the batch is sent: they must not change). */
  add(job: Omit<WriteJob, 'offset' | 'size'>, chunks: Buffer[], size: number): void {
    this.jobs.push({ ...job, offset: this.bytes, size });
    for (const c of chunks) this.chunks.push(c);
    this.bytes += size;
    if (this.jobs.length >= BATCH_FILES || this.bytes >= BATCH_BYTES) this.flush();
  }

  private flush(): void {
    if (this.jobs.length === 0) return;
    const size = this.bytes;
    const data = new Uint8Array(this.buffer(size));
    let off = 0;
    for (const c of this.chunks) {
      data.set(c, off);
      off += c.length;
    }
    const p = this.pool.post(data.buffer, this.jobs).then((r) => {
      this.inFlight.delete(p);
      this.inFlightBytes -= size;
      if (r.data) this.spare.push(r.data);
      if (r.error && !this.error) this.error = new FileWriteError(r.error.name, r.error.message, r.error.code);
    });
    this.inFlight.set(p, size);
    this.inFlightBytes += size;
    this.jobs = [];
    this.chunks = [];
    this.bytes = 0;
  }

  /** A buffer of at least `size` bytes: a spare one, else a new one of whole MiBs. */
  private buffer(size: number): ArrayBuffer {
    const i = this.spare.findIndex((b) => b.byteLength >= size);
    if (i >= 0) return this.spare.splice(i, 1)[0]!;
    this.pool.buffersMade++;
    return new ArrayBuffer(Math.ceil(size / BATCH_BYTES) * BATCH_BYTES);
  }

  /** Waits while too much is in flight; throws the first failure. */
  async room(): Promise<void> {
    while (this.inFlightBytes > MAX_PENDING_BYTES && !this.error) await Promise.race(this.inFlight.keys());
    if (this.error) throw this.error;
  }

  /** Sends what is batched and waits for all of it; throws the first failure. */
  async drain(): Promise<void> {
    this.flush();
    while (this.inFlight.size > 0) await Promise.race(this.inFlight.keys());
    if (this.error) throw this.error;
  }

  /** Waits for what was sent, failures or not, and drops what was not (the apply failed). */
  async settle(): Promise<void> {
    this.jobs = [];
    this.chunks = [];
    this.bytes = 0;
    while (this.inFlight.size > 0) await Promise.race(this.inFlight.keys());
  }
}
