// Inputs of the compilers (spec → init program).

import type { Process, Spec } from '../spec/types.js';

/** What the SECCOMP op needs (produced by src/runtime/seccomp.ts). */
export interface CompiledSeccomp {
  filter: Buffer;
  flags: number;
  listenerPath: string;
  listenerMessage: Buffer;
}

/** Facts about the host that change the program; detected when not given (tests give them). */
export interface HostFeatures {
  /** /sys/module/apparmor/parameters/enabled is "Y". */
  apparmor: boolean;
  /** /sys/fs/selinux exists (selinuxfs is mounted). */
  selinux: boolean;
  /** 'unified': cgroup2 at /sys/fs/cgroup; 'legacy': v1 controllers (or hybrid) there. */
  cgroup: 'unified' | 'legacy';
  /** The runtime's /proc/self/mountinfo, when a plan needs it (read on demand otherwise). */
  mountinfo?: string;
}

export interface CreateInput {
  spec: Spec;
  /** Absolute host path of the root filesystem. */
  rootfs: string;
  /** Absolute host path of the bundle (relative bind sources are resolved against it). */
  bundle: string;
  /** foreground: the parent WAIT_CHILDs (runc run); detached: the parent EXITs 0 after RELEASE. */
  mode: 'detached' | 'foreground';
  /** OPEN it (O_PATH) before anything, READY, then WAIT_FIFO before EXEC (the create/start split). */
  execFifo?: string;
  consoleSocket?: string;
  noPivot?: boolean;
  noNewKeyring?: boolean;
  preserveFds?: number;
  /** cgroup.procs files: the parent writes the child's pid to each after RELEASE, then CHILD_JOINED. */
  cgroupProcs: string[];
  seccomp?: CompiledSeccomp;
  /** Emit SYNC "hooks" after the mounts and before pivot_root (prestart/createRuntime/createContainer). */
  syncHooks?: boolean;
  /** Emit RUN_HOOK for spec.hooks.startContainer after the exec fifo, before exec (stdin: stateJson). */
  startContainerHooks?: boolean;
  stateJson?: string;
  /** The parent writes the child's pid there (CHILD_PIDFILE) before it exits or waits. */
  pidFile?: string;
  /** Container id: the session keyring is named `_ses.<id>` (anonymous without it). */
  containerId?: string;
  /** The runtime is not root: `setgroups` is denied before gid_map and supplementary groups are left alone. Default: euid != 0. */
  rootless?: boolean;
  host?: HostFeatures;
  /** The kind of a cgroup directory (cgroup-join.ts; default: statfs). Tests set it. */
  cgroupFsKind?: (dir: string) => 'v1' | 'v2' | undefined;
}

export interface ExecInput {
  /** Container init pid (host view). */
  pid: number;
  /** CLONE_NEW* mask of the namespaces to join (every namespace of the container). */
  namespaces: number;
  /** Already validated (parseProcess for --process files). */
  process: Process;
  mode: 'detached' | 'foreground';
  consoleSocket?: string;
  preserveFds?: number;
  /** cgroup.procs files: written with the pid of the process that then joins the namespaces. */
  cgroupProcs: string[];
  seccomp?: CompiledSeccomp;
  /**
   * With mode detached: a file name in berth-init's starting directory (berth-monitor starts
   * it in its own pid file's directory), written through a descriptor of that directory
   * opened before the namespaces are joined; then the middle exits and the process is the
   * monitor's (a subreaper) to reap. A path is refused: the process that learns the pid is
   * already in the container's mount namespace (the runtime writes its pid file from the
   * `pid` sync message).
   */
  pidFile?: string;
  /** Defaults to process.noNewPrivileges. */
  noNewPrivileges?: boolean;
  /** Defaults to process.apparmorProfile. */
  apparmorProfile?: string;
  noNewKeyring?: boolean;
  containerId?: string;
  rootless?: boolean;
  /** Host path of the container's rootfs: HOME is looked up in its /etc/passwd when env lacks it. */
  rootfs?: string;
  host?: HostFeatures;
  /** The kind of a cgroup directory (cgroup-join.ts; default: statfs). Tests set it. */
  cgroupFsKind?: (dir: string) => 'v1' | 'v2' | undefined;
}
