// The build context: a directory (`berth build .`) or a tar stream (what POST /build
// receives, plain or gzip), with .dockerignore applied. A context directory is read in
// place through the ignore matcher (no copy); a tar is extracted into a staging directory
// with every entry name checked (no absolute names, no `..`, nothing written through a
// symlink the tar made), and ignored entries are left out.

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, mkdir, readdir, readFile, readlink, rm, symlink, writeFile, link, open, utimes, chmod, lchown } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { invalidParameter, notFound } from '../../errors.js';
import { readTar } from '../../image/layer/tar-reader.js';
import { cleanPath, compilePattern, IgnoreMatcher } from './dockerignore.js';

export interface BuildContext {
  /** Directory holding the context's files. */
  root: string;
  matcher: IgnoreMatcher;
  /** The Dockerfile's text and name (its path in the context, or as given). */
  dockerfile: string;
  dockerfileName: string;
  /** Removes what the context staged (nothing for a directory context). */
  cleanup(): Promise<void>;
  /** Content digests learnt while the context was extracted (by stat key): not read again. */
  knownDigests?: FileDigestCache;
}

export interface ContextOptions {
  /** Path of the Dockerfile inside the context (default `Dockerfile`), or absolute outside it (directory contexts). */
  dockerfile?: string;
  /** The Dockerfile's text when it does not come from the context (`-f -`). */
  dockerfileText?: string;
}

async function readIgnore(root: string): Promise<IgnoreMatcher> {
  try {
    return new IgnoreMatcher(await readFile(join(root, '.dockerignore'), 'utf8'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return new IgnoreMatcher([]);
    throw e;
  }
}

async function readDockerfile(root: string, opts: ContextOptions): Promise<{ text: string; name: string }> {
  if (opts.dockerfileText !== undefined) return { text: opts.dockerfileText, name: opts.dockerfile ?? 'Dockerfile' };
  const name = opts.dockerfile ?? 'Dockerfile';
  const path = posix.isAbsolute(name) ? name : join(root, safeRelative(name));
  try {
    return { text: await readFile(path, 'utf8'), name: posix.basename(name) };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(`Cannot locate specified Dockerfile: ${name}`);
    throw e;
  }
}

/** A relative path inside the context, cleaned; `..` escapes are refused. */
export function safeRelative(p: string): string {
  const c = cleanPath(p.replace(/^\/+/, ''));
  if (c === '..' || c.startsWith('../')) throw invalidParameter(`forbidden path outside the build context: ${p} (${c})`);
  return c;
}

export async function openContextDir(dir: string, opts: ContextOptions = {}): Promise<BuildContext> {
  const df = await readDockerfile(dir, opts);
  return { root: dir, matcher: await readIgnore(dir), dockerfile: df.text, dockerfileName: df.name, cleanup: async () => undefined };
}

/** Extracts a context tar (plain or gzip) into `staging` (created; removed by cleanup()). */
export async function extractContextTar(input: AsyncIterable<Buffer | Uint8Array>, staging: string, opts: ContextOptions = {}): Promise<BuildContext> {
  await mkdir(staging, { recursive: true });
  try {
    const it = input[Symbol.asyncIterator]();
    const first = await it.next();
    const head = first.done ? Buffer.alloc(0) : Buffer.from(first.value);
    async function* rest(): AsyncGenerator<Buffer> {
      if (head.length) yield head;
      for (;;) {
        const n = await it.next();
        if (n.done) return;
        yield Buffer.from(n.value);
      }
    }
    let source: AsyncIterable<Buffer> = rest();
    if (head[0] === 0x1f && head[1] === 0x8b) source = Readable.from(rest()).pipe(createGunzip());
    const symlinks = new Set<string>();
    const dirModes: [string, number, Date][] = [];
    const knownDigests: FileDigestCache = new Map();
    const hashed: [string, string][] = [];
    for await (const entry of readTar(source)) {
      const h = entry.header;
      const rel = safeEntryName(h.name);
      if (rel === '.') {
        for await (const _ of entry.body) { /* drain */ }
        continue;
      }
      for (let p = posix.dirname(rel); p !== '.'; p = posix.dirname(p)) {
        if (symlinks.has(p)) throw invalidParameter(`context tar entry "${h.name}" is below a symlink (${p})`);
      }
      const dest = join(staging, rel);
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
          // Hashed as it is written: the COPY's cache key then needs no second read.
          const hash = createHash('sha256');
          try {
            for await (const c of entry.body) {
              hash.update(c);
              await fh.write(c);
            }
            await fh.chmod(h.mode & 0o7777);
          } finally {
            await fh.close();
          }
          await utimes(dest, h.mtime, h.mtime);
          hashed.push([dest, hash.digest('hex')]);
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
          await link(join(staging, target), dest);
          break;
        }
        default:
          // Devices and fifos have no place in a build context.
          break;
      }
      if (h.type !== 'file' && h.type !== 'contiguous-file') for await (const _ of entry.body) { /* drain */ }
      if (process.getuid?.() === 0 && h.type !== 'link') await lchown(dest, h.uid, h.gid).catch(() => undefined);
    }
    for (const [d, mode, mtime] of dirModes.reverse()) {
      await chmod(d, mode);
      await utimes(d, mtime, mtime).catch(() => undefined);
    }
    // Keyed by the stat after every change (owner, mode, a later hard link): a file the tar
    // overwrote or linked again simply misses and is read.
    for (const [p, d] of hashed) knownDigests.set(statKey(p, await lstat(p, { bigint: true })), d);
    const df = await readDockerfile(staging, opts);
    return { root: staging, matcher: await readIgnore(staging), dockerfile: df.text, dockerfileName: df.name, cleanup: () => rm(staging, { recursive: true, force: true }), knownDigests };
  } catch (e) {
    await rm(staging, { recursive: true, force: true });
    throw e;
  }
}

function safeEntryName(name: string): string {
  if (name.includes('\0')) throw invalidParameter(`context tar entry name contains NUL`);
  const c = cleanPath(name.replace(/^(\.\/)+/, ''));
  if (c.startsWith('/') || c === '..' || c.startsWith('../')) throw invalidParameter(`context tar entry "${name}" is outside the context`);
  return c;
}

export interface ContextEntry {
  /** Path relative to the context root. */
  rel: string;
  type: 'file' | 'directory' | 'symlink' | 'other';
}

/** Whether a string has filepath.Match metacharacters. */
export function hasWildcards(s: string): boolean {
  return /[*?[\\]/.test(s);
}

/** Everything in the context (not ignored) below `rel` (itself included), parents first, names sorted. */
export async function walkContext(ctx: BuildContext, rel = '.'): Promise<ContextEntry[]> {
  const out: ContextEntry[] = [];
  const visit = async (r: string): Promise<void> => {
    const st = await lstat(join(ctx.root, r));
    const type: ContextEntry['type'] = st.isDirectory() ? 'directory' : st.isFile() ? 'file' : st.isSymbolicLink() ? 'symlink' : 'other';
    const ignored = r !== '.' && ctx.matcher.ignores(r);
    if (!ignored) out.push({ rel: r, type });
    if (type === 'directory') {
      if (r !== '.' && ctx.matcher.skipsDirectory(r)) return;
      for (const name of (await readdir(join(ctx.root, r))).sort()) await visit(r === '.' ? name : `${r}/${name}`);
    }
  };
  await visit(rel);
  return out;
}

/**
 * COPY/ADD sources in the context: each cleaned; wildcards matched (as filepath.Match,
 * per path) against what the context holds. Ignored paths do not exist.
 */
export async function resolveContextSources(ctx: BuildContext, sources: string[], kind = 'COPY'): Promise<string[]> {
  const out: string[] = [];
  let all: ContextEntry[] | undefined;
  for (const src of sources) {
    const rel = safeRelative(src);
    if (hasWildcards(rel)) {
      all ??= await walkContext(ctx);
      const re = compilePattern(rel);
      const hits = all.filter((e) => e.rel !== '.' && re.test(e.rel)).map((e) => e.rel);
      if (hits.length === 0) throw notFound(`${kind} failed: no source files were specified`);
      out.push(...hits);
      continue;
    }
    const st = await lstat(join(ctx.root, rel)).catch(() => undefined);
    let present = st !== undefined && (rel === '.' || !ctx.matcher.ignores(rel));
    // An ignored directory still holds what exception patterns bring back.
    if (st?.isDirectory() && !present) present = (await walkContext(ctx, rel)).length > 0;
    if (!present) {
      throw notFound(`${kind} failed: file not found in build context or excluded by .dockerignore: stat ${rel}: file does not exist`);
    }
    out.push(rel);
  }
  return out;
}

/**
 * Digests of file contents by what stat says of the file (path, inode, size, mtime and
 * ctime in nanoseconds): a file whose stat is unchanged is not read again. Any write to
 * a file changes its ctime, so a hit is safe.
 */
export type FileDigestCache = Map<string, string>;

function statKey(path: string, st: import('node:fs').BigIntStats): string {
  return `${path}\0${st.dev}:${st.ino}\0${st.size}\0${st.mtimeNs}\0${st.ctimeNs}`;
}

async function fileDigest(path: string, cache?: FileDigestCache, known?: FileDigestCache): Promise<string> {
  const st = cache || known ? await lstat(path, { bigint: true }) : undefined;
  const key = st ? statKey(path, st) : '';
  const hit = known?.get(key) ?? cache?.get(key);
  if (hit) return hit;
  const h = createHash('sha256');
  for await (const c of createReadStream(path, { highWaterMark: 1 << 20 })) h.update(c as Buffer);
  const d = h.digest('hex');
  if (cache && st) {
    // Only a file that did not change while it was read is remembered.
    const after = await lstat(path, { bigint: true });
    if (statKey(path, after) === key) cache.set(key, d);
  }
  return d;
}

/** A digest of sources' names, types, modes, link targets and contents (the cache key of COPY/ADD). */
export async function hashContextSources(ctx: BuildContext, rels: string[], cache?: FileDigestCache): Promise<string> {
  const h = createHash('sha256');
  for (const src of rels) {
    h.update(`src ${src}\0`);
    for (const e of await walkContext(ctx, src)) {
      const p = join(ctx.root, e.rel);
      const st = await lstat(p);
      h.update(`${e.rel}\0${e.type}\0${st.mode & 0o7777}\0`);
      if (e.type === 'symlink') h.update(`${await readlink(p)}\0`);
      else if (e.type === 'file') h.update(`${st.size}\0${await fileDigest(p, cache, ctx.knownDigests)}\0`);
    }
  }
  return `sha256:${h.digest('hex')}`;
}

/** Writes a file into a context directory (tests, heredocs). */
export async function writeContextFile(root: string, rel: string, data: string | Buffer): Promise<void> {
  const p = join(root, safeRelative(rel));
  await mkdir(posix.dirname(p), { recursive: true });
  await writeFile(p, data);
}
