// The process part of an init program, shared by create and exec: limits set before
// the clone, the security setup (AppArmor, no_new_privs, SELinux, seccomp), the switch
// to the container user with its capabilities, and the final exec.

import { readFileSync } from 'node:fs';
import { invalidParameter, notImplemented } from '../../errors.js';
import { capabilityMask } from '../capabilities.js';
import { bytes, int, intlist, op, OpCode, str, strlist, type Op } from '../init-program.js';
import { RLIMITS } from '../spec/parse.js';
import type { Hook, Process } from '../spec/types.js';
import type { CompiledSeccomp, HostFeatures } from './types.js';

/** Registers (docs/init-program.md) used by the compiled programs. */
export const REG_CONSOLE = 0;
export const REG_EXEC_FIFO = 1;
export const REG_SECCOMP_LISTENER = 2;

const INT64_MAX = 2 ** 63 - 1;

/** A uint64 limit of the spec as the op's int64 (-1 is RLIM_INFINITY). */
function rlimitValue(v: number): bigint {
  return v >= INT64_MAX ? -1n : BigInt(v);
}

/**
 * SETRLIMIT ops. They run before CLONE, in the runtime's user namespace, because raising
 * a hard limit needs CAP_SYS_RESOURCE there (runc sets them from the parent for the same
 * reason); the container process inherits them.
 */
export function rlimitOps(p: Process): Op[] {
  return (p.rlimits ?? []).map((r) => op(OpCode.SETRLIMIT, int(RLIMITS[r.type]!), int(rlimitValue(r.soft)), int(rlimitValue(r.hard))));
}

/** oom_score_adj, written before CLONE: lowering it needs CAP_SYS_RESOURCE in the runtime's namespace. */
export function oomScoreOps(p: Process): Op[] {
  if (p.oomScoreAdj === undefined) return [];
  return [op(OpCode.WRITE_FILE, str('/proc/self/oom_score_adj'), bytes(String(p.oomScoreAdj)), int(0), int(0))];
}

/** Fields of Process that berth-init has no op for: refuse them rather than ignore them. */
export function refuseUnsupported(p: Process, field: string): void {
  if (p.ioPriority) throw notImplemented(`${field}.ioPriority: not supported by berth`);
  if (p.scheduler) throw notImplemented(`${field}.scheduler: not supported by berth`);
  if (p.execCPUAffinity) throw notImplemented(`${field}.execCPUAffinity: not supported by berth`);
}

/** HOME from /etc/passwd (runc's rule: only when env has none; "/" when the user is not listed). */
export function homeFor(uid: number, passwdFile: string | null): string {
  if (!passwdFile) return '/';
  let text: string;
  try {
    text = readFileSync(passwdFile, 'utf8');
  } catch {
    return '/';
  }
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length >= 6 && f[2] === String(uid) && f[5]) return f[5];
  }
  return '/';
}

/** The environment the program gets: process.env as given, plus HOME when it has none. */
export function processEnv(p: Process, passwdFile: string | null): string[] {
  const env = [...(p.env ?? [])];
  if (!env.some((e) => e.startsWith('HOME='))) env.push(`HOME=${homeFor(p.user.uid, passwdFile)}`);
  return env;
}

export function apparmorOps(profile: string | undefined, host: HostFeatures, field: string): Op[] {
  if (!profile) return [];
  if (!host.apparmor) {
    throw invalidParameter(`${field}: AppArmor profile "${profile}" is set but AppArmor is not enabled on this host`);
  }
  return [op(OpCode.WRITE_FILE, str('/proc/self/attr/apparmor/exec'), bytes(`exec ${profile}`), int(0), int(0))];
}

export function selinuxOps(label: string | undefined, host: HostFeatures, field: string): Op[] {
  if (!label) return [];
  if (!host.selinux) throw invalidParameter(`${field}: SELinux label "${label}" is set but SELinux is not enabled on this host`);
  return [op(OpCode.WRITE_FILE, str('/proc/self/attr/exec'), bytes(label), int(0), int(0))];
}

/**
 * The pty CONSOLE made is owned by root (it runs before the user switch); the process's
 * user must own its terminal, as with a login. The group stays the one devpts gave it
 * (tty, via the gid= mount option).
 */
export function ptyOwnerOps(p: Process): Op[] {
  const uid = p.user?.uid ?? 0;
  return uid === 0 ? [] : [op(OpCode.FCHOWN, int(0), int(uid), int(-1))];
}

/** The listener is connected while host paths are reachable (before CLONE and SETNS). */
export function seccompListenerOps(s: CompiledSeccomp | undefined): Op[] {
  return s?.listenerPath ? [op(OpCode.CONNECT, str(s.listenerPath), int(REG_SECCOMP_LISTENER))] : [];
}

export function seccompOp(s: CompiledSeccomp): Op {
  const reg = s.listenerPath ? REG_SECCOMP_LISTENER : -1;
  return op(OpCode.SECCOMP, bytes(s.filter), int(s.flags), int(reg), bytes(s.listenerMessage));
}

export interface IdentityOptions {
  process: Process;
  field: string;
  preserveFds: number;
  /** Supplementary groups can be set (setgroups is not denied). */
  setgroups: boolean;
  /** The bounding set was cut before (boundingOp in a launch's first part): not again. */
  boundingCut?: boolean;
}

/** Cuts the bounding set to process.capabilities.bounding (per thread, inherited by children). */
export function boundingOp(p: Process, field: string): Op {
  return op(OpCode.CAP_BOUNDING, int(capabilityMask(p.capabilities?.bounding ?? [], `${field}.capabilities.bounding`)));
}

/**
 * The user switch, as runc's finalizeNamespace: fds above stdio and the preserved ones
 * become close-on-exec, the bounding set is cut while still privileged, capabilities are
 * kept across setresuid, the cwd is entered as the user, then the final capability sets.
 */
export function identityOps(o: IdentityOptions): Op[] {
  const { process: p, field } = o;
  const caps = p.capabilities ?? {};
  const mask = (set: keyof typeof caps): bigint => capabilityMask(caps[set] ?? [], `${field}.capabilities.${set}`);
  const effective = mask('effective');
  const permitted = mask('permitted');
  const inheritable = mask('inheritable');
  // The kernel refuses an ambient capability that is not both permitted and inheritable;
  // runc only warns about those, so they are left out here.
  const ambient = mask('ambient') & permitted & inheritable;
  const ops: Op[] = [op(OpCode.CLOSE_FDS, int(2 + o.preserveFds)), ...(o.boundingCut ? [] : [boundingOp(p, field)]), op(OpCode.KEEPCAPS, int(1))];
  if (o.setgroups) ops.push(op(OpCode.SETGROUPS, intlist(p.user.additionalGids ?? [])));
  ops.push(
    op(OpCode.SETRESGID, int(p.user.gid)),
    op(OpCode.SETRESUID, int(p.user.uid)),
    op(OpCode.CHDIR, str(p.cwd)),
    op(OpCode.KEEPCAPS, int(0)),
    op(OpCode.CAPSET, int(effective), int(permitted), int(inheritable)),
    op(OpCode.CAP_AMBIENT, int(ambient)),
  );
  return ops;
}

export function hookOp(h: Hook, stdin: string): Op {
  return op(
    OpCode.RUN_HOOK,
    str(h.path),
    strlist(h.args && h.args.length > 0 ? h.args : [h.path]),
    strlist(h.env ?? []),
    bytes(stdin),
    int((h.timeout ?? 0) * 1000),
  );
}

export function execOp(p: Process, env: string[]): Op {
  return op(OpCode.EXEC, strlist(p.args ?? []), strlist(env), int(1));
}
