// A context tar as POST /build receives it: stored as one file (a sequential write of the
// plain tar, gzip undone) while every entry is checked and indexed — path, type, mode, size,
// link target and, for files, the sha256 of the content, hashed in-stream. A cached build
// needs nothing more: the COPY/ADD keys come from the index. Only when a step has to copy
// from the context is the stored tar extracted (read back in large sequential reads).

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, lchown, link, mkdir, open, rm, symlink, utimes } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { invalidParameter } from '../../errors.js';
import { readTar } from '../../image/layer/tar-reader.js';
import { cleanPath } from './dockerignore.js';

/** What a context path is, as the extracted context would show it. */
export interface IndexedEntry {
  type: 'file' | 'directory' | 'symlink';
  mode: number;
  size: number;
  linkname: string;
  /** sha256 (hex) of a file's content. */
  digest?: string;
}

const WRITE_BATCH = 1 << 20;
const MAX_SYMLINK_HOPS = 255;

/** Cleaned entry name; absolute names and `..` escapes refused. */
export function safeEntryName(name: string): string {
  if (name.includes('\0')) throw invalidParameter(`context tar entry name contains NUL`);
  const c = cleanPath(name.replace(/^(\.\/)+/, ''));
  if (c.startsWith('/') || c === '..' || c.startsWith('../')) throw invalidParameter(`context tar entry "${name}" is outside the context`);
  return c;
}

/** The paths of a context tar, without its file contents. */
export class ContextIndex {
  readonly entries = new Map<string, IndexedEntry>();
  private kids?: Map<string, string[]>;

  constructor(rootMode: number) {
    this.entries.set('.', { type: 'directory', mode: rootMode, size: 0, linkname: '' });
  }

  /** Names directly below a directory (sorted). */
  children(rel: string): string[] {
    if (!this.kids) {
      this.kids = new Map();
      for (const p of this.entries.keys()) {
        if (p === '.') continue;
        const parent = posix.dirname(p);
        const list = this.kids.get(parent) ?? [];
        list.push(posix.basename(p));
        this.kids.set(parent, list);
      }
      for (const l of this.kids.values()) l.sort();
    }
    return this.kids.get(rel) ?? [];
  }

  /**
   * The path a context path names once the symlinks on the way are followed inside the
   * context (an absolute target or a `..` past the top stays at the context's root, as
   * Docker's FollowSymlinkInScope does); the last component too when followLast.
   */
  resolve(rel: string, followLast: boolean): string | undefined {
    let parts = rel === '.' ? [] : rel.split('/');
    let done: string[] = [];
    let hops = 0;
    while (parts.length) {
      const comp = parts.shift()!;
      if (comp === '' || comp === '.') continue;
      if (comp === '..') {
        done.pop();
        continue;
      }
      const cand = [...done, comp].join('/');
      const e = this.entries.get(cand);
      if (e?.type === 'symlink' && (parts.length > 0 || followLast)) {
        if (++hops > MAX_SYMLINK_HOPS) return undefined;
        if (e.linkname.startsWith('/')) done = [];
        parts = [...e.linkname.split('/'), ...parts];
        continue;
      }
      if (parts.length > 0 && e?.type !== 'directory') return undefined;
      done.push(comp);
    }
    return done.length ? done.join('/') : '.';
  }

  /** The entry at a path (symlinks before the last component followed). */
  lookup(rel: string): IndexedEntry | undefined {
    const r = this.resolve(rel, false);
    return r === undefined ? undefined : this.entries.get(r);
  }

  private removeTree(rel: string): void {
    this.entries.delete(rel);
    const prefix = `${rel}/`;
    for (const k of this.entries.keys()) if (k.startsWith(prefix)) this.entries.delete(k);
  }

  /** Checks an entry name against what came before (nothing below a symlink or a file) and adds missing parents. */
  parentsFor(rel: string, name: string, dirMode: number): void {
    this.kids = undefined;
    const missing: string[] = [];
    for (let p = posix.dirname(rel); p !== '.'; p = posix.dirname(p)) {
      const e = this.entries.get(p);
      if (e?.type === 'symlink') throw invalidParameter(`context tar entry "${name}" is below a symlink (${p})`);
      if (e && e.type !== 'directory') throw invalidParameter(`context tar entry "${name}" is below a non-directory (${p})`);
      if (!e) missing.push(p);
    }
    for (const p of missing) this.entries.set(p, { type: 'directory', mode: dirMode, size: 0, linkname: '' });
  }

  add(rel: string, name: string, e: IndexedEntry | { hardlink: string }, dirMode: number): void {
    this.parentsFor(rel, name, dirMode);
    if ('hardlink' in e) {
      const target = safeEntryName(e.hardlink);
      for (let p = target; p !== '.'; p = posix.dirname(p)) {
        if (this.entries.get(p)?.type === 'symlink') throw invalidParameter(`context tar hard link "${name}" points through a symlink`);
      }
      const t = this.entries.get(target);
      if (t?.type !== 'file') throw invalidParameter(`context tar hard link "${name}" points to "${e.hardlink}", not a file earlier in the tar`);
      this.removeTree(rel);
      this.entries.set(rel, t); // one inode: the same entry
      return;
    }
    const old = this.entries.get(rel);
    if (e.type === 'directory' && old?.type === 'directory') {
      old.mode = e.mode;
      return;
    }
    this.removeTree(rel);
    this.entries.set(rel, e);
  }
}

/** The tar bytes of a context (gzip undone when the first bytes say so). */
export function plainTar(input: AsyncIterable<Buffer | Uint8Array>): AsyncIterable<Buffer> {
  const it = input[Symbol.asyncIterator]();
  async function* chunks(head?: Buffer): AsyncGenerator<Buffer> {
    if (head?.length) yield head;
    for (;;) {
      const n = await it.next();
      if (n.done) return;
      yield Buffer.isBuffer(n.value) ? n.value : Buffer.from(n.value);
    }
  }
  return (async function* () {
    const first = await it.next();
    if (first.done) return;
    const head = Buffer.isBuffer(first.value) ? first.value : Buffer.from(first.value);
    if (head[0] === 0x1f && head[1] === 0x8b) yield* Readable.from(chunks(head)).pipe(createGunzip()) as AsyncIterable<Buffer>;
    else yield* chunks(head);
  })();
}

async function writeAll(fh: FileHandle, b: Buffer): Promise<void> {
  for (let off = 0; off < b.length; ) off += (await fh.write(b, off, b.length - off)).bytesWritten;
}

/** Writes buffers in one writev (no copy into a batch buffer); a short write finishes one by one. */
async function writeAllv(fh: FileHandle, bufs: Buffer[]): Promise<void> {
  const total = bufs.reduce((n, b) => n + b.length, 0);
  let done = (await fh.writev(bufs)).bytesWritten;
  if (done === total) return;
  for (const b of bufs) {
    if (done >= b.length) {
      done -= b.length;
      continue;
    }
    await writeAll(fh, b.subarray(done));
    done = 0;
  }
}

/**
 * Stores a context tar (plain or gzip) at `tarPath` as a plain tar, indexing it. Entry names
 * are checked as extraction checks them, so a bad tar fails here. The bodies of the files
 * named in `capture` (the Dockerfile, .dockerignore) are kept in memory. `dirMode` is the
 * mode extraction gives directories the tar implies but does not hold (mkdir under the umask).
 */
export async function storeContextTar(input: AsyncIterable<Buffer | Uint8Array>, tarPath: string, capture: Set<string>, dirMode: number): Promise<{ index: ContextIndex; captured: Map<string, Buffer> }> {
  const index = new ContextIndex(dirMode);
  const captured = new Map<string, Buffer>();
  const fh = await open(tarPath, 'wx', 0o600);
  // Socket reads are 64 KiB: written in 1 MiB batches, one batch in flight while parsing goes on.
  let batch: Buffer[] = [];
  let batchLen = 0;
  let inFlight: Promise<void> = Promise.resolve();
  const flush = async (): Promise<void> => {
    if (batchLen === 0) return;
    const b = batch;
    batch = [];
    batchLen = 0;
    await inFlight;
    inFlight = writeAllv(fh, b);
  };
  async function* tee(src: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    for await (const c of src) {
      batch.push(c);
      batchLen += c.length;
      if (batchLen >= WRITE_BATCH) await flush();
      yield c;
    }
  }
  try {
    for await (const entry of readTar(tee(plainTar(input)))) {
      const h = entry.header;
      const rel = safeEntryName(h.name);
      if (rel === '.') {
        for await (const _ of entry.body) { /* drain */ }
        continue;
      }
      switch (h.type) {
        case 'directory':
          index.add(rel, h.name, { type: 'directory', mode: h.mode & 0o7777, size: 0, linkname: '' }, dirMode);
          break;
        case 'file':
        case 'contiguous-file': {
          const hash = createHash('sha256');
          const keep = capture.has(rel) ? ([] as Buffer[]) : undefined;
          let size = 0;
          for await (const c of entry.body) {
            hash.update(c);
            size += c.length;
            keep?.push(c);
          }
          if (keep) captured.set(rel, Buffer.concat(keep));
          else captured.delete(rel);
          index.add(rel, h.name, { type: 'file', mode: h.mode & 0o7777, size, linkname: '', digest: hash.digest('hex') }, dirMode);
          break;
        }
        case 'symlink':
          index.add(rel, h.name, { type: 'symlink', mode: 0o777, size: 0, linkname: h.linkname }, dirMode);
          captured.delete(rel);
          break;
        case 'link':
          index.add(rel, h.name, { hardlink: h.linkname }, dirMode);
          captured.delete(rel);
          break;
        default:
          // Devices and fifos have no place in a build context (their parents are made, as extraction does).
          index.parentsFor(rel, h.name, dirMode);
          break;
      }
      if (h.type !== 'file' && h.type !== 'contiguous-file') for await (const _ of entry.body) { /* drain */ }
    }
    await flush();
    await inFlight;
  } finally {
    await inFlight.catch(() => undefined);
    await fh.close();
  }
  return { index, captured };
}

/** Extracts a stored context tar into `dir` (created), with the same checks as the index made. */
export async function extractStoredTar(tarPath: string, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const symlinks = new Set<string>();
  const dirModes: [string, number, Date][] = [];
  for await (const entry of readTar(createReadStream(tarPath, { highWaterMark: WRITE_BATCH }) as AsyncIterable<Buffer>)) {
    const h = entry.header;
    const rel = safeEntryName(h.name);
    if (rel === '.') continue;
    for (let p = posix.dirname(rel); p !== '.'; p = posix.dirname(p)) {
      if (symlinks.has(p)) throw invalidParameter(`context tar entry "${h.name}" is below a symlink (${p})`);
    }
    const dest = join(dir, rel);
    await mkdir(posix.dirname(dest), { recursive: true });
    switch (h.type) {
      case 'directory':
        await mkdir(dest, { recursive: true });
        dirModes.push([dest, h.mode & 0o7777, h.mtime]);
        break;
      case 'file':
      case 'contiguous-file': {
        await rm(dest, { recursive: true, force: true });
        const fh = await open(dest, 'w', 0o600);
        try {
          for await (const c of entry.body) await writeAll(fh, c);
          await fh.chmod(h.mode & 0o7777);
        } finally {
          await fh.close();
        }
        await utimes(dest, h.mtime, h.mtime);
        break;
      }
      case 'symlink':
        await rm(dest, { recursive: true, force: true });
        await symlink(h.linkname, dest);
        symlinks.add(rel);
        break;
      case 'link': {
        const target = safeEntryName(h.linkname);
        for (let p = target; p !== '.'; p = posix.dirname(p)) if (symlinks.has(p)) throw invalidParameter(`context tar hard link "${h.name}" points through a symlink`);
        await rm(dest, { recursive: true, force: true });
        await link(join(dir, target), dest);
        break;
      }
      default:
        break;
    }
    if (process.getuid?.() === 0 && h.type !== 'link') await lchown(dest, h.uid, h.gid).catch(() => undefined);
  }
  for (const [d, mode, mtime] of dirModes.reverse()) {
    await chmod(d, mode);
    await utimes(d, mtime, mtime).catch(() => undefined);
  }
}
