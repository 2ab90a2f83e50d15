import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, type ReadStream } from 'node:fs';
import { mkdir, open, readFile, readdir, rename, rm, stat, unlink, writeFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { BerthError, conflict, invalidParameter, isBerthError, notFound, systemError } from '../../errors.js';
import { atomicWriteFile } from '../../sys/atomic-write.js';
import { assertSha256, sha256Digest } from './digest.js';
import { IngestWriter } from './ingest-writer.js';
import { SmallBlobCache } from './small-blob-cache.js';

// A content-addressed blob store (containerd's content service, in small):
//   <root>/content/blobs/sha256/<hex>      committed blobs, verified, read-only
//   <root>/content/ingest/<key>/data        partial data of a write in progress
//   <root>/content/ingest/<key>/ref         the ingest's ref, expected digest and size
//   <root>/content/ingest/<key>/lock        pid of the writer (absent when idle)
// A blob is visible under its final name only after its size and digest were checked
// and its data fsynced; a crash leaves at most a partial ingest, which a later write of
// the same ref resumes from its offset.

export interface BlobInfo {
  digest: string;
  size: number;
  createdAt: Date;
}

export interface Expected {
  digest: string;
  /** Known size; checked before commit and used to stop reading early. */
  size?: number;
}

export interface IngestStatus {
  ref: string;
  expected: string;
  offset: number;
  total: number | undefined;
}

/** Where the data of a write comes from: a stream starting at `offset` (or at 0 when the
 *  source cannot seek — say so with `offset: 0`, and the partial data is discarded). */
export type BlobSource = (offset: number) => Promise<{ stream: Readable; offset: number }>;

export interface WriteOptions {
  /** Ingest ref (defaults to the digest): two writes with the same ref share partial data. */
  ref?: string;
  onProgress?: (written: number, total: number | undefined) => void;
  /** Called once, when the data is complete and its digest is being checked. */
  onVerifying?: () => void;
  /**
   * Called with the bytes in the ingest's data file (ingestDataPath) after every write:
   * first with what a resumed write found there, then as data lands. A reader may follow
   * the file up to that mark while the download goes on.
   */
  onWrite?: (written: number) => void;
}

/** Read size for blobs (layers are applied from these reads). */
export const READ_CHUNK = 1 << 20;

function ingestKey(ref: string): string {
  return createHash('sha256').update(ref).digest('hex');
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class ContentStore {
  /** The data root given to the constructor (the store lives in its `content/`). */
  readonly dataRoot: string;
  readonly root: string;
  private readonly blobsDir: string;
  private readonly ingestDir: string;
  /** Writes in flight in this process, by digest: a second writer waits for the first. */
  private readonly inflight = new Map<string, Promise<BlobInfo>>();
  private readonly small = new SmallBlobCache();

  constructor(dataRoot: string) {
    this.dataRoot = dataRoot;
    this.root = join(dataRoot, 'content');
    this.blobsDir = join(this.root, 'blobs', 'sha256');
    this.ingestDir = join(this.root, 'ingest');
  }

  blobPath(digest: string): string {
    return join(this.blobsDir, assertSha256(digest));
  }

  async has(digest: string): Promise<boolean> {
    try {
      await stat(this.blobPath(digest));
      return true;
    } catch {
      return false;
    }
  }

  async info(digest: string): Promise<BlobInfo> {
    const path = this.blobPath(digest);
    try {
      const st = await stat(path);
      return { digest, size: st.size, createdAt: st.mtime };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(`content ${digest}: not found`);
      throw systemError(`stat content ${digest}`, e);
    }
  }

  /**
   * The whole blob in memory (manifests, configs); use openRead for layers. Small blobs are
   * kept in memory: a blob never changes under its digest, and every container create
   * resolves its image through the manifest and config (three reads through the thread pool).
   */
  async get(digest: string): Promise<Buffer> {
    const hit = this.small.get(digest);
    if (hit) return hit;
    const path = this.blobPath(digest);
    try {
      const data = await readFile(path);
      this.small.remember(digest, data);
      return data;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(`content ${digest}: not found`);
      throw systemError(`read content ${digest}`, e);
    }
  }

  async openRead(digest: string, start = 0): Promise<ReadStream> {
    await this.info(digest);
    // 1 MiB reads, as BlobFollower's: applying a layer read in the default 64 KiB took
    // 1.1–1.6× as long (one read round trip per 64 KiB while extraction holds the thread).
    return createReadStream(this.blobPath(digest), { start, highWaterMark: READ_CHUNK });
  }

  /** The blob as an async iterable of chunks (for uploads). */
  async *openReadIterable(digest: string): AsyncGenerator<Buffer> {
    const s = await this.openRead(digest);
    for await (const c of s) yield c as Buffer;
  }

  async delete(digest: string): Promise<void> {
    this.small.forget(digest);
    const path = this.blobPath(digest);
    try {
      await unlink(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(`content ${digest}: not found`);
      throw systemError(`delete content ${digest}`, e);
    }
  }

  async list(): Promise<BlobInfo[]> {
    let names: string[];
    try {
      names = await readdir(this.blobsDir);
    } catch {
      return [];
    }
    const out: BlobInfo[] = [];
    for (const n of names) {
      if (!/^[a-f0-9]{64}$/.test(n)) continue;
      try {
        const st = await stat(join(this.blobsDir, n));
        out.push({ digest: `sha256:${n}`, size: st.size, createdAt: st.mtime });
      } catch { /* deleted meanwhile */ }
    }
    return out;
  }

  /** Partial writes on disk (from an interrupted pull, or one in progress). */
  async ingests(): Promise<IngestStatus[]> {
    let keys: string[];
    try {
      keys = await readdir(this.ingestDir);
    } catch {
      return [];
    }
    const out: IngestStatus[] = [];
    for (const k of keys) {
      try {
        const meta = JSON.parse(await readFile(join(this.ingestDir, k, 'ref'), 'utf8')) as { ref: string; expected: string; total?: number };
        const st = await stat(join(this.ingestDir, k, 'data')).catch(() => ({ size: 0 }));
        out.push({ ref: meta.ref, expected: meta.expected, offset: st.size, total: meta.total });
      } catch { /* not fully created */ }
    }
    return out;
  }

  /** The data file of a write in progress (see WriteOptions.onWrite). */
  ingestDataPath(ref: string): string {
    return join(this.ingestDir, ingestKey(ref), 'data');
  }

  /** Drops a partial write. */
  async abort(ref: string): Promise<void> {
    await rm(join(this.ingestDir, ingestKey(ref)), { recursive: true, force: true });
  }

  /** Stores bytes already in memory, checking them against `expected` when given. */
  async put(data: Uint8Array, expected?: Expected): Promise<BlobInfo> {
    const digest = sha256Digest(data);
    if (expected && expected.digest !== digest) {
      throw invalidParameter(`content digest mismatch: expected ${expected.digest}, got ${digest}`);
    }
    if (expected?.size !== undefined && expected.size !== data.length) {
      throw invalidParameter(`content ${digest}: size mismatch: expected ${expected.size}, got ${data.length}`);
    }
    return this.write({ digest, size: data.length }, async () => {
      const { Readable } = await import('node:stream');
      return { stream: Readable.from([Buffer.from(data)]), offset: 0 };
    });
  }

  /**
   * Stores a stream whose digest is not known beforehand (a blob read from an archive):
   * hashed while written to a private ingest, fsynced, then renamed into place under the
   * digest it turned out to have. `expected`, when given, is checked like write()'s.
   */
  async ingestStream(source: AsyncIterable<Uint8Array>, expected?: Partial<Expected>): Promise<BlobInfo> {
    const dir = join(this.ingestDir, `stream-${process.pid}-${randomBytes(8).toString('hex')}`);
    await mkdir(dir, { recursive: true });
    await mkdir(this.blobsDir, { recursive: true });
    const dataPath = join(dir, 'data');
    try {
      const fh = await open(dataPath, 'wx');
      const hash = createHash('sha256');
      let size = 0;
      try {
        for await (const chunk of source) {
          const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
          if (expected?.size !== undefined && size + buf.length > expected.size) throw invalidParameter(`content: more data than the expected ${expected.size} bytes`);
          await fh.write(buf, 0, buf.length, size);
          hash.update(buf);
          size += buf.length;
        }
        await fh.sync();
      } finally {
        await fh.close();
      }
      const digest = `sha256:${hash.digest('hex')}`;
      if (expected?.digest !== undefined && expected.digest !== digest) throw invalidParameter(`content digest mismatch: expected ${expected.digest}, got ${digest}`);
      if (expected?.size !== undefined && expected.size !== size) throw invalidParameter(`content ${digest}: size mismatch: expected ${expected.size}, got ${size}`);
      if (!(await this.has(digest))) {
        await chmod(dataPath, 0o444);
        await rename(dataPath, this.blobPath(digest));
        const dfh = await open(this.blobsDir, 'r');
        await dfh.sync().finally(() => dfh.close());
      }
      return await this.info(digest);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /**
   * Writes a blob from a source, resuming a partial ingest of the same ref, verifying size
   * and digest, then renaming it into place. Concurrent writes of one digest in this
   * process share one download; another process writing the same ref gets Conflict
   * (Unavailable when it should retry).
   */
  async write(expected: Expected, source: BlobSource, opts: WriteOptions = {}): Promise<BlobInfo> {
    return this.writeOnce(expected.digest, () => this.doWrite(expected, source, opts));
  }

  /**
   * Runs `write` (which stores `digest`, here or from another thread) unless the blob is
   * already stored or being written by this process: then answers with that one.
   */
  async writeOnce(digest: string, write: () => Promise<BlobInfo>): Promise<BlobInfo> {
    assertSha256(digest);
    const existing = await this.info(digest).catch(() => undefined);
    if (existing) return existing;
    const running = this.inflight.get(digest);
    if (running) return running;
    const p = write().finally(() => this.inflight.delete(digest));
    this.inflight.set(digest, p);
    return p;
  }

  private async lockIngest(dir: string, ref: string): Promise<() => Promise<void>> {
    const lock = join(dir, 'lock');
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await writeFile(lock, String(process.pid), { flag: 'wx' });
        return () => unlink(lock).catch(() => undefined);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw systemError(`lock ingest ${ref}`, e);
        const pid = Number(await readFile(lock, 'utf8').catch(() => ''));
        if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && pidAlive(pid)) {
          throw new BerthError('Unavailable', `ingest ${ref} is locked by process ${pid}`);
        }
        await unlink(lock).catch(() => undefined);
      }
    }
    throw conflict(`ingest ${ref}: cannot take lock`);
  }

  private async doWrite(expected: Expected, source: BlobSource, opts: WriteOptions): Promise<BlobInfo> {
    const ref = opts.ref ?? expected.digest;
    const dir = join(this.ingestDir, ingestKey(ref));
    await mkdir(dir, { recursive: true });
    await mkdir(this.blobsDir, { recursive: true });
    const unlock = await this.lockIngest(dir, ref);
    try {
      await atomicWriteFile(join(dir, 'ref'), JSON.stringify({ ref, expected: expected.digest, total: expected.size }));
      const dataPath = join(dir, 'data');
      const fh = await open(dataPath, 'a+');
      let committed = false;
      try {
        // Rehash what a previous attempt left.
        let hash = createHash('sha256');
        let offset = 0;
        const st = await fh.stat();
        if (expected.size !== undefined && st.size > expected.size) {
          await fh.truncate(0);
        } else if (st.size > 0) {
          for await (const chunk of fh.createReadStream({ start: 0, end: st.size - 1, autoClose: false })) {
            hash.update(chunk as Buffer);
            offset += (chunk as Buffer).length;
          }
        }
        if (expected.size === undefined || offset < expected.size) {
          const got = await source(offset);
          if (got.offset !== offset) {
            if (got.offset !== 0) {
              got.stream.destroy();
              throw invalidParameter(`content ${expected.digest}: source resumed at ${got.offset}, wanted ${offset}`);
            }
            await fh.truncate(0);
            offset = 0;
            hash = createHash('sha256');
          }
          const h = hash;
          opts.onWrite?.(offset);
          let lastReport = 0;
          const out = new IngestWriter(fh, offset, (written) => {
            opts.onWrite?.(written);
            if (opts.onProgress && (written - lastReport >= 256 * 1024 || written === expected.size)) {
              lastReport = written;
              opts.onProgress(written, expected.size);
            }
          });
          let received = offset;
          try {
            for await (const chunk of got.stream) {
              const buf = chunk as Buffer;
              if (expected.size !== undefined && received + buf.length > expected.size) {
                got.stream.destroy();
                throw invalidParameter(`content ${expected.digest}: more data than the expected ${expected.size} bytes`);
              }
              h.update(buf);
              received += buf.length;
              await out.push(buf);
            }
          } catch (e) {
            // What arrived before the failure is kept for a resume.
            await out.end().catch(() => undefined);
            throw e;
          }
          const written = await out.end();
          opts.onVerifying?.();
          await this.verify(expected, written, `sha256:${h.digest('hex')}`, dir);
        } else {
          opts.onVerifying?.();
          await this.verify(expected, offset, `sha256:${hash.digest('hex')}`, dir);
        }
        await fh.sync();
        await fh.close();
        await chmod(dataPath, 0o444);
        const final = this.blobPath(expected.digest);
        await rename(dataPath, final);
        const dfh = await open(this.blobsDir, 'r');
        await dfh.sync().finally(() => dfh.close());
        committed = true;
      } finally {
        if (!committed) await fh.close().catch(() => undefined);
      }
      await unlock();
      await rm(dir, { recursive: true, force: true });
      return await this.info(expected.digest);
    } catch (e) {
      await unlock();
      throw e;
    }
  }

  private async verify(expected: Expected, size: number, digest: string, dir: string): Promise<void> {
    if (expected.size !== undefined && size !== expected.size) {
      // Short data: keep it to resume from.
      throw new BerthError('Unavailable', `content ${expected.digest}: short read: got ${size} of ${expected.size} bytes (partial data kept for resume)`);
    }
    if (digest !== expected.digest) {
      // Wrong bytes: nothing to resume from.
      await rm(dir, { recursive: true, force: true });
      throw invalidParameter(`content digest mismatch: expected ${expected.digest}, got ${digest}`);
    }
  }
}

/** True when an error from ContentStore.write is worth retrying (short read, busy ingest). */
export function isRetryableWriteError(e: unknown): boolean {
  return isBerthError(e, 'Unavailable');
}
