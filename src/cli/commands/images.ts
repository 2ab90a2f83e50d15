// images, history, tag, rmi, save, load, import, image prune, search (build: build.ts).

import { createReadStream, existsSync } from 'node:fs';
import type { ImageDeleteItem, ImageHistoryItem, ImagePruneReport, ImageSearchResult, ImageSummary } from '../../api/types/image.js';
import { CliError, type Cli, type CommandDef } from '../cli.js';
import { renderFormat } from '../output/format.js';
import { showProgress } from '../output/progress.js';
import { ellipsis, goTimeString, humanSize, timeAgo } from '../output/units.js';
import { GO_STRUCT } from '../template/values.js';
import { confirmPrune, filterFlag, forEach, formatFlag, parseFilterArgs, pruneForceFlag, seg, shortId } from './common.js';
import { saveTo } from './container-misc.js';
import { splitRef } from './pull.js';

const IMAGES_TABLE = '{{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}';
const IMAGES_DIGEST_TABLE = '{{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}';
const IMAGE_HEADERS = {
  Repository: 'REPOSITORY',
  Tag: 'TAG',
  Digest: 'DIGEST',
  ID: 'IMAGE ID',
  CreatedSince: 'CREATED',
  CreatedAt: 'CREATED AT',
  Size: 'SIZE',
  Containers: 'CONTAINERS',
  SharedSize: 'SHARED SIZE',
  UniqueSize: 'UNIQUE SIZE',
  VirtualSize: 'VIRTUAL SIZE',
};

export const imagesDef: CommandDef = {
  usage: 'images [OPTIONS] [REPOSITORY[:TAG]]',
  summary: 'List images',
  flags: [
    { name: 'all', short: 'a', type: 'bool', help: 'Show all images (default hides intermediate images)' },
    { name: 'digests', type: 'bool', help: 'Show digests' },
    filterFlag(),
    formatFlag(),
    { name: 'no-trunc', type: 'bool', help: "Don't truncate output" },
    { name: 'quiet', short: 'q', type: 'bool', help: 'Only show image IDs' },
    { name: 'tree', type: 'bool', help: 'List multi-platform images as a tree (EXPERIMENTAL)', hidden: true },
  ],
  maxArgs: 1,
};

function splitTag(t: string): [string, string] {
  const slash = t.lastIndexOf('/');
  const colon = t.lastIndexOf(':');
  return colon > slash ? [t.slice(0, colon), t.slice(colon + 1)] : [t, '<none>'];
}

/** Rows of `images`: one per tag (or one <none> row), with docker's fields. */
export function imageRows(images: ImageSummary[], trunc: boolean, digestsShown = false, now: number = Date.now()): Record<string, unknown>[] {
  const rows: Record<string, unknown>[] = [];
  for (const img of images) {
    const tags = (img.RepoTags ?? []).filter((t) => t !== '<none>:<none>');
    const digests = (img.RepoDigests ?? []).filter((d) => d !== '<none>@<none>');
    const base = {
      Containers: img.Containers >= 0 ? String(img.Containers) : 'N/A',
      CreatedAt: goTimeString(new Date(img.Created * 1000)),
      CreatedSince: timeAgo(img.Created * 1000, now),
      ID: trunc ? shortId(img.Id) : img.Id,
      SharedSize: img.SharedSize >= 0 ? humanSize(img.SharedSize, 3) : 'N/A',
      Size: humanSize(img.Size, 3),
      UniqueSize: img.SharedSize >= 0 ? humanSize(img.Size - img.SharedSize, 3) : 'N/A',
      VirtualSize: humanSize(img.Size),
    };
    const digestFor = (repo: string): string => !digestsShown ? '<none>' : digests.find((d) => d.startsWith(`${repo}@`))?.split('@')[1] ?? '<none>';
    const push = (Repository: string, Tag: string, Digest: string): void => {
      const r: Record<string, unknown> = { ...base, Digest, Repository, Tag };
      const ordered: Record<string, unknown> = {};
      for (const k of Object.keys(r).sort()) ordered[k] = r[k];
      Object.defineProperty(ordered, GO_STRUCT, { value: '*formatter.imageContext', enumerable: false });
      rows.push(ordered);
    };
    if (tags.length) for (const t of tags) {
      const [repo, tag] = splitTag(t);
      push(repo, tag, digestFor(repo));
    }
    else if (digests.length) for (const d of digests) push(d.split('@')[0]!, '<none>', d.split('@')[1] ?? '<none>');
    else push('<none>', '<none>', '<none>');
  }
  return rows;
}

export async function images(cli: Cli, args: string[]): Promise<void> {
  const p = cli.parse(imagesDef, args);
  const f = p.flags;
  const q: Record<string, string | boolean> = {};
  if (f.all) q.all = true;
  let filters = parseFilterArgs(f.filter as string[]);
  if (p.args[0]) {
    const m = filters ? (JSON.parse(filters) as Record<string, Record<string, boolean>>) : {};
    (m.reference ??= {})[p.args[0]] = true;
    filters = JSON.stringify(m);
  }
  if (filters) q.filters = filters;
  const client = await cli.client();
  const list = await client.get<ImageSummary[]>('/images/json', q);
  const trunc = !f['no-trunc'];
  if (f.quiet && !f.format) {
    const seen = new Set<string>();
    for (const img of list) {
      const id = trunc ? shortId(img.Id) : img.Id;
      if (seen.has(id)) continue;
      seen.add(id);
      cli.out(`${id}\n`);
    }
    return;
  }
  const format = (f.format as string | undefined) || (f.digests ? `table ${IMAGES_DIGEST_TABLE}` : 'table');
  cli.out(renderFormat(format, imageRows(list, trunc, Boolean(f.digests) || /\.Digest\b/.test(String(f.format ?? ''))), { defaultTable: IMAGES_TABLE, headers: IMAGE_HEADERS }));
}

export const historyDef: CommandDef = {
  usage: 'history [OPTIONS] IMAGE',
  summary: 'Show the history of an image',
  flags: [
    formatFlag(),
    { name: 'human', short: 'H', type: 'bool', help: 'Print sizes and dates in human readable format', default: true },
    { name: 'no-trunc', type: 'bool', help: "Don't truncate output" },
    { name: 'quiet', short: 'q', type: 'bool', help: 'Only show image IDs' },
  ],
  minArgs: 1,
  maxArgs: 1,
};

export async function history(cli: Cli, args: string[]): Promise<void> {
  const p = cli.parse(historyDef, args);
  const client = await cli.client();
  const items = await client.get<ImageHistoryItem[]>(`/images/${p.args[0]!.split('/').map(seg).join('/')}/history`);
  const trunc = !p.flags['no-trunc'];
  const human = p.flags.human !== false;
  if (p.flags.quiet && !p.flags.format) {
    for (const h of items) cli.out(`${h.Id === '<missing>' || !trunc ? h.Id : shortId(h.Id)}\n`);
    return;
  }
  const rows = items.map((h) => {
    const by = (h.CreatedBy ?? '').replace(/\t/g, ' ');
    const r: Record<string, unknown> = {
      Comment: h.Comment ?? '',
      CreatedAt: human ? goTimeString(new Date(h.Created * 1000)) : new Date(h.Created * 1000).toISOString().replace('.000Z', 'Z'),
      CreatedBy: trunc ? ellipsis(by, 45) : by,
      CreatedSince: human ? timeAgo(h.Created * 1000) : new Date(h.Created * 1000).toISOString().replace('.000Z', 'Z'),
      ID: h.Id === '<missing>' || !trunc ? h.Id : shortId(h.Id),
      Size: human ? humanSize(h.Size, 3) : String(h.Size),
    };
    Object.defineProperty(r, GO_STRUCT, { value: '*formatter.historyContext', enumerable: false });
    return r;
  });
  cli.out(
    renderFormat((p.flags.format as string | undefined) || 'table', rows, {
      defaultTable: '{{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}',
      headers: { ID: 'IMAGE', CreatedSince: 'CREATED', CreatedAt: 'CREATED AT', CreatedBy: 'CREATED BY', Size: 'SIZE', Comment: 'COMMENT' },
    }),
  );
}

export const tagDef: CommandDef = { usage: 'tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]', summary: 'Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE', flags: [], minArgs: 2, maxArgs: 2 };

export async function tag(cli: Cli, args: string[]): Promise<void> {
  const p = cli.parse(tagDef, args);
  const [src, target] = p.args as [string, string];
  const { fromImage, tag: t } = splitRef(target);
  const client = await cli.client();
  await client.post(`/images/${src.split('/').map(seg).join('/')}/tag`, { repo: fromImage, tag: t ?? 'latest' });
}

export const rmiDef: CommandDef = {
  usage: 'rmi [OPTIONS] IMAGE [IMAGE...]',
  summary: 'Remove one or more images',
  flags: [
    { name: 'force', short: 'f', type: 'bool', help: 'Force removal of the image' },
    { name: 'no-prune', type: 'bool', help: 'Do not delete untagged parents' },
  ],
  minArgs: 1,
};

export async function rmi(cli: Cli, args: string[]): Promise<void> {
  const p = cli.parse(rmiDef, args);
  const client = await cli.client();
  await forEach(cli, p.args, async (n) => {
    const r = await client.delete<ImageDeleteItem[]>(`/images/${n.split('/').map(seg).join('/')}`, { force: Boolean(p.flags.force), noprune: Boolean(p.flags['no-prune']) });
    return (r ?? []).map((d) => (d.Untagged ? `Untagged: ${d.Untagged}` : `Deleted: ${d.Deleted}`)).join('\n') || undefined;
  });
}

export const saveDef: CommandDef = {
  usage: 'save [OPTIONS] IMAGE [IMAGE...]',
  summary: 'Save one or more images to a tar archive (streamed to STDOUT by default)',
  flags: [
    { name: 'output', short: 'o', type: 'string', help: 'Write to a file, instead of STDOUT', value: 'string' },
    { name: 'platform', type: 'list', help: 'Save only the given platform(s)' },
  ],
  minArgs: 1,
};

export async function save(cli: Cli, args: string[]): Promise<void> {
  const p = cli.parse(saveDef, args);
  if (!p.flags.output && process.stdout.isTTY) throw new CliError('cowardly refusing to save to a terminal. Use the -o flag or redirect', 1);
  const client = await cli.client();
  const res = await client.stream('GET', '/images/get', { query: { names: p.args } });
  await saveTo(cli, res, p.flags.output as string | undefined, 'save');
}

async function showStream(cli: Cli, res: NodeJS.ReadableStream): Promise<void> {
  await showProgress(res, (s) => cli.out(s), Boolean(process.stdout.isTTY)).catch((e: Error) => {
    throw new CliError(e.message, 1);
  });
}

export const loadDef: CommandDef = {
  usage: 'load [OPTIONS]',
  summary: 'Load an image from a tar archive or STDIN',
  flags: [
    { name: 'input', short: 'i', type: 'string', help: 'Read from tar archive file, instead of STDIN', value: 'string' },
    { name: 'platform', type: 'list', help: 'Load only the given platform(s)' },
    { name: 'quiet', short: 'q', type: 'bool', help: 'Suppress the load output' },
  ],
  maxArgs: 0,
};

export async function load(cli: Cli, args: string[]): Promise<void> {
  const p = cli.parse(loadDef, args);
  const input = p.flags.input as string | undefined;
  if (!input && process.stdin.isTTY) throw new CliError('requested load from stdin, but stdin is empty', 1);
  const body = input ? createReadStream(input) : process.stdin;
  const client = await cli.client();
  const quiet = Boolean(p.flags.quiet) || !process.stdout.isTTY;
  const res = await client.stream('POST', '/images/load', { query: { quiet }, raw: body, headers: { 'Content-Type': 'application/x-tar' } });
  await showStream(cli, res);
}

export const importDef: CommandDef = {
  usage: 'import [OPTIONS] file|URL|- [REPOSITORY[:TAG]]',
  summary: 'Import the contents from a tarball to create a filesystem image',
  flags: [
    { name: 'change', short: 'c', type: 'list', help: 'Apply Dockerfile instruction to the created image' },
    { name: 'message', short: 'm', type: 'string', help: 'Set commit message for imported image', value: 'string' },
    { name: 'platform', type: 'string', help: 'Set platform if server is multi-platform capable', value: 'string' },
  ],
  minArgs: 1,
  maxArgs: 2,
};

export async function importImage(cli: Cli, args: string[]): Promise<void> {
  const p = cli.parse(importDef, args);
  const [source, ref] = p.args as [string, string | undefined];
  const q: Record<string, string | string[]> = {};
  let raw: NodeJS.ReadableStream | undefined;
  if (source === '-') {
    q.fromSrc = '-';
    raw = process.stdin;
  } else if (/^https?:\/\//.test(source)) q.fromSrc = source;
  else {
    if (!existsSync(source)) throw new CliError(`open ${source}: no such file or directory`, 1);
    q.fromSrc = '-';
    raw = createReadStream(source);
  }
  if (ref) {
    const { fromImage, tag: t } = splitRef(ref);
    q.repo = fromImage;
    if (t) q.tag = t;
  }
  if (p.flags.message) q.message = p.flags.message as string;
  if ((p.flags.change as string[]).length) q.changes = p.flags.change as string[];
  if (p.flags.platform) q.platform = p.flags.platform as string;
  const client = await cli.client();
  const res = await client.stream('POST', '/images/create', { query: q, ...(raw ? { raw, headers: { 'Content-Type': 'application/x-tar' } } : {}) });
  await showStream(cli, res);
}

export const pruneDef: CommandDef = {
  usage: 'image prune [OPTIONS]',
  summary: 'Remove unused images',
  flags: [
    { name: 'all', short: 'a', type: 'bool', help: 'Remove all unused images, not just dangling ones' },
    filterFlag(),
    pruneForceFlag(),
  ],
  maxArgs: 0,
};

export async function prune(cli: Cli, args: string[]): Promise<void> {
  const p = cli.parse(pruneDef, args);
  const warning = p.flags.all
    ? 'WARNING! This will remove all images without at least one container associated to them.'
    : 'WARNING! This will remove all dangling images.';
  if (!(await confirmPrune(cli, p.flags.force, warning))) return;
  const m = JSON.parse(parseFilterArgs(p.flags.filter as string[]) ?? '{}') as Record<string, Record<string, boolean>>;
  if (p.flags.all) m.dangling = { false: true };
  const client = await cli.client();
  const r = await client.post<ImagePruneReport>('/images/prune', Object.keys(m).length ? { filters: JSON.stringify(m) } : {});
  if (r.ImagesDeleted?.length) {
    cli.out('Deleted Images:\n');
    for (const d of r.ImagesDeleted) cli.out(d.Untagged ? `untagged: ${d.Untagged}\n` : `deleted: ${d.Deleted}\n`);
    cli.out('\n');
  }
  cli.out(`Total reclaimed space: ${humanSize(r.SpaceReclaimed ?? 0)}\n`);
}

export const searchDef: CommandDef = {
  usage: 'search [OPTIONS] TERM',
  summary: 'Search Docker Hub for images',
  flags: [filterFlag(), formatFlag(), { name: 'limit', type: 'int', help: 'Max number of search results' }, { name: 'no-trunc', type: 'bool', help: "Don't truncate output" }],
  minArgs: 1,
  maxArgs: 1,
};

export async function search(cli: Cli, args: string[]): Promise<void> {
  const p = cli.parse(searchDef, args);
  const q: Record<string, string | number> = { term: p.args[0]! };
  if (p.changed.has('limit')) q.limit = p.flags.limit as number;
  const filters = parseFilterArgs(p.flags.filter as string[]);
  if (filters) q.filters = filters;
  const client = await cli.client();
  const results = await client.get<ImageSearchResult[]>('/images/search', q);
  const trunc = !p.flags['no-trunc'];
  const rows = results.map((r) => ({
    Name: r.name,
    Description: trunc ? ellipsis(r.description.replace(/\n/g, ' '), 45) : r.description,
    StarCount: String(r.star_count),
    IsOfficial: r.is_official ? '[OK]' : '',
  }));
  cli.out(
    renderFormat((p.flags.format as string | undefined) || 'table', rows, {
      defaultTable: '{{.Name}}\t{{.Description}}\t{{.StarCount}}\t{{.IsOfficial}}',
      headers: { Name: 'NAME', Description: 'DESCRIPTION', StarCount: 'STARS', IsOfficial: 'OFFICIAL' },
    }),
  );
}
