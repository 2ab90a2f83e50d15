// Exec instances on disk, so that an exec started before berthd is killed can still be
// inspected after a restart (dockerd keeps them in memory only and forgets them). One file
// per started exec, <data-root>/containers/<id>/execs/<exec id>.json, written atomically
// (temp file, rename) when the exec starts and when its exit is known; gone with the
// container's directory. Not fsynced: an exec does not outlive a reboot (its runtime dir is
// on the exec root's tmpfs) and a berthd crash keeps the page cache, so a sync would only
// add its milliseconds to every `docker exec`.
// Execs that were created but never started are not written: they cost nothing to make
// again, and health checks (which never start one a client could see) stay off the disk.
// The writes are synchronous: two small unsynced writes per exec cost berthd's event loop
// ~0.1 ms that way, against ~0.6 ms of promise and thread-pool round trips (open, write,
// close, rename, mkdir) right when the exec's output and exit come in.

import { randomBytes } from 'node:crypto';
import { mkdirSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
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
  /** Containers whose execs directory is known to exist (made once, gone with the container). */
  private readonly made = new Set<string>();

  constructor(private readonly containersDir: string) {}

  private dir(containerId: string): string {
    return join(this.containersDir, containerId, 'execs');
  }

  async save(e: StoredExec): Promise<void> {
    const dir = this.dir(e.containerId);
    if (!this.made.has(e.containerId)) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      this.made.add(e.containerId);
    }
    const tmp = join(dir, `.${e.id}.${randomBytes(4).toString('hex')}.tmp`);
    try {
      writeFileSync(tmp, `${JSON.stringify(e)}\n`, { mode: 0o600, flag: 'wx' });
      renameSync(tmp, join(dir, `${e.id}.json`));
    } catch (err) {
      // the container's directory removed meanwhile: make it again next time, as before
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') this.made.delete(e.containerId);
      try {
        unlinkSync(tmp);
      } catch {
        // never made
      }
      throw err;
    }
  }

  /** Forgets what it knows of the container's directory (removed with the container). */
  forget(containerId: string): void {
    this.made.delete(containerId);
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
