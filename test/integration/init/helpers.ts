// Shared pieces of the berth-init integration tests: constants, a runner that collects
// output, and the ops of a typical container setup.
import { existsSync, readFileSync, rmdirSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { encodeInitProgram, makeDev, op, OpCode as O, int, intlist, str, strlist, bytes, type Op } from '../../../src/runtime/init-program.js';
import { runInit, type InitHandle, type InitRunOptions } from '../../../src/runtime/init-runner.js';

export const CLONE_NEWNS = 0x00020000;
export const CLONE_NEWCGROUP = 0x02000000;
export const CLONE_NEWUTS = 0x04000000;
export const CLONE_NEWIPC = 0x08000000;
export const CLONE_NEWUSER = 0x10000000;
export const CLONE_NEWPID = 0x20000000;
export const CLONE_NEWNET = 0x40000000;
export const ALL_NS = CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID | CLONE_NEWNET;

export const MS_RDONLY = 1;
export const MS_NOSUID = 2;
export const MS_NODEV = 4;
export const MS_NOEXEC = 8;
export const MS_REMOUNT = 32;
export const MS_BIND = 4096;
export const MS_REC = 16384;
export const MS_SLAVE = 1 << 19;
export const MS_STRICTATIME = 1 << 24;

export const O_PATH = 0o10000000;
export const S_IFCHR = 0o20000;
export const ENV = ['PATH=/usr/sbin:/usr/bin:/sbin:/bin', 'HOME=/root'];

export const skipUnlessRoot = process.getuid?.() !== 0 ? 'needs root' : false;

export const exec = (argv: string[], env: string[] = ENV, search = 1): Op => op(O.EXEC, strlist(argv), strlist(env), int(search));
export const sh = (script: string): Op => exec(['/bin/sh', '-c', script]);

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** The error `ready` rejected with, if it did. */
  readyError: Error | undefined;
  pid: number | undefined;
}

function collect(s: Readable | null): Promise<string> {
  if (!s) return Promise.resolve('');
  let out = '';
  s.setEncoding('utf8');
  s.on('data', (d: string) => (out += d));
  return new Promise((resolve) => s.on('close', () => resolve(out)));
}

export interface Started {
  handle: InitHandle;
  result: Promise<RunResult>;
}

/** Starts a program with stdout and stderr collected; `result` settles when all is over. */
export function start(ops: Op[] | Buffer, opts: Partial<InitRunOptions> = {}): Started {
  const program = Buffer.isBuffer(ops) ? ops : encodeInitProgram(ops);
  const handle = runInit({ stdio: ['ignore', 'pipe', 'pipe'], ...opts, program });
  const out = collect(handle.child.stdout);
  const err = collect(handle.child.stderr);
  const result = (async (): Promise<RunResult> => {
    let readyError: Error | undefined;
    try {
      await handle.ready;
    } catch (e) {
      readyError = e as Error;
    }
    const pid = await handle.pid.catch(() => undefined);
    const { code, signal } = await handle.exit;
    return { code, signal, stdout: await out, stderr: await err, readyError, pid };
  })();
  return { handle, result };
}

export async function run(ops: Op[] | Buffer, opts: Partial<InitRunOptions> = {}): Promise<RunResult> {
  return start(ops, opts).result;
}

/**
 * Runs a program whose parent holds at `SYNC hold`, where berth-init is SIGKILLed: the
 * result, and the pid the parent reported before (the child that must not outlive it).
 */
export async function killAtSync(ops: Op[]): Promise<{ result: RunResult; child: number }> {
  let child = 0;
  const s = start(ops, {
    onSync: async () => {
      child = await s.handle.pid;
      s.handle.child.kill('SIGKILL');
    },
  });
  return { result: await s.result, child };
}

/** Whether pid is gone (or a zombie nobody reaped yet), waiting up to 2 s for it. */
export async function waitGone(pid: number): Promise<boolean> {
  const gone = (): boolean => !existsSync(`/proc/${pid}`) || /^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  for (let i = 0; i < 100 && !gone(); i++) await new Promise((r) => setTimeout(r, 20));
  return gone();
}

/** CLONE into flags with the usual parent part: report the pid, release, wait. */
export function cloneOps(flags: number, parent: Op[] = []): Op[] {
  return [
    op(O.CLONE, int(flags), int(parent.length + 3)),
    ...parent,
    op(O.CHILD_REPORT),
    op(O.RELEASE),
    op(O.WAIT_CHILD),
  ];
}

/**
 * The rootfs part of a container (run in the child, in a new mount namespace): private
 * propagation, rootfs bound on itself, /proc, /dev with nodes and links, /dev/pts, /tmp.
 * `beforeRoot` runs just before the root switch (host paths still visible).
 */
export function rootfsOps(rootfs: string, opts: { pivot?: boolean; beforeRoot?: Op[]; mknod?: boolean } = {}): Op[] {
  const m = (src: string, target: string, type: string, flags: number, data = ''): Op =>
    op(O.MOUNT, str(src), str(`${rootfs}${target}`), str(type), int(flags), str(data), str(rootfs));
  const nodes: Op[] = [];
  for (const [name, minor] of [['null', 3], ['zero', 5], ['full', 7], ['random', 8], ['urandom', 9]] as const) {
    if (opts.mknod !== false) {
      nodes.push(op(O.MKNOD, str(`${rootfs}/dev/${name}`), int(S_IFCHR | 0o666), int(makeDev(1, minor)), int(0), int(0)));
    } else {
      nodes.push(op(O.TOUCH, str(`${rootfs}/dev/${name}`), int(0o666), str(rootfs)));
      nodes.push(op(O.MOUNT, str(`/dev/${name}`), str(`${rootfs}/dev/${name}`), str(''), int(MS_BIND), str(''), str(rootfs)));
    }
  }
  return [
    op(O.MOUNT, str(''), str('/'), str(''), int(MS_SLAVE | MS_REC), str(''), str('')),
    op(O.MOUNT, str(rootfs), str(rootfs), str(''), int(MS_BIND | MS_REC), str(''), str('')),
    m('proc', '/proc', 'proc', MS_NOSUID | MS_NODEV | MS_NOEXEC),
    m('tmpfs', '/dev', 'tmpfs', MS_NOSUID | MS_STRICTATIME, 'mode=755,size=65536k'),
    op(O.MKDIR, str(`${rootfs}/dev/pts`), int(0o755), str(rootfs)),
    m('devpts', '/dev/pts', 'devpts', MS_NOSUID | MS_NOEXEC, 'newinstance,ptmxmode=0666,mode=0620'),
    ...nodes,
    op(O.SYMLINK, str('/proc/self/fd'), str(`${rootfs}/dev/fd`)),
    op(O.SYMLINK, str('pts/ptmx'), str(`${rootfs}/dev/ptmx`)),
    m('tmpfs', '/tmp', 'tmpfs', MS_NOSUID | MS_NODEV),
    ...(opts.beforeRoot ?? []),
    opts.pivot === false ? op(O.MOVE_ROOT, str(rootfs)) : op(O.PIVOT_ROOT, str(rootfs)),
  ];
}

export { O, op, int, str, strlist, intlist, bytes, encodeInitProgram, makeDev };

/** The cgroup2 mount: the unified hierarchy of a hybrid host, or /sys/fs/cgroup on a pure v2 one. */
export const CGROUP2 = ['/sys/fs/cgroup/unified', '/sys/fs/cgroup'].find((d) => existsSync(`${d}/cgroup.controllers`));

/** Removes a cgroup directory a test made, retrying while its last process is still exiting (EBUSY). */
export async function removeCgroupDir(dir: string): Promise<void> {
  for (let i = 0; existsSync(dir); i++) {
    try {
      rmdirSync(dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EBUSY' || i >= 100) throw e;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}
