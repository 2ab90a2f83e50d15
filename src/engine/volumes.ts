// Volumes in containers (issue 7): named volumes from HostConfig.Binds (`name:/dst[:mode]`)
// and Mounts (type volume), anonymous volumes for the image's and the container's
// Config.Volumes and for `-v /dst`, and HostConfig.VolumesFrom. They are created on first
// use, acquired at create (so `docker volume rm` of a volume a container holds is a 409, as
// with dockerd) and released at remove; `rm -v` (and AutoRemove) also removes the
// container's anonymous volumes. Binds of host paths and tmpfs stay with oci-spec.ts.

import { posix } from 'node:path';
import type { ContainerConfig, HostConfig, MountPoint } from '../api/types/container.js';
import { invalidParameter } from '../errors.js';
import type { Mount } from '../runtime/spec/types.js';
import { planMounts, type VolumePlan } from '../volume/mount-spec.js';
import type { VolumeStore } from '../volume/store.js';
import { resolveInScope } from './scoped-path.js';

/** A volume mounted into a container, as kept in its record. */
export interface VolumeMount {
  name: string;
  /** Host path bound into the container (the volume's _data, or its subpath). */
  source: string;
  destination: string;
  readOnly: boolean;
  /** Mode as inspect shows it (`z`, `ro`, '' …). */
  mode: string;
  /** Created for this container (removed by `rm -v`). */
  anonymous: boolean;
}

/** The part of a container record this file reads and writes. */
export interface VolumeHolder {
  id: string;
  config: ContainerConfig;
  hostConfig: HostConfig;
  volumeMounts?: VolumeMount[];
}

/** Containers whose anonymous volumes go with them (`docker rm -v`). */
const removeWithVolumes = new Set<string>();

export function markRemoveVolumes(id: string): void {
  removeWithVolumes.add(id);
}

/** Validates Binds, Mounts and VolumesFrom (dockerd's 400s) before anything is created. */
export function validateVolumeConfig(hc: HostConfig): void {
  planMounts(hc.Binds, hc.Mounts);
  for (const v of hc.VolumesFrom ?? []) {
    const [ref = '', mode, extra] = v.split(':');
    if (ref === '' || extra !== undefined || (mode !== undefined && mode !== 'ro' && mode !== 'rw')) {
      throw invalidParameter(`invalid volumes-from spec: '${v}'`);
    }
  }
}

/** The mode text of a -v string whose plan is a volume (what inspect shows; dockerd's default is `z`). */
function bindModeText(spec: string): string {
  const parts = spec.split(':');
  if (parts.length === 3) return parts[2]!;
  if (parts.length === 2 && parts[1]!.startsWith('/')) return 'z';
  if (parts.length === 2) return parts[1]!;
  return '';
}

/**
 * Creates (on first use) and acquires every volume the container mounts; copies the image's
 * files into new, empty volumes (unless nocopy). `rootfs` is the container's prepared root.
 */
/** Whether setupVolumes has anything to do for the container (else it returns []). */
export function needsVolumes(rec: VolumeHolder): boolean {
  const hc = rec.hostConfig;
  return planMounts(hc.Binds, hc.Mounts).some((p) => p.type === 'volume') || (hc.VolumesFrom?.length ?? 0) > 0 || Object.keys(rec.config.Volumes ?? {}).length > 0;
}

export async function setupVolumes(store: VolumeStore, rec: VolumeHolder, rootfs: string, lookup: (ref: string) => VolumeHolder): Promise<VolumeMount[]> {
  const hc = rec.hostConfig;
  const plans = planMounts(hc.Binds, hc.Mounts);
  const taken = new Set<string>([...plans.map((p) => p.destination), ...Object.keys(hc.Tmpfs ?? {}).map((d) => posix.normalize(d))]);
  const wanted: { plan: VolumePlan; mode: string; inherited?: VolumeMount }[] = [];
  const nBinds = (hc.Binds ?? []).length;
  plans.forEach((p, i) => {
    if (p.type === 'volume') wanted.push({ plan: p, mode: i < nBinds ? bindModeText(hc.Binds![i]!) : 'z' });
  });
  for (const v of hc.VolumesFrom ?? []) {
    const [ref = '', mode] = v.split(':');
    const from = lookup(ref);
    for (const m of from.volumeMounts ?? []) {
      if (taken.has(m.destination)) continue;
      taken.add(m.destination);
      const readOnly = mode === undefined ? m.readOnly : mode === 'ro';
      wanted.push({ plan: { type: 'volume', name: m.name, destination: m.destination, readOnly, noCopy: true }, mode: mode ?? m.mode, inherited: m });
    }
  }
  for (const d of Object.keys(rec.config.Volumes ?? {})) {
    const dst = posix.normalize(d).replace(/(.)\/+$/, '$1');
    if (!dst.startsWith('/') || dst === '/' || taken.has(dst)) continue;
    taken.add(dst);
    wanted.push({ plan: { type: 'volume', name: '', destination: dst, readOnly: false, noCopy: false }, mode: '' });
  }

  const out: VolumeMount[] = [];
  try {
    for (const { plan, mode, inherited } of wanted) {
      const anonymous = plan.name === '';
      const vol = await store.create({
        ...(anonymous ? {} : { Name: plan.name }),
        ...(plan.driver ? { Driver: plan.driver } : {}),
        ...(plan.driverOptions ? { DriverOpts: plan.driverOptions } : {}),
        ...(plan.labels ? { Labels: plan.labels } : {}),
      });
      const data = await store.acquire(vol.Name, rec.id);
      const entry: VolumeMount = {
        name: vol.Name,
        source: inherited ? inherited.source : plan.subpath ? posix.join(data, plan.subpath) : data,
        destination: plan.destination,
        readOnly: plan.readOnly,
        mode,
        anonymous: anonymous && !inherited,
      };
      out.push(entry);
      if (!plan.noCopy && !plan.subpath) {
        let src: string | undefined;
        try {
          src = resolveInScope(rootfs, plan.destination);
        } catch {
          src = undefined;
        }
        if (src !== undefined) await store.populate(vol.Name, src);
      }
    }
  } catch (e) {
    await releaseVolumes(store, { ...rec, volumeMounts: out }, true);
    throw e;
  }
  return out;
}

/** The OCI mounts of a container's volumes (binds of their data, as dockerd makes them). */
export function volumeOciMounts(rec: VolumeHolder): Mount[] {
  return (rec.volumeMounts ?? []).map((m) => ({ destination: m.destination, type: 'bind', source: m.source, options: ['rbind', m.readOnly ? 'ro' : 'rw', 'rprivate'] }));
}

/** Inspect's Mounts entries of a container's volumes. */
export function volumeMountPoints(rec: VolumeHolder): MountPoint[] {
  return (rec.volumeMounts ?? []).map((m) => ({ Type: 'volume', Name: m.name, Source: m.source, Destination: m.destination, Driver: 'local', Mode: m.mode, RW: !m.readOnly, Propagation: '' }));
}

/** Releases the container's volumes; removes its anonymous ones with `rm -v`, AutoRemove, or `force`. */
export async function releaseVolumes(store: VolumeStore, rec: VolumeHolder, removeAnonymous = false): Promise<void> {
  const remove = removeAnonymous || removeWithVolumes.has(rec.id) || rec.hostConfig.AutoRemove === true;
  removeWithVolumes.delete(rec.id);
  for (const m of rec.volumeMounts ?? []) {
    await store.release(m.name, rec.id).catch(() => undefined);
    if (remove && m.anonymous) await store.remove(m.name).catch(() => undefined); // still used by another (volumes-from): kept
  }
}

/** At start-up: the volumes' users become the containers that exist (a crash may have lost a release). */
export async function reconcileVolumeUsers(store: VolumeStore, records: readonly VolumeHolder[]): Promise<void> {
  const using = new Map<string, string[]>();
  for (const rec of records) for (const m of rec.volumeMounts ?? []) using.set(m.name, [...(using.get(m.name) ?? []), rec.id]);
  await store.reconcileUsers(using);
}

/** True for a -v string or Mounts entry that names a volume rather than a host path. */
export function isVolumeBind(spec: string): boolean {
  const parts = spec.split(':');
  return parts.length === 1 || !parts[0]!.startsWith('/') || (parts.length === 2 && !parts[1]!.startsWith('/'));
}
