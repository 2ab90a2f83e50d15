// `berth build`: the legacy builder's client side, as the docker CLI does it with
// DOCKER_BUILDKIT=0. The context directory is sent as a tar with .dockerignore applied
// (the Dockerfile and .dockerignore always go, the daemon needs them); `-f` is relative to
// the current directory, and a Dockerfile outside the context (or `-f -`) is added under a
// random `.dockerfile.<hex>` name that the sent .dockerignore hides from COPY. The daemon's
// JSON stream is shown as it comes; the image ID comes from its aux message (`-q`,
// `--iidfile`); a failure exits with the error's code (a RUN's exit status) or 1.

import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readFile, readlink, realpath, rm, writeFile } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { IgnoreMatcher } from '../../build/context/dockerignore.js';
import { END_OF_ARCHIVE, encodeHeader, padding } from '../../image/layer/tar-writer.js';
import { readJsonStream, type JsonMessage } from '../../client/json-stream.js';
import { CliError, type Cli, type CommandDef } from '../cli.js';
import { ProgressDisplay } from '../output/progress.js';
import { humanSize } from '../output/units.js';

export const buildDef: CommandDef = {
  usage: 'build [OPTIONS] PATH | URL | -',
  summary: 'Build an image from a Dockerfile',
  flags: [
    { name: 'build-arg', type: 'list', help: 'Set build-time variables' },
    { name: 'file', short: 'f', type: 'string', help: "Name of the Dockerfile (Default is 'PATH/Dockerfile')", value: 'string' },
    { name: 'iidfile', type: 'string', help: 'Write the image ID to the file', value: 'string' },
    { name: 'label', type: 'list', help: 'Set metadata for an image' },
    { name: 'network', type: 'string', help: 'Set the networking mode for the RUN instructions during build', value: 'string', default: 'default' },
    { name: 'no-cache', type: 'bool', help: 'Do not use cache when building the image' },
    { name: 'platform', type: 'string', help: 'Set platform if server is multi-platform capable', value: 'string' },
    { name: 'pull', type: 'bool', help: 'Always attempt to pull a newer version of the image' },
    { name: 'quiet', short: 'q', type: 'bool', help: 'Suppress the build output and print image ID on success' },
    { name: 'rm', type: 'bool', help: 'Remove intermediate containers after a successful build', default: true },
    { name: 'tag', short: 't', type: 'list', help: "Name and optionally a tag in the 'name:tag' format" },
    { name: 'target', type: 'string', help: 'Set the target build stage to build', value: 'string' },
  ],
  minArgs: 1,
  maxArgs: 1,
};

/** `k=v` → k: v; a bare `k` takes the environment's value (left out when unset), as docker does. */
function keyValues(items: string[], env: Record<string, string | undefined>, fromEnv: boolean): Record<string, string> {
  const out: Record<string, string> = {};
  for (const a of items) {
    const eq = a.indexOf('=');
    if (eq > 0) out[a.slice(0, eq)] = a.slice(eq + 1);
    else if (!fromEnv) out[a] = '';
    else if (env[a] !== undefined) out[a] = env[a]!;
  }
  return out;
}

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
    throw new CliError(`error reading .dockerignore: ${e.message}`, 1);
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
        if (n > st.size) throw new CliError(`${name}: the file grew while it was sent`, 1);
        await push(b);
      }
      if (n !== st.size) throw new CliError(`${name}: the file shrank while it was sent`, 1);
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

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export async function build(cli: Cli, args: string[]): Promise<void> {
  const p = cli.parse(buildDef, args);
  const ctx = p.args[0]!;
  const f = p.flags;
  const quiet = Boolean(f.quiet);
  const file = f.file as string | undefined;
  const q: Record<string, string | boolean | string[]> = { rm: f.rm !== false, nocache: Boolean(f['no-cache']), pull: Boolean(f.pull), q: quiet };
  if ((f.tag as string[]).length) q.t = f.tag as string[];
  if (f.target) q.target = f.target as string;
  if (f.platform) q.platform = f.platform as string;
  if (f.network && f.network !== 'default') q.networkmode = f.network as string;
  q.buildargs = JSON.stringify(keyValues(f['build-arg'] as string[], cli.env, true));
  q.labels = JSON.stringify(keyValues(f.label as string[], cli.env, false));
  const iidfile = f.iidfile as string | undefined;
  if (iidfile) await rm(iidfile, { force: true }).catch((e: Error) => {
    throw new CliError(`Removing image ID file: ${e.message}`, 1);
  });

  let body: NodeJS.ReadableStream;
  let sent: (() => number) | undefined;
  if (ctx === '-') {
    if (file === '-') throw new CliError('invalid argument: can\'t use stdin for both build context and dockerfile', 1);
    body = process.stdin;
    if (file) q.dockerfile = file;
  } else if (/^(https?:\/\/|git@|git:\/\/|github\.com\/)/.test(ctx)) {
    throw new CliError(`unable to prepare context: remote contexts (${ctx}) are not supported by berth build yet`, 1);
  } else {
    // A context given through a symbolic link is the directory it names, as docker resolves it.
    const dir = await realpath(resolve(ctx)).catch(() => undefined);
    const st = dir !== undefined ? await lstat(dir).catch(() => undefined) : undefined;
    if (!dir || !st) throw new CliError(`unable to prepare context: path "${ctx}" not found`, 1);
    if (!st.isDirectory()) throw new CliError(`unable to prepare context: context must be a directory: ${dir}`, 1);
    const dfPath = file && file !== '-' ? resolve(file) : join(dir, 'Dockerfile');
    if (file !== '-' && !(await lstat(dfPath).catch(() => undefined))) {
      throw new CliError(`unable to prepare context: the Dockerfile (${file ?? join(ctx, 'Dockerfile')}) cannot be empty or missing`, 1);
    }
    const packed = await packContext(dir, file === '-' ? { text: (await readStdin()).toString() } : { path: dfPath });
    q.dockerfile = packed.dockerfile;
    body = packed.tar;
    sent = packed.size;
  }

  const client = await cli.client();
  const res = await client.stream('POST', '/build', { query: q, raw: body, headers: { 'Content-Type': 'application/x-tar' } });
  if (sent && !quiet) cli.out(`Sending build context to Docker daemon  ${humanSize(sent())}\n`);
  const display = new ProgressDisplay((s) => cli.out(s), Boolean(process.stdout.isTTY));
  let imageId: string | undefined;
  let failure: { message: string; code: number } | undefined;
  await readJsonStream<JsonMessage>(res, (m) => {
    if (failure) return;
    if (m.errorDetail || m.error) {
      failure = { message: m.errorDetail?.message ?? m.error ?? 'unknown error', code: m.errorDetail?.code || 1 };
      return;
    }
    const aux = m.aux as { ID?: string } | undefined;
    if (aux?.ID) imageId = aux.ID;
    if (!quiet) display.show(m);
  });
  if (failure) throw new CliError(failure.message, failure.code);
  if (!imageId) throw new CliError('the daemon did not report the image ID', 1);
  if (quiet) cli.out(`${imageId}\n`);
  if (iidfile) await writeFile(iidfile, imageId).catch((e: Error) => {
    throw new CliError(`Cannot write image ID file: ${e.message}`, 1);
  });
}
