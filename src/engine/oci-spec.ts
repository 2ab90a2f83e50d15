// Docker's Config + HostConfig → an OCI runtime spec with Docker's defaults (moby's
// oci/defaults.go and daemon/oci_linux.go, as facts): the default capability set, masked and
// read-only paths, Docker's seccomp profile, /etc/hosts, /etc/hostname and
// /etc/resolv.conf bound from the container directory, resources, ulimits, namespaces.
// Pure except for stat(2) of device paths (given as a function), so it is unit-tested.

import { readFileSync } from 'node:fs';
import { invalidParameter, notImplemented } from '../errors.js';
import type { ContainerConfig, HostConfig, Resources, Ulimit } from '../api/types/container.js';
import { CAPABILITIES } from '../runtime/capabilities.js';
import { DOCKER_DEFAULT_CAPABILITIES, dockerDefaultSeccomp } from '../runtime/seccomp-default-profile.js';
import type { LinuxDevice, LinuxDeviceCgroup, LinuxNamespace, LinuxResources, LinuxSeccomp, Mount, POSIXRlimit, Spec } from '../runtime/spec/types.js';
import { parseDockerSeccomp } from './seccomp-profile.js';
import { sysctlNamespace } from '../runtime/spec/parse.js';
import { isVolumeBind } from './volumes.js';

export const DEFAULT_SHM_SIZE = 64 * 1024 * 1024;

export const DOCKER_MASKED_PATHS = [
  '/proc/asound',
  '/proc/acpi',
  '/proc/interrupts',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
];

export const DOCKER_READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

export interface DeviceInfo {
  type: 'c' | 'b';
  major: number;
  minor: number;
  mode: number;
  uid: number;
  gid: number;
}

export interface SpecContext {
  id: string;
  rootfs: string;
  hostsPath: string;
  hostnamePath: string;
  resolvConfPath: string;
  /** The hostname inside the container (from Config.Hostname or the short id). */
  hostname: string;
  /** The user, resolved against the rootfs' /etc/passwd and /etc/group. */
  user: { uid: number; gid: number; additionalGids: number[] };
  /** Env after merging the image's and the container's. */
  env: string[];
  args: string[];
  cwd: string;
  cgroupsPath: string;
  /** The daemon's own rlimits (hard limits cannot be raised here) and default ulimits. */
  defaultUlimits: Ulimit[];
  /** stat of a host device path (Devices, blkio throttles). */
  statDevice: (path: string) => DeviceInfo;
  /** pid of a container joined with container:<name> modes. */
  joinPid?: (ref: string) => number;
  /** HostConfig.Init: the host's static init (tini), bound read-only at INIT_PATH and run as PID 1. */
  initPath?: string;
  /** Bridge networking is on: a NetworkMode naming a user-defined network is valid. */
  userNetworks?: boolean;
  /** The pinned network namespace the network library made for this run: joined by path. */
  netnsPath?: string;
  /** The container's volumes as OCI mounts (src/engine/volumes.ts); Binds and Mounts naming volumes are skipped here. */
  volumeMounts?: Mount[];
}

/** Where --init's binary appears in the container (Docker's path). */
export const INIT_PATH = '/sbin/docker-init';

const RLIMIT_NAMES: Record<string, string> = {
  core: 'RLIMIT_CORE', cpu: 'RLIMIT_CPU', data: 'RLIMIT_DATA', fsize: 'RLIMIT_FSIZE', locks: 'RLIMIT_LOCKS',
  memlock: 'RLIMIT_MEMLOCK', msgqueue: 'RLIMIT_MSGQUEUE', nice: 'RLIMIT_NICE', nofile: 'RLIMIT_NOFILE',
  nproc: 'RLIMIT_NPROC', rss: 'RLIMIT_RSS', rtprio: 'RLIMIT_RTPRIO', rttime: 'RLIMIT_RTTIME',
  sigpending: 'RLIMIT_SIGPENDING', stack: 'RLIMIT_STACK', as: 'RLIMIT_AS',
};

export function rlimitName(name: string): string {
  const r = RLIMIT_NAMES[name.toLowerCase()];
  if (!r) throw invalidParameter(`invalid ulimit type: ${name}`);
  return r;
}

function normalizeCap(c: string): string {
  const u = c.toUpperCase();
  return u === 'ALL' ? 'ALL' : u.startsWith('CAP_') ? u : `CAP_${u}`;
}

/** The capabilities berthd itself may hand out (its bounding set): "all" for privileged. */
export function hostCapabilities(): string[] {
  try {
    const m = /^CapBnd:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) {
      const mask = BigInt(`0x${m[1]}`);
      return CAPABILITIES.filter((_c, i) => (mask >> BigInt(i)) & 1n);
    }
  } catch {
    // no /proc
  }
  return [...CAPABILITIES];
}

/** Docker's capability set: default, or all the daemon has when privileged, plus CapAdd, minus CapDrop. */
export function capabilitySet(hc: HostConfig, all: readonly string[] = hostCapabilities()): string[] {
  if (hc.Privileged) return [...all];
  const add = (hc.CapAdd ?? []).map(normalizeCap);
  const drop = (hc.CapDrop ?? []).map(normalizeCap);
  for (const c of [...add, ...drop]) {
    if (c !== 'ALL' && !CAPABILITIES.includes(c)) throw invalidParameter(`unknown capability: "${c}"`);
  }
  let caps = add.includes('ALL') ? [...all] : [...DOCKER_DEFAULT_CAPABILITIES];
  if (drop.includes('ALL')) caps = [];
  for (const c of add) if (c !== 'ALL' && !caps.includes(c)) caps.push(c);
  if (!add.includes('ALL')) for (const c of drop) caps = caps.filter((x) => x !== c);
  else for (const c of drop) if (c !== 'ALL') caps = caps.filter((x) => x !== c);
  return caps;
}

export interface SecurityOptions {
  noNewPrivileges: boolean;
  /** undefined: unconfined; else the profile. */
  seccomp: LinuxSeccomp | undefined;
}

/** SecurityOpt: no-new-privileges[:true|=true], seccomp=unconfined|<profile JSON>, label/apparmor ignored. */
export function securityOptions(hc: HostConfig, caps: string[]): SecurityOptions {
  let nnp = false;
  let seccomp: LinuxSeccomp | undefined | 'default' = 'default';
  for (const opt of hc.SecurityOpt ?? []) {
    const m = /^([^=:]+)(?:[=:](.*))?$/s.exec(opt);
    const key = m?.[1] ?? opt;
    const value = m?.[2];
    if (key === 'no-new-privileges') {
      if (value === undefined || value === 'true') nnp = true;
      else if (value === 'false') nnp = false;
      else throw invalidParameter(`invalid --security-opt 2: "${opt}"`);
    } else if (key === 'seccomp') {
      if (value === undefined || value === '') throw invalidParameter(`invalid --security-opt 2: "${opt}"`);
      seccomp = value === 'unconfined' ? undefined : value === 'builtin' ? 'default' : parseDockerSeccomp(value);
    } else if (key === 'label' || key === 'apparmor' || key === 'systempaths' || key === 'writable-cgroups') {
      // no SELinux/AppArmor on Berth hosts yet; systempaths=unconfined handled by callers
    } else {
      throw invalidParameter(`invalid --security-opt 1: "${opt}"`);
    }
  }
  if (seccomp === 'default') seccomp = hc.Privileged ? undefined : dockerDefaultSeccomp({ capabilities: caps });
  return { noNewPrivileges: nnp, seccomp };
}

const CPU_PERIOD = 100_000;

/** HostConfig resources → OCI linux.resources (device rules come separately). */
export function linuxResources(r: Resources, statDevice: SpecContext['statDevice'], swapAccounting = true): LinuxResources {
  const out: LinuxResources = {};
  const memory: NonNullable<LinuxResources['memory']> = {};
  if (r.Memory) memory.limit = r.Memory;
  if (r.MemoryReservation) memory.reservation = r.MemoryReservation;
  if (swapAccounting && r.Memory) {
    if (r.MemorySwap === -1) memory.swap = -1;
    else if (r.MemorySwap) memory.swap = r.MemorySwap;
    else memory.swap = r.Memory * 2; // Docker: swap defaults to as much as the memory limit
  }
  if (r.MemorySwappiness !== undefined && r.MemorySwappiness !== null && r.MemorySwappiness >= 0) memory.swappiness = r.MemorySwappiness;
  if (r.OomKillDisable) memory.disableOOMKiller = true;
  if (Object.keys(memory).length) out.memory = memory;

  const cpu: NonNullable<LinuxResources['cpu']> = {};
  if (r.CpuShares) cpu.shares = r.CpuShares;
  if (r.NanoCpus) {
    cpu.period = CPU_PERIOD;
    cpu.quota = Math.round((r.NanoCpus * CPU_PERIOD) / 1e9);
  }
  if (r.CpuPeriod) cpu.period = r.CpuPeriod;
  if (r.CpuQuota) cpu.quota = r.CpuQuota;
  if (r.CpusetCpus) cpu.cpus = r.CpusetCpus;
  if (r.CpusetMems) cpu.mems = r.CpusetMems;
  if (r.CpuRealtimePeriod) cpu.realtimePeriod = r.CpuRealtimePeriod;
  if (r.CpuRealtimeRuntime) cpu.realtimeRuntime = r.CpuRealtimeRuntime;
  if (Object.keys(cpu).length) out.cpu = cpu;

  if (r.PidsLimit !== undefined && r.PidsLimit !== null) out.pids = { limit: r.PidsLimit > 0 ? r.PidsLimit : -1 };

  const blkio: NonNullable<LinuxResources['blockIO']> = {};
  if (r.BlkioWeight) blkio.weight = r.BlkioWeight;
  const throttle = (list: { Path: string; Rate: number }[] | null | undefined) =>
    (list ?? []).map((t) => {
      const d = statDevice(t.Path);
      return { major: d.major, minor: d.minor, rate: t.Rate };
    });
  if (r.BlkioWeightDevice?.length) {
    blkio.weightDevice = r.BlkioWeightDevice.map((w) => {
      const d = statDevice(w.Path);
      return { major: d.major, minor: d.minor, weight: w.Weight };
    });
  }
  if (r.BlkioDeviceReadBps?.length) blkio.throttleReadBpsDevice = throttle(r.BlkioDeviceReadBps);
  if (r.BlkioDeviceWriteBps?.length) blkio.throttleWriteBpsDevice = throttle(r.BlkioDeviceWriteBps);
  if (r.BlkioDeviceReadIOps?.length) blkio.throttleReadIOPSDevice = throttle(r.BlkioDeviceReadIOps);
  if (r.BlkioDeviceWriteIOps?.length) blkio.throttleWriteIOPSDevice = throttle(r.BlkioDeviceWriteIOps);
  if (Object.keys(blkio).length) out.blockIO = blkio;
  return out;
}

export interface HostLimits {
  ncpu: number;
  /** CPUs that exist, e.g. [0, 1]. */
  cpus: number[];
  memTotal: number;
  /** The daemon's hard rlimits by OCI name (RLIMIT_NOFILE → 20000); absent: unlimited. */
  hardRlimits: Map<string, number>;
}

/** Parses "0-2,5" (a cpuset list); undefined when malformed. */
export function parseCpuList(s: string): number[] | undefined {
  const out: number[] = [];
  for (const part of s.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) return undefined;
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a) return undefined;
    for (let i = a; i <= b; i++) out.push(i);
  }
  return out;
}

/** dockerd's checks of resources (400s with its wording), at create and update. */
export function validateResources(r: Resources, host: HostLimits, update = false): void {
  if (r.Memory !== undefined && r.Memory !== 0 && r.Memory < 6 * 1024 * 1024) throw invalidParameter('Minimum memory limit allowed is 6MB');
  if (r.Memory !== undefined && r.Memory < 0 && !update) throw invalidParameter('Minimum memory limit allowed is 6MB');
  if (r.MemorySwap !== undefined && r.MemorySwap > 0 && r.Memory && r.MemorySwap < r.Memory) {
    throw invalidParameter('Minimum memoryswap limit should be larger than memory limit, see usage');
  }
  if (r.MemorySwap !== undefined && r.MemorySwap > 0 && !r.Memory && !update) {
    throw invalidParameter('You should always set the Memory limit when using Memoryswap limit, see usage');
  }
  if (r.MemoryReservation && r.MemoryReservation > 0 && r.MemoryReservation < 6 * 1024 * 1024) throw invalidParameter('Minimum memory reservation allowed is 6MB');
  if (r.MemoryReservation && r.Memory && r.MemoryReservation > r.Memory) {
    throw invalidParameter('Minimum memory limit can not be less than memory reservation limit, see usage');
  }
  if (r.MemorySwappiness !== undefined && r.MemorySwappiness !== null && r.MemorySwappiness !== -1 && (r.MemorySwappiness < 0 || r.MemorySwappiness > 100)) {
    throw invalidParameter(`Invalid value: ${r.MemorySwappiness}, valid memory swappiness range is 0-100`);
  }
  if (r.NanoCpus && r.CpuPeriod) throw invalidParameter('Conflicting options: Nano CPUs and CPU Period cannot both be set');
  if (r.NanoCpus && r.CpuQuota) throw invalidParameter('Conflicting options: Nano CPUs and CPU Quota cannot both be set');
  if (r.NanoCpus && (r.NanoCpus < 0 || r.NanoCpus > host.ncpu * 1e9)) {
    throw invalidParameter(`range of CPUs is from 0.01 to ${host.ncpu}.00, as there are only ${host.ncpu} CPUs available`);
  }
  if (r.CpuPeriod && (r.CpuPeriod < 1000 || r.CpuPeriod > 1_000_000)) throw invalidParameter('CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)');
  if (r.CpuQuota && r.CpuQuota > 0 && r.CpuQuota < 1000) throw invalidParameter('CPU cfs quota can not be less than 1ms (i.e. 1000)');
  if (r.CpuShares !== undefined && r.CpuShares < 0) throw invalidParameter('invalid CPU shares: must be a positive integer');
  if (r.CpusetCpus) {
    const list = parseCpuList(r.CpusetCpus);
    if (!list) throw invalidParameter(`Invalid value ${r.CpusetCpus} for cpuset cpus`);
    if (list.some((c) => !host.cpus.includes(c))) {
      throw invalidParameter(`Requested CPUs are not available - requested ${r.CpusetCpus}, available: ${formatCpuList(host.cpus)}`);
    }
  }
  if (r.BlkioWeight && (r.BlkioWeight < 10 || r.BlkioWeight > 1000)) throw invalidParameter('Range of blkio weight is from 10 to 1000');
  for (const u of r.Ulimits ?? []) {
    const name = rlimitName(u.Name);
    if (u.Soft > u.Hard) throw invalidParameter(`ulimit soft limit must be less than or equal to hard limit: ${u.Soft} > ${u.Hard}`);
    const max = host.hardRlimits.get(name);
    if (max !== undefined && u.Hard > max) {
      throw invalidParameter(`ulimit ${u.Name}: hard limit ${u.Hard} is above the daemon's own (${max}), which cannot be raised on this host`);
    }
  }
}

function formatCpuList(cpus: number[]): string {
  if (cpus.length === 0) return '';
  const parts: string[] = [];
  let start = cpus[0]!;
  let prev = start;
  for (const c of [...cpus.slice(1), -1]) {
    if (c === prev + 1) {
      prev = c;
      continue;
    }
    parts.push(start === prev ? `${start}` : `${start}-${prev}`);
    start = c;
    prev = c;
  }
  return parts.join(',');
}

/** "size=64m,mode=1777" style tmpfs options: "64m" sizes are kept as the kernel reads them. */
function tmpfsOptions(data: string): string[] {
  const opts = ['nosuid', 'nodev', 'noexec'];
  for (const o of data.split(',').map((s) => s.trim()).filter(Boolean)) {
    if (o === 'exec') opts.splice(opts.indexOf('noexec'), 1);
    else if (o === 'dev') opts.splice(opts.indexOf('nodev'), 1);
    else if (o === 'suid') opts.splice(opts.indexOf('nosuid'), 1);
    else if (!opts.includes(o)) opts.push(o);
  }
  return opts;
}

/** Binds "src:dst[:opts]" and Mounts (bind, tmpfs) → OCI mounts. Volumes are src/engine/volumes.ts's. */
export function userMounts(hc: HostConfig): Mount[] {
  const out: Mount[] = [];
  for (const b of hc.Binds ?? []) {
    const parts = b.split(':');
    if (isVolumeBind(b) && parts.length <= 3) continue; // a named or anonymous volume
    if (parts.length < 2 || parts.length > 3) throw invalidParameter(`invalid volume specification: '${b}'`);
    const [src, dst, mode = ''] = parts as [string, string, string?];
    if (!dst.startsWith('/')) throw invalidParameter(`invalid volume specification: '${b}': invalid mount config: destination must be an absolute path`);
    if (!src.startsWith('/')) throw notImplemented(`named volumes are not supported by this Berth daemon yet (volume "${src}"): use a bind mount of an absolute host path`);
    const flags = mode.split(',').filter(Boolean);
    const opts = ['rbind'];
    opts.push(flags.includes('ro') ? 'ro' : 'rw');
    const prop = flags.find((f) => ['private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave'].includes(f));
    opts.push(prop ?? 'rprivate');
    out.push({ destination: dst, type: 'bind', source: src, options: opts });
  }
  for (const m of hc.Mounts ?? []) {
    const target = m.Target ?? '';
    if (!target.startsWith('/')) throw invalidParameter(`invalid mount config for type "${m.Type}": invalid mount path: '${target}' mount path must be absolute`);
    if (m.Type === 'bind') {
      if (!m.Source?.startsWith('/')) throw invalidParameter(`invalid mount config for type "bind": invalid mount path: '${m.Source ?? ''}' mount path must be absolute`);
      const opts = [m.BindOptions?.NonRecursive ? 'bind' : 'rbind', m.ReadOnly ? 'ro' : 'rw', m.BindOptions?.Propagation || 'rprivate'];
      out.push({ destination: target, type: 'bind', source: m.Source, options: opts });
    } else if (m.Type === 'tmpfs') {
      const opts = ['nosuid', 'nodev', 'noexec'];
      if (m.TmpfsOptions?.SizeBytes) opts.push(`size=${m.TmpfsOptions.SizeBytes}`);
      if (m.TmpfsOptions?.Mode) opts.push(`mode=${m.TmpfsOptions.Mode.toString(8)}`);
      if (m.ReadOnly) opts.push('ro');
      out.push({ destination: target, type: 'tmpfs', source: 'tmpfs', options: opts });
    } else if (m.Type === 'volume') {
      continue; // src/engine/volumes.ts
    } else {
      throw invalidParameter(`mount type unknown: ${JSON.stringify(m.Type ?? '')}`);
    }
  }
  for (const [dst, data] of Object.entries(hc.Tmpfs ?? {})) {
    if (!dst.startsWith('/')) throw invalidParameter(`invalid tmpfs mount: ${dst}: destination must be an absolute path`);
    out.push({ destination: dst, type: 'tmpfs', source: 'tmpfs', options: tmpfsOptions(data) });
  }
  const seen = new Set<string>();
  for (const m of out) {
    if (seen.has(m.destination)) throw invalidParameter(`Duplicate mount point: ${m.destination}`);
    seen.add(m.destination);
  }
  return out;
}

/** Namespaces of the modes: private, host, or container:<name> (joined through /proc/<pid>/ns). */
function namespaces(hc: HostConfig, ctx: SpecContext): { list: LinuxNamespace[]; netMode: string } {
  const list: LinuxNamespace[] = [{ type: 'mount' }];
  const mode = (value: string | undefined, type: LinuxNamespace['type'], field: string, hostOk = true): void => {
    const v = value ?? '';
    if (v === '' || v === 'private' || v === 'shareable' || v === 'default' || v === 'bridge' || v === 'none') {
      list.push({ type });
    } else if (v === 'host' && hostOk) {
      // the host's namespace: nothing to create or join
    } else if (v.startsWith('container:')) {
      if (!ctx.joinPid) throw invalidParameter(`${field}: ${v}: joining another container's namespace is not possible here`);
      list.push({ type, path: `/proc/${ctx.joinPid(v.slice('container:'.length))}/ns/${type === 'network' ? 'net' : type}` });
    } else {
      throw invalidParameter(`invalid ${field}: ${v}`);
    }
  };
  mode(hc.PidMode, 'pid', 'PID mode');
  mode(hc.IpcMode, 'ipc', 'IPC mode');
  mode(hc.UTSMode, 'uts', 'UTS mode');
  const net = hc.NetworkMode || 'default';
  const userNet = net !== 'default' && net !== 'bridge' && net !== 'none' && net !== 'host' && !net.startsWith('container:');
  if (userNet && !ctx.userNetworks) {
    throw notImplemented(`network "${net}" is not supported by this Berth daemon yet: use --network none, host or the default`);
  }
  if (ctx.netnsPath) list.push({ type: 'network', path: ctx.netnsPath });
  else mode(userNet ? 'bridge' : net, 'network', 'network mode');
  if (hc.CgroupnsMode === 'private') list.push({ type: 'cgroup' });
  if (hc.UsernsMode && hc.UsernsMode !== 'host') throw notImplemented(`userns mode "${hc.UsernsMode}" is not supported by this Berth daemon yet`);
  return { list, netMode: net };
}

/**
 * runc's rule for a container's sysctl (its messages): only keys of a namespace the container
 * has of its own may be set, or berth-init would write the host's value.
 */
export function checkSysctl(key: string, namespaces: readonly LinuxNamespace[]): void {
  const has = (t: LinuxNamespace['type']): boolean => namespaces.some((n) => n.type === t);
  if (key.split(/[./]/).some((x) => x === '' || x === '..')) throw invalidParameter(`sysctl ${JSON.stringify(key)} is not a valid sysctl name`);
  const want = sysctlNamespace(key.replaceAll('/', '.'));
  if (want === 'ipc' && !has('ipc')) throw invalidParameter(`sysctl ${JSON.stringify(key)} is not allowed in the hosts ipc namespace`);
  if (want === 'network' && !has('network')) throw invalidParameter(`sysctl ${JSON.stringify(key)} not allowed in host network namespace`);
  if (want === 'uts') {
    if (!has('uts')) throw invalidParameter(`sysctl ${JSON.stringify(key)} is not in a separate kernel namespace`);
    if (key.replaceAll('/', '.') === 'kernel.hostname') throw invalidParameter(`sysctl "kernel.hostname" is not allowed as it conflicts with the OCI "hostname" field`);
  }
  if (want === undefined) throw invalidParameter(`sysctl ${JSON.stringify(key)} is not in a separate kernel namespace`);
}

export interface BuiltSpec {
  spec: Spec;
  warnings: string[];
}

/** The OCI spec of a container (built at each start, so updates and renames apply). */
export function buildSpec(config: ContainerConfig, hc: HostConfig, ctx: SpecContext): BuiltSpec {
  const warnings: string[] = [];
  const caps = capabilitySet(hc);
  const sec = securityOptions(hc, caps);
  const ns = namespaces(hc, ctx);
  const privileged = hc.Privileged === true;
  const hostUts = hc.UTSMode === 'host' || ns.netMode === 'host';
  const shmSize = hc.ShmSize && hc.ShmSize > 0 ? hc.ShmSize : DEFAULT_SHM_SIZE;

  const mounts: Mount[] = [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', privileged ? 'rw' : 'ro'] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', privileged ? 'rw' : 'ro'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
  ];
  // IpcMode none: a private IPC namespace without /dev/shm (as dockerd).
  if (hc.IpcMode !== 'host' && hc.IpcMode !== 'none' && !hc.IpcMode?.startsWith('container:')) {
    mounts.push({ destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', `size=${shmSize}`] });
  }
  // With the host's network namespace, sysfs cannot be mounted fresh: bind the host's.
  if (ns.netMode === 'host') {
    const i = mounts.findIndex((m) => m.destination === '/sys');
    mounts[i] = { destination: '/sys', type: 'bind', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', privileged ? 'rw' : 'ro'] };
  }
  const user = [...userMounts(hc), ...(ctx.volumeMounts ?? [])];
  const userDests = new Set(user.map((m) => m.destination));
  const base = mounts.filter((m) => !userDests.has(m.destination));
  const roEtc = hc.ReadonlyRootfs ? 'ro' : 'rw';
  const etc: Mount[] = [];
  for (const [dst, src] of [['/etc/resolv.conf', ctx.resolvConfPath], ['/etc/hostname', ctx.hostnamePath], ['/etc/hosts', ctx.hostsPath]] as const) {
    if (!userDests.has(dst)) etc.push({ destination: dst, type: 'bind', source: src, options: ['rbind', 'rprivate', roEtc] });
  }
  if (ctx.initPath) etc.push({ destination: INIT_PATH, type: 'bind', source: ctx.initPath, options: ['bind', 'ro'] });

  const rlimits: POSIXRlimit[] = [];
  const byName = new Map<string, Ulimit>();
  for (const u of [...ctx.defaultUlimits, ...(hc.Ulimits ?? [])]) byName.set(rlimitName(u.Name), u);
  for (const [type, u] of byName) rlimits.push({ type, soft: u.Soft, hard: u.Hard });

  const devices: LinuxDevice[] = [];
  const deviceRules: LinuxDeviceCgroup[] = [{ allow: false, access: 'rwm' }];
  if (privileged) deviceRules.push({ allow: true, access: 'rwm' });
  for (const d of hc.Devices ?? []) {
    const info = ctx.statDevice(d.PathOnHost);
    const perms = d.CgroupPermissions || 'rwm';
    if (!/^[rwm]{1,3}$/.test(perms)) throw invalidParameter(`invalid device mode: ${perms}`);
    devices.push({ path: d.PathInContainer || d.PathOnHost, type: info.type, major: info.major, minor: info.minor, fileMode: info.mode & 0o7777, uid: info.uid, gid: info.gid });
    deviceRules.push({ allow: true, type: info.type, major: info.major, minor: info.minor, access: perms });
  }
  for (const rule of hc.DeviceCgroupRules ?? []) {
    const m = /^([acb]) (\*|\d+):(\*|\d+) ([rwm]{1,3})$/.exec(rule);
    if (!m) throw invalidParameter(`invalid device cgroup rule: ${rule}`);
    deviceRules.push({ allow: true, type: m[1]!, ...(m[2] !== '*' ? { major: Number(m[2]) } : {}), ...(m[3] !== '*' ? { minor: Number(m[3]) } : {}), access: m[4]! });
  }

  const resources = linuxResources(hc, ctx.statDevice);
  resources.devices = deviceRules;

  for (const key of Object.keys(hc.Sysctls ?? {})) checkSysctl(key, ns.list);
  const sysctl: Record<string, string> = { ...(hc.Sysctls ?? {}) };
  // Docker lets unprivileged ports and ping work in a private network namespace.
  if (ns.netMode !== 'host' && !ns.netMode.startsWith('container:')) {
    sysctl['net.ipv4.ip_unprivileged_port_start'] ??= '0';
    sysctl['net.ipv4.ping_group_range'] ??= '0 2147483647';
  }

  const spec: Spec = {
    ociVersion: '1.2.1',
    root: { path: ctx.rootfs, readonly: hc.ReadonlyRootfs === true },
    process: {
      terminal: config.Tty === true,
      user: { uid: ctx.user.uid, gid: ctx.user.gid, ...(ctx.user.additionalGids.length ? { additionalGids: ctx.user.additionalGids } : {}) },
      args: ctx.initPath ? [INIT_PATH, '--', ...ctx.args] : ctx.args,
      env: ctx.env,
      cwd: ctx.cwd,
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      rlimits,
      noNewPrivileges: sec.noNewPrivileges,
      ...(hc.OomScoreAdj ? { oomScoreAdj: hc.OomScoreAdj } : {}),
      ...(config.Tty && hc.ConsoleSize && hc.ConsoleSize[0] && hc.ConsoleSize[1] ? { consoleSize: { height: hc.ConsoleSize[0], width: hc.ConsoleSize[1] } } : {}),
    },
    ...(hostUts ? {} : { hostname: ctx.hostname }),
    ...(config.Domainname && !hostUts ? { domainname: config.Domainname } : {}),
    mounts: [...base, ...etc, ...user],
    linux: {
      namespaces: ns.list,
      cgroupsPath: ctx.cgroupsPath,
      resources,
      ...(devices.length ? { devices } : {}),
      ...(Object.keys(sysctl).length ? { sysctl } : {}),
      ...(privileged ? {} : { maskedPaths: hc.MaskedPaths ?? DOCKER_MASKED_PATHS, readonlyPaths: hc.ReadonlyPaths ?? DOCKER_READONLY_PATHS }),
      ...(sec.seccomp ? { seccomp: sec.seccomp } : {}),
    },
  };
  return { spec, warnings };
}
