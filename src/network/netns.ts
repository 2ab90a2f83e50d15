import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { invalidParameter, systemError } from '../errors.js';

// Network namespaces pinned by a bind mount at <exec-root>/netns/<id>: util-linux's
// `unshare --net=<file>` creates the namespace in a short-lived child and bind-mounts its
// /proc/<pid>/ns/net onto the file, so the namespace lives without any process in it. Host
// tools enter it with `nsenter --net=<file>`; berth-init joins it with setns on the same path.
// (`ip netns add` would pin under /run/netns only, ignoring the exec root.)
//
// A container's mount namespace copies this mount when it is created; runc-style
// pivot_root + detach of the old root drops that copy, so the host's umount frees the netns.

const run = promisify(execFile);

export function netnsDir(execRoot: string): string {
  return join(execRoot, 'netns');
}

export function netnsPath(execRoot: string, id: string): string {
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(id)) throw invalidParameter(`invalid network namespace id ${JSON.stringify(id)}`);
  return join(netnsDir(execRoot), id);
}

/** Whether `path` is a mount point of an nsfs (a pinned namespace). */
export function isPinned(path: string): boolean {
  let info = '';
  try {
    info = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return false;
  }
  const esc = path.replace(/[\\ \t\n]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
  return info.split('\n').some((l) => {
    const f = l.split(' ');
    return f[4] === esc && l.includes(' - nsfs ');
  });
}

/** Creates a new network namespace pinned at <exec-root>/netns/<id>, with lo up. */
export async function createNetns(execRoot: string, id: string): Promise<string> {
  const path = netnsPath(execRoot, id);
  await mkdir(netnsDir(execRoot), { recursive: true, mode: 0o755 });
  if (isPinned(path)) throw invalidParameter(`network namespace ${path} already exists`);
  const fh = await open(path, 'w', 0o444);
  await fh.close();
  try {
    // unshare runs its command in the new namespace: lo comes up in the same exec.
    await run('unshare', [`--net=${path}`, 'ip', 'link', 'set', 'dev', 'lo', 'up']);
  } catch (e) {
    await deleteNetns(path).catch(() => undefined);
    throw systemError(`create network namespace ${path}: ${String((e as { stderr?: string }).stderr ?? e).trim()}`, e);
  }
  return path;
}

/** Unpins (umount) and unlinks; a namespace already gone is not an error. */
export async function deleteNetns(path: string): Promise<void> {
  if (isPinned(path)) {
    try {
      await run('umount', [path]);
    } catch (e) {
      // Busy (someone bound over it) or raced: detach it, the namespace goes with its last user.
      try {
        await run('umount', ['--lazy', path]);
      } catch {
        throw systemError(`unmount network namespace ${path}: ${String((e as { stderr?: string }).stderr ?? e).trim()}`, e);
      }
    }
  }
  await unlink(path).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'ENOENT') throw systemError(`remove ${path}`, e);
  });
}
