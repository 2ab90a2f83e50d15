// Container create fields that berthd cannot honour, or that dockerd checks before anything
// is made, refused with dockerd's words (moby daemon/container.go verifyContainerSettings,
// daemon/daemon_unix.go verifyPlatformContainerSettings), so that nothing asked for is
// silently ignored. The fields berthd applies are checked where they are applied
// (oci-spec.ts, volumes.ts, networking.ts).

import { invalidParameter, notImplemented } from '../errors.js';
import type { ContainerConfig, HostConfig } from '../api/types/container.js';

/** containertypes.MinimumDuration: 1 ms, in nanoseconds. */
const MIN_DURATION_NS = 1_000_000;

/** Runtime names berthd answers to: its own, and runc's (what clients default to). */
export const RUNTIME_NAMES = ['', 'berth', 'runc', 'io.containerd.runc.v2'];

function healthcheckChecks(config: ContainerConfig): void {
  const h = config.Healthcheck;
  if (!h) return;
  for (const field of ['Interval', 'Timeout', 'StartPeriod', 'StartInterval'] as const) {
    const v = h[field];
    if (v !== undefined && v !== null && v !== 0 && v < MIN_DURATION_NS) throw invalidParameter(`${field} in Healthcheck cannot be less than 1ms`);
  }
  if (h.Retries !== undefined && h.Retries !== null && h.Retries < 0) throw invalidParameter('Retries in Healthcheck cannot be negative');
}

/** The Links of the default bridge (hosts entries and env of the linked container) are not made. */
function linksCheck(hc: HostConfig): void {
  const mode = hc.NetworkMode || 'default';
  if ((hc.Links ?? []).length && (mode === 'default' || mode === 'bridge')) {
    throw notImplemented('legacy links (--link) on the default bridge network are not supported by this Berth daemon yet: connect the containers to a user-defined network, where they reach each other by name');
  }
}

/**
 * 400/501 for what create must refuse (nothing has been made yet); the warnings dockerd gives
 * for what it accepts and discards or finds risky.
 */
export function checkCreateSettings(config: ContainerConfig, hc: HostConfig): string[] {
  const warnings: string[] = [];
  healthcheckChecks(config);
  if (hc.IOMaximumBandwidth || hc.IOMaximumIOps) throw invalidParameter('Invalid QoS settings: linux does not support Maximum IO Bandwidth or Maximum IO IOps');
  if (hc.ShmSize !== undefined && hc.ShmSize !== null && hc.ShmSize < 0) throw invalidParameter('SHM size can not be less than 0');
  if (hc.CpuPercent && hc.CpuPercent > 0) warnings.push('linux does not support CPU percent. Percent discarded.');
  if (hc.OomKillDisable && !hc.Memory) warnings.push('OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources.');
  if (hc.NetworkMode === 'host' && Object.keys(hc.PortBindings ?? {}).length) warnings.push('Published ports are discarded when using host network mode');
  const oom = hc.OomScoreAdj;
  if (oom !== undefined && oom !== null && (oom < -1000 || oom > 1000)) throw invalidParameter(`Invalid value ${oom}, range for oom score adj is [-1000, 1000]`);
  const iso = (hc.Isolation ?? '').toLowerCase();
  if (iso !== '' && iso !== 'default') throw invalidParameter(`Invalid isolation: "${hc.Isolation}" - linux only supports 'default'`);
  if (!RUNTIME_NAMES.includes(hc.Runtime ?? '')) throw invalidParameter(`unknown or invalid runtime name: ${hc.Runtime}`);
  const cgns = hc.CgroupnsMode ?? '';
  if (cgns !== '' && cgns !== 'host' && cgns !== 'private') throw invalidParameter(`invalid cgroup namespace mode: ${cgns}`);
  for (const r of (hc.DeviceRequests ?? []) as { Driver?: string; Capabilities?: string[][] | null }[]) {
    const caps = `[${(r.Capabilities ?? []).map((c) => `[${c.join(' ')}]`).join(' ')}]`;
    throw invalidParameter(`could not select device driver "${r.Driver ?? ''}" with capabilities: ${caps}`);
  }
  if (Object.keys(hc.StorageOpt ?? {}).length) throw invalidParameter(`--storage-opt is supported only for overlay over xfs with 'pquota' mount option`);
  const driver = hc.VolumeDriver ?? '';
  if (driver !== '' && driver !== 'local') throw invalidParameter(`error looking up volume plugin ${driver}: plugin "${driver}" not found`);
  const parent = hc.CgroupParent ?? '';
  if (parent.split('/').includes('..')) throw invalidParameter(`invalid cgroup parent "${parent}": it must not contain ".."`);
  linksCheck(hc);
  return warnings;
}

/** HostConfig.CgroupParent (absolute, or taken from the root) or the daemon's parent. */
export function cgroupParentOf(hc: HostConfig, daemonParent: string): string {
  const p = (hc.CgroupParent ?? '').replace(/\/+$/, '');
  return p === '' ? daemonParent : `/${p.replace(/^\/+/, '')}`;
}
