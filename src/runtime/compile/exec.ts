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
import { CLONE_NEWUSER } from './flags.js';
import { detectHost } from './host.js';
import {
  apparmorOps,
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

export function compileExec(input: ExecInput): Op[] {
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
  const middleParent: Op[] = [
    op(OpCode.CHILD_REPORT),
    op(OpCode.RELEASE),
    ...(input.pidFile !== undefined ? [op(OpCode.CHILD_PIDFILE, str(input.pidFile))] : []),
    input.mode === 'foreground' ? op(OpCode.WAIT_CHILD) : op(OpCode.EXIT, int(0)),
  ];

  const child: Op[] = [];
  const userns = (input.namespaces & CLONE_NEWUSER) !== 0;
  if (userns) child.push(op(OpCode.SETRESGID, int(0)), op(OpCode.SETRESUID, int(0)));
  if (!terminal) child.push(op(OpCode.SETSID));
  if (!input.noNewKeyring) child.push(op(OpCode.JOIN_KEYRING, str(input.containerId ? `_ses.${input.containerId}` : '')));
  if (terminal) {
    child.push(op(OpCode.CONSOLE, int(REG_CONSOLE), int(p.consoleSize?.height ?? 0), int(p.consoleSize?.width ?? 0)), ...ptyOwnerOps(p));
  }
  child.push(op(OpCode.UMASK, int(p.user.umask ?? 0o022)));
  child.push(...apparmorOps(input.apparmorProfile ?? p.apparmorProfile, host, 'process.apparmorProfile'));
  if (nnp) child.push(op(OpCode.NO_NEW_PRIVS));
  child.push(...selinuxOps(p.selinuxLabel, host, 'process.selinuxLabel'));
  if (input.seccomp && !nnp) child.push(seccompOp(input.seccomp));
  child.push(...identityOps({ process: p, field: 'process', preserveFds: input.preserveFds ?? 0, setgroups: !rootless }));
  child.push(op(OpCode.READY));
  if (input.seccomp && nnp) child.push(seccompOp(input.seccomp));
  child.push(execOp(p, env));

  const cloneInto = join.cloneInto !== undefined ? [op(OpCode.CLONE_INTO_CGROUP, str(join.cloneInto))] : [];
  const finalClone = [op(OpCode.CLONE, int(0), int(middleParent.length)), ...middleParent, ...child];
  if (!joins && !userns) return [...top, ...selfMoves, ...pidDir, ...cloneInto, ...setns, ...finalClone];
  return [
    ...top,
    ...cloneInto,
    op(OpCode.CLONE, int(0), int(topParent.length)),
    ...topParent,
    ...middle,
    ...finalClone,
  ];
}
