// Pieces several commands share: --format and --filter flags, filters as the API wants
// them, docker's timestamp arguments (--since 10m, RFC 3339, Unix seconds), prompts,
// short ids, and running one action over many containers with docker's error report.

import { CliError, type Cli } from '../cli.js';
import type { FlagSpec } from '../flags.js';
import { parseDuration } from '../output/units.js';

export function formatFlag(help = 'Format output using a custom template'): FlagSpec {
  return { name: 'format', type: 'string', help, value: 'string' };
}

export function filterFlag(): FlagSpec {
  return { name: 'filter', short: 'f', type: 'list', help: "Filter output based on conditions provided", value: 'filter' };
}

/** The -f/--force of prune commands. */
export function pruneForceFlag(): FlagSpec {
  return { name: 'force', short: 'f', type: 'bool', help: 'Do not prompt for confirmation' };
}

/** ["a=b", "c"] (--label, --opt) → {a: "b", c: ""}. */
export function keyValues(list: string[], env?: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const x of list) {
    const eq = x.indexOf('=');
    if (eq > 0) out[x.slice(0, eq)] = x.slice(eq + 1);
    // With an environment (build args), a bare key takes its value and is left out when unset, as docker does.
    else if (!env) out[x] = '';
    else if (env[x] !== undefined) out[x] = env[x]!;
  }
  return out;
}

/** A list row's `Labels` ("k=v,…", keys sorted) and its `{{.Label "k"}}` method. */
export function withLabels(row: Record<string, unknown>, labels: Record<string, string> | null | undefined): Record<string, unknown> {
  const l = labels ?? {};
  row.Labels = Object.keys(l).sort().map((k) => `${k}=${l[k]}`).join(',');
  Object.defineProperty(row, 'Label', { value: (k: string) => l[k] ?? '', enumerable: false });
  return row;
}

export function byName<T extends { Name: string }>(a: T, b: T): number {
  return a.Name < b.Name ? -1 : a.Name > b.Name ? 1 : 0;
}

/** ["status=running", "label=a=b"] → {"status":{"running":true},"label":{"a=b":true}} (or undefined). */
export function parseFilterArgs(args: string[] | undefined): string | undefined {
  if (!args || args.length === 0) return undefined;
  const m: Record<string, Record<string, boolean>> = {};
  for (const a of args) {
    const eq = a.indexOf('=');
    if (eq <= 0) throw new CliError(`bad format of filter (expected name=value)`, 125);
    const k = a.slice(0, eq).trim().toLowerCase();
    const v = a.slice(eq + 1).trim();
    (m[k] ??= {})[v] = true;
  }
  return JSON.stringify(m);
}

/** docker's GetTimestamp: a duration before now, an RFC 3339 / date string, or Unix seconds as given. */
export function parseTimestamp(value: string, now: number = Date.now()): string {
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return v;
  try {
    const ns = parseDuration(v);
    const t = now * 1e6 - ns;
    return secondsString(t);
  } catch {
    // not a duration
  }
  let d = Date.parse(v);
  if (Number.isNaN(d) && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(v)) d = Date.parse(`${v}Z`);
  if (Number.isNaN(d)) throw new CliError(`invalid value for "since"/"until": ${JSON.stringify(value)} is not a duration, a date or a Unix timestamp`, 125);
  const frac = /\.(\d+)/.exec(v)?.[1];
  const secs = Math.floor(d / 1000);
  return frac ? `${secs}.${frac.padEnd(9, '0').slice(0, 9)}` : String(secs);
}

function secondsString(ns: number): string {
  const secs = Math.floor(ns / 1e9);
  const rem = Math.floor(ns - secs * 1e9);
  return `${secs}.${String(rem).padStart(9, '0')}`;
}

export function shortId(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}

/** prune's prompt, "WARNING! …" then "Are you sure…"; true at once with --force. */
export async function confirmPrune(cli: Cli, force: unknown, warning: string): Promise<boolean> {
  return Boolean(force) || confirm(cli, `${warning}\nAre you sure you want to continue?`);
}

/** Asks on the terminal; a non-interactive stdin answers no. */
export async function confirm(cli: Cli, question: string): Promise<boolean> {
  cli.out(`${question} [y/N] `);
  const answer = await new Promise<string>((resolve) => {
    let buf = '';
    const onData = (c: Buffer): void => {
      buf += c.toString();
      if (buf.includes('\n')) done();
    };
    const done = (): void => {
      process.stdin.off('data', onData);
      process.stdin.off('end', done);
      process.stdin.pause();
      resolve(buf.split('\n')[0] ?? '');
    };
    process.stdin.on('data', onData);
    process.stdin.on('end', done);
  });
  return /^y(es)?$/i.test(answer.trim());
}

/**
 * Runs `action` for each name in turn, printing what `onOk` returns; failures are printed
 * to stderr as docker does ("Error response from daemon: …") and the command ends with 1.
 */
export async function forEach(cli: Cli, names: string[], action: (name: string) => Promise<string | undefined>): Promise<void> {
  const { ApiError } = await import('../../client/errors.js');
  let failed = false;
  for (const n of names) {
    try {
      const out = await action(n);
      if (out !== undefined) cli.out(`${out}\n`);
    } catch (e) {
      failed = true;
      if (e instanceof ApiError) cli.err(`Error response from daemon: ${e.message}\n`);
      else if (e instanceof CliError) cli.err(`${e.message}\n`);
      else throw e;
    }
  }
  if (failed) throw new CliError('', 1);
}

/** `rm` of named objects: DELETE <base>/<name> for each, printing the name as docker does. */
export async function removeEach(cli: Cli, names: string[], base: string, query?: Record<string, boolean>): Promise<void> {
  const client = await cli.client();
  await forEach(cli, names, async (n) => {
    await client.delete(`${base}/${seg(n)}`, query);
    return n;
  });
}

/** The id as a path segment. */
export function seg(s: string): string {
  return encodeURIComponent(s);
}
