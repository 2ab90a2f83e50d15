// Exec instances on disk, so that an exec started before berthd is killed can still be
// inspected after a restart (dockerd keeps them in memory only and forgets them). One file
// per started exec, <data-root>/containers/<id>/execs/<exec id>.json, written atomically
// when the exec starts and when its exit is known; gone with the container's directory.
// Execs that were created but never started are not written: they cost nothing to make
// again, and health checks (which never start one a client could see) stay off the disk.

import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExecCreateRequest } from '../api/types/exec.js';
import { atomicWriteFile } from '../sys/atomic-write.js';

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
    await atomicWriteFile(join(this.dir(e.containerId), `${e.id}.json`), `${JSON.stringify(e)}\n`, 0o600);
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
