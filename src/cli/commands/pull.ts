// pull and push: the JSON progress stream shown per layer, credentials from the config dir.

import type { EngineClient } from '../../client/client.js';
import { CliError, type Cli, type CommandDef } from '../cli.js';
import { encodeAuthHeader, findAuth, fullyQualified, hasTagOrDigest, loadConfig, registryOf } from '../config-file.js';
import { ProgressError, showProgress } from '../output/progress.js';
import { seg } from './common.js';

export const pullDef: CommandDef = {
  usage: 'pull [OPTIONS] NAME[:TAG|@DIGEST]',
  summary: 'Download an image from a registry',
  flags: [
    { name: 'all-tags', short: 'a', type: 'bool', help: 'Download all tagged images in the repository' },
    { name: 'disable-content-trust', type: 'bool', help: 'Skip image verification', default: true },
    { name: 'platform', type: 'string', help: 'Set platform if server is multi-platform capable', value: 'string' },
    { name: 'quiet', short: 'q', type: 'bool', help: 'Suppress verbose output' },
  ],
  minArgs: 1,
  maxArgs: 1,
};

async function authHeader(cli: Cli, ref: string): Promise<Record<string, string>> {
  const cfg = await loadConfig(cli.configDir).catch(() => ({}));
  const auth = findAuth(cfg, registryOf(ref));
  return { 'X-Registry-Auth': encodeAuthHeader(auth ?? {}) };
}

/** Splits "name:tag" / "name@digest" into the create-image query. */
export function splitRef(ref: string): { fromImage: string; tag?: string } {
  const at = ref.indexOf('@');
  if (at >= 0) return { fromImage: ref.slice(0, at), tag: ref.slice(at + 1) };
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  if (colon > slash) return { fromImage: ref.slice(0, colon), tag: ref.slice(colon + 1) };
  return { fromImage: ref };
}

/** Pulls with progress to `write` (stdout for pull, stderr for run); throws the stream's error. */
export async function pullImage(
  cli: Cli,
  client: EngineClient,
  ref: string,
  opts: { quiet?: boolean; platform?: string; allTags?: boolean; toStderr?: boolean } = {},
): Promise<void> {
  const { fromImage, tag } = splitRef(ref);
  const query: Record<string, string> = { fromImage };
  if (tag) query.tag = tag;
  else if (!opts.allTags) query.tag = 'latest';
  if (opts.platform) query.platform = opts.platform;
  const res = await client.stream('POST', '/images/create', { query, headers: await authHeader(cli, ref) });
  const stream = opts.toStderr ? process.stderr : process.stdout;
  try {
    await showProgress(res, (s) => {
      if (!opts.quiet) stream.write(s);
    }, Boolean(stream.isTTY) && !opts.quiet);
  } catch (e) {
    throw e instanceof ProgressError ? new CliError(e.message, 1) : e;
  }
}

export async function pull(cli: Cli, args: string[]): Promise<void> {
  const p = cli.parse(pullDef, args);
  let ref = p.args[0]!;
  if (!hasTagOrDigest(ref) && !p.flags['all-tags']) {
    if (!p.flags.quiet) cli.out('Using default tag: latest\n');
    ref = `${ref}:latest`;
  }
  const client = await cli.client();
  const o: { quiet?: boolean; platform?: string; allTags?: boolean } = { quiet: Boolean(p.flags.quiet), allTags: Boolean(p.flags['all-tags']) };
  if (p.flags.platform) o.platform = p.flags.platform as string;
  try {
    await pullImage(cli, client, ref, o);
  } catch (e) {
    if (e instanceof CliError) throw new CliError(e.message, 1);
    throw e;
  }
  cli.out(`${p.flags['all-tags'] ? fullyQualified(ref).replace(/:[^:/]+$/, '') : fullyQualified(ref)}\n`);
}

export const pushDef: CommandDef = {
  usage: 'push [OPTIONS] NAME[:TAG]',
  summary: 'Upload an image to a registry',
  flags: [
    { name: 'all-tags', short: 'a', type: 'bool', help: 'Push all tags of an image to the repository' },
    { name: 'disable-content-trust', type: 'bool', help: 'Skip image signing', default: true },
    { name: 'platform', type: 'string', help: 'Push a platform-specific manifest as a single-platform image', value: 'string' },
    { name: 'quiet', short: 'q', type: 'bool', help: 'Suppress verbose output' },
  ],
  minArgs: 1,
  maxArgs: 1,
};

export async function push(cli: Cli, args: string[]): Promise<void> {
  const p = cli.parse(pushDef, args);
  const ref = p.args[0]!;
  const { fromImage, tag } = splitRef(ref);
  const client = await cli.client();
  const query: Record<string, string> = {};
  if (tag) query.tag = tag;
  else if (!p.flags['all-tags']) {
    if (!p.flags.quiet) cli.out('Using default tag: latest\n');
    query.tag = 'latest';
  }
  if (p.flags.platform) query.platform = JSON.stringify({ os: 'linux', architecture: String(p.flags.platform).split('/')[1] ?? '' });
  const res = await client.stream('POST', `/images/${fromImage.split('/').map(seg).join('/')}/push`, { query, headers: await authHeader(cli, ref) });
  await showProgress(res, (s) => {
    if (!p.flags.quiet) cli.out(s);
  }, Boolean(process.stdout.isTTY)).catch((e: Error) => {
    throw new CliError(e.message, 1);
  });
  if (p.flags.quiet) cli.out(`${ref}\n`);
}
