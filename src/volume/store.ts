// Named volumes with the `local` driver, as dockerd keeps them:
//   <data-root>/volumes/<name>/_data         the data (or the mount point of type/device/o)
//   <data-root>/volumes/<name>/volume.json   name, labels, options, creation time, users
// Volumes with options are mounted (tmpfs, bind, or any type mount(8) knows) when the
// first container acquires them and unmounted when the last one releases them. Users are
// container IDs, kept on disk so a restarted daemon still refuses to remove a volume in
// use. An anonymous volume gets a random 64-hex name and the label
// com.docker.volume.anonymous; `prune` removes only those unless asked for all.

import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { conflict, invalidParameter, notFound, systemError } from '../errors.js';
import { atomicWriteFile } from '../sys/atomic-write.js';
import { Mutex } from '../sys/mutex.js';
import { invalidVolumeName, VOLUME_NAME_RE } from './mount-spec.js';

const run = promisify(execFile);

export const ANONYMOUS_LABEL = 'com.docker.volume.anonymous';

/** Docker's Volume object (GET /volumes/{name}). */
export interface Volume {
  Name: string;
  Driver: string;
  Mountpoint: string;
  CreatedAt: string;
  Labels: Record<string, string>;
  Scope: 'local';
  Options: Record<string, string> | null;
  Status?: Record<string, unknown>;
  UsageData?: { Size: number; RefCount: number } | null;
}

export interface VolumeCreateRequest {
  Name?: string;
  Driver?: string;
  DriverOpts?: Record<string, string> | null;
  Labels?: Record<string, string> | null;
}

interface VolumeRecord {
  name: string;
  createdAt: string;
  labels: Record<string, string>;
  options: Record<string, string> | null;
  /** Container IDs using the volume. */
  users: string[];
  /** The image's files were copied in (copy-up happens once). */
  populated?: boolean;
  /** Options were mounted on _data (by this or an earlier daemon). */
  mounted?: boolean;
}

export type VolumeFilters = Record<string, string[]>;

const LOCAL_OPTIONS = new Set(['type', 'device', 'o', 'size']);

export class VolumeStore {
  readonly root: string;
  private readonly lock = new Mutex();

  constructor(dataRoot: string) {
    this.root = join(dataRoot, 'volumes');
  }

  private dir(name: string): string {
    return join(this.root, name);
  }

  mountpoint(name: string): string {
    return join(this.root, name, '_data');
  }

  /** Serialises changes to volume records in this process. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.lock.run(fn);
  }

  private async read(name: string): Promise<VolumeRecord | undefined> {
    try {
      return JSON.parse(await readFile(join(this.dir(name), 'volume.json'), 'utf8')) as VolumeRecord;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw systemError(`read volume ${name}`, e);
    }
  }

  private write(rec: VolumeRecord): Promise<void> {
    return atomicWriteFile(join(this.dir(rec.name), 'volume.json'), JSON.stringify(rec));
  }

  private async get(name: string): Promise<VolumeRecord> {
    const rec = VOLUME_NAME_RE.test(name) ? await this.read(name) : undefined;
    if (!rec) throw notFound(`get ${name}: no such volume`);
    return rec;
  }

  private shape(rec: VolumeRecord): Volume {
    return {
      Name: rec.name,
      Driver: 'local',
      Mountpoint: this.mountpoint(rec.name),
      CreatedAt: rec.createdAt,
      Labels: rec.labels,
      Scope: 'local',
      Options: rec.options,
    };
  }

  /** POST /volumes/create. An existing name is returned as it is (dockerd's behaviour). */
  async create(req: VolumeCreateRequest = {}): Promise<Volume> {
    const driver = req.Driver || 'local';
    if (driver !== 'local') throw notFound(`error looking up volume plugin ${driver}: plugin "${driver}" not found`);
    const anonymous = !req.Name;
    const name = req.Name || randomBytes(32).toString('hex');
    if (!VOLUME_NAME_RE.test(name)) throw invalidVolumeName(name);
    const opts = req.DriverOpts && Object.keys(req.DriverOpts).length ? { ...req.DriverOpts } : null;
    for (const k of Object.keys(opts ?? {})) if (!LOCAL_OPTIONS.has(k)) throw invalidParameter(`create ${name}: invalid option key: "${k}"`);
    if (opts && (opts.type === undefined) !== (opts.device === undefined)) {
      throw invalidParameter(`create ${name}: missing required option: "${opts.type === undefined ? 'type' : 'device'}"`);
    }
    return this.exclusive(async () => {
      const have = await this.read(name);
      if (have) return this.shape(have);
      const labels = { ...(req.Labels ?? {}) };
      if (anonymous) labels[ANONYMOUS_LABEL] = '';
      const rec: VolumeRecord = { name, createdAt: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), labels, options: opts, users: [] };
      const tmp = join(this.root, `.tmp-${name}`);
      await rm(tmp, { recursive: true, force: true });
      await mkdir(join(tmp, '_data'), { recursive: true, mode: 0o755 });
      await atomicWriteFile(join(tmp, 'volume.json'), JSON.stringify(rec));
      await rename(tmp, this.dir(name));
      return this.shape(rec);
    });
  }

  async inspect(name: string): Promise<Volume> {
    return this.shape(await this.get(name));
  }

  private async names(): Promise<string[]> {
    try {
      return (await readdir(this.root)).filter((n) => VOLUME_NAME_RE.test(n)).sort();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
  }

  /** GET /volumes with filters: dangling, name (substring), label (k or k=v), driver. */
  async list(filters: VolumeFilters = {}): Promise<{ Volumes: Volume[]; Warnings: string[] }> {
    for (const k of Object.keys(filters)) {
      if (!['dangling', 'name', 'label', 'driver'].includes(k)) throw invalidParameter(`invalid filter '${k}'`);
    }
    for (const v of filters.dangling ?? []) {
      if (!['true', 'false', '1', '0'].includes(v)) throw invalidParameter(`invalid filter 'dangling=${v}'`);
    }
    const out: Volume[] = [];
    for (const n of await this.names()) {
      const rec = await this.read(n);
      if (rec && matches(rec, filters)) out.push(this.shape(rec));
    }
    return { Volumes: out, Warnings: [] };
  }

  /** DELETE /volumes/{name}: refused while a container uses it unless forced. */
  async remove(name: string, opts: { force?: boolean } = {}): Promise<void> {
    await this.exclusive(async () => {
      const rec = VOLUME_NAME_RE.test(name) ? await this.read(name) : undefined;
      if (!rec) {
        if (opts.force) return;
        throw notFound(`get ${name}: no such volume`);
      }
      if (rec.users.length && !opts.force) throw conflict(`remove ${name}: volume is in use - [${rec.users.join(', ')}]`);
      await this.unmountData(rec);
      await rm(this.dir(name), { recursive: true, force: true });
    });
  }

  /** POST /volumes/prune: unused anonymous volumes (all unused ones with `all=true`). */
  async prune(filters: VolumeFilters = {}): Promise<{ VolumesDeleted: string[]; SpaceReclaimed: number }> {
    for (const k of Object.keys(filters)) if (!['label', 'label!', 'all'].includes(k)) throw invalidParameter(`invalid filter '${k}'`);
    const all = (filters.all ?? []).some((v) => v === 'true' || v === '1');
    const deleted: string[] = [];
    let space = 0;
    for (const n of await this.names()) {
      const rec = await this.read(n);
      if (!rec || rec.users.length) continue;
      if (!all && !(ANONYMOUS_LABEL in rec.labels)) continue;
      if (!labelsMatch(rec.labels, filters.label ?? []) || (filters['label!'] ?? []).some((l) => labelsMatch(rec.labels, [l]))) continue;
      const size = rec.options ? 0 : await diskUsage(this.mountpoint(n));
      try {
        await this.remove(n);
        deleted.push(n);
        space += size;
      } catch { /* acquired meanwhile */ }
    }
    return { VolumesDeleted: deleted, SpaceReclaimed: space };
  }

  /**
   * A container starts using the volume: mounts its options on first use; returns the
   * host path to bind into the container.
   */
  async acquire(name: string, containerId: string): Promise<string> {
    return this.exclusive(async () => {
      const rec = await this.get(name);
      if (rec.options && !rec.mounted) {
        await this.mountData(rec);
        rec.mounted = true;
      }
      if (!rec.users.includes(containerId)) rec.users.push(containerId);
      await this.write(rec);
      return this.mountpoint(name);
    });
  }

  /** A container stops using it; the last user unmounts what options mounted. Data stays. */
  async release(name: string, containerId: string): Promise<void> {
    await this.exclusive(async () => {
      const rec = await this.read(name);
      if (!rec) return;
      rec.users = rec.users.filter((u) => u !== containerId);
      if (rec.users.length === 0 && rec.mounted) {
        await this.unmountData(rec);
        rec.mounted = false;
      }
      await this.write(rec);
    });
  }

  /**
   * At daemon start: each volume's users become the containers that exist and mount it
   * (`using`: volume name → container IDs, from the container records). A crash between a
   * container's removal and its release leaves a user that no longer exists; without this
   * its volume could never be removed. Whether options are mounted is read from the kernel
   * (a reboot unmounted them); a volume nobody uses any more is unmounted.
   */
  async reconcileUsers(using: ReadonlyMap<string, readonly string[]>): Promise<void> {
    await this.exclusive(async () => {
      const info = await readFile('/proc/self/mountinfo', 'utf8');
      const mounted = new Set(info.split('\n').map((l) => l.split(' ')[4]));
      for (const name of await this.names()) {
        const rec = await this.read(name).catch(() => undefined);
        if (!rec) continue;
        const users = [...new Set(using.get(name) ?? [])];
        const isMounted = rec.options !== null && mounted.has(this.mountpoint(name));
        if (users.length === 0 && isMounted) await this.unmountData(rec);
        const nowMounted = users.length > 0 && isMounted;
        if (users.join() === rec.users.join() && nowMounted === (rec.mounted === true)) continue;
        rec.users = users;
        rec.mounted = nowMounted;
        await this.write(rec);
      }
    });
  }

  async users(name: string): Promise<string[]> {
    return [...(await this.get(name)).users];
  }

  /**
   * Docker's copy-up: on first use, when the volume is empty, the image's files at the
   * mount destination (`source`, a host path inside the container's rootfs) are copied in
   * with their owners and modes. Returns whether it copied.
   */
  async populate(name: string, source: string): Promise<boolean> {
    return this.exclusive(async () => {
      const rec = await this.get(name);
      if (rec.populated) return false;
      const data = this.mountpoint(name);
      const empty = (await readdir(data)).length === 0;
      const st = await lstat(source).catch(() => undefined);
      let copied = false;
      if (empty && st?.isDirectory()) {
        const entries = await readdir(source);
        if (entries.length) {
          try {
            await run('cp', ['-a', '--', `${source}/.`, `${data}/`]);
          } catch (e) {
            throw systemError(`copy ${source} into volume ${name}: ${((e as { stderr?: string }).stderr ?? '').trim()}`, e);
          }
          copied = true;
        }
        // The volume's root takes the directory's owner and mode, as dockerd does.
        await run('chown', ['--reference', source, data]).catch(() => undefined);
        await run('chmod', ['--reference', source, data]).catch(() => undefined);
      }
      rec.populated = true;
      await this.write(rec);
      return copied;
    });
  }

  /** Size of a volume's data (UsageData for system df). */
  async usage(name: string): Promise<{ Size: number; RefCount: number }> {
    const rec = await this.get(name);
    return { Size: await diskUsage(this.mountpoint(name)), RefCount: rec.users.length };
  }

  private async mountData(rec: VolumeRecord): Promise<void> {
    const o = rec.options!;
    const data = this.mountpoint(rec.name);
    const opt = [o.o, o.size ? `size=${o.size}` : undefined].filter(Boolean).join(',');
    const args = o.type === 'none' || /(^|,)r?bind(,|$)/.test(o.o ?? '')
      ? ['--bind', ...(opt && !/^r?bind$/.test(opt) ? ['-o', opt] : []), o.device!, data]
      : ['-t', o.type!, ...(opt ? ['-o', opt] : []), o.device!, data];
    try {
      await run('mount', args);
    } catch (e) {
      throw systemError(`error while mounting volume '${data}': ${((e as { stderr?: string }).stderr ?? (e as Error).message).trim()}`, e);
    }
  }

  private async unmountData(rec: VolumeRecord): Promise<void> {
    const data = this.mountpoint(rec.name);
    const info = await readFile('/proc/self/mountinfo', 'utf8');
    if (!info.split('\n').some((l) => l.split(' ')[4] === data)) return;
    await run('umount', [data]).catch(() => run('umount', ['-l', data]));
  }
}

function labelsMatch(labels: Record<string, string>, wanted: string[]): boolean {
  return wanted.every((w) => {
    const eq = w.indexOf('=');
    if (eq < 0) return w in labels;
    return labels[w.slice(0, eq)] === w.slice(eq + 1);
  });
}

function matches(rec: VolumeRecord, f: VolumeFilters): boolean {
  if (f.name && !f.name.some((n) => rec.name.includes(n))) return false;
  if (f.driver && !f.driver.includes('local')) return false;
  if (f.label && !labelsMatch(rec.labels, f.label)) return false;
  if (f.dangling?.length) {
    const want = f.dangling.some((v) => v === 'true' || v === '1');
    if ((rec.users.length === 0) !== want) return false;
  }
  return true;
}

async function diskUsage(dir: string): Promise<number> {
  let total = 0;
  const seen = new Set<string>();
  const walk = async (d: string): Promise<void> => {
    let names: string[];
    try {
      names = await readdir(d);
    } catch {
      return;
    }
    for (const n of names) {
      const p = join(d, n);
      const st = await lstat(p);
      if (st.isDirectory()) await walk(p);
      else if (st.isFile()) {
        const id = `${st.dev}:${st.ino}`;
        if (!seen.has(id)) {
          seen.add(id);
          total += st.size;
        }
      }
    }
  };
  await walk(dir);
  return total;
}
