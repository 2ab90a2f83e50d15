// The build context as the docker CLI sends it to POST /build: a tar of the context
// directory with the .dockerignore applied (ignored files are never read), streamed.

import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { isAbsolute, join, relative, sep } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { IgnoreMatcher } from '../build/context/dockerignore.js';
import { END_OF_ARCHIVE, encodeHeader, padding } from '../image/layer/tar-writer.js';

interface ContextFile {
  /** Name in the tar. */
  name: string;
  /** Host path, or the data itself. */
  path?: string;
  data?: Buffer;
}

export interface PackedContext {
  tar: Readable;
  /** The Dockerfile's name in the tar (the `dockerfile` query parameter). */
  dockerfile: string;
  /** Bytes of the tar, known once it has been read. */
  size(): number;
}

/**
 * The context tar: every path under `dir` the .dockerignore leaves in (owners 0:0, as the
 * docker CLI sends them; regular files, directories and symbolic links), plus the
 * Dockerfile when it lives elsewhere. `dockerfile` is a host path, or the text of `-f -`.
 */
export async function packContext(dir: string, dockerfile: { path: string } | { text: string }): Promise<PackedContext> {
  const ignoreText = await readFile(join(dir, '.dockerignore'), 'utf8').catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return '';
    throw new Error(`error reading .dockerignore: ${e.message}`);
  });
  let dfName: string;
  const extra: ContextFile[] = [];
  let ignore = ignoreText;
  const inside = 'path' in dockerfile ? relative(dir, dockerfile.path) : '..';
  if ('path' in dockerfile && !inside.startsWith(`..${sep}`) && inside !== '..' && !isAbsolute(inside)) {
    dfName = inside.split(sep).join('/');
  } else {
    dfName = `.dockerfile.${randomBytes(10).toString('hex')}`;
    extra.push('path' in dockerfile ? { name: dfName, path: dockerfile.path } : { name: dfName, data: Buffer.from(dockerfile.text) });
    // COPY . must not see it: the daemon reads the .dockerignore the context carries.
    ignore = `${ignoreText}\n${dfName}\n`;
    extra.push({ name: '.dockerignore', data: Buffer.from(ignore) });
  }
  // The Dockerfile and .dockerignore are sent even when listed (the daemon still ignores them for COPY).
  const matcher = new IgnoreMatcher(`${ignoreText}\n!${dfName}\n!.dockerignore\n`);
  const replaced = new Set(extra.map((e) => e.name));
  let bytes = 0;
  // Large buffers: a context of many MB goes in 1 MiB steps, not the default 16-64 KiB ones.
  const out = new PassThrough({ highWaterMark: 1 << 20 });
  const push = async (chunk: Buffer): Promise<void> => {
    bytes += chunk.length;
    if (!out.write(chunk)) await new Promise((r) => out.once('drain', r));
  };
  const writeFileEntry = async (name: string, st: { mode: number; mtime: Date; size: number }, body: Readable | Buffer): Promise<void> => {
    await push(encodeHeader({ name, type: 'file', mode: st.mode & 0o7777, uid: 0, gid: 0, size: st.size, mtime: st.mtime }));
    if (Buffer.isBuffer(body)) await push(body);
    else {
      let n = 0;
      for await (const c of body) {
        const b = c as Buffer;
        n += b.length;
        if (n > st.size) throw new Error(`${name}: the file grew while it was sent`);
        await push(b);
      }
      if (n !== st.size) throw new Error(`${name}: the file shrank while it was sent`);
    }
    await push(padding(st.size));
  };
  const visit = async (rel: string): Promise<void> => {
    const host = rel === '' ? dir : join(dir, rel);
    const st = await lstat(host);
    if (rel !== '' && !matcher.ignores(rel) && !replaced.has(rel)) {
      const base = { mode: st.mode & 0o7777, uid: 0, gid: 0, mtime: st.mtime };
      if (st.isDirectory()) await push(encodeHeader({ ...base, name: `${rel}/`, type: 'directory' }));
      else if (st.isSymbolicLink()) await push(encodeHeader({ ...base, name: rel, type: 'symlink', linkname: await readlink(host) }));
      else if (st.isFile()) await writeFileEntry(rel, st, createReadStream(host, { highWaterMark: 1 << 20 }));
    }
    if (st.isDirectory() && (rel === '' || !matcher.skipsDirectory(rel))) {
      for (const n of (await readdir(host)).sort()) await visit(rel === '' ? n : `${rel}/${n}`);
    }
  };
  const produce = async (): Promise<void> => {
    await visit('');
    for (const e of extra) {
      const data = e.data ?? (await readFile(e.path!));
      await writeFileEntry(e.name, { mode: 0o644, mtime: new Date(), size: data.length }, data);
    }
    await push(END_OF_ARCHIVE);
    out.end();
  };
  produce().catch((e: unknown) => out.destroy(e as Error));
  return { tar: out, dockerfile: dfName, size: () => bytes };
}
