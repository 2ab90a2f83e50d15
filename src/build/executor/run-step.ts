// RUN: the command executed in the step's mounted rootfs with the runtime directly. The
// spec comes from a RunSandbox the caller gives (berthd's is src/engine/build-sandbox.ts:
// the engine's own spec builder, so a RUN gets what a container gets — Docker's default
// capabilities, seccomp profile, masked and read-only paths, /etc/hosts, /etc/hostname and
// /etc/resolv.conf, a network namespace with lo up); this file adds the image's user, and
// runs the init program in the foreground, in a cgroup of its own under
// /berth-build-<build>/<step>. Output goes to a callback.

import { lstat, mkdir, readFile, rm, rmdir, unlink, writeFile } from 'node:fs/promises';
import { posix } from 'node:path';
import { BerthError, errorMessage, systemError } from '../../errors.js';
import { openCgroupManager } from '../../runtime/cgroups/index.js';
import { createResources } from '../../runtime/container/devices.js';
import { compileCreate, secureJoin } from '../../runtime/compile/index.js';
import { encodeInitProgram } from '../../runtime/init-program.js';
import { runInit, sealedInitPath } from '../../runtime/init-runner.js';
import { compileSeccomp } from '../../runtime/seccomp.js';
import type { Spec } from '../../runtime/spec/types.js';
import { resolveUser } from './user.js';

/** What a sandbox needs to make the spec of one RUN. */
export interface RunSpecInput {
  rootfs: string;
  /** A directory of the step's own (created, and removed after the step): files the spec binds go there. */
  bundle: string;
  argv: string[];
  env: string[];
  cwd: string;
  user: { uid: number; gid: number; additionalGids: number[] };
  network: 'none' | 'host';
  cgroupsPath: string;
  hostname: string;
}

/** Makes a RUN's spec and what it needs outside the rootfs (network namespace, etc files); release() undoes it. */
export interface RunSandbox {
  prepare(input: RunSpecInput): Promise<{ spec: Spec; release(): Promise<void> }>;
}

export interface RunStepInput {
  rootfs: string;
  /** A directory for the step's bundle (created and removed here). */
  bundle: string;
  argv: string[];
  env: string[];
  workdir?: string;
  user?: string;
  network: 'none' | 'host';
  /** cgroupsPath of the step, e.g. /berth-build-<hash>/<step>. */
  cgroupsPath: string;
  hostname: string;
  onOutput?: (chunk: Buffer, stream: 'stdout' | 'stderr') => void;
}

const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

async function readIn(rootfs: string, p: string): Promise<string | undefined> {
  try {
    return await readFile(secureJoin(rootfs, p), 'utf8');
  } catch {
    return undefined;
  }
}

/** The sandbox's input for a step: the image's user resolved in the rootfs, PATH defaulted. */
export async function runSpecInput(input: RunStepInput): Promise<RunSpecInput> {
  const user = resolveUser(input.user, await readIn(input.rootfs, '/etc/passwd'), await readIn(input.rootfs, '/etc/group'));
  return {
    rootfs: input.rootfs,
    bundle: input.bundle,
    argv: input.argv,
    env: input.env.some((e) => e.startsWith('PATH=')) ? input.env : [DEFAULT_PATH, ...input.env],
    cwd: input.workdir || '/',
    user,
    network: input.network,
    cgroupsPath: input.cgroupsPath,
    hostname: input.hostname,
  };
}

export class RunFailed extends BerthError {
  /** The exit status goes into the stream's errorDetail.code, as dockerd sends it. */
  readonly jsonCode: number;
  constructor(readonly argv: string[], readonly exitCode: number) {
    super('System', `The command '${argv.join(' ')}' returned a non-zero code: ${exitCode}`);
    this.jsonCode = exitCode;
  }
}

/**
 * Mount points the runtime would create in the rootfs (top-level directories, the files
 * bound over /etc/hosts and friends) are made here when missing and removed after, so they
 * are not in the layer — Docker keeps them in a container's init layer, below the diff.
 */
async function makeMountPoints(rootfs: string, spec: Spec): Promise<string[]> {
  const made: string[] = [];
  for (const m of spec.mounts ?? []) {
    const parent = posix.dirname(m.destination);
    const host = secureJoin(rootfs, m.destination);
    const isFile = m.type === 'bind' && parent === '/etc';
    if (parent !== '/' && !isFile) continue; // below a tmpfs or sysfs
    if (await lstat(host).then(() => true, () => false)) continue;
    if (isFile) {
      const dir = secureJoin(rootfs, parent);
      if (!(await lstat(dir).then(() => true, () => false))) {
        await mkdir(dir, { recursive: true });
        made.push(dir);
      }
      await writeFile(host, '', { mode: 0o644 });
    } else await mkdir(host, { recursive: true });
    made.push(host);
  }
  return made;
}

async function removeMountPoints(made: string[]): Promise<void> {
  for (const p of [...made].reverse()) {
    const st = await lstat(p).catch(() => undefined);
    if (!st) continue;
    await (st.isDirectory() ? rmdir(p) : unlink(p)).catch(() => undefined);
  }
}

/**
 * Runs the step with the sandbox's spec; resolves when the command exited 0, rejects with
 * RunFailed otherwise. The cgroup (and every process left in it), the sandbox's network
 * namespace and files are gone when this settles.
 */
export async function runStep(input: RunStepInput, sandbox: RunSandbox): Promise<void> {
  await mkdir(input.bundle, { recursive: true, mode: 0o700 });
  let made: string[] = [];
  let release: (() => Promise<void>) | undefined;
  const cg = openCgroupManager({ cgroupsPath: input.cgroupsPath });
  let exitCode: number | null = null;
  let signal: NodeJS.Signals | null = null;
  let startError: unknown;
  try {
    const prepared = await sandbox.prepare(await runSpecInput(input));
    release = prepared.release;
    const spec = prepared.spec;
    made = await makeMountPoints(input.rootfs, spec);
    if (input.workdir) await mkdir(secureJoin(input.rootfs, input.workdir), { recursive: true });
    await cg.create();
    await cg.apply(createResources(spec));
    const seccomp = spec.linux?.seccomp ? compileSeccomp(spec.linux.seccomp, 'seccomp profile') : undefined;
    const ops = compileCreate({ spec, rootfs: input.rootfs, bundle: input.bundle, mode: 'foreground', cgroupProcs: cg.procsFiles(), containerId: input.hostname, ...(seccomp ? { seccomp } : {}) });
    const h = runInit({ program: encodeInitProgram(ops), stdio: ['ignore', 'pipe', 'pipe'], initPath: await sealedInitPath() });
    h.child.stdout?.on('data', (c: Buffer) => input.onOutput?.(c, 'stdout'));
    h.child.stderr?.on('data', (c: Buffer) => input.onOutput?.(c, 'stderr'));
    h.ready.catch((e: unknown) => {
      startError = e;
    });
    const exit = await h.exit;
    exitCode = exit.code;
    signal = exit.signal;
    // Let a pending `error` line of berth-init land.
    await Promise.race([h.ready.catch(() => undefined), new Promise((r) => setTimeout(r, 50))]);
  } finally {
    try {
      if ((await cg.exists()) && (await cg.pids()).length) await cg.kill('SIGKILL');
    } catch { /* gone */ }
    const cgError = await cg.destroy().then(() => undefined, (e: unknown) => e);
    await release?.().catch(() => undefined);
    await removeMountPoints(made);
    await rm(input.bundle, { recursive: true, force: true }).catch(() => undefined);
    if (cgError !== undefined) throw systemError(`remove build cgroup ${input.cgroupsPath}: ${errorMessage(cgError)}`, cgError);
  }
  if (exitCode === 0) return;
  if (startError !== undefined && exitCode !== 0) throw systemError(`RUN ${input.argv.join(' ')}: ${errorMessage(startError)}`, startError);
  throw new RunFailed(input.argv, exitCode ?? (signal ? 128 : 1));
}
