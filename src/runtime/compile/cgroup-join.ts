// How a new process gets into its cgroups without waiting for the kernel.
//
// Writing a pid into a `cgroup.procs` (cgroup v1 or v2) takes the kernel's global cgroup
// threadgroup lock for writing, and the first such write after a quiet moment waits for an
// RCU grace period: 7–15 ms here, on every container start and exec. Two ways avoid it:
//
// - cgroup v1: a single-threaded process that moves itself by writing "0" to a `tasks` file
//   moves only its own thread, which takes no global lock (0.2 ms). berth-init is
//   single-threaded, so that moves the whole process, and its children inherit the cgroups;
// - cgroup v2: clone3's CLONE_INTO_CGROUP makes the child in its cgroup, no migration at all
//   (berth-init falls back to a write when the kernel lacks it).
//
// A process in a new user namespace cannot write the host's cgroup files: its cgroups are
// joined by the parent as before (CHILD_CGROUP).

import { statfsSync } from 'node:fs';
import { dirname, join } from 'node:path';

const CGROUP_SUPER_MAGIC = 0x27e0eb;
const CGROUP2_SUPER_MAGIC = 0x63677270;

export type CgroupFsKind = 'v1' | 'v2' | undefined;

/** The kind of cgroup file system a cgroup directory is on; undefined when unknown (absent). */
export function cgroupFsKind(dir: string): CgroupFsKind {
  try {
    const t = statfsSync(dir).type;
    return t === CGROUP2_SUPER_MAGIC ? 'v2' : t === CGROUP_SUPER_MAGIC ? 'v1' : undefined;
  } catch {
    return undefined;
  }
}

export interface CgroupJoinPlan {
  /** v1 `tasks` files the process writes "0" to itself. */
  selfMove: string[];
  /** The cgroup v2 directory the process is cloned into. */
  cloneInto?: string;
  /** `cgroup.procs` files the parent writes the child's pid to (CHILD_CGROUP). */
  parentMoves: string[];
}

/**
 * Splits the cgroup.procs files a process must join. `self`: the process can write host
 * cgroup files itself (no new user namespace); else every move is the parent's.
 */
export function planCgroupJoin(procsFiles: readonly string[], self: boolean, kindOf: (dir: string) => CgroupFsKind = cgroupFsKind): CgroupJoinPlan {
  const plan: CgroupJoinPlan = { selfMove: [], parentMoves: [] };
  for (const f of procsFiles) {
    const dir = dirname(f);
    const kind = self ? kindOf(dir) : undefined;
    if (kind === 'v1') plan.selfMove.push(join(dir, 'tasks'));
    else if (kind === 'v2' && plan.cloneInto === undefined) plan.cloneInto = dir;
    else plan.parentMoves.push(f);
  }
  return plan;
}
