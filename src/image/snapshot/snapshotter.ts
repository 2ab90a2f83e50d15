import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, readFile, rm, lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { conflict, invalidParameter, notFound, systemError } from '../../errors.js';
import { atomicWriteFile } from '../../sys/atomic-write.js';
import { Mutex } from '../../sys/mutex.js';
import { syncFilesystem } from '../../sys/sync-fs.js';

// Snapshots, as containerd's snapshotters model them: a committed snapshot is an
// immutable layer; an active one is writable (a container's rootfs or a layer being
// unpacked) on top of a committed parent; a view is a read-only active one.
//   <root>/snapshots/metadata.json   name → record (written atomically)
//   <root>/snapshots/<id>/fs          the snapshot's own files (overlay: its upper dir)
//   <root>/snapshots/<id>/work        overlay work dir of an active snapshot
// The snapshotter only describes mounts; mounting them is the caller's business. Commit
// flushes the filesystem (one syncfs) before recording the snapshot as committed, unless the
// caller can make the files again from a durable source (a pull: the layer blob is fsynced
// in the content store) and asks for `durable: false`: the record is then marked with this
// boot's id until flush() has synced it. A mark left from an earlier boot means the files may
// be lost or torn; unflushed() lists it as stale and redoDir()/redone() let the caller apply
// the layer again (image/unpack.ts: recoverUnflushed).
// The metadata is read once, at the first call, and kept in memory: this process is its
// only writer (one snapshotter per data root), and every change is written to disk before
// it replaces the in-memory copy, so what a call answers is always what the file holds.

const run = promisify(execFile);

export type SnapshotKind = 'committed' | 'active' | 'view';

export interface SnapshotInfo {
  name: string;
  parent: string | undefined;
  kind: SnapshotKind;
  created: string;
  labels: Record<string, string>;
}

export interface Mount {
  type: 'overlay' | 'bind';
  source: string;
  options: string[];
}

export interface Usage {
  size: number;
  inodes: number;
}

export interface CommitOptions {
  /**
   * false: record the snapshot before its files are known to be on disk (overlay only; vfs
   * snapshots are copied by their children, so they are always synced). flush() syncs later.
   */
  durable?: boolean;
}

/** A committed snapshot whose files have not been synced since it was made. */
export interface UnflushedSnapshot {
  name: string;
  labels: Record<string, string>;
  /** Made before this boot: its files may be lost or torn, and must be made again. */
  stale: boolean;
}

export interface Snapshotter {
  readonly driver: 'overlay' | 'vfs';
  /** A writable snapshot on top of `parent` (a committed snapshot). */
  prepare(key: string, parent?: string, labels?: Record<string, string>): Promise<Mount[]>;
  /** A read-only snapshot of `parent`. */
  view(key: string, parent?: string, labels?: Record<string, string>): Promise<Mount[]>;
  /** Makes active snapshot `key` the committed snapshot `name`. */
  commit(name: string, key: string, labels?: Record<string, string>, opts?: CommitOptions): Promise<void>;
  /** Syncs the snapshots committed with `durable: false` in this boot, and records them as synced. */
  flush(): Promise<void>;
  unflushed(): Promise<UnflushedSnapshot[]>;
  /** Empties a stale committed snapshot's files so that they can be made again; their dir. */
  redoDir(name: string): Promise<string>;
  /** The files of `name` made again in this boot: flush() may now record them as synced. */
  redone(name: string): Promise<void>;
  /** Removes a snapshot that has no children. */
  remove(key: string): Promise<void>;
  mounts(key: string): Promise<Mount[]>;
  stat(key: string): Promise<SnapshotInfo>;
  list(): Promise<SnapshotInfo[]>;
  /** Disk used by the snapshot's own files (not its parents'). */
  usage(key: string): Promise<Usage>;
  /** The directory a layer is applied into for an active snapshot (overlay: the upper dir). */
  applyDir(key: string): Promise<string>;
}

interface Record_ extends SnapshotInfo {
  id: string;
  /** The boot id of the commit when its files were not synced (CommitOptions.durable false). */
  unflushed?: string;
}

let bootIdCache: string | undefined;
/** This boot's id: a mark with another one was made before the machine last started. */
function bootId(): string {
  bootIdCache ??= readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  return bootIdCache;
}

interface MetadataFile {
  version: 1;
  snapshots: Record<string, Record_>;
}

function validKey(key: string): void {
  if (!key || key.length > 1024 || key.includes('\0')) throw invalidParameter(`invalid snapshot key "${key}"`);
}

export abstract class BaseSnapshotter implements Snapshotter {
  abstract readonly driver: 'overlay' | 'vfs';
  readonly root: string;
  private readonly metaPath: string;
  /** Serialises metadata changes in this process. */
  private readonly lock = new Mutex();
  /** The metadata as on disk (never changed in place: a change is saved, then swapped in). */
  private meta: MetadataFile | undefined;

  constructor(dataRoot: string) {
    this.root = join(dataRoot, 'snapshots');
    this.metaPath = join(this.root, 'metadata.json');
  }

  protected fsDir(id: string): string {
    return join(this.root, id, 'fs');
  }

  protected workDir(id: string): string {
    return join(this.root, id, 'work');
  }

  private async load(): Promise<MetadataFile> {
    try {
      return JSON.parse(await readFile(this.metaPath, 'utf8')) as MetadataFile;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, snapshots: {} };
      throw systemError(`read ${this.metaPath}`, e);
    }
  }

  /** Writes the metadata with `changes` applied (undefined: removed), then makes it current. */
  private async save(changes: Record<string, Record_ | undefined>): Promise<void> {
    const snapshots = { ...this.meta!.snapshots };
    for (const [key, rec] of Object.entries(changes)) {
      if (rec) snapshots[key] = rec;
      else delete snapshots[key];
    }
    const next: MetadataFile = { version: 1, snapshots };
    await atomicWriteFile(this.metaPath, JSON.stringify(next));
    this.meta = next;
  }

  protected exclusive<T>(fn: (meta: MetadataFile) => Promise<T>): Promise<T> {
    return this.lock.run(async () => fn((this.meta ??= await this.load())));
  }

  private get(meta: MetadataFile, key: string): Record_ {
    const r = meta.snapshots[key];
    if (!r) throw notFound(`snapshot "${key}" does not exist`);
    return r;
  }

  /** Record chain from `key` up: [key, parent, grandparent…]. */
  protected chain(meta: MetadataFile, key: string): Record_[] {
    const out: Record_[] = [];
    let r: Record_ | undefined = this.get(meta, key);
    while (r) {
      out.push(r);
      r = r.parent !== undefined ? meta.snapshots[r.parent] : undefined;
    }
    return out;
  }

  /** Fills a new snapshot's fs dir (vfs copies its parent). */
  protected abstract populate(fsDir: string, parentChain: string[]): Promise<void>;
  protected abstract mountsFor(rec: Record_, parentFsDirs: string[]): Mount[];

  private create(kind: 'active' | 'view', key: string, parent: string | undefined, labels: Record<string, string>): Promise<Mount[]> {
    validKey(key);
    return this.exclusive(async (meta) => {
      if (meta.snapshots[key]) throw conflict(`snapshot "${key}" already exists`);
      let parentDirs: string[] = [];
      if (parent !== undefined) {
        const p = this.get(meta, parent);
        if (p.kind !== 'committed') throw invalidParameter(`parent snapshot "${parent}" is not committed`);
        parentDirs = this.chain(meta, parent).map((r) => this.fsDir(r.id));
      }
      const id = `${Date.now().toString(36)}-${randomBytes(6).toString('hex')}`;
      try {
        await mkdir(this.fsDir(id), { recursive: true, mode: 0o755 });
        if (kind === 'active' && this.driver === 'overlay') await mkdir(this.workDir(id), { recursive: true });
        await this.populate(this.fsDir(id), parentDirs);
      } catch (e) {
        await rm(join(this.root, id), { recursive: true, force: true });
        throw e;
      }
      const rec: Record_ = { id, name: key, parent, kind, created: new Date().toISOString(), labels };
      await this.save({ [key]: rec }); // failing, it leaves an orphan dir: cleanup() takes it
      return this.mountsFor(rec, parentDirs);
    });
  }

  prepare(key: string, parent?: string, labels: Record<string, string> = {}): Promise<Mount[]> {
    return this.create('active', key, parent, labels);
  }

  view(key: string, parent?: string, labels: Record<string, string> = {}): Promise<Mount[]> {
    return this.create('view', key, parent, labels);
  }

  async commit(name: string, key: string, labels?: Record<string, string>, opts: CommitOptions = {}): Promise<void> {
    validKey(name);
    const deferred = opts.durable === false && this.driver === 'overlay';
    // The files reach the disk before the record says "committed" (as containerd's
    // sync_fs option does it): a crash never leaves a committed layer with empty files.
    // Outside the lock: flushing a big layer must not hold up other snapshot calls.
    const id = await this.exclusive(async (meta) => this.get(meta, key).id);
    if (!deferred) await syncFilesystem(this.fsDir(id));
    return this.exclusive(async (meta) => {
      const r = this.get(meta, key);
      if (r.kind !== 'active') throw invalidParameter(`snapshot "${key}" is not active (it is ${r.kind})`);
      if (meta.snapshots[name]) throw conflict(`snapshot "${name}" already exists`);
      await rm(this.workDir(r.id), { recursive: true, force: true });
      const committed: Record_ = { ...r, name, kind: 'committed', labels: labels ?? r.labels, created: new Date().toISOString() };
      if (deferred) committed.unflushed = bootId();
      await this.save({ [key]: undefined, [name]: committed });
    });
  }

  async flush(): Promise<void> {
    const boot = bootId();
    const pending = await this.exclusive(async (meta) => Object.values(meta.snapshots).filter((r) => r.unflushed === boot).map((r) => r.name));
    if (pending.length === 0) return;
    await syncFilesystem(this.root);
    await this.exclusive(async (meta) => {
      const changes: Record<string, Record_> = {};
      for (const name of pending) {
        const r = meta.snapshots[name];
        if (r?.unflushed !== boot) continue;
        const { unflushed: _u, ...synced } = r;
        changes[name] = synced;
      }
      if (Object.keys(changes).length > 0) await this.save(changes);
    });
  }

  async unflushed(): Promise<UnflushedSnapshot[]> {
    const boot = bootId();
    return this.exclusive(async (meta) =>
      Object.values(meta.snapshots)
        .filter((r) => r.kind === 'committed' && r.unflushed !== undefined)
        .map((r) => ({ name: r.name, labels: r.labels, stale: r.unflushed !== boot })),
    );
  }

  async redoDir(name: string): Promise<string> {
    return this.exclusive(async (meta) => {
      const r = this.get(meta, name);
      if (r.kind !== 'committed' || r.unflushed === undefined || r.unflushed === bootId()) throw invalidParameter(`snapshot "${name}" is not a stale unflushed snapshot`);
      const dir = this.fsDir(r.id);
      await rm(dir, { recursive: true, force: true });
      await mkdir(dir, { recursive: true, mode: 0o755 });
      return dir;
    });
  }

  async redone(name: string): Promise<void> {
    return this.exclusive(async (meta) => {
      const r = this.get(meta, name);
      if (r.unflushed === undefined) return;
      await this.save({ [name]: { ...r, unflushed: bootId() } });
    });
  }

  remove(key: string): Promise<void> {
    return this.exclusive(async (meta) => {
      const r = this.get(meta, key);
      const child = Object.values(meta.snapshots).find((s) => s.parent === key);
      if (child) throw conflict(`snapshot "${key}" has a child "${child.name}"`);
      // Forget first, then delete: a crash between leaves an orphan dir, never a dangling record.
      await this.save({ [key]: undefined });
      await rm(join(this.root, r.id), { recursive: true, force: true });
    });
  }

  mounts(key: string): Promise<Mount[]> {
    return this.exclusive(async (meta) => {
      const chain = this.chain(meta, key);
      return this.mountsFor(chain[0]!, chain.slice(1).map((r) => this.fsDir(r.id)));
    });
  }

  async stat(key: string): Promise<SnapshotInfo> {
    return this.exclusive(async (meta) => {
      const { id: _id, unflushed: _u, ...info } = this.get(meta, key);
      return info;
    });
  }

  async list(): Promise<SnapshotInfo[]> {
    return this.exclusive(async (meta) => Object.values(meta.snapshots).map(({ id: _id, unflushed: _u, ...info }) => info));
  }

  async usage(key: string): Promise<Usage> {
    const id = await this.exclusive(async (meta) => this.get(meta, key).id);
    let size = 0;
    let inodes = 0;
    const seen = new Set<number>();
    const walk = async (dir: string): Promise<void> => {
      for (const name of await readdir(dir)) {
        const p = join(dir, name);
        const st = await lstat(p);
        if (seen.has(st.ino)) continue;
        seen.add(st.ino);
        inodes++;
        size += st.blocks * 512;
        if (st.isDirectory()) await walk(p);
      }
    };
    await walk(this.fsDir(id));
    return { size, inodes };
  }

  async applyDir(key: string): Promise<string> {
    return this.exclusive(async (meta) => {
      const r = this.get(meta, key);
      if (r.kind !== 'active') throw invalidParameter(`snapshot "${key}" is not active`);
      return this.fsDir(r.id);
    });
  }

  /** Snapshot dirs on disk that no record names (left by a crash); removed. */
  async cleanup(): Promise<string[]> {
    return this.exclusive(async (meta) => {
      const known = new Set(Object.values(meta.snapshots).map((r) => r.id));
      const removed: string[] = [];
      for (const name of await readdir(this.root).catch(() => [] as string[])) {
        if (name === 'metadata.json' || name.startsWith('.') || known.has(name)) continue;
        await rm(join(this.root, name), { recursive: true, force: true });
        removed.push(name);
      }
      return removed;
    });
  }
}

/** overlayfs: each snapshot's fs dir is a layer; active ones are upper dirs. */
export class OverlaySnapshotter extends BaseSnapshotter {
  readonly driver = 'overlay' as const;

  protected async populate(): Promise<void> {
    /* nothing: the parents are lower dirs */
  }

  protected mountsFor(rec: Record_, parents: string[]): Mount[] {
    const fs = this.fsDir(rec.id);
    if (parents.length === 0) {
      return [{ type: 'bind', source: fs, options: [rec.kind === 'view' ? 'ro' : 'rw', 'rbind'] }];
    }
    if (rec.kind === 'view') {
      if (parents.length === 1) return [{ type: 'bind', source: parents[0]!, options: ['ro', 'rbind'] }];
      return [{ type: 'overlay', source: 'overlay', options: [`lowerdir=${parents.join(':')}`] }];
    }
    if (rec.kind === 'committed') {
      return [{ type: 'overlay', source: 'overlay', options: [`lowerdir=${[fs, ...parents].join(':')}`] }];
    }
    return [{ type: 'overlay', source: 'overlay', options: ['index=off', `workdir=${this.workDir(rec.id)}`, `upperdir=${fs}`, `lowerdir=${parents.join(':')}`] }];
  }
}

/** vfs: every snapshot is a full copy of its parent. Slow and big, but works anywhere. */
export class VfsSnapshotter extends BaseSnapshotter {
  readonly driver = 'vfs' as const;

  protected async populate(fsDir: string, parents: string[]): Promise<void> {
    if (parents.length === 0) return;
    try {
      // cp -a keeps owners, modes, times, hard links, devices and xattrs.
      await run('cp', ['-a', '--reflink=auto', `${parents[0]}/.`, `${fsDir}/`]);
    } catch (e) {
      throw systemError(`copy snapshot ${parents[0]}: ${((e as { stderr?: string }).stderr ?? '').trim()}`, e);
    }
  }

  protected mountsFor(rec: Record_): Mount[] {
    return [{ type: 'bind', source: this.fsDir(rec.id), options: [rec.kind === 'active' ? 'rw' : 'ro', 'rbind'] }];
  }
}

/** True when this kernel mounts overlayfs here (tried in a scratch dir under `dir`). */
export async function overlaySupported(dir: string): Promise<boolean> {
  const base = join(dir, `.overlay-check-${randomBytes(4).toString('hex')}`);
  try {
    for (const d of ['lower', 'upper', 'work', 'merged']) await mkdir(join(base, d), { recursive: true });
    await run('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${join(base, 'lower')},upperdir=${join(base, 'upper')},workdir=${join(base, 'work')}`, join(base, 'merged')]);
    await run('umount', [join(base, 'merged')]);
    return true;
  } catch {
    return false;
  } finally {
    await rm(base, { recursive: true, force: true });
  }
}

/** Overlay where the kernel supports it on the data root, vfs otherwise. */
export async function defaultSnapshotter(dataRoot: string): Promise<Snapshotter> {
  await mkdir(join(dataRoot, 'snapshots'), { recursive: true });
  return (await overlaySupported(join(dataRoot, 'snapshots'))) ? new OverlaySnapshotter(dataRoot) : new VfsSnapshotter(dataRoot);
}
