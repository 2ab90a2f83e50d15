// The build context: a directory (`berth build .`) or a tar stream (what POST /build
// receives, plain or gzip), with .dockerignore applied. A context directory is read in
// place through the ignore matcher (no copy); a tar is stored and indexed with every entry
// name checked (no absolute names, no `..`, nothing below a symlink the tar made), and
// extracted only when a step copies from it (tar-context.ts). Ignored entries are left out.

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, mkdir, readdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { invalidParameter, notFound } from '../../errors.js';
import { cleanPath, compilePattern, IgnoreMatcher } from './dockerignore.js';
import { ContextIndex, extractStoredTar, storeContextTar } from './tar-context.js';

export interface BuildContext {
  /** Directory holding the context's files. */
  root: string;
  matcher: IgnoreMatcher;
  /** The Dockerfile's text and name (its path in the context, or as given). */
  dockerfile: string;
  dockerfileName: string;
  /** Removes what the context staged (nothing for a directory context). */
  cleanup(): Promise<void>;
  /** A context received as a tar: its paths and content digests, read without extracting it. */
  index?: ContextIndex;
  /** Puts the files at `root` (a tar context is extracted on the first call); a directory context is there already. */
  materialize?(): Promise<void>;
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

/**
 * Receives a context tar (plain or gzip) into `staging` (created; removed by cleanup()): the
 * tar is stored and indexed (tar-context.ts), not extracted; materialize() extracts it, once,
 * when a step copies from it.
 */
export async function extractContextTar(input: AsyncIterable<Buffer | Uint8Array>, staging: string, opts: ContextOptions = {}): Promise<BuildContext> {
  await mkdir(staging, { recursive: true });
  const cleanup = (): Promise<void> => rm(staging, { recursive: true, force: true });
  try {
    const dfName = safeRelative(opts.dockerfile ?? 'Dockerfile');
    const tarPath = join(staging, 'context.tar');
    const root = join(staging, 'root');
    // The staging directory was made as extraction makes implied directories: its mode is theirs.
    const dirMode = (await stat(staging)).mode & 0o7777;
    const { index, captured } = await storeContextTar(input, tarPath, new Set([dfName, '.dockerignore']), dirMode);
    let extracted: Promise<void> | undefined;
    const materialize = (): Promise<void> => (extracted ??= extractStoredTar(tarPath, root));
    // A file reached through a symlink or a hard link is not captured: read from the extraction.
    const readIndexed = async (rel: string): Promise<string | undefined> => {
      const r = index.resolve(rel, true);
      if (r === undefined || index.entries.get(r)?.type !== 'file') return undefined;
      const c = captured.get(rel);
      if (c !== undefined && r === rel) return c.toString('utf8');
      await materialize();
      return readFile(join(root, r), 'utf8');
    };
    return await indexedContext({ root, index, cleanup, materialize }, readIndexed, opts);
  } catch (e) {
    await cleanup();
    throw e;
  }
}

/**
 * A context known by its index (a stored tar, or berthd's copy of a client's directory):
 * the Dockerfile (unless given as text) and .dockerignore read through `read` (a file's
 * text, undefined when the path is no file).
 */
export async function indexedContext(parts: Pick<BuildContext, 'root' | 'cleanup' | 'index' | 'materialize'>, read: (rel: string) => Promise<string | undefined>, opts: ContextOptions): Promise<BuildContext> {
  const dockerfile = opts.dockerfileText ?? (await read(safeRelative(opts.dockerfile ?? 'Dockerfile')));
  if (dockerfile === undefined) throw notFound(`Cannot locate specified Dockerfile: ${opts.dockerfile ?? 'Dockerfile'}`);
  const ignore = await read('.dockerignore');
  return { ...parts, matcher: new IgnoreMatcher(ignore ?? []), dockerfile, dockerfileName: posix.basename(opts.dockerfile ?? 'Dockerfile') };
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

/** What a context path is (symlinks on the way followed: inside the context for a tar context). */
async function statContext(ctx: BuildContext, rel: string): Promise<{ type: ContextEntry['type']; mode: number; size: number; linkname: string; digest?: string } | undefined> {
  if (ctx.index) {
    const e = ctx.index.lookup(rel);
    return e && { ...e };
  }
  const p = join(ctx.root, rel);
  const st = await lstat(p).catch(() => undefined);
  if (!st) return undefined;
  const type: ContextEntry['type'] = st.isDirectory() ? 'directory' : st.isFile() ? 'file' : st.isSymbolicLink() ? 'symlink' : 'other';
  return { type, mode: st.mode & 0o7777, size: st.size, linkname: type === 'symlink' ? await readlink(p) : '' };
}

async function listContext(ctx: BuildContext, rel: string): Promise<string[]> {
  if (ctx.index) return ctx.index.children(ctx.index.resolve(rel, true) ?? rel);
  return (await readdir(join(ctx.root, rel))).sort();
}

/** Everything in the context (not ignored) below `rel` (itself included), parents first, names sorted. */
export async function walkContext(ctx: BuildContext, rel = '.'): Promise<ContextEntry[]> {
  const out: ContextEntry[] = [];
  const visit = async (r: string): Promise<void> => {
    const st = await statContext(ctx, r);
    if (!st) throw notFound(`stat ${r}: file does not exist in the build context`);
    const ignored = r !== '.' && ctx.matcher.ignores(r);
    if (!ignored) out.push({ rel: r, type: st.type });
    if (st.type === 'directory') {
      if (r !== '.' && ctx.matcher.skipsDirectory(r)) return;
      for (const name of await listContext(ctx, r)) await visit(r === '.' ? name : `${r}/${name}`);
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
    const st = await statContext(ctx, rel);
    let present = st !== undefined && (rel === '.' || !ctx.matcher.ignores(rel));
    // An ignored directory still holds what exception patterns bring back.
    if (st?.type === 'directory' && !present) present = (await walkContext(ctx, rel)).length > 0;
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

async function fileDigest(path: string, cache?: FileDigestCache): Promise<string> {
  const st = cache ? await lstat(path, { bigint: true }) : undefined;
  const key = st ? statKey(path, st) : '';
  const hit = cache?.get(key);
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
      const st = (await statContext(ctx, e.rel))!;
      h.update(`${e.rel}\0${e.type}\0${st.mode}\0`);
      if (e.type === 'symlink') h.update(`${st.linkname}\0`);
      else if (e.type === 'file') h.update(`${st.size}\0${st.digest ?? (await fileDigest(join(ctx.root, e.rel), cache))}\0`);
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
