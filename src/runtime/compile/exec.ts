// Compile the init program that runs another process in a running container (runc's
// setns path: nsexec.c joining, setns_init_linux.go).
//
//   top     CONNECT (host paths first), SETRLIMIT, oom_score_adj, CLONE(0)
//           parent: RELEASE, CHILD_CGROUP…, CHILD_JOINED, WAIT_CHILD   (stays in the host namespaces)
//   middle  [PIDFILE_DIR .] SETNS_PID(pid, namespaces), WAIT_JOINED, CLONE(0)
//           parent: CHILD_REPORT, RELEASE, [CHILD_PIDFILE name] WAIT_CHILD or EXIT 0
//   child   (in the container's pid namespace too) process setup, EXEC
//
// The top is there for a parent that stays in the host's namespaces while the middle joins
// the container's. When nothing needs one (no cgroup file the middle cannot join itself, no
// user namespace to enter), berth-init is the middle: one process fewer to make, to wake and
// to reap on every exec.
//
//   top     CONNECT, SETRLIMIT, oom_score_adj, self moves into the v1 cgroups, [PIDFILE_DIR .]
//           [CLONE_INTO_CGROUP v2 dir, opened before] SETNS_PID, CLONE(0)
//           parent: CHILD_REPORT, RELEASE, [CHILD_PIDFILE name] WAIT_CHILD or EXIT 0
//   child   as above

import { invalidParameter } from '../../errors.js';
import { bytes, int, op, OpCode, str, type Op } from '../init-program.js';
import { planCgroupJoin } from './cgroup-join.js';
import { CLONE_NEWUSER, O_CREAT, O_TRUNC, O_WRONLY } from './flags.js';
import { detectHost } from './host.js';
import {
  apparmorOps,
  boundingOp,
  execOp,
  identityOps,
  oomScoreOps,
  processEnv,
  refuseUnsupported,
  REG_CONSOLE,
  ptyOwnerOps,
  rlimitOps,
  seccompOp,
  seccompListenerOps,
  selinuxOps,
} from './process.js';
import { RootfsResolver } from './secure-join.js';
import type { ExecInput } from './types.js';
import type { CompiledSeccomp } from '../seccomp.js';

/**
 * Docker's profile (or any) split for a launch prepared ahead: `stage1` is the profile with
 * clone3 allowed, loaded by berth-init before its program comes (the clone into the v2
 * cgroup comes after); `stage2`, loaded by the child, gives clone3 the profile's own answer
 * (undefined when the profile allows it). Filters stack and the strictest answer wins, so the
 * process ends with exactly the profile.
 */
export interface SeccompAhead {
  stage1: CompiledSeccomp;
  stage2: CompiledSeccomp | undefined;
}

/** Registers for the v1 `tasks` files a launch prepared ahead opens before SETNS_PID. */
const AHEAD_REGS = [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14];
/** The register for its pid file, made and opened there too: the pid is only written later. */
const REG_PID = 15;

export function compileExec(input: ExecInput): Op[] {
  return compileExecParts(input, undefined);
}

/**
 * The exec program in two parts for a launch prepared ahead (docs/runtime.md): `prelude`,
 * which berth-init runs as soon as it starts (it joins the namespaces and the keyring, loads
 * `stages.stage1`, then AWAIT_PROGRAM), and `main`, sent when the exec starts. Undefined
 * when the exec cannot be prepared so (a console, a user namespace, cgroup moves by a
 * parent, a seccomp listener, no pid file).
 */
export function compileExecAhead(input: ExecInput, stages: SeccompAhead): { prelude: Op[]; main: Op[] } | undefined {
  return compileExecParts(input, stages);
}

function compileExecParts(input: ExecInput, aheadStages: undefined): Op[];
function compileExecParts(input: ExecInput, aheadStages: SeccompAhead): { prelude: Op[]; main: Op[] } | undefined;
function compileExecParts(input: ExecInput, aheadStages: SeccompAhead | undefined): Op[] | { prelude: Op[]; main: Op[] } | undefined {
  const p = input.process;
  if (!p.args || p.args.length === 0) throw invalidParameter('process.args: expected a non-empty array of strings');
  if (!Number.isInteger(input.pid) || input.pid <= 0) throw invalidParameter(`pid: not a process id: ${input.pid}`);
  if (input.pidFile !== undefined && (input.pidFile.includes('/') || input.pidFile === '' || input.pidFile === '.' || input.pidFile === '..')) {
    throw invalidParameter(
      `pidFile: ${JSON.stringify(input.pidFile)}: not written by the exec program (its writer is already in the container's mount namespace); only a file name in berth-init's starting directory is, else write it from the "pid" sync message`,
    );
  }
  if (input.pidFile !== undefined && input.mode !== 'detached') throw invalidParameter('pidFile: only with mode detached (the middle that writes it then exits)');
  refuseUnsupported(p, 'process');
  const terminal = p.terminal === true;
  if (terminal && !input.consoleSocket) throw invalidParameter('process.terminal is true but no console socket was given');
  if (!terminal && input.consoleSocket) throw invalidParameter('a console socket was given but process.terminal is not true');
  const rootless = input.rootless ?? (process.geteuid?.() ?? 0) !== 0;
  const host = input.host ?? detectHost();
  const nnp = input.noNewPrivileges ?? p.noNewPrivileges === true;
  const env = processEnv(p, input.rootfs ? new RootfsResolver(input.rootfs).readablePath('/etc/passwd') : null);

  const top: Op[] = [];
  if (terminal) top.push(op(OpCode.CONNECT, str(input.consoleSocket!), int(REG_CONSOLE)));
  top.push(...seccompListenerOps(input.seccomp));
  top.push(...rlimitOps(p), ...oomScoreOps(p));
  // The middle joins the container's namespaces while the top moves it into the cgroups
  // (setns depends on neither); its child, which inherits the cgroups, is cloned after.
  // The middle is still in the runtime's user namespace: it moves itself into the v1
  // cgroups and is cloned into the v2 one (cgroup-join.ts), no grace period to wait for.
  const join = planCgroupJoin(input.cgroupProcs, true, input.cgroupFsKind);
  const joins = join.parentMoves.length > 0;
  const topParent: Op[] = [op(OpCode.RELEASE)];
  if (joins) topParent.push(...join.parentMoves.map((f) => op(OpCode.CHILD_CGROUP, str(f))), op(OpCode.CHILD_JOINED));
  // The top process always waits for the middle one, so its status reports a failed join.
  topParent.push(op(OpCode.WAIT_CHILD));

  const selfMoves = join.selfMove.map((f) => op(OpCode.WRITE_FILE, str(f), bytes('0'), int(0), int(0)));
  const setns = input.namespaces !== 0 ? [op(OpCode.SETNS_PID, int(input.pid), int(input.namespaces))] : [];
  // With a pid file the middle leaves at once: the process's exit then wakes its monitor
  // directly (no middle to wake, reap and end first).
  const pidDir = input.pidFile !== undefined ? [op(OpCode.PIDFILE_DIR, str('.'))] : [];
  const middle: Op[] = [...pidDir, ...selfMoves, ...setns];
  if (joins) middle.push(op(OpCode.WAIT_JOINED));
  const middleParent = (ahead: boolean): Op[] => [
    op(OpCode.CHILD_REPORT),
    op(OpCode.RELEASE),
    ...(input.pidFile === undefined ? [] : ahead ? [op(OpCode.CHILD_PID_REG, int(REG_PID))] : [op(OpCode.CHILD_PIDFILE, str(input.pidFile))]),
    input.mode === 'foreground' ? op(OpCode.WAIT_CHILD) : op(OpCode.EXIT, int(0)),
  ];

  const userns = (input.namespaces & CLONE_NEWUSER) !== 0;
  const keyring = input.noNewKeyring ? [] : [op(OpCode.JOIN_KEYRING, str(input.containerId ? `_ses.${input.containerId}` : ''))];
  // The process's own setup; `ahead`: the keyring was joined and the profile (but for clone3)
  // loaded by berth-init before the program came, the child loads only the second stage.
  const childOps = (ahead?: SeccompAhead): Op[] => {
    const child: Op[] = [];
    const seccomp = ahead ? ahead.stage2 : input.seccomp;
    if (userns) child.push(op(OpCode.SETRESGID, int(0)), op(OpCode.SETRESUID, int(0)));
    if (!terminal) child.push(op(OpCode.SETSID));
    if (!ahead) child.push(...keyring);
    if (terminal) {
      child.push(op(OpCode.CONSOLE, int(REG_CONSOLE), int(p.consoleSize?.height ?? 0), int(p.consoleSize?.width ?? 0)), ...ptyOwnerOps(p));
    }
    child.push(op(OpCode.UMASK, int(p.user.umask ?? 0o022)));
    child.push(...apparmorOps(input.apparmorProfile ?? p.apparmorProfile, host, 'process.apparmorProfile'));
    if (nnp) child.push(op(OpCode.NO_NEW_PRIVS));
    child.push(...selinuxOps(p.selinuxLabel, host, 'process.selinuxLabel'));
    if (seccomp && !nnp) child.push(seccompOp(seccomp));
    child.push(...identityOps({ process: p, field: 'process', preserveFds: input.preserveFds ?? 0, setgroups: !rootless, boundingCut: ahead !== undefined }));
    child.push(op(OpCode.READY));
    if (seccomp && nnp) child.push(seccompOp(seccomp));
    child.push(execOp(p, env));
    return child;
  };

  const cloneInto = join.cloneInto !== undefined ? [op(OpCode.CLONE_INTO_CGROUP, str(join.cloneInto))] : [];
  const finalClone = (ahead?: SeccompAhead): Op[] => {
    const parent = middleParent(ahead !== undefined);
    return [op(OpCode.CLONE, int(0), int(parent.length)), ...parent, ...childOps(ahead)];
  };
  if (aheadStages) {
    // Ahead: what does not depend on the exec runs before its program comes (the v1 `tasks`
    // files opened, not written: the process must not show in the container's cgroups
    // before it runs); only a berth-init that is the middle itself, without a console.
    if (joins || userns || terminal || input.pidFile === undefined || input.seccomp?.listenerPath || join.selfMove.length > AHEAD_REGS.length) return undefined;
    const regs = join.selfMove.map((_f, i) => AHEAD_REGS[i]!);
    const prelude: Op[] = [
      ...top,
      ...join.selfMove.map((f, i) => op(OpCode.OPEN, str(f), int(O_WRONLY), int(regs[i]!))),
      // in berth-init's starting directory, before SETNS_PID leaves the host's mount namespace
      op(OpCode.OPEN, str(input.pidFile), int(O_WRONLY | O_CREAT | O_TRUNC), int(REG_PID)),
      ...cloneInto,
      ...setns,
      ...keyring,
      // The bounding set is the container's for every exec a prepared launch serves (a
      // privileged one is never prepared): cut here, off the process's own start.
      boundingOp(p, 'process'),
      seccompOp(aheadStages.stage1),
      op(OpCode.AWAIT_PROGRAM),
    ];
    const main: Op[] = [...regs.map((r) => op(OpCode.WRITE_REG, int(r), bytes('0'))), ...finalClone(aheadStages)];
    return { prelude, main };
  }
  if (!joins && !userns) return [...top, ...selfMoves, ...pidDir, ...cloneInto, ...setns, ...finalClone()];
  return [
    ...top,
    ...cloneInto,
    op(OpCode.CLONE, int(0), int(topParent.length)),
    ...topParent,
    ...middle,
    ...finalClone(),
  ];
}
