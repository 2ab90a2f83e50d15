import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, rmdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { defaultSpec } from '../../src/runtime/spec/default-spec.js';
import type { Spec } from '../../src/runtime/spec/types.js';
import { cgroupHierarchies, killCgroupProcesses } from './cgroups.js';
import { copyBusyboxRootfs } from './fixtures.js';
import { makeTempDir, removeTempDir } from './tmp.js';

// OCI bundles for integration tests: a busybox rootfs and a config.json shaped like the one
// `runc spec` writes, so that the same bundle runs under berth-runc, runc and crun.

export interface BundleOptions {
  /** Container id, used as the last element of cgroupsPath. */
  id?: string;
  /** process.args; default `sh -c 'exit 0'`-like `true`. */
  args?: string[];
  /** Add a cgroup namespace (default true, as the tests want the container's own view). */
  cgroupNamespace?: boolean;
  /** Adjust the config before it is written (called once; call bundle.write() after later edits). */
  edit?: (config: Spec) => void;
}

export interface Bundle {
  dir: string;
  config: Spec;
  rootfs: string;
  id: string;
  /** The cgroupsPath written into the config: /berth-test-<random>/<id>. */
  cgroupsPath: string;
  /** Writes config to <dir>/config.json again (after editing bundle.config). */
  write(): Promise<void>;
  /** Kills processes left in the container's cgroup, removes the per-bundle parent cgroup (rmdir only) and the bundle dir. */
  cleanup(): Promise<void>;
}

/** The capabilities `runc spec` grants. */
export const DEFAULT_CAPS = (defaultSpec({ rootless: false }).process?.capabilities?.bounding ?? []) as string[];

/**
 * The config.json `berth-runc spec` (like `runc spec`) writes, with the differences made for
 * tests: no terminal (the harness captures stdout), a writable root (tests create files),
 * a cgroup namespace unless asked otherwise, the caps ambient too (so that a non-root user
 * keeps them) and the test's cgroupsPath.
 */
export function defaultConfig(args: string[], cgroupsPath: string, cgroupNamespace = true): Spec {
  const spec = defaultSpec({ rootless: false, cgroupNamespace });
  const proc = spec.process!;
  proc.terminal = false;
  proc.args = args;
  proc.capabilities!.ambient = [...DEFAULT_CAPS];
  spec.root = { path: 'rootfs', readonly: false };
  spec.hostname = 'berth-test';
  spec.linux!.cgroupsPath = cgroupsPath;
  return spec;
}

/** A short random id usable as a container id and a cgroup name. */
export function randomId(label = 'c'): string {
  return `${label}-${randomBytes(4).toString('hex')}`;
}

export async function makeBundle(opts: BundleOptions = {}): Promise<Bundle> {
  const id = opts.id ?? randomId();
  const dir = await makeTempDir('bundle');
  const parent = `berth-test-${randomBytes(4).toString('hex')}`;
  const cgroupsPath = `/${parent}/${id}`;
  try {
    const rootfs = await copyBusyboxRootfs(dir);
    const config = defaultConfig(opts.args ?? ['true'], cgroupsPath, opts.cgroupNamespace ?? true);
    opts.edit?.(config);
    const write = () => writeFile(join(dir, 'config.json'), JSON.stringify(config, null, 2));
    await write();
    const cleanup = async () => {
      // Processes the runtime left running are killed (a fork storm or a busy loop must not
      // outlive the test), and the per-bundle parent cgroup is removed. A container cgroup
      // left below it is the runtime's leak and stays for the test and the leak check to see.
      const left = killCgroupProcesses(cgroupsPath);
      if (left.length > 0) console.error(`bundle cleanup: killed ${left.length} process(es) left in ${cgroupsPath}`);
      for (const h of cgroupHierarchies()) {
        const p = join(h.mountPoint, parent);
        if (existsSync(p) && readdirSync(p, { withFileTypes: true }).every((e) => !e.isDirectory())) {
          try {
            rmdirSync(p);
          } catch {
            // busy: left for the leak check to report
          }
        }
      }
      await removeTempDir(dir);
    };
    return { dir, config, rootfs, id, cgroupsPath, write, cleanup };
  } catch (e) {
    await removeTempDir(dir);
    throw e;
  }
}
