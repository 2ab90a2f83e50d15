// The root filesystem part of a create program, run by the child in its new mount
// namespace before pivot_root: root propagation, the rootfs bind, the spec's mounts in
// order, /dev (device nodes, ptmx, the standard links). Every destination is resolved
// inside the rootfs at compile time (secure-join.ts) and checked again by berth-init
// through the `root` argument.

import { readFileSync, statSync, type Stats } from 'node:fs';
import { dirname, isAbsolute, join, posix, resolve } from 'node:path';
import { invalidParameter, notImplemented } from '../../errors.js';
import { int, makeDev, op, OpCode, str, type Op } from '../init-program.js';
import type { LinuxDevice, Mount, Spec } from '../spec/types.js';
import {
  MS_BIND,
  MS_RDONLY,
  MS_REC,
  MS_REMOUNT,
  MS_PRIVATE,
  MS_SHARED,
  MS_SLAVE,
  S_IFBLK,
  S_IFCHR,
  S_IFIFO,
} from './flags.js';
import { parseMountOptions, PROPAGATION_OPTIONS } from './mount-options.js';
import type { RootfsResolver } from './secure-join.js';
import type { HostFeatures } from './types.js';

export interface RootfsInput {
  spec: Spec;
  rootfs: string;
  bundle: string;
  resolver: RootfsResolver;
  host: HostFeatures;
  /** The container has a user namespace: device nodes are bind-mounted from the host. */
  userns: boolean;
  /** The container has its own cgroup namespace. */
  cgroupns: boolean;
  cgroupProcs: readonly string[];
  /**
   * The container gets a new cgroup namespace: the ops that wait for its cgroups and
   * unshare it (once; later calls give nothing). A fresh cgroup2 mount needs them first,
   * since it shows the mounter's cgroup namespace.
   */
  inCgroupns?: () => Op[];
}

export interface RootfsPlan {
  /** Ops before pivot_root. */
  ops: Op[];
  /** Ops right after pivot_root (the read-only remount of /dev). */
  afterPivot: Op[];
  /** The root's propagation is shared: the mounts of ops also appear in the host's mount namespace. */
  sharedRoot: boolean;
}

/** The devices every container gets (runc's list), unless linux.devices has the same path. */
export const DEFAULT_DEVICES: readonly LinuxDevice[] = [
  { path: '/dev/null', type: 'c', major: 1, minor: 3, fileMode: 0o666, uid: 0, gid: 0 },
  { path: '/dev/zero', type: 'c', major: 1, minor: 5, fileMode: 0o666, uid: 0, gid: 0 },
  { path: '/dev/full', type: 'c', major: 1, minor: 7, fileMode: 0o666, uid: 0, gid: 0 },
  { path: '/dev/tty', type: 'c', major: 5, minor: 0, fileMode: 0o666, uid: 0, gid: 0 },
  { path: '/dev/urandom', type: 'c', major: 1, minor: 9, fileMode: 0o666, uid: 0, gid: 0 },
  { path: '/dev/random', type: 'c', major: 1, minor: 8, fileMode: 0o666, uid: 0, gid: 0 },
];

/** Files below /proc that may be mounted over (lxcfs and friends), as runc allows. */
const PROC_MOUNT_ALLOWED = new Set([
  '/proc/cpuinfo',
  '/proc/diskstats',
  '/proc/meminfo',
  '/proc/stat',
  '/proc/swaps',
  '/proc/uptime',
  '/proc/loadavg',
  '/proc/slabinfo',
  '/proc/net/dev',
  '/proc/sys/kernel/ns_last_pid',
]);

/** Filesystems mounted without the SELinux mount label (runc's rule). */
const NO_MOUNT_LABEL = new Set(['proc', 'sysfs', 'mqueue', 'cgroup', 'cgroup2']);

const clean = (p: string): string => posix.normalize(p).replace(/(.)\/$/, '$1');

export function isBindMount(m: Mount): boolean {
  return m.type === 'bind' || (m.options ?? []).some((o) => o === 'bind' || o === 'rbind');
}

/** runc's setupDev: /dev is prepared unless it is a bind mount. */
export function needsDevSetup(spec: Spec): boolean {
  return !(spec.mounts ?? []).some((m) => clean(m.destination) === '/dev' && isBindMount(m));
}

function checkProcDestination(dest: string, m: Mount, field: string): void {
  if (dest === '/proc' && m.type !== 'proc') {
    throw invalidParameter(`${field}.destination: only a proc filesystem may be mounted on /proc (type is "${m.type ?? ''}")`);
  }
  if (dest.startsWith('/proc/') && !PROC_MOUNT_ALLOWED.has(dest)) {
    throw invalidParameter(`${field}.destination: mounting on "${dest}" is not allowed (it is inside /proc)`);
  }
}

function statSource(src: string, field: string): Stats {
  try {
    return statSync(src);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw invalidParameter(`${field}.source: "${src}" does not exist`);
    throw invalidParameter(`${field}.source: "${src}": ${(e as Error).message}`);
  }
}

function mountOp(source: string, target: string, fstype: string, flags: number, data: string, root: string): Op {
  return op(OpCode.MOUNT, str(source), str(target), str(fstype), int(flags), str(data), str(root));
}

const mkdir = (path: string, root: string): Op => op(OpCode.MKDIR, str(path), int(0o755), str(root));

/** The flags that need a remount after a bind (everything but the bind itself). */
const REMOUNT_MASK = ~(MS_BIND | MS_REC | MS_REMOUNT);

function bindOps(src: string, target: string, flags: number, root: string): Op[] {
  const ops = [mountOp(src, target, '', MS_BIND | (flags & MS_REC), '', root)];
  // The kernel ignores other flags on a bind: they take a remount (not recursive).
  const extra = flags & REMOUNT_MASK;
  if (extra !== 0) ops.push(mountOp('', target, '', MS_REMOUNT | MS_BIND | extra, '', root));
  return ops;
}

/**
 * cgroup mounts. With cgroup v2 on the host: a fresh cgroup2 mount (in the container's
 * cgroup namespace it shows the container's cgroup as the root), except in a user
 * namespace without a cgroup namespace, where the kernel refuses it: then the container's
 * own cgroup directory is bound (runc's fallback). With v1 (or hybrid): a tmpfs with the
 * container's directory of every hierarchy bound on <dest>/<hierarchy>, links for
 * co-mounted controllers (cpu → cpu,cpuacct), then the tmpfs made read-only if asked.
 */
function cgroupOps(i: RootfsInput, target: string, flags: number, data: string[]): Op[] {
  const root = i.rootfs;
  const ops: Op[] = [mkdir(target, root)];
  if (i.host.cgroup === 'unified') {
    if (i.cgroupns || !i.userns) {
      ops.push(...(i.inCgroupns?.() ?? []), mountOp('cgroup2', target, 'cgroup2', flags, data.join(','), root));
    } else {
      const own = i.cgroupProcs.find((p) => p.startsWith('/sys/fs/cgroup/'));
      ops.push(...bindOps(own ? dirname(own) : '/sys/fs/cgroup', target, flags | MS_REC, root));
    }
    return ops;
  }
  ops.push(mountOp('tmpfs', target, 'tmpfs', flags & ~MS_RDONLY, 'mode=755', root));
  for (const procs of i.cgroupProcs) {
    const m = /^\/sys\/fs\/cgroup\/([^/]+)\/(.*\/)?cgroup\.procs$/.exec(procs);
    if (!m) continue;
    const hierarchy = m[1]!;
    const sub = join(target, hierarchy);
    ops.push(mkdir(sub, root), ...bindOps(dirname(procs), sub, flags | MS_REC, root));
    if (hierarchy.includes(',')) {
      for (const part of hierarchy.split(',')) ops.push(op(OpCode.SYMLINK, str(hierarchy), str(join(target, part))));
    }
  }
  if (flags & MS_RDONLY) ops.push(mountOp('', target, '', MS_REMOUNT | (flags & ~MS_REC), 'mode=755', root));
  return ops;
}

function deviceOps(i: RootfsInput): Op[] {
  const root = i.rootfs;
  const specDevices = i.spec.linux?.devices ?? [];
  const overridden = new Set(specDevices.map((d) => clean(d.path)));
  const devices = [...DEFAULT_DEVICES.filter((d) => !overridden.has(d.path)), ...specDevices];
  const ops: Op[] = [];
  for (const d of devices) {
    const target = i.resolver.hostPath(d.path);
    ops.push(mkdir(dirname(target), root));
    if (i.userns && d.type !== 'p') {
      // mknod of a device is refused in a user namespace: bind the host's node instead.
      ops.push(op(OpCode.TOUCH, str(target), int(0o644), str(root)), mountOp(d.path, target, '', MS_BIND, '', root));
      continue;
    }
    const kind = d.type === 'b' ? S_IFBLK : d.type === 'p' ? S_IFIFO : S_IFCHR;
    const dev = d.type === 'p' ? 0n : makeDev(d.major ?? 0, d.minor ?? 0);
    ops.push(op(OpCode.MKNOD, str(target), int(kind | ((d.fileMode ?? 0o666) & 0o7777)), int(dev), int(d.uid ?? 0), int(d.gid ?? 0)));
  }
  return ops;
}

function devLinkOps(i: RootfsInput): Op[] {
  const hasProc = (i.spec.mounts ?? []).some((m) => m.type === 'proc' && clean(m.destination) === '/proc');
  const links: [string, string][] = [
    ['/proc/self/fd', '/dev/fd'],
    ['/proc/self/fd/0', '/dev/stdin'],
    ['/proc/self/fd/1', '/dev/stdout'],
    ['/proc/self/fd/2', '/dev/stderr'],
  ];
  if (hasProc) links.push(['/proc/kcore', '/dev/core']);
  // /dev/ptmx → pts/ptmx, the ptmx of the container's devpts (unless linux.devices has one).
  if (!(i.spec.linux?.devices ?? []).some((d) => clean(d.path) === '/dev/ptmx')) links.push(['pts/ptmx', '/dev/ptmx']);
  return links.map(([target, link]) => op(OpCode.SYMLINK, str(target), str(i.resolver.hostPath(link))));
}

/** The mount point, among those in mountinfo, that holds path (the longest prefix). */
export function mountPointOf(path: string, mountinfo: string): string {
  let best = '/';
  for (const line of mountinfo.split('\n')) {
    const target = line.split(' ')[4]?.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    if (!target) continue;
    const inside = target === '/' || path === target || path.startsWith(target + '/');
    if (inside && target.length > best.length) best = target;
  }
  return best;
}

export function planRootfs(i: RootfsInput): RootfsPlan {
  const { spec, rootfs, resolver } = i;
  const ops: Op[] = [];
  const afterPivot: Op[] = [];
  const propagation = spec.linux?.rootfsPropagation;
  // Nothing the container mounts propagates back to the host (MS_SLAVE by default).
  const rootFlags = propagation ? PROPAGATION_OPTIONS[propagation]! : MS_SLAVE | MS_REC;
  ops.push(mountOp('', '/', '', rootFlags, '', ''));
  // pivot_root refuses a new root whose parent mount is shared: with (r)shared asked for,
  // the mount holding the rootfs goes back to private (only that one, not recursively).
  if (rootFlags & MS_SHARED) {
    ops.push(mountOp('', mountPointOf(rootfs, i.host.mountinfo ?? readFileSync('/proc/self/mountinfo', 'utf8')), '', MS_PRIVATE, '', ''));
  }
  // pivot_root needs the new root to be a mount point.
  ops.push(mountOp(rootfs, rootfs, '', MS_BIND | MS_REC, '', ''));

  const selinuxLabel = i.host.selinux ? spec.linux?.mountLabel : undefined;
  (spec.mounts ?? []).forEach((m, idx) => {
    const field = `mounts[${idx}]`;
    if (m.uidMappings?.length || m.gidMappings?.length) {
      throw notImplemented(`${field}: id-mapped mounts (uidMappings/gidMappings) are not supported by berth`);
    }
    const o = parseMountOptions(m.options ?? [], `${field}.options`);
    const bind = isBindMount(m);
    const dest = resolver.resolve(m.destination);
    if (dest === '/') throw notImplemented(`${field}.destination: a mount on the container's / is not supported (use root.path)`);
    checkProcDestination(dest, m, field);
    const target = join(rootfs, dest);
    let flags = o.flags;
    if (clean(m.destination) === '/dev' && !bind && flags & MS_RDONLY) {
      // /dev is filled below: mount it writable and make it read-only after pivot_root.
      flags &= ~MS_RDONLY;
      afterPivot.push(mountOp('', '/dev', '', MS_REMOUNT | o.flags, o.data.join(','), ''));
    }

    if (m.type === 'cgroup' && !bind) {
      ops.push(...cgroupOps(i, target, flags, o.data));
      resolver.addMount(dest, null);
    } else if (bind) {
      if (!m.source) throw invalidParameter(`${field}.source: required for a bind mount`);
      const src = isAbsolute(m.source) ? m.source : resolve(i.bundle, m.source);
      const st = statSource(src, field);
      if (st.isDirectory()) {
        ops.push(mkdir(target, rootfs));
      } else {
        ops.push(mkdir(dirname(target), rootfs), op(OpCode.TOUCH, str(target), int(0o644), str(rootfs)));
      }
      ops.push(...bindOps(src, target, flags | MS_BIND, rootfs));
      resolver.addMount(dest, st.isDirectory() ? src : null);
    } else {
      if (!m.type) throw invalidParameter(`${field}.type: required (only bind mounts may omit it)`);
      const data = [...o.data];
      if (m.type === 'devpts' && !data.some((d) => d.startsWith('ptmxmode='))) data.push('ptmxmode=0666');
      if (selinuxLabel && !NO_MOUNT_LABEL.has(m.type)) data.push(`context="${selinuxLabel}"`);
      ops.push(mkdir(target, rootfs), mountOp(m.source ?? m.type, target, m.type, flags, data.join(','), rootfs));
      resolver.addMount(dest, null);
    }
    for (const p of o.propagation) ops.push(mountOp('', target, '', p, '', rootfs));
  });

  if (needsDevSetup(spec)) ops.push(...deviceOps(i), ...devLinkOps(i));
  return { ops, afterPivot, sharedRoot: (rootFlags & MS_SHARED) !== 0 };
}
