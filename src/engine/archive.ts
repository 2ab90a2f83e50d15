// `docker cp` on berthd's side (GET/HEAD/PUT /containers/{id}/archive), over a container's
// mounted root filesystem, with dockerd's semantics and messages:
//  - HEAD/GET resolve the path as moby's ResolvePath does (the directory part in scope, the
//    last component as it is, so a symlink is copied as a link; a trailing `/.` means the
//    directory's contents) and describe it in X-Docker-Container-Path-Stat (Go FileMode
//    bits, the link target resolved in scope);
//  - PUT extracts a tar into an existing directory, every entry's parent resolved in scope
//    (so a symlink in the container, or one the same tar just made, cannot lead outside the
//    root), entry names with `..` or absolute ones refused.
// Paths are resolved with scoped-path.ts; tar headers come from src/image's tar writer and
// reader (PAX, long names, binary xattrs).

import { chmodSync, closeSync, linkSync, lchownSync, lstatSync, lutimesSync, mkdirSync, openSync, rmSync, symlinkSync, unlinkSync, utimesSync, writeSync, constants as fsConstants, type Stats } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { basename, join, posix } from 'node:path';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { ContainerPathStat } from '../api/types/container.js';
import { invalidParameter, notFound } from '../errors.js';
import { layerXattrs, objectEntry } from '../image/layer/diff.js';
import { entryComponents } from '../image/layer/apply.js';
import { readTar } from '../image/layer/tar-reader.js';
import { encodeHeader, END_OF_ARCHIVE } from '../image/layer/tar-writer.js';
import { makeNode, readXattrs, setXattr } from '../image/layer/xattr.js';
import { PathScope, resolvePath, type ScopeMount } from './scoped-path.js';
import type { HostConfig } from '../api/types/container.js';
import { userMounts } from './oci-spec.js';
import { volumeOciMounts, type VolumeHolder } from './volumes.js';

// Go's os.FileMode type bits.
const GO_DIR = 2 ** 31;
const GO_SYMLINK = 2 ** 27;
const GO_DEVICE = 2 ** 26;
const GO_PIPE = 2 ** 25;
const GO_SOCKET = 2 ** 24;
const GO_SETUID = 2 ** 23;
const GO_SETGID = 2 ** 22;
const GO_CHARDEV = 2 ** 21;
const GO_STICKY = 2 ** 20;

/** A stat's mode as Go's os.FileMode (what the docker CLI decodes). */
export function goFileMode(st: Stats): number {
  let m = st.mode & 0o777;
  if (st.mode & 0o4000) m += GO_SETUID;
  if (st.mode & 0o2000) m += GO_SETGID;
  if (st.mode & 0o1000) m += GO_STICKY;
  if (st.isDirectory()) m += GO_DIR;
  else if (st.isSymbolicLink()) m += GO_SYMLINK;
  else if (st.isFIFO()) m += GO_PIPE;
  else if (st.isSocket()) m += GO_SOCKET;
  else if (st.isCharacterDevice()) m += GO_DEVICE + GO_CHARDEV;
  else if (st.isBlockDevice()) m += GO_DEVICE;
  return m;
}

export interface ResolvedArchivePath {
  stat: ContainerPathStat;
  /** The host path (the link itself when the last component is a symlink). */
  resolved: string;
  /** The container path `resolved` stands for. */
  cpath: string;
  absPath: string;
  isDir: boolean;
}

/**
 * The bind mounts `docker cp` sees through, in mount order: binds and volumes. tmpfs mounts
 * are not reached (as with dockerd, which copies from the layers and volumes only).
 */
export function archiveMounts(hc: HostConfig, rec: VolumeHolder): ScopeMount[] {
  return [...userMounts(hc), ...volumeOciMounts(rec)]
    .filter((m) => m.type === 'bind' && m.source !== undefined)
    .map((m) => ({ destination: m.destination, source: m.source!, readOnly: (m.options ?? []).includes('ro') }));
}

/** HEAD/GET's stat of a path in the container; NotFound in dockerd's words. */
export function statContainerPath(scope: PathScope, path: string, containerName: string): ResolvedArchivePath {
  const { absPath, resolved, cpath } = resolvePath(scope, path);
  const st = lstatSync(resolved, { throwIfNoEntry: false });
  if (!st) throw notFound(`Could not find the file ${path} in container ${containerName}`);
  let linkTarget = '';
  if (st.isSymbolicLink()) linkTarget = scope.resolve(absPath);
  const name = absPath === '/' ? '/' : basename(absPath.replace(/\/$/, '')) || '.';
  return {
    stat: { name: absPath.endsWith('/.') ? '.' : name, size: st.size, mode: goFileMode(st), mtime: st.mtime.toISOString(), linkTarget },
    resolved,
    cpath,
    absPath,
    isDir: st.isDirectory(),
  };
}

/** A tar of the tree at container path `cpath` (host path `src`), crossing into the mounts below it. */
async function* treeTar(scope: PathScope, src: string, cpath: string, rebase: string): AsyncGenerator<Buffer> {
  const links = new Map<string, string>();
  async function* entry(p: string, c: string, name: string): AsyncGenerator<Buffer> {
    const st = await lstat(p);
    if (st.isSocket()) return;
    const base = { name, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: st.mtime, xattrs: layerXattrs(readXattrs(p)) };
    if (st.isDirectory()) {
      yield encodeHeader({ ...base, name: `${name}/`, type: 'directory' });
      for (const child of (await readdir(p)).sort()) {
        const cc = posix.join(c, child);
        yield* entry(scope.hostOf(cc), cc, `${name}/${child}`);
      }
    } else {
      yield* objectEntry(p, st, base, links);
    }
  }
  yield* entry(src, cpath, rebase);
  yield END_OF_ARCHIVE;
}

/** The tar GET answers: the path (never following a last symlink) with entries named from `rebase`. */
export function archiveOf(scope: PathScope, resolved: ResolvedArchivePath): Readable {
  const rebase = resolved.stat.name === '/' ? '.' : resolved.stat.name;
  return Readable.from(treeTar(scope, resolved.resolved, resolved.cpath, rebase), { objectMode: false, highWaterMark: 1 << 20 });
}

export interface ExtractOptions {
  noOverwriteDirNonDir: boolean;
  /** Owner for every entry (copyUIDGID: the container user's); else the tar's. */
  owner?: { uid: number; gid: number };
  /** ReadonlyRootfs: only writable mounts may be written. */
  readonlyRootfs?: boolean;
}

/**
 * Where PUT extracts: the container path, resolved fully in scope; it must be an existing
 * directory, writable (dockerd's messages for a read-only mount or rootfs).
 */
export function extractionPoint(scope: PathScope, path: string, containerName: string, readonlyRootfs = false): string {
  const { absPath } = resolvePath(scope, path);
  const cpath = scope.resolve(absPath);
  const st = lstatSync(scope.hostOf(cpath), { throwIfNoEntry: false });
  if (!st) throw notFound(`Could not find the file ${path} in container ${containerName}`);
  if (!st.isDirectory()) throw invalidParameter('extraction point is not a directory');
  checkWritable(scope, cpath, readonlyRootfs);
  return cpath;
}

function checkWritable(scope: PathScope, cpath: string, readonlyRootfs: boolean): void {
  const m = scope.mountOf(cpath);
  if (m?.readOnly) throw invalidParameter('mounted volume is marked read-only');
  if (!m && readonlyRootfs) throw invalidParameter('container rootfs is marked read-only');
}

async function* plainTar(input: AsyncIterable<Buffer | Uint8Array>): AsyncGenerator<Buffer> {
  const it = input[Symbol.asyncIterator]();
  let first = Buffer.alloc(0);
  let ended = false;
  while (first.length < 2) {
    const n = await it.next();
    if (n.done) {
      ended = true;
      break;
    }
    first = Buffer.concat([first, Buffer.from(n.value)]);
  }
  const rest = Readable.from(
    (async function* () {
      if (first.length) yield first;
      if (ended) return;
      for (;;) {
        const n = await it.next();
        if (n.done) return;
        yield Buffer.from(n.value);
      }
    })(),
  );
  if (first[0] === 0x1f && first[1] === 0x8b) {
    const gz = createGunzip();
    rest.on('error', (e) => gz.destroy(e));
    for await (const c of rest.pipe(gz)) yield c as Buffer;
  } else {
    for await (const c of rest) yield c as Buffer;
  }
}

function removeExisting(p: string, st: Stats): void {
  if (st.isDirectory()) rmSync(p, { recursive: true, force: true });
  else unlinkSync(p);
}

/**
 * Extracts a (plain or gzip) tar into container directory `destInContainer` (from
 * extractionPoint). Returns the number of entries written.
 */
export async function extractInScope(scope: PathScope, destInContainer: string, input: AsyncIterable<Buffer | Uint8Array>, opts: ExtractOptions): Promise<number> {
  const dirTimes: [string, Date][] = [];
  let n = 0;
  for await (const { header: h, body } of readTar(plainTar(input))) {
    const parts = entryComponents(h.name);
    if (parts.length === 0) {
      // "./": the destination itself; its metadata is left as it is (dockerd does the same).
      for await (const _ of body) void _;
      continue;
    }
    const parentC = scope.resolve(posix.join(destInContainer, ...parts.slice(0, -1)));
    checkWritable(scope, parentC, opts.readonlyRootfs === true);
    const parent = scope.hostOf(parentC);
    mkdirSync(parent, { recursive: true, mode: 0o755 });
    const pst = lstatSync(parent);
    if (!pst.isDirectory()) throw invalidParameter(`cannot extract "${h.name}": its parent is not a directory`);
    const targetC = posix.join(parentC, parts.at(-1)!);
    const target = scope.hostOf(targetC);
    const existing = lstatSync(target, { throwIfNoEntry: false });
    // A mount point cannot be replaced (the kernel says EBUSY); its root can only be a directory.
    if (target !== join(parent, parts.at(-1)!) && h.type !== 'directory') throw invalidParameter(`cannot extract "${h.name}": ${targetC} is a mount point`);
    const uid = opts.owner?.uid ?? h.uid;
    const gid = opts.owner?.gid ?? h.gid;
    if (h.type === 'directory') {
      if (existing && !existing.isDirectory()) {
        if (opts.noOverwriteDirNonDir) throw invalidParameter(`cannot overwrite non-directory "${targetC}" with directory "${h.name}"`);
        removeExisting(target, existing);
      }
      if (!existing || !existing.isDirectory()) mkdirSync(target, { mode: h.mode & 0o7777 });
      chmodSync(target, h.mode & 0o7777);
      lchownSync(target, uid, gid);
      dirTimes.push([target, h.mtime]);
    } else {
      if (existing) {
        if (existing.isDirectory() && opts.noOverwriteDirNonDir) throw invalidParameter(`cannot overwrite directory "${targetC}" with non-directory "${h.name}"`);
        removeExisting(target, existing);
      }
      switch (h.type) {
        case 'file':
        case 'contiguous-file': {
          const fd = openSync(target, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW, h.mode & 0o7777);
          try {
            for await (const chunk of body) {
              let off = 0;
              while (off < chunk.length) off += writeSync(fd, chunk, off);
            }
          } finally {
            closeSync(fd);
          }
          break;
        }
        case 'symlink':
          symlinkSync(h.linkname, target);
          break;
        case 'link': {
          const linkParts = entryComponents(h.linkname);
          const from = scope.resolveHost(posix.join(destInContainer, ...linkParts), false);
          const fst = lstatSync(from, { throwIfNoEntry: false });
          if (!fst || fst.isDirectory()) throw invalidParameter(`cannot extract "${h.name}": hard link target "${h.linkname}" is not a file in the archive`);
          linkSync(from, target);
          break;
        }
        case 'character-device':
        case 'block-device':
        case 'fifo':
          makeNode(target, h.type, h.mode & 0o7777, h.devmajor, h.devminor, h.name);
          break;
        default:
          throw invalidParameter(`cannot extract "${h.name}": unsupported tar entry type ${h.typeflag}`);
      }
      if (h.type !== 'link') {
        lchownSync(target, uid, gid);
        if (h.type !== 'symlink') chmodSync(target, h.mode & 0o7777);
        lutimesSync(target, h.mtime, h.mtime);
      }
    }
    for (const [k, v] of h.xattrs) {
      try {
        setXattr(target, k, v, h.name);
      } catch {
        // xattrs the filesystem refuses are dropped, as tar does without --xattrs
      }
    }
    n++;
  }
  for (const [d, t] of dirTimes.reverse()) {
    try {
      utimesSync(d, t, t);
    } catch {
      // removed by a later entry
    }
  }
  return n;
}
