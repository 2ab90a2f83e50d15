// Paths inside a container's root filesystem, resolved from the host as the container would
// resolve them: `..` never climbs above the root, and a symlink is followed *inside* the
// root (an absolute target starts again at the root, a relative one from the link's
// directory), as moby's FollowSymlinkInScope does. So `docker cp` of `/etc/../../x` or of a
// link to `/` can never reach the host's files. PathScope adds the container's bind mounts
// and volumes on top of the root, resolved the same way (docker cp through mounts).

import { lstatSync, readlinkSync, realpathSync } from 'node:fs';
import { join, posix } from 'node:path';
import { invalidParameter } from '../errors.js';

/** The most links followed in one resolution (Linux's limit is 40; moby allows 255). */
export const MAX_SYMLINKS = 255;

function components(p: string): string[] {
  return p.split('/').filter((c) => c !== '' && c !== '.');
}

/** A bind mount as a container sees it: what is at `destination` is `source` on the host. */
export interface ScopeMount {
  destination: string;
  source: string;
  readOnly: boolean;
}

/**
 * A container's filesystem seen from the host: its rootfs and the bind mounts (binds and
 * volumes) on top, as the container sees them. Paths are resolved component by component on
 * container paths and only then mapped to the host (the deepest mount holding the path, or
 * the rootfs), so `..` at a mount's root goes to the container directory above it (as in the
 * kernel) and a symlink inside a mount's source is followed in the container (an absolute
 * target starts again at the container's root): nothing leads out of the rootfs or a source.
 */
export class PathScope {
  private readonly mounts: ScopeMount[] = [];

  /** `mounts` in the order they are mounted: each destination is resolved over those before it. */
  constructor(
    readonly root: string,
    mounts: readonly ScopeMount[] = [],
  ) {
    for (const m of mounts) {
      // The source is the administrator's host path, resolved by the kernel at mount time.
      let source = m.source;
      try {
        source = realpathSync(m.source);
      } catch {
        // gone since: lstat below reports what is missing
      }
      this.mounts.push({ destination: this.resolve(m.destination), source, readOnly: m.readOnly });
    }
  }

  /** The mount holding a resolved container path (the last of equal depth shadows), or undefined for the rootfs. */
  mountOf(cpath: string): ScopeMount | undefined {
    let best: ScopeMount | undefined;
    for (const m of this.mounts) {
      const d = m.destination;
      if (cpath === d || cpath.startsWith(d === '/' ? '/' : `${d}/`)) {
        if (!best || d.length >= best.destination.length) best = m;
      }
    }
    return best;
  }

  /** The host path of a resolved container path (from resolve()). */
  hostOf(cpath: string): string {
    const m = this.mountOf(cpath);
    if (!m) return cpath === '/' ? this.root : join(this.root, cpath);
    const rest = cpath.slice(m.destination.length);
    return rest === '' || rest === '/' ? m.source : join(m.source, rest);
  }

  /** Whether writing at a resolved container path is refused: a read-only mount holds it. */
  readOnlyAt(cpath: string): boolean {
    return this.mountOf(cpath)?.readOnly === true;
  }

  /**
   * `path` (absolute or relative to /) resolved in the container: every symlink on the way
   * followed in scope, the last component too unless `followFinal` is false (then a symlink
   * there stays the link). Components that do not exist are kept (a destination to be made).
   * The result is a clean absolute container path.
   */
  resolve(path: string, followFinal = true): string {
    const queue = components(path);
    const done: string[] = [];
    let links = 0;
    while (queue.length > 0) {
      const c = queue.shift()!;
      if (c === '..') {
        done.pop();
        continue;
      }
      const host = this.hostOf(`/${[...done, c].join('/')}`);
      const st = lstatSync(host, { throwIfNoEntry: false });
      if (st?.isSymbolicLink() && (queue.length > 0 || followFinal)) {
        if (++links > MAX_SYMLINKS) throw invalidParameter(`too many levels of symbolic links resolving ${path}`);
        const target = readlinkSync(host);
        if (target.startsWith('/')) done.length = 0;
        queue.unshift(...components(target));
        continue;
      }
      done.push(c);
    }
    return `/${done.join('/')}`;
  }

  /** resolve() mapped to the host. */
  resolveHost(path: string, followFinal = true): string {
    return this.hostOf(this.resolve(path, followFinal));
  }
}

/**
 * The host path of `path` (absolute or relative to /, in the container) inside `root`.
 * Every symlink on the way is followed in scope; the last component too unless
 * `followFinal` is false (then a symlink there is returned as the link itself).
 * Components that do not exist are kept as they are (a destination to be created).
 */
export function resolveInScope(root: string, path: string, followFinal = true): string {
  return new PathScope(root).resolveHost(path, followFinal);
}

/** `path` made absolute, keeping a trailing `/` or `/.` (they mean "the directory's contents"). */
export function absContainerPath(path: string): string {
  const clean = posix.join('/', path).replace(/(.)\/+$/, '$1');
  if (path.endsWith('/.') || path === '.') return clean === '/' ? '/.' : `${clean}/.`;
  if (path.endsWith('/') && clean !== '/') return `${clean}/`;
  return clean;
}

/**
 * moby's ResolvePath: the directory part resolved in scope (symlinks followed), the last
 * component appended as it is (so a symlink there is the link itself). `resolved` is the
 * host path, `cpath` the container path it stands for.
 */
export function resolvePath(scope: string | PathScope, path: string): { absPath: string; resolved: string; cpath: string } {
  const sc = typeof scope === 'string' ? new PathScope(scope) : scope;
  const absPath = absContainerPath(path);
  const slash = absPath.lastIndexOf('/');
  const dir = absPath.slice(0, slash + 1);
  const base = absPath.slice(slash + 1);
  const resolvedDir = sc.resolve(dir);
  const cpath = base === '' || base === '.' ? resolvedDir : posix.join(resolvedDir, base);
  return { absPath, resolved: sc.hostOf(cpath), cpath };
}
