// The list of paths a client's context directory holds, as `berth build` sends it to
// berthd before the context itself (POST /_berth/build/context, docs/build.md): what each
// path is and what lstat says of it. berthd keeps the last list per context key with the
// content digests it received, and a file whose entry is unchanged is not sent again.
//
// "Unchanged" is decided as BuildKit's fsutil does (type, mode, size, mtime in ns, link
// target) and more: the inode, the device and the ctime in ns too. Any write to a file
// moves its ctime, which user space cannot set back (utimes sets mtime, not ctime), so a
// file rewritten with the same size and its old mtime is still seen as changed.

import { invalidParameter } from '../../errors.js';

/** The first entry of an incremental context tar (POST /build?berthcontext=KEY): the manifest (`{"entries": [...]}`); the files the daemon asked for follow. */
export const MANIFEST_ENTRY = '.berth-context-manifest.json';

export interface ManifestEntry {
  /** Path in the context (no leading `./`, `/`-separated). */
  path: string;
  type: 'file' | 'directory' | 'symlink';
  /** Permission bits (07777). */
  mode: number;
  size: number;
  /** lstat's times in nanoseconds, inode and device, as decimal strings (they exceed 2^53). */
  mtime: string;
  ctime: string;
  ino: string;
  dev: string;
  /** A symlink's target. */
  linkname: string;
}

const DIGITS = /^\d{1,30}$/;

/** Same path, same content as far as lstat can tell (inode 0: a file the client makes up, never the same). */
export function sameFile(a: ManifestEntry, b: ManifestEntry): boolean {
  return a.ino !== '0' && a.type === b.type && a.mode === b.mode && a.size === b.size && a.mtime === b.mtime && a.ctime === b.ctime && a.ino === b.ino && a.dev === b.dev && a.linkname === b.linkname;
}

/** A manifest as JSON (`{"entries": [...]}`), each field checked; errors name the entry and field. */
export function parseManifest(v: unknown): ManifestEntry[] {
  const list = (v as { entries?: unknown } | null)?.entries;
  if (!Array.isArray(list)) throw invalidParameter('build context manifest: "entries" must be an array');
  const seen = new Set<string>();
  return list.map((raw, i) => {
    const e = raw as Record<string, unknown>;
    const bad = (field: string, want: string): never => {
      throw invalidParameter(`build context manifest: entries[${i}].${field} must be ${want}`);
    };
    if (!e || typeof e !== 'object') bad('', 'an object');
    if (typeof e.path !== 'string' || e.path === '' || e.path.includes('\0')) bad('path', 'a non-empty string');
    if (seen.has(e.path as string)) bad('path', `unique (${JSON.stringify(e.path)} is listed twice)`);
    seen.add(e.path as string);
    if (e.type !== 'file' && e.type !== 'directory' && e.type !== 'symlink') bad('type', '"file", "directory" or "symlink"');
    if (!Number.isInteger(e.mode) || (e.mode as number) < 0 || (e.mode as number) > 0o7777) bad('mode', 'an integer from 0 to 07777');
    if (!Number.isSafeInteger(e.size) || (e.size as number) < 0) bad('size', 'a non-negative integer');
    for (const f of ['mtime', 'ctime', 'ino', 'dev'] as const) if (typeof e[f] !== 'string' || !DIGITS.test(e[f] as string)) bad(f, 'a string of decimal digits');
    if (typeof e.linkname !== 'string') bad('linkname', 'a string');
    if (e.type === 'symlink' && e.linkname === '') bad('linkname', 'the target of the symlink');
    return { path: e.path, type: e.type, mode: e.mode, size: e.size, mtime: e.mtime, ctime: e.ctime, ino: e.ino, dev: e.dev, linkname: e.linkname } as ManifestEntry;
  });
}
