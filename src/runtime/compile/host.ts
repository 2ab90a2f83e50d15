// Detection of the host facts the compiler depends on (HostFeatures).

import { existsSync, readFileSync, statfsSync } from 'node:fs';
import type { HostFeatures } from './types.js';

const CGROUP2_SUPER_MAGIC = 0x63677270;

export function detectHost(): HostFeatures {
  let apparmor = false;
  try {
    apparmor = readFileSync('/sys/module/apparmor/parameters/enabled', 'utf8').trim() === 'Y';
  } catch {
    // module absent
  }
  let cgroup: HostFeatures['cgroup'] = 'legacy';
  try {
    if (statfsSync('/sys/fs/cgroup').type === CGROUP2_SUPER_MAGIC) cgroup = 'unified';
  } catch {
    // no /sys/fs/cgroup
  }
  return { apparmor, selinux: existsSync('/sys/fs/selinux/enforce'), cgroup };
}

let detected: HostFeatures | undefined;

/** detectHost() once per process: for a daemon that compiles on every request (exec). */
export function detectHostOnce(): HostFeatures {
  detected ??= detectHost();
  return detected;
}
