// `berth build`: the legacy builder's client side, as the docker CLI does it with
// DOCKER_BUILDKIT=0. The context directory is sent as a tar with .dockerignore applied
// (the Dockerfile and .dockerignore always go, the daemon needs them); `-f` is relative to
// the current directory, and a Dockerfile outside the context (or `-f -`) is added under a
// random `.dockerfile.<hex>` name that the sent .dockerignore hides from COPY. The daemon's
// JSON stream is shown as it comes; the image ID comes from its aux message (`-q`,
// `--iidfile`); a failure exits with the error's code (a RUN's exit status) or 1. berthd
// keeps a context directory between builds and is sent only the files that changed
// (client/incremental-build.ts); other daemons get the whole tar.

import { lstat, realpath, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { IncomingMessage } from 'node:http';
import { contextKey, contextTar, scanContext, type ScannedContext } from '../../client/build-context.js';
import { postIncrementalBuild } from '../../client/incremental-build.js';
import { readJsonStream, type JsonMessage } from '../../client/json-stream.js';
import { CliError, type Cli, type CommandDef } from '../cli.js';
import { keyValues } from './common.js';
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
  q.buildargs = JSON.stringify(keyValues(f['build-arg'] as string[], cli.env));
  q.labels = JSON.stringify(keyValues(f.label as string[]));
  const iidfile = f.iidfile as string | undefined;
  if (iidfile) await rm(iidfile, { force: true }).catch((e: Error) => {
    throw new CliError(`Removing image ID file: ${e.message}`, 1);
  });

  let body: NodeJS.ReadableStream | undefined;
  let sent: (() => number) | undefined;
  let scanned: { dir: string; context: ScannedContext } | undefined;
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
    const context = await scanContext(dir, file === '-' ? { text: (await readStdin()).toString() } : { path: dfPath }).catch((e: Error) => {
      throw new CliError(e.message, 1);
    });
    q.dockerfile = context.dockerfile;
    scanned = { dir, context };
  }

  const client = await cli.client();
  let res: IncomingMessage | undefined;
  if (scanned) {
    // berthd keeps the context of this directory between builds and is sent only what changed.
    const r = await postIncrementalBuild(client, scanned.context, contextKey(scanned.dir), q);
    if (r) ({ res, sent } = r);
    else {
      const packed = contextTar(scanned.context);
      body = packed.tar;
      sent = packed.size;
    }
  }
  res ??= await client.stream('POST', '/build', { query: q, raw: body!, headers: { 'Content-Type': 'application/x-tar' } });
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
    const aux = m.aux as { ID?: string; BerthContext?: { filesReceived: number; bytesReceived: number; filesReused: number; bytesReused: number } } | undefined;
    if (aux?.ID) imageId = aux.ID;
    // dockerd 20.10 answers q=1 with the ID as a stream line only, no aux message.
    const idLine = quiet && typeof m.stream === 'string' ? /^(sha256:[0-9a-f]{64})\s*$/.exec(m.stream) : null;
    if (idLine) imageId ??= idLine[1];
    const c = aux?.BerthContext;
    if (c && !quiet) cli.out(`Build context: ${c.filesReceived} file${c.filesReceived === 1 ? '' : 's'} received (${humanSize(c.bytesReceived)}), ${c.filesReused} unchanged kept by the daemon (${humanSize(c.bytesReused)})\n`);
    if (!quiet) display.show(m);
  });
  if (failure) throw new CliError(failure.message, failure.code);
  if (!imageId) throw new CliError('the daemon did not report the image ID', 1);
  if (quiet) cli.out(`${imageId}\n`);
  if (iidfile) await writeFile(iidfile, imageId).catch((e: Error) => {
    throw new CliError(`Cannot write image ID file: ${e.message}`, 1);
  });
}
