import { createHash } from 'node:crypto';
import { chmodSync, closeSync, fchmodSync, fchownSync, futimesSync, lchownSync, linkSync, lstatSync, lutimesSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, symlinkSync, unlinkSync, utimesSync, writeSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { Readable, type Transform } from 'node:stream';
import * as zlib from 'node:zlib';
import { BerthError, invalidParameter } from '../../errors.js';
import { OPAQUE_WHITEOUT, WHITEOUT_PREFIX } from './diff.js';
import { FileWriteError, FileWriterPool, MAX_HANDED_FILE, type WriteSession } from './file-writer-pool.js';
import { readTar, type TarHeader } from './tar-reader.js';
import { makeNode, setXattr } from './xattr.js';

// Layer apply: a (compressed) layer tar unpacked into a snapshot directory.
//  - overlay mode writes into an overlay upper dir: `.wh.x` becomes a 0:0 char device x,
//    `.wh..wh..opq` the xattr trusted.overlay.opaque=y on its directory;
//  - vfs mode writes into a full copy of the parent: `.wh.x` deletes x, an opaque marker
//    deletes what lower layers put in its directory.
// Safety: every entry name is relative, has no `..`, and reaches its place only through
// real directories of the snapshot (never through a symlink); hard-link targets obey the
// same rules. An entry breaking them fails the apply with an error naming it, before
// anything is written for it, so nothing outside the root is ever touched.
// Speed: decompression runs on libuv's threads while this thread parses and writes; the
// filesystem calls are synchronous (one syscall each, no thread-pool round trip), which
// for a tree of many small files is several times faster than their promise forms. Few
// calls per entry: a name is created exclusively first (O_EXCL, and symlink/mkdir/link
// fail on an existing name) and only a name that exists is looked at and cleared; a file
// gets its mode at creation (fchmod only when the umask or set-id bits are in the way), no
// fchown when it is already born with the wanted owner, and directories their times once,
// at the end. In overlay mode (an empty upper directory) new regular files are handed to
// worker threads (file-writer-pool.ts), whose file creation runs beside this thread's
// parsing; this thread waits for them before any entry that could touch an existing name
// (a name seen before in the layer, a whiteout, a hard link, a device) and at the end.

export type ApplyMode = 'overlay' | 'vfs';

/** Uncompressed bytes after which an overlay apply hands new files to worker threads. */
export const WRITER_THREADS_AFTER = 8 << 20;

export interface ApplyOptions {
  mode: ApplyMode;
  /** The expected diff ID (sha256 of the uncompressed tar); checked at the end. */
  diffId?: string;
  /** Called with uncompressed bytes read so far. */
  onProgress?: (bytes: number) => void;
  /**
   * In overlay mode, new regular files go to worker threads once this many uncompressed
   * bytes of the layer have been read (default WRITER_THREADS_AFTER: a small layer is done
   * before threads would have started; Infinity: never).
   */
  writerThreadsAfter?: number;
}

export interface ApplyResult {
  diffId: string;
  /** Uncompressed size of the tar. */
  size: number;
  /**
   * What the layer's files take once unpacked, as Docker counts it for an image's Size:
   * regular files' sizes (hard links once) and symlinks' target lengths.
   */
  unpackedSize: number;
}

/** The longest entry name accepted (PATH_MAX). */
export const MAX_ENTRY_NAME = 4096;
const MAX_COMPONENT = 255;

const amRoot = process.getuid?.() === 0;
/** New files are born 0:0 (fsuid/fsgid) unless their directory is set-group-ID. */
const bornRootOwned = amRoot && process.getegid?.() === 0;

/** The process umask, read without changing it (process.umask() alone is deprecated). */
function currentUmask(): number {
  try {
    const m = /^Umask:\s*([0-7]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return parseInt(m[1]!, 8);
  } catch { /* no procfs: assume the worst */ }
  return 0o777;
}

function isErrno(e: unknown, code: string): boolean {
  return (e as NodeJS.ErrnoException | undefined)?.code === code;
}

function reject(entry: string, why: string): never {
  throw invalidParameter(`layer entry "${entry}": ${why}`);
}

/** Components of a tar entry name, or an error naming it. */
export function entryComponents(name: string): string[] {
  if (Buffer.byteLength(name) > MAX_ENTRY_NAME) reject(name.slice(0, 64) + '…', `name longer than ${MAX_ENTRY_NAME} bytes`);
  if (name.startsWith('/')) reject(name, 'absolute path');
  if (name.includes('\0')) reject(name, 'NUL in name');
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  for (const p of parts) {
    if (p === '..') reject(name, 'path contains ".."');
    if (Buffer.byteLength(p) > MAX_COMPONENT) reject(name, `component longer than ${MAX_COMPONENT} bytes`);
  }
  return parts;
}

function lstatOrUndefined(p: string): Stats | undefined {
  return lstatSync(p, { throwIfNoEntry: false });
}

/** Sniffs gzip / zstd / plain from the first bytes and returns a decompressor. */
function decompressor(first: Buffer): Transform | undefined {
  if (first.length >= 2 && first[0] === 0x1f && first[1] === 0x8b) return zlib.createGunzip({ chunkSize: 256 * 1024 });
  if (first.length >= 4 && first.readUInt32LE(0) === 0xfd2fb528) {
    const create = (zlib as unknown as { createZstdDecompress?: () => Transform }).createZstdDecompress;
    if (!create) throw new BerthError('NotImplemented', `zstd-compressed layers need Node.js with zlib zstd support (this is Node ${process.versions.node})`);
    return create();
  }
  return undefined;
}

function fsFailure(entry: string, op: string, e: unknown): BerthError {
  if (e instanceof BerthError) return e;
  const code = (e as NodeJS.ErrnoException).code;
  return new BerthError('System', `layer entry "${entry}": ${op}: ${(e as Error).message}`, { cause: e, ...(code ? { code } : {}) });
}

class Applier {
  /** Directories known to be real directories inside the root (relative paths). */
  private readonly dirs = new Set<string>(['']);
  /** Paths this layer created, for vfs opaque directories. */
  private readonly created = new Set<string>();
  private readonly dirTimes: [string, Date][] = [];
  /**
   * Directories whose set-group-ID bit this layer decided (made or chmod'ed them): rel →
   * the bit. A file made in one of them without the bit is born owned by this process.
   */
  private readonly dirSetgid = new Map<string, boolean>();
  private readonly umask = currentUmask();

  constructor(
    private readonly root: string,
    private readonly mode: ApplyMode,
  ) {}

  /** Where new regular files are written meanwhile (overlay mode), from when the layer proves big. */
  private writer: WriteSession | undefined;

  handFilesTo(writer: WriteSession): void {
    this.writer = writer;
  }

  /** Waits until every file handed to the writer threads is on disk. */
  private async barrier(): Promise<void> {
    if (!this.writer || this.writer.idle) return;
    try {
      await this.writer.drain();
    } catch (e) {
      throw e instanceof FileWriteError ? fsFailure(e.entry, 'write', Object.assign(new Error(e.message), e.code ? { code: e.code } : {})) : e;
    }
  }

  /** A name this layer already made something at (or under) — an entry there may replace it. */
  private seen(rel: string): boolean {
    return this.created.has(rel) || this.dirs.has(rel);
  }

  private parentOf(rel: string): string {
    const i = rel.lastIndexOf('/');
    return i < 0 ? '' : rel.slice(0, i);
  }

  /** True when a new entry at `rel` is born owned by uid:gid (so needs no chown). */
  private bornOwnedBy(rel: string, uid: number, gid: number): boolean {
    return bornRootOwned && uid === 0 && gid === 0 && this.dirSetgid.get(this.parentOf(rel)) === false;
  }

  /** True when creating with permission bits `mode & 0o777` yields exactly `mode`. */
  private bornWithMode(mode: number): boolean {
    return (mode & 0o7000) === 0 && (mode & this.umask) === 0;
  }

  /**
   * Runs `make` (a create that fails with EEXIST on an existing name, never following a
   * final symlink); when the name exists, clears it (clear's rules) and makes again.
   */
  private createAt<T>(entry: string, rel: string, abs: string, op: string, make: () => T): T {
    try {
      return make();
    } catch (e) {
      if (!isErrno(e, 'EEXIST')) throw fsFailure(entry, op, e);
    }
    this.clear(entry, rel, abs, false);
    try {
      return make();
    } catch (e) {
      throw fsFailure(entry, op, e);
    }
  }

  /** Makes sure every parent of `parts` is a real directory in the root; creates missing ones. */
  private ensureParents(entry: string, parts: string[]): void {
    let rel = '';
    for (const p of parts.slice(0, -1)) {
      rel = rel ? `${rel}/${p}` : p;
      if (this.dirs.has(rel)) continue;
      const abs = join(this.root, rel);
      const st = lstatOrUndefined(abs);
      if (!st) {
        mkdirSync(abs, { mode: 0o755 });
        this.created.add(rel);
        // A new directory inherits its parent's set-group-ID bit.
        const inherited = this.dirSetgid.get(this.parentOf(rel));
        if (inherited !== undefined) this.dirSetgid.set(rel, inherited);
      } else if (st.isSymbolicLink()) {
        reject(entry, `parent "${rel}" is a symlink (following it could leave the snapshot)`);
      } else if (!st.isDirectory()) {
        reject(entry, `parent "${rel}" is not a directory`);
      }
      this.dirs.add(rel);
    }
  }

  /** Removes what is at `abs` unless it is a directory and `keepDir`. */
  private clear(entry: string, rel: string, abs: string, keepDir: boolean): Stats | undefined {
    const st = lstatOrUndefined(abs);
    if (!st) return undefined;
    if (st.isDirectory()) {
      if (keepDir) return st;
      if (this.created.has(rel)) reject(entry, `replaces directory "${rel}" created earlier in the same layer`);
      rmSync(abs, { recursive: true, force: true });
      for (const d of [...this.dirs]) if (d === rel || d.startsWith(`${rel}/`)) this.dirs.delete(d);
      return undefined;
    }
    unlinkSync(abs);
    return undefined;
  }

  /**
   * Owner, mode, xattrs and times of a path (or of an open file when fd is given).
   * `skip.owner`/`skip.mode`: the entry was born with them; `skip.times`: set later.
   */
  private attributes(abs: string, h: TarHeader, isLink: boolean, fd?: number, skip: { owner?: boolean; mode?: boolean; times?: boolean } = {}): void {
    try {
      // chown before chmod: chown clears set-user/group-ID bits.
      if (fd !== undefined) {
        if (amRoot && !skip.owner) fchownSync(fd, h.uid, h.gid);
        if (!skip.mode) fchmodSync(fd, h.mode & 0o7777);
      } else {
        if (amRoot && !skip.owner) lchownSync(abs, h.uid, h.gid);
        if (!isLink && !skip.mode) chmodSync(abs, h.mode & 0o7777);
      }
    } catch (e) {
      throw fsFailure(h.name, 'set owner and mode', e);
    }
    for (const [name, value] of h.xattrs) setXattr(abs, name, value, `layer entry "${h.name}"`);
    if (skip.times) return;
    try {
      if (fd !== undefined) futimesSync(fd, h.mtime, h.mtime);
      else lutimesSync(abs, h.mtime, h.mtime);
    } catch (e) {
      throw fsFailure(h.name, 'set times', e);
    }
  }

  async entry(h: TarHeader, body: AsyncIterable<Buffer>): Promise<void> {
    const parts = entryComponents(h.name);
    if (parts.length === 0) return;
    const base = parts[parts.length - 1]!;
    const rel = parts.join('/');
    // Whiteouts.
    if (base.startsWith(WHITEOUT_PREFIX)) {
      if (base !== OPAQUE_WHITEOUT || this.mode !== 'overlay') await this.barrier();
      this.ensureParents(h.name, parts);
      const dirRel = parts.slice(0, -1).join('/');
      const dirAbs = join(this.root, dirRel);
      if (base === OPAQUE_WHITEOUT) {
        if (this.mode === 'overlay') {
          setXattr(dirAbs, 'trusted.overlay.opaque', Buffer.from('y'), `layer entry "${h.name}"`);
        } else {
          for (const child of readdirSync(dirAbs)) {
            const childRel = dirRel ? `${dirRel}/${child}` : child;
            if (!this.created.has(childRel)) rmSync(join(dirAbs, child), { recursive: true, force: true });
          }
        }
        return;
      }
      if (base.startsWith(`${WHITEOUT_PREFIX}${WHITEOUT_PREFIX}`)) return; // aufs metadata (.wh..wh.plnk…)
      const target = base.slice(WHITEOUT_PREFIX.length);
      entryComponents(target);
      const targetRel = dirRel ? `${dirRel}/${target}` : target;
      const targetAbs = join(dirAbs, target);
      rmSync(targetAbs, { recursive: true, force: true });
      for (const d of [...this.dirs]) if (d === targetRel || d.startsWith(`${targetRel}/`)) this.dirs.delete(d);
      if (this.mode === 'overlay') {
        makeNode(targetAbs, 'character-device', 0, 0, 0, `layer entry "${h.name}"`);
        if (amRoot) lchownSync(targetAbs, 0, 0);
      }
      return;
    }
    const regular = h.type === 'file' || h.type === 'contiguous-file';
    if (this.seen(rel) || !(regular || h.type === 'directory' || h.type === 'symlink')) await this.barrier();
    this.ensureParents(h.name, parts);
    const abs = join(this.root, rel);
    if (regular && this.writer && !this.seen(rel) && h.xattrs.size === 0 && h.size <= MAX_HANDED_FILE) {
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of body) {
        chunks.push(chunk);
        size += chunk.length;
      }
      this.writer.add(
        {
          path: abs,
          name: h.name,
          mode: h.mode,
          uid: h.uid,
          gid: h.gid,
          mtime: h.mtime.getTime(),
          chown: amRoot && !this.bornOwnedBy(rel, h.uid, h.gid),
          chmod: !this.bornWithMode(h.mode),
        },
        chunks,
        size,
      );
      this.created.add(rel);
      try {
        await this.writer.room();
      } catch {
        await this.barrier(); // throws the writer's failure with its entry's name
      }
      return;
    }
    switch (h.type) {
      case 'directory': {
        // mkdir first; only an existing name is looked at (a directory is kept).
        let made = false;
        try {
          mkdirSync(abs, { mode: 0o755 });
          made = true;
        } catch (e) {
          if (!isErrno(e, 'EEXIST')) throw fsFailure(h.name, 'mkdir', e);
          if (!this.clear(h.name, rel, abs, true)) {
            mkdirSync(abs, { mode: 0o755 });
            made = true;
          }
        }
        this.dirs.add(rel);
        this.created.add(rel);
        // Its times are set once its children are in place (finish).
        this.attributes(abs, h, false, undefined, { owner: made && this.bornOwnedBy(rel, h.uid, h.gid), times: true });
        this.dirSetgid.set(rel, (h.mode & 0o2000) !== 0);
        this.dirTimes.push([abs, h.mtime]);
        return;
      }
      case 'file':
      case 'contiguous-file': {
        const fd = this.createAt(h.name, rel, abs, 'create', () => openSync(abs, 'wx', h.mode & 0o777));
        try {
          for await (const chunk of body) {
            for (let off = 0; off < chunk.length; ) off += writeSync(fd, chunk, off, chunk.length - off);
          }
          this.created.add(rel);
          this.attributes(abs, h, false, fd, { owner: this.bornOwnedBy(rel, h.uid, h.gid), mode: this.bornWithMode(h.mode) });
        } catch (e) {
          throw fsFailure(h.name, 'write', e);
        } finally {
          closeSync(fd);
        }
        return;
      }
      case 'symlink': {
        // The target is stored as is: it is only ever resolved inside the container.
        this.createAt(h.name, rel, abs, 'symlink', () => symlinkSync(h.linkname, abs));
        this.created.add(rel);
        this.attributes(abs, h, true, undefined, { owner: this.bornOwnedBy(rel, h.uid, h.gid) });
        return;
      }
      case 'link': {
        const targetParts = entryComponents(h.linkname);
        if (targetParts.length === 0) reject(h.name, 'hard link to the snapshot root');
        const targetRel = targetParts.join('/');
        let dir = '';
        for (const p of targetParts.slice(0, -1)) {
          dir = dir ? `${dir}/${p}` : p;
          const st = lstatOrUndefined(join(this.root, dir));
          if (!st || st.isSymbolicLink() || !st.isDirectory()) reject(h.name, `hard link target "${h.linkname}" goes through "${dir}", not a directory of the snapshot`);
        }
        const targetAbs = join(this.root, targetRel);
        const tst = lstatOrUndefined(targetAbs);
        if (!tst) reject(h.name, `hard link target "${h.linkname}" does not exist in the layer`);
        if (tst.isDirectory()) reject(h.name, `hard link target "${h.linkname}" is a directory`);
        if (targetRel === rel) return;
        this.createAt(h.name, rel, abs, 'link', () => linkSync(targetAbs, abs));
        this.created.add(rel);
        return; // a hard link shares the target's attributes
      }
      case 'character-device':
      case 'block-device':
      case 'fifo': {
        this.clear(h.name, rel, abs, false);
        makeNode(abs, h.type, 0o600, h.devmajor, h.devminor, `layer entry "${h.name}"`);
        break;
      }
      default:
        return; // unknown types are skipped, as docker does
    }
    this.created.add(rel);
    this.attributes(abs, h, false);
  }

  /** Waits for the files still being written, whatever happened (the apply failed). */
  async settle(): Promise<void> {
    await this.writer?.settle();
  }

  /** Once finished or settled. */
  close(): void {
    this.writer?.close();
  }

  async finish(): Promise<void> {
    await this.barrier();
    // Directory times last: creating their children changed them.
    for (const [abs, t] of this.dirTimes.reverse()) {
      try {
        utimesSync(abs, t, t);
      } catch { /* removed by a later entry */ }
    }
  }
}

/**
 * Unpacks a layer (plain, gzip, or zstd where Node has it) into `root` (nothing is written
 * when root is ''). Returns the diff ID computed from the uncompressed bytes; throws when
 * it differs from `opts.diffId`.
 */
export async function applyLayer(root: string, input: Readable, opts: ApplyOptions): Promise<ApplyResult> {
  const hash = createHash('sha256');
  let size = 0;
  // Sniff the compression from the first bytes, then hash the uncompressed stream.
  const iterator = input[Symbol.asyncIterator]();
  let first: Buffer = Buffer.alloc(0);
  while (first.length < 4) {
    const n = await iterator.next();
    if (n.done) break;
    first = Buffer.concat([first, n.value as Buffer]);
  }
  let dec: Transform | undefined;
  try {
    dec = decompressor(first);
  } catch (e) {
    input.destroy();
    throw e;
  }
  async function* replay(): AsyncGenerator<Buffer> {
    if (first.length) yield first;
    for (;;) {
      const n = await iterator.next();
      if (n.done) return;
      yield n.value as Buffer;
    }
  }
  const raw = Readable.from(replay(), { objectMode: false, highWaterMark: 1 << 20 });
  let decoded: Readable = raw;
  if (dec) {
    const d = dec;
    raw.on('error', (e) => d.destroy(e));
    decoded = raw.pipe(d);
  }
  async function* hashed(): AsyncGenerator<Buffer> {
    for await (const chunk of decoded) {
      const b = chunk as Buffer;
      hash.update(b);
      size += b.length;
      opts.onProgress?.(size);
      yield b;
    }
  }
  const applier = root === '' ? undefined : new Applier(root, opts.mode);
  // Only into an empty upper dir (overlay): in vfs mode most names exist already.
  let threadsAfter = opts.mode === 'overlay' ? (opts.writerThreadsAfter ?? WRITER_THREADS_AFTER) : Infinity;
  let unpackedSize = 0;
  try {
    for await (const entry of readTar(hashed())) {
      if (applier && size >= threadsAfter) {
        threadsAfter = Infinity;
        const writer = FileWriterPool.shared()?.session();
        if (writer) applier.handFilesTo(writer);
      }
      unpackedSize += entrySize(entry.header);
      if (applier) await applier.entry(entry.header, entry.body);
    }
    await applier?.finish();
  } catch (e) {
    raw.destroy();
    dec?.destroy();
    input.destroy();
    // Nothing may still write into the snapshot once the caller sees the failure (it removes it).
    await applier?.settle();
    if (e instanceof BerthError) throw e;
    const msg = (e as Error).message ?? String(e);
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'Z_DATA_ERROR' || code === 'Z_BUF_ERROR') throw invalidParameter(`layer decompression failed: ${msg}`);
    if (code === 'ERR_STREAM_PREMATURE_CLOSE') throw invalidParameter(`layer tar is malformed: Unexpected end of data (${msg})`);
    throw e;
  } finally {
    applier?.close();
  }
  const diffId = `sha256:${hash.digest('hex')}`;
  if (opts.diffId && opts.diffId !== diffId) throw invalidParameter(`layer diff ID mismatch: expected ${opts.diffId}, got ${diffId}`);
  return { diffId, size, unpackedSize };
}

function entrySize(h: TarHeader): number {
  if (h.type === 'file' || h.type === 'contiguous-file') return h.size;
  if (h.type === 'symlink') return Buffer.byteLength(h.linkname);
  return 0;
}

/** Reads a layer without writing anything: its diff ID and sizes (see ApplyResult). */
export function measureLayer(input: Readable, diffId?: string): Promise<ApplyResult> {
  return applyLayer('', input, { mode: 'vfs', ...(diffId ? { diffId } : {}) });
}
