// Mounting a snapshot's mounts (as the snapshotter describes them) on a directory, and
// finding out whether a directory is a mount point, from /proc/self/mountinfo. mount(2) and
// umount2(2) through the native addon: spawning mount(8) cost 10–25 ms of each create.

import { statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { systemError } from '../../errors.js';
import { nativeAddon } from '../../sys/native.js';
import type { Mount } from '../../image/snapshot/snapshotter.js';

/** mountinfo escapes space, tab, newline and backslash as \ooo octal. */
export function unescapeMountPath(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** The mount points listed in a mountinfo text (field 5 of each line). */
export function mountPoints(mountinfo: string): string[] {
  const out: string[] = [];
  for (const line of mountinfo.split('\n')) {
    const f = line.split(' ');
    if (f.length > 5 && f[4] !== undefined) out.push(unescapeMountPath(f[4]));
  }
  return out;
}

export async function isMountPoint(path: string): Promise<boolean> {
  // Another device than its parent's: a mount point (an overlay rootfs), found without
  // reading the whole mount table (a line per mount of the host). The same device can still
  // be a bind mount (vfs): that the table tells.
  try {
    if (statSync(path).dev !== statSync(dirname(path)).dev) return true;
  } catch {
    /* gone: the table says it is not mounted */
  }
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  return mountPoints(info).includes(path);
}

// <sys/mount.h>
const MS_RDONLY = 0x1;
const MS_REMOUNT = 0x20;
const MS_BIND = 0x1000;
const MS_REC = 0x4000;
const MNT_DETACH = 0x2;

/** Mounts one snapshot mount (overlay, or a bind mount for vfs) on `target`. */
export async function mountSnapshot(mounts: Mount[], target: string): Promise<void> {
  if (mounts.length !== 1) throw systemError(`mount rootfs on ${target}: expected one mount, got ${mounts.length}`);
  const m = mounts[0]!;
  const { mount } = nativeAddon();
  try {
    if (m.type === 'bind') {
      mount(m.source, target, '', MS_BIND | MS_REC);
      if (m.options.includes('ro')) mount('', target, '', MS_REMOUNT | MS_BIND | MS_RDONLY);
    } else {
      const ro = m.options.includes('ro');
      mount(m.source, target, m.type, ro ? MS_RDONLY : 0, m.options.filter((o) => o !== 'ro' && o !== 'rw').join(','));
    }
  } catch (e) {
    throw systemError(`mount ${m.type} rootfs on ${target}: ${(e as Error).message}`, e);
  }
}

/** Unmounts `target` (and what is mounted below it); lazily when it is busy. */
export async function unmountAll(target: string): Promise<void> {
  const { umount2 } = nativeAddon();
  for (let i = 0; i < 16 && (await isMountPoint(target)); i++) {
    try {
      umount2(target);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EINVAL' || code === 'ENOENT') return; // not (or no longer) a mount point
      if (code !== 'EBUSY') throw systemError(`unmount ${target}: ${(e as Error).message}`, e);
      try {
        umount2(target, MNT_DETACH); // detaches the whole tree below it too
      } catch (e2) {
        throw systemError(`unmount ${target}: ${(e2 as Error).message}`, e2);
      }
    }
  }
}
