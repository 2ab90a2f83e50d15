// Namespaces of a new container: which are created by CLONE, which are joined with SETNS
// before it, the time namespace made with UNSHARE before it, the uid/gid maps the parent
// writes, and the child's first steps in a user namespace.

import { invalidParameter, notImplemented } from '../../errors.js';
import { bytes, int, intlist, op, OpCode, str, type Op } from '../init-program.js';
import type { LinuxIDMapping, LinuxNamespace, Spec } from '../spec/types.js';
import { CLONE_NEWCGROUP, CLONE_NEWTIME, namespaceFlag } from './flags.js';

export { namespaceFlag } from './flags.js';

/**
 * Order of SETNS: the user namespace first (it gives the capabilities to join the
 * others), mount last (joining it changes what the other paths mean).
 */
const JOIN_ORDER = ['user', 'ipc', 'uts', 'network', 'pid', 'cgroup', 'time', 'mount'];

export interface NamespacePlan {
  /** SETNS joins, UNSHARE(CLONE_NEWTIME) and its offsets: run before CLONE. */
  preClone: Op[];
  /** CLONE_NEW* flags of the CLONE (never CLONE_NEWCGROUP nor CLONE_NEWTIME). */
  cloneFlags: number;
  /** Parent ops after CLONE: setgroups, uid_map, gid_map. */
  parentMaps: Op[];
  /** The child's first ops after RELEASE: become root in the user namespace, drop supplementary groups, bring up a new network namespace's loopback. */
  childEarly: Op[];
  /** The child unshares a new cgroup namespace once it is in its cgroup. */
  newCgroup: boolean;
  userns: 'none' | 'new' | 'joined';
  /**
   * An existing mount namespace to join (its path). The child joins it after RELEASE: the
   * parent still needs the runtime's paths (cgroup.procs) after CLONE.
   */
  joinMount?: string;
}

export function mapData(maps: readonly LinuxIDMapping[]): string {
  return maps.map((m) => `${m.containerID} ${m.hostID} ${m.size}\n`).join('');
}

function timeOffsetsData(spec: Spec): string {
  const offsets = spec.linux?.timeOffsets ?? {};
  let out = '';
  for (const clock of ['monotonic', 'boottime']) {
    const o = offsets[clock];
    if (o) out += `${clock} ${o.secs ?? 0} ${o.nanosecs ?? 0}\n`;
  }
  return out;
}

export function planNamespaces(spec: Spec, rootless: boolean): NamespacePlan {
  const namespaces: LinuxNamespace[] = spec.linux?.namespaces ?? [];
  const byType = new Map(namespaces.map((n) => [n.type as string, n]));
  const mount = byType.get('mount');
  if (!mount) throw invalidParameter('linux.namespaces: a mount namespace is required (add {"type":"mount"})');

  const preClone: Op[] = [];
  for (const type of JOIN_ORDER) {
    const ns = byType.get(type);
    if (ns?.path && type !== 'mount') preClone.push(op(OpCode.SETNS, str(ns.path), int(namespaceFlag(type))));
  }
  const time = byType.get('time');
  if (time && !time.path) {
    // A new time namespace applies to children only and its offsets must be written
    // before any process is in it: unshare, write, then CLONE puts the child in it.
    preClone.push(op(OpCode.UNSHARE, int(CLONE_NEWTIME)));
    const data = timeOffsetsData(spec);
    if (data) preClone.push(op(OpCode.WRITE_FILE, str('/proc/self/timens_offsets'), bytes(data), int(0), int(0)));
  }

  let cloneFlags = 0;
  for (const ns of namespaces) {
    if (ns.path || ns.type === 'cgroup' || ns.type === 'time') continue;
    cloneFlags |= namespaceFlag(ns.type);
  }

  const user = byType.get('user');
  const userns: NamespacePlan['userns'] = !user ? 'none' : user.path ? 'joined' : 'new';
  const parentMaps: Op[] = [];
  if (userns === 'new') {
    // An unprivileged writer may only map its own gid, and only once setgroups is denied.
    if (rootless) parentMaps.push(op(OpCode.CHILD_WRITE, str('setgroups'), bytes('deny')));
    parentMaps.push(
      op(OpCode.CHILD_WRITE, str('uid_map'), bytes(mapData(spec.linux?.uidMappings ?? []))),
      op(OpCode.CHILD_WRITE, str('gid_map'), bytes(mapData(spec.linux?.gidMappings ?? []))),
    );
  }

  const childEarly: Op[] = [];
  if (userns !== 'none') childEarly.push(op(OpCode.SETRESGID, int(0)));
  if (!rootless) childEarly.push(op(OpCode.SETGROUPS, intlist([])));
  if (userns !== 'none') childEarly.push(op(OpCode.SETRESUID, int(0)));
  // A new network namespace has only a loopback, down: runc brings it up, and so do we.
  const net = byType.get('network');
  if (net && !net.path) childEarly.push(op(OpCode.LINK_UP, str('lo')));

  const cgroup = byType.get('cgroup');
  return {
    preClone,
    cloneFlags,
    parentMaps,
    childEarly,
    newCgroup: !!cgroup && !cgroup.path,
    userns,
    ...(mount.path ? { joinMount: mount.path } : {}),
  };
}

export { CLONE_NEWCGROUP };
