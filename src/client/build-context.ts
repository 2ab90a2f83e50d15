// The build context as the docker CLI sends it to POST /build: a tar of the context
// directory with the .dockerignore applied (ignored files are never read), streamed. For
// berthd, the same walk also gives the context's manifest (context-manifest.ts): berthd
// answers which files it lacks, and only those go into the tar (contextTar's `only`).

import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { isAbsolute, join, relative, sep } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { IgnoreMatcher } from '../build/context/dockerignore.js';
import type { ManifestEntry } from '../build/context/context-manifest.js';
import { END_OF_ARCHIVE, encodeHeader, padding } from '../image/layer/tar-writer.js';

/** A path of the context: from the directory (`host`), or made up by the client (`data`: the Dockerfile of `-f -`, the amended .dockerignore). */
export interface ScannedEntry extends ManifestEntry {
  host?: string;
  data?: Buffer;
}

export interface ScannedContext {
  /** Parents before children, names sorted; the made-up files last. */
  entries: ScannedEntry[];
  /** The Dockerfile's name in the context (the `dockerfile` query parameter). */
  dockerfile: string;
}

export interface PackedContext {
  tar: Readable;
  /** The Dockerfile's name in the tar (the `dockerfile` query parameter). */
  dockerfile: string;
  /** Bytes of the tar, known once it has been read. */
  size(): number;
}

/**
 * Every path under `dir` the .dockerignore leaves in (regular files, directories and
 * symbolic links), plus the Dockerfile when it lives elsewhere. `dockerfile` is a host
 * path, or the text of `-f -`.
 */
export async function scanContext(dir: string, dockerfile: { path: string } | { text: string }): Promise<ScannedContext> {
  const ignoreText = await readFile(join(dir, '.dockerignore'), 'utf8').catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return '';
    throw new Error(`error reading .dockerignore: ${e.message}`);
  });
  let dfName: string;
  const extra: { path: string; data: Buffer }[] = [];
  const inside = 'path' in dockerfile ? relative(dir, dockerfile.path) : '..';
  if ('path' in dockerfile && !inside.startsWith(`..${sep}`) && inside !== '..' && !isAbsolute(inside)) {
    dfName = inside.split(sep).join('/');
  } else {
    dfName = `.dockerfile.${randomBytes(10).toString('hex')}`;
    extra.push({ path: dfName, data: 'path' in dockerfile ? await readFile(dockerfile.path) : Buffer.from(dockerfile.text) });
    // COPY . must not see it: the daemon reads the .dockerignore the context carries.
    extra.push({ path: '.dockerignore', data: Buffer.from(`${ignoreText}\n${dfName}\n`) });
  }
  // The Dockerfile and .dockerignore are sent even when listed (the daemon still ignores them for COPY).
  const matcher = new IgnoreMatcher(`${ignoreText}\n!${dfName}\n!.dockerignore\n`);
  const replaced = new Set(extra.map((e) => e.path));
  const entries: ScannedEntry[] = [];
  const visit = async (rel: string): Promise<void> => {
    const host = rel === '' ? dir : join(dir, rel);
    const st = await lstat(host, { bigint: true });
    if (rel !== '' && !matcher.ignores(rel) && !replaced.has(rel)) {
      const type = st.isDirectory() ? 'directory' : st.isSymbolicLink() ? 'symlink' : st.isFile() ? 'file' : undefined;
      if (type) {
        entries.push({
          path: rel, type, host, mode: Number(st.mode & 0o7777n), size: type === 'file' ? Number(st.size) : 0,
          mtime: String(st.mtimeNs), ctime: String(st.ctimeNs), ino: String(st.ino), dev: String(st.dev),
          linkname: type === 'symlink' ? await readlink(host) : '',
        });
      }
    }
    if (st.isDirectory() && (rel === '' || !matcher.skipsDirectory(rel))) {
      for (const n of (await readdir(host)).sort()) await visit(rel === '' ? n : `${rel}/${n}`);
    }
  };
  await visit('');
  const now = String(BigInt(Date.now()) * 1_000_000n);
  for (const e of extra) entries.push({ path: e.path, type: 'file', data: e.data, mode: 0o644, size: e.data.length, mtime: now, ctime: now, ino: '0', dev: '0', linkname: '' });
  return { entries, dockerfile: dfName };
}

/**
 * The context as a tar (owners 0:0, as the docker CLI sends them), streamed: every entry,
 * or with `only` the file entries it names (the files berthd asked for). `head` entries go
 * first (the manifest of an incremental context).
 */
export function contextTar(scanned: ScannedContext, opts: { only?: Set<string>; head?: { name: string; data: Buffer }[] } = {}): PackedContext {
  let bytes = 0;
  // Large buffers: a context of many MB goes in 1 MiB steps, not the default 16-64 KiB ones.
  const out = new PassThrough({ highWaterMark: 1 << 20 });
  const push = async (chunk: Buffer): Promise<void> => {
    bytes += chunk.length;
    if (!out.write(chunk)) await new Promise((r) => out.once('drain', r));
  };
  const mtimeOf = (e: ManifestEntry): Date => new Date(Number(BigInt(e.mtime) / 1_000_000n));
  const writeFileEntry = async (name: string, mode: number, mtime: Date, size: number, body: Readable | Buffer): Promise<void> => {
    await push(encodeHeader({ name, type: 'file', mode, uid: 0, gid: 0, size, mtime }));
    if (Buffer.isBuffer(body)) await push(body);
    else {
      let n = 0;
      for await (const c of body) {
        const b = c as Buffer;
        n += b.length;
        if (n > size) throw new Error(`${name}: the file grew while it was sent`);
        await push(b);
      }
      if (n !== size) throw new Error(`${name}: the file shrank while it was sent`);
    }
    await push(padding(size));
  };
  const produce = async (): Promise<void> => {
    for (const h of opts.head ?? []) await writeFileEntry(h.name, 0o600, new Date(), h.data.length, h.data);
    for (const e of scanned.entries) {
      if (opts.only && (e.type !== 'file' || !opts.only.has(e.path))) continue;
      const base = { mode: e.mode, uid: 0, gid: 0, mtime: mtimeOf(e) };
      if (e.type === 'directory') await push(encodeHeader({ ...base, name: `${e.path}/`, type: 'directory' }));
      else if (e.type === 'symlink') await push(encodeHeader({ ...base, name: e.path, type: 'symlink', linkname: e.linkname }));
      else await writeFileEntry(e.path, e.mode, base.mtime, e.size, e.data ?? createReadStream(e.host!, { highWaterMark: 1 << 20 }));
    }
    await push(END_OF_ARCHIVE);
    out.end();
  };
  produce().catch((e: unknown) => out.destroy(e as Error));
  return { tar: out, dockerfile: scanned.dockerfile, size: () => bytes };
}

/** The whole context tar, as the docker CLI sends it. */
export async function packContext(dir: string, dockerfile: { path: string } | { text: string }): Promise<PackedContext> {
  return contextTar(await scanContext(dir, dockerfile));
}

/**
 * The key under which berthd keeps a context directory between builds: this host and the
 * directory's path (two checkouts never share one; a context moved elsewhere starts anew).
 */
export function contextKey(dir: string): string {
  return createHash('sha256').update(`${hostname()}\0${dir}`).digest('hex').slice(0, 32);
}
