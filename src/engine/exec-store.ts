// Exec instances on disk, so that an exec started before berthd is killed can still be
// inspected after a restart (dockerd keeps them in memory only and forgets them). One file
// per started exec, <data-root>/containers/<id>/execs/<exec id>.json, written atomically
// (temp file, rename) when the exec starts and when its exit is known; gone with the
// container's directory. Not fsynced: an exec does not outlive a reboot (its runtime dir is
// on the exec root's tmpfs) and a berthd crash keeps the page cache, so a sync would only
// add its milliseconds to every `docker exec`.
// Execs that were created but never started are not written: they cost nothing to make
// again, and health checks (which never start one a client could see) stay off the disk.

import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExecCreateRequest } from '../api/types/exec.js';

export interface StoredExec {
  id: string;
  containerId: string;
  config: ExecCreateRequest;
  running: boolean;
  exitCode: number | null;
  pid: number;
  /** The exec's berth-monitor while it runs (re-adopted after a restart). */
  monitorPid: number;
  /** Its runtime dir under the exec root (exit file, attach socket). */
  dir: string;
}

export class ExecStore {
  constructor(private readonly containersDir: string) {}

  private dir(containerId: string): string {
    return join(this.containersDir, containerId, 'execs');
  }

  async save(e: StoredExec): Promise<void> {
    const dir = this.dir(e.containerId);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const tmp = join(dir, `.${e.id}.${randomBytes(4).toString('hex')}.tmp`);
    try {
      await writeFile(tmp, `${JSON.stringify(e)}\n`, { mode: 0o600, flag: 'wx' });
      await rename(tmp, join(dir, `${e.id}.json`));
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
  }

  /** The container's stored execs; unreadable or torn files are skipped (`onBad` says which). */
  async load(containerId: string, onBad: (file: string, e: unknown) => void = () => undefined): Promise<StoredExec[]> {
    const dir = this.dir(containerId);
    const names = await readdir(dir).catch(() => [] as string[]);
    const out: StoredExec[] = [];
    for (const n of names) {
      if (!/^[0-9a-f]{64}\.json$/.test(n)) continue;
      try {
        const e = JSON.parse(await readFile(join(dir, n), 'utf8')) as StoredExec;
        if (e.id === n.slice(0, 64) && e.containerId === containerId) out.push(e);
      } catch (err) {
        onBad(join(dir, n), err);
      }
    }
    return out;
  }
}
