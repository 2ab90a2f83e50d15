// Container records: what berthd knows about one container, on disk as
// <data-root>/containers/<id>/config.v2.json (written atomically: temp file, fsync, rename,
// fsync of the directory). The record is the commit point of create: a container directory
// without it is a half-created container, removed at the next start of berthd.

import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { systemError } from '../errors.js';
import { atomicWriteFile, type AtomicWriteOptions } from '../sys/atomic-write.js';
import type { ContainerConfig, HostConfig, NetworkingConfig } from '../api/types/container.js';

export type ContainerStatus = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

export interface HealthLogEntry {
  Start: string;
  End: string;
  ExitCode: number;
  Output: string;
}

export interface HealthState {
  Status: 'starting' | 'healthy' | 'unhealthy' | 'none';
  FailingStreak: number;
  Log: HealthLogEntry[];
}

export interface RecordState {
  status: ContainerStatus;
  pid: number;
  /** The berth-monitor of the current run (0 when none). */
  monitorPid: number;
  exitCode: number;
  error: string;
  oomKilled: boolean;
  /** RFC 3339; "0001-01-01T00:00:00Z" when never. */
  startedAt: string;
  finishedAt: string;
  health?: HealthState;
}

export interface ContainerRecord {
  id: string;
  /** With the leading slash, as Docker keeps it. */
  name: string;
  created: string;
  /** The image ID (sha256:…) and the reference the client gave. */
  image: string;
  imageRef: string;
  /** Config merged with the image's (Env, Cmd, Entrypoint, WorkingDir, User, Labels…). */
  config: ContainerConfig;
  hostConfig: HostConfig;
  networkingConfig: NetworkingConfig;
  path: string;
  args: string[];
  state: RecordState;
  restartCount: number;
  /** Set by stop/kill from a client: restart policies do not bring the container back. */
  manuallyStopped: boolean;
  /** The rootfs path the image service gave (mounted while the container runs). */
  rootfs: string;
  driver: string;
  /** cgroupsPath of the container's cgroup. */
  cgroupsPath: string;
  /** CLONE_NEW* mask of the container's namespaces (what exec joins). */
  namespaces: number;
  /** Warnings given at create (network mode, ignored options). */
  warnings: string[];
  /** Volumes acquired at create (src/engine/volumes.ts), released at remove. */
  volumeMounts?: import('./volumes.js').VolumeMount[];
}

export const ZERO_TIME = '0001-01-01T00:00:00Z';

/** The on-disk layout of one daemon: data root (records, logs) and exec root (runtime files). */
export class ContainerPaths {
  constructor(
    readonly dataRoot: string,
    readonly execRoot: string,
  ) {}

  get containersDir(): string {
    return join(this.dataRoot, 'containers');
  }
  dir(id: string): string {
    return join(this.dataRoot, 'containers', id);
  }
  record(id: string): string {
    return join(this.dir(id), 'config.v2.json');
  }
  log(id: string): string {
    return join(this.dir(id), `${id}-json.log`);
  }
  hosts(id: string): string {
    return join(this.dir(id), 'hosts');
  }
  hostname(id: string): string {
    return join(this.dir(id), 'hostname');
  }
  resolvConf(id: string): string {
    return join(this.dir(id), 'resolv.conf');
  }
  /** Runtime files of the current run: pid, exit, attach socket, console socket. */
  runtime(id: string): string {
    // Short: unix socket paths below it must fit in 108 bytes.
    return join(this.execRoot, 'c', id.slice(0, 16));
  }
  exitFile(id: string): string {
    return join(this.runtime(id), 'exit');
  }
  pidFile(id: string): string {
    return join(this.runtime(id), 'pid');
  }
  attachSocket(id: string): string {
    return join(this.runtime(id), 'attach.sock');
  }
  consoleSocket(id: string): string {
    return join(this.runtime(id), 'console.sock');
  }
  monitorErr(id: string): string {
    return join(this.runtime(id), 'monitor.err');
  }
  execDir(id: string, execId: string): string {
    return join(this.runtime(id), `e-${execId.slice(0, 16)}`);
  }
}

export async function saveRecord(paths: ContainerPaths, rec: ContainerRecord, opts?: AtomicWriteOptions): Promise<void> {
  await mkdir(paths.dir(rec.id), { recursive: true, mode: 0o710 });
  await atomicWriteFile(paths.record(rec.id), JSON.stringify(rec), 0o600, opts);
}

export async function loadRecord(paths: ContainerPaths, id: string): Promise<ContainerRecord | undefined> {
  let text: string;
  try {
    text = await readFile(paths.record(id), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw systemError(`read ${paths.record(id)}: ${(e as Error).message}`, e);
  }
  return JSON.parse(text) as ContainerRecord;
}

/** Every directory under containers/: ids with a record and ids without (half-created). */
export async function scanContainerDirs(paths: ContainerPaths): Promise<{ records: ContainerRecord[]; orphans: string[] }> {
  const records: ContainerRecord[] = [];
  const orphans: string[] = [];
  const names = await readdir(paths.containersDir).catch(() => [] as string[]);
  for (const id of names) {
    if (!/^[0-9a-f]{64}$/.test(id)) continue;
    let rec: ContainerRecord | undefined;
    try {
      rec = await loadRecord(paths, id);
    } catch {
      rec = undefined; // a corrupt record cannot happen with atomic writes; treat as half-created
    }
    if (rec) records.push(rec);
    else orphans.push(id);
  }
  return { records, orphans };
}

export async function removeContainerFiles(paths: ContainerPaths, id: string): Promise<void> {
  await rm(paths.runtime(id), { recursive: true, force: true });
  await rm(paths.dir(id), { recursive: true, force: true, maxRetries: 3 });
}
