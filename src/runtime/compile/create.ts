// Compile a validated spec into the init program that creates a container. The order
// follows runc (nsexec.c, rootfs_linux.go, standard_init_linux.go); docs/runtime.md
// lists it step by step.

import { invalidParameter } from '../../errors.js';
import { bytes, int, op, OpCode, str, type Op } from '../init-program.js';
import { CLONE_NEWCGROUP, CLONE_NEWNS, O_DIRECTORY, MS_BIND, MS_RDONLY, MS_REMOUNT, O_PATH, PER_LINUX, PER_LINUX32 } from './flags.js';
import { detectHost } from './host.js';
import { planNamespaces } from './namespaces.js';
import {
  apparmorOps,
  execOp,
  hookOp,
  identityOps,
  oomScoreOps,
  processEnv,
  refuseUnsupported,
  REG_CONSOLE,
  ptyOwnerOps,
  REG_EXEC_FIFO,
  rlimitOps,
  seccompOp,
  seccompListenerOps,
  selinuxOps,
} from './process.js';
import { planCgroupJoin } from './cgroup-join.js';
import { planRootfs } from './rootfs.js';
import { RootfsResolver } from './secure-join.js';
import type { CreateInput } from './types.js';
import type { Spec } from '../spec/types.js';
import { basename, dirname } from 'node:path';

function sysctlPath(key: string): string {
  return `/proc/sys/${key.includes('/') ? key : key.replaceAll('.', '/')}`;
}

/** What a joined mount namespace cannot honour: mounts, devices, masks, a read-only root. */
function refuseRootfsSetup(spec: Spec): void {
  const asks: [string, boolean][] = [
    ['mounts', (spec.mounts?.length ?? 0) > 0],
    ['linux.devices', (spec.linux?.devices?.length ?? 0) > 0],
    ['linux.maskedPaths', (spec.linux?.maskedPaths?.length ?? 0) > 0],
    ['linux.readonlyPaths', (spec.linux?.readonlyPaths?.length ?? 0) > 0],
    ['root.readonly', spec.root?.readonly === true],
  ];
  const field = asks.find(([, yes]) => yes)?.[0];
  if (field) {
    throw invalidParameter(`${field}: cannot be set up in a joined mount namespace (linux.namespaces mount has a path); leave it empty`);
  }
}

/** ops the first time it is called, nothing afterwards. */
function once(ops: Op[]): () => Op[] {
  let given = false;
  return () => {
    if (given) return [];
    given = true;
    return ops;
  };
}

export function compileCreate(input: CreateInput): Op[] {
  const { spec, rootfs } = input;
  const p = spec.process;
  if (!p) throw invalidParameter('process: required to create a container');
  if (!p.args || p.args.length === 0) throw invalidParameter('process.args: expected a non-empty array of strings');
  refuseUnsupported(p, 'process');
  const terminal = p.terminal === true;
  if (terminal && !input.consoleSocket) throw invalidParameter('process.terminal is true but no console socket was given');
  if (!terminal && input.consoleSocket) throw invalidParameter('a console socket was given but process.terminal is not true');
  if (input.pidFile !== undefined && input.pidFile === '') throw invalidParameter('pidFile: empty path');
  if (spec.linux?.seccomp && !input.seccomp) {
    throw invalidParameter('linux.seccomp: set in the spec but no compiled filter was given to the compiler');
  }
  const rootless = input.rootless ?? (process.geteuid?.() ?? 0) !== 0;
  const host = input.host ?? detectHost();
  const nnp = p.noNewPrivileges === true;
  const ns = planNamespaces(spec, rootless);

  // --- before CLONE: in the runtime's namespaces, with its credentials ---------------
  const pre: Op[] = [];
  // Host paths first: after SETNS (a joined user namespace) they may be out of reach.
  if (terminal) pre.push(op(OpCode.CONNECT, str(input.consoleSocket!), int(REG_CONSOLE)));
  // In a joined mount namespace /proc may belong to another pid namespace, so the fifo is
  // reached by name from its directory rather than reopened through /proc/self/fd.
  const fifoAt = input.execFifo && ns.joinMount ? { dir: dirname(input.execFifo), name: basename(input.execFifo) } : undefined;
  if (fifoAt) pre.push(op(OpCode.OPEN, str(fifoAt.dir), int(O_PATH | O_DIRECTORY), int(REG_EXEC_FIFO)));
  else if (input.execFifo) pre.push(op(OpCode.OPEN, str(input.execFifo), int(O_PATH), int(REG_EXEC_FIFO)));
  pre.push(...seccompListenerOps(input.seccomp));
  pre.push(...rlimitOps(p), ...oomScoreOps(p), ...ns.preClone);

  // --- the parent, after CLONE -----------------------------------------------------
  // The pid first: whoever follows the sync fd (berthd) can record the run while the child
  // is moved into its cgroups. The child is released before that move (a migration per
  // cgroup.procs; on cgroup v1 the first one after a quiet moment waits ~8 ms for an RCU
  // grace period), sets up its rootfs meanwhile and waits for CHILD_JOINED only where
  // being in its cgroups starts to matter (docs/runtime.md, "Joining the cgroups").
  // Without a new user namespace the child moves itself into its v1 cgroups and is cloned
  // into its v2 one, which costs no grace period (cgroup-join.ts); what is left is the parent's.
  const join = planCgroupJoin(input.cgroupProcs, ns.userns === 'none', input.cgroupFsKind);
  const joins = join.parentMoves.length > 0;
  const pidFile = input.pidFile ? [op(OpCode.CHILD_PIDFILE, str(input.pidFile))] : [];
  const parent: Op[] = [op(OpCode.CHILD_REPORT), ...ns.parentMaps];
  if (joins) {
    parent.push(op(OpCode.RELEASE), ...join.parentMoves.map((f) => op(OpCode.CHILD_CGROUP, str(f))), ...pidFile, op(OpCode.CHILD_JOINED));
  } else {
    parent.push(...pidFile, op(OpCode.RELEASE));
  }
  parent.push(input.mode === 'foreground' ? op(OpCode.WAIT_CHILD) : op(OpCode.EXIT, int(0)));

  // --- the child --------------------------------------------------------------------
  // In its cgroups from here: a new cgroup namespace is rooted at the cgroups the process
  // is in when it unshares. Emitted once, before the first op that needs it.
  const inCgroups = once([
    ...(joins ? [op(OpCode.WAIT_JOINED)] : []),
    ...(ns.newCgroup ? [op(OpCode.UNSHARE, int(CLONE_NEWCGROUP))] : []),
  ]);
  // Its own moves first: everything the child does is accounted to the container.
  const child: Op[] = [...join.selfMove.map((f) => op(OpCode.WRITE_FILE, str(f), bytes('0'), int(0), int(0))), ...ns.childEarly];
  // CONSOLE starts its own session; without a terminal the child leaves the runtime's.
  if (!terminal) child.push(op(OpCode.SETSID));
  if (!input.noNewKeyring) child.push(op(OpCode.JOIN_KEYRING, str(input.containerId ? `_ses.${input.containerId}` : '')));
  child.push(op(OpCode.UMASK, int(0)));

  let env: string[];
  if (ns.joinMount) {
    // The joined namespace's root is already in place (another container's): nothing of
    // the rootfs is set up there, and a config that asks for it is refused, not ignored.
    refuseRootfsSetup(spec);
    // Nothing to overlap with the join here.
    child.push(...inCgroups());
    if (input.syncHooks) child.push(op(OpCode.SYNC, str('hooks')));
    child.push(op(OpCode.SETNS, str(ns.joinMount), int(CLONE_NEWNS)));
    env = processEnv(p, null);
    if (terminal) child.push(op(OpCode.CONSOLE, int(REG_CONSOLE), int(p.consoleSize?.height ?? 0), int(p.consoleSize?.width ?? 0)), ...ptyOwnerOps(p));
  } else {
    const resolver = new RootfsResolver(rootfs);
    const fs = planRootfs({
      spec,
      rootfs,
      bundle: input.bundle,
      resolver,
      host,
      userns: ns.userns !== 'none',
      cgroupns: !!spec.linux?.namespaces?.some((n) => n.type === 'cgroup'),
      cgroupProcs: input.cgroupProcs,
      ...(ns.newCgroup ? { inCgroupns: inCgroups } : {}),
    });
    // A root shared with the host's mount namespace propagates every mount there: a child
    // killed by a failed join would leave them behind, so it sets nothing up before.
    if (fs.sharedRoot) child.push(...inCgroups());
    child.push(...fs.ops);
    // runc creates a missing cwd (as root, before the user switch).
    child.push(op(OpCode.MKDIR, str(resolver.hostPath(p.cwd)), int(0o755), str(rootfs)));
    env = processEnv(p, resolver.readablePath('/etc/passwd'));
    // createRuntime hooks see the process in its cgroups.
    if (input.syncHooks) child.push(...inCgroups(), op(OpCode.SYNC, str('hooks')));

    child.push(input.noPivot ? op(OpCode.MOVE_ROOT, str(rootfs)) : op(OpCode.PIVOT_ROOT, str(rootfs)));
    if (terminal) {
      const rows = p.consoleSize?.height ?? 0;
      const cols = p.consoleSize?.width ?? 0;
      // Opening /dev/ptmx is a device access: under the container's device rules.
      child.push(...inCgroups(), op(OpCode.CONSOLE, int(REG_CONSOLE), int(rows), int(cols)), ...ptyOwnerOps(p));
    }
    child.push(...fs.afterPivot);
    if (spec.root?.readonly) child.push(op(OpCode.MOUNT, str(''), str('/'), str(''), int(MS_REMOUNT | MS_BIND | MS_RDONLY), str(''), str('')));
  }
  child.push(op(OpCode.UMASK, int(p.user.umask ?? 0o022)));
  if (spec.hostname) child.push(op(OpCode.SETHOSTNAME, str(spec.hostname)));
  if (spec.domainname) child.push(op(OpCode.SETDOMAINNAME, str(spec.domainname)));
  child.push(...apparmorOps(p.apparmorProfile, host, 'process.apparmorProfile'));
  for (const [key, value] of Object.entries(spec.linux?.sysctl ?? {})) {
    child.push(op(OpCode.WRITE_FILE, str(sysctlPath(key)), bytes(value), int(0), int(0)));
  }
  for (const path of spec.linux?.readonlyPaths ?? []) child.push(op(OpCode.READONLY_PATH, str(path)));
  for (const path of spec.linux?.maskedPaths ?? []) child.push(op(OpCode.MASK_PATH, str(path)));
  const personality = spec.linux?.personality;
  if (personality) child.push(op(OpCode.PERSONALITY, int(personality.domain === 'LINUX32' ? PER_LINUX32 : PER_LINUX)));
  if (nnp) child.push(op(OpCode.NO_NEW_PRIVS));
  child.push(...selinuxOps(p.selinuxLabel, host, 'process.selinuxLabel'));
  // At the latest here: UNSHARE(CLONE_NEWCGROUP) needs CAP_SYS_ADMIN and must not meet the
  // seccomp filter; and everything after (READY, the attach SYNC berthd inserts, hooks,
  // EXEC) belongs to a process in its cgroups.
  child.push(...inCgroups());
  // Without no_new_privs loading a filter needs CAP_SYS_ADMIN: before the user switch.
  if (input.seccomp && !nnp) child.push(seccompOp(input.seccomp));
  child.push(...identityOps({ process: p, field: 'process', preserveFds: input.preserveFds ?? 0, setgroups: !rootless }));
  child.push(op(OpCode.READY));
  if (fifoAt) child.push(op(OpCode.WAIT_FIFO_AT, int(REG_EXEC_FIFO), str(fifoAt.name)));
  else if (input.execFifo) child.push(op(OpCode.WAIT_FIFO, int(REG_EXEC_FIFO)));
  if (input.startContainerHooks) {
    for (const h of spec.hooks?.startContainer ?? []) child.push(hookOp(h, input.stateJson ?? ''));
  }
  // With no_new_privs: as late as possible, so the filter sees the fewest runtime syscalls.
  if (input.seccomp && nnp) child.push(seccompOp(input.seccomp));
  child.push(execOp(p, env));

  const into = join.cloneInto !== undefined ? [op(OpCode.CLONE_INTO_CGROUP, str(join.cloneInto))] : [];
  return [...pre, ...into, op(OpCode.CLONE, int(ns.cloneFlags), int(parent.length)), ...parent, ...child];
}
