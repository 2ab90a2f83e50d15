// The sandbox of a build's RUN steps: the spec a container gets from the engine's own spec
// builder (oci-spec.ts) — Docker's default capabilities and seccomp profile, masked and
// read-only paths, /etc/hosts, /etc/hostname and /etc/resolv.conf written by etc-files.ts
// into the step's bundle — with `--network none` semantics by default: a network
// namespace of its own, pinned under <exec-root>/netns with lo up (as dockerd's legacy
// builder gives a RUN a container's namespace; Berth does not put RUN on the bridge).
// `--network host` shares the host's namespace, hostname and /etc files.

import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { HostConfig } from '../api/types/container.js';
import type { RunSandbox, RunSpecInput } from '../build/executor/run-step.js';
import { notImplemented } from '../errors.js';
import { createNetns, deleteNetns } from '../network/netns.js';
import { hostnameFile, hostsFile, resolvConf } from './etc-files.js';
import { buildSpec } from './oci-spec.js';

/** `execRoot`: where the steps' network namespaces are pinned (the daemon's exec root). */
export function buildRunSandbox(execRoot: string): RunSandbox {
  return {
    async prepare(i: RunSpecInput) {
      const hc: HostConfig = { NetworkMode: i.network };
      const paths = { hostsPath: join(i.bundle, 'hosts'), hostnamePath: join(i.bundle, 'hostname'), resolvConfPath: join(i.bundle, 'resolv.conf') };
      await writeFile(paths.hostsPath, hostsFile(hc), { mode: 0o644 });
      await writeFile(paths.hostnamePath, hostnameFile(hc, i.hostname), { mode: 0o644 });
      await writeFile(paths.resolvConfPath, resolvConf(hc), { mode: 0o644 });
      const netnsPath = i.network === 'none' ? await createNetns(execRoot, `build-${i.hostname}`) : undefined;
      try {
        const { spec } = buildSpec({ Hostname: i.hostname }, hc, {
          id: i.hostname,
          rootfs: i.rootfs,
          ...paths,
          hostname: i.hostname,
          user: i.user,
          env: i.env,
          args: i.argv,
          cwd: i.cwd,
          cgroupsPath: i.cgroupsPath,
          defaultUlimits: [],
          statDevice: () => {
            throw notImplemented('devices in RUN');
          },
          ...(netnsPath ? { netnsPath } : {}),
        });
        return { spec, release: async () => (netnsPath ? deleteNetns(netnsPath) : undefined) };
      } catch (e) {
        if (netnsPath) await deleteNetns(netnsPath).catch(() => undefined);
        throw e;
      }
    },
  };
}
