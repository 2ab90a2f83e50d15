// Where the create and exec programs join the container's cgroups: the child is released
// before the parent moves it, sets up its rootfs meanwhile and waits (WAIT_JOINED) before
// the first op that needs to be in them (docs/runtime.md, "Joining the cgroups").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { compileCreate, compileExec, type CreateInput } from '../../../src/runtime/compile/index.js';
import { planCgroupJoin } from '../../../src/runtime/compile/cgroup-join.js';
import * as F from '../../../src/runtime/compile/flags.js';
import { OpCode, type Op } from '../../../src/runtime/init-program.js';
import type { Spec } from '../../../src/runtime/spec/types.js';
import { makeTempDir, removeTempDir } from '../../harness/tmp.js';
import { find, findLast, HOST, makeRootfs, n, names, s, spec } from './helpers.js';

const V1_PROCS = ['memory', 'pids', 'cpu,cpuacct', 'devices'].map((h) => `/sys/fs/cgroup/${h}/berth/c1/cgroup.procs`);
const V2_PROCS = ['/sys/fs/cgroup/berth/c1/cgroup.procs'];
const SECCOMP = { filter: Buffer.alloc(8), flags: 0, listenerPath: '', listenerMessage: Buffer.alloc(0) };

let dir = '';
let rootfs = '';
test.before(async () => {
  dir = await makeTempDir('cgroup-join');
  rootfs = await makeRootfs(dir);
});
test.after(() => removeTempDir(dir));

function v1(sp: Spec, extra: Partial<CreateInput> = {}): Op[] {
  return compileCreate({ spec: sp, rootfs, bundle: dir, mode: 'detached', cgroupProcs: V1_PROCS, rootless: false, host: { ...HOST, cgroup: 'legacy' }, ...extra });
}
function v2(sp: Spec, extra: Partial<CreateInput> = {}): Op[] {
  return compileCreate({ spec: sp, rootfs, bundle: dir, mode: 'detached', cgroupProcs: V2_PROCS, rootless: false, host: HOST, ...extra });
}

const withUserns = (x: any): void => {
  x.linux.namespaces.push({ type: 'user' });
  x.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
  x.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
};
const noCgroupns = (x: any): void => {
  x.linux.namespaces = x.linux.namespaces.filter((ns: { type: string }) => ns.type !== 'cgroup');
};
const isUnshareCgroup = (o: Op): boolean => n(o, 0) === F.CLONE_NEWCGROUP;
const isCgroup2Mount = (o: Op): boolean => s(o, 2) === 'cgroup2';

/** The rootfs set-up ops: everything that mounts, creates or masks. */
const ROOTFS_OPS = [OpCode.MOUNT, OpCode.MKDIR, OpCode.MKNOD, OpCode.SYMLINK, OpCode.TOUCH, OpCode.PIVOT_ROOT, OpCode.MOVE_ROOT, OpCode.MASK_PATH, OpCode.READONLY_PATH];

/** Rules every create program with cgroups follows, whatever its options. */
function assertJoinRules(ops: Op[], label: string): void {
  const clone = find(ops, OpCode.CLONE);
  const parent = ops.slice(clone + 1, clone + 1 + n(ops[clone]!, 1));
  const p = names(parent);
  assert.ok(p.indexOf('RELEASE') < p.indexOf('CHILD_CGROUP'), `${label}: released before the cgroups are written`);
  assert.equal(p.indexOf('CHILD_JOINED'), p.lastIndexOf('CHILD_CGROUP') + (p.includes('CHILD_PIDFILE') ? 2 : 1), `${label}: CHILD_JOINED after the cgroups`);
  const wait = find(ops, OpCode.WAIT_JOINED);
  assert.ok(wait > clone + parent.length, `${label}: WAIT_JOINED in the child`);
  assert.equal(findLast(ops, OpCode.WAIT_JOINED), wait, `${label}: one WAIT_JOINED`);
  // Nothing that needs the cgroups comes before the wait.
  for (const code of [OpCode.SYNC, OpCode.READY, OpCode.CONSOLE, OpCode.RUN_HOOK, OpCode.EXEC, OpCode.SECCOMP, OpCode.WAIT_FIFO, OpCode.WAIT_FIFO_AT, OpCode.CAP_BOUNDING, OpCode.CAPSET]) {
    const at = find(ops, code);
    assert.ok(at === -1 || at > wait, `${label}: ${OpCode[code]} at ${at} is before WAIT_JOINED at ${wait}`);
  }
  const unshare = find(ops, OpCode.UNSHARE, isUnshareCgroup);
  if (unshare >= 0) assert.equal(unshare, wait + 1, `${label}: the cgroup namespace is made right after the wait`);
  const cg2 = find(ops, OpCode.MOUNT, isCgroup2Mount);
  if (unshare >= 0 && cg2 >= 0) assert.ok(cg2 > unshare, `${label}: cgroup2 is mounted inside the new cgroup namespace`);
}

test('cgroup v1, the default spec: the whole rootfs set-up (mounts, devices, pivot_root, masks) runs before the wait', () => {
  const ops = v1(spec());
  assertJoinRules(ops, 'v1');
  const wait = find(ops, OpCode.WAIT_JOINED);
  for (const code of ROOTFS_OPS) assert.ok(findLast(ops, code) < wait, `${OpCode[code]} after WAIT_JOINED`);
  assert.ok(find(ops, OpCode.MKNOD) >= 0 && find(ops, OpCode.MASK_PATH) >= 0, 'the spec has devices and masks');
  // Right after the wait: the cgroup namespace, then the user switch.
  assert.deepEqual(names(ops.slice(wait, wait + 2)), ['WAIT_JOINED', 'UNSHARE']);
  assert.ok(find(ops, OpCode.CAP_BOUNDING) > wait + 1);
  assert.deepEqual(names(ops.slice(-2)), ['READY', 'EXEC']);
});

test('the wait comes before a seccomp filter loaded without no_new_privs (it could refuse the unshare)', () => {
  const ops = v1(spec((x) => (x.process.noNewPrivileges = false)), { seccomp: SECCOMP });
  assertJoinRules(ops, 'seccomp');
  assert.equal(find(ops, OpCode.SECCOMP), find(ops, OpCode.UNSHARE, isUnshareCgroup) + 1);
});

test('hooks: the createRuntime sync point is in the cgroups, right after the wait, with the rootfs set up before it', () => {
  const ops = v1(spec(), { syncHooks: true, execFifo: '/run/f', startContainerHooks: true });
  assertJoinRules(ops, 'hooks');
  const sync = find(ops, OpCode.SYNC);
  assert.deepEqual(names(ops.slice(sync - 2, sync + 1)), ['WAIT_JOINED', 'UNSHARE', 'SYNC']);
  assert.ok(findLast(ops, OpCode.MKNOD) < sync - 2 && find(ops, OpCode.PIVOT_ROOT) > sync);
});

test('terminal: /dev/ptmx is opened in the cgroups (the container\'s device rules), after pivot_root', () => {
  const ops = v1(spec((x) => (x.process.terminal = true)), { consoleSocket: '/tmp/c.sock' });
  assertJoinRules(ops, 'terminal');
  const consoleAt = find(ops, OpCode.CONSOLE);
  assert.deepEqual(names(ops.slice(consoleAt - 2, consoleAt + 1)), ['WAIT_JOINED', 'UNSHARE', 'CONSOLE']);
  assert.ok(find(ops, OpCode.PIVOT_ROOT) < consoleAt - 2);
});

test('cgroup v2 with a cgroup namespace: wait and unshare right before the fresh cgroup2 mount; without one, after the rootfs', () => {
  const ops = v2(spec());
  assertJoinRules(ops, 'v2 cgroupns');
  const cg2 = find(ops, OpCode.MOUNT, isCgroup2Mount);
  assert.deepEqual(names(ops.slice(cg2 - 2, cg2)), ['WAIT_JOINED', 'UNSHARE']);
  assert.ok(find(ops, OpCode.MOUNT, (o) => s(o, 2) === 'proc') < cg2 - 2, 'the mounts before it overlap the join');

  const plain = v2(spec(noCgroupns));
  assertJoinRules(plain, 'v2 host cgroupns');
  assert.equal(find(plain, OpCode.UNSHARE, isUnshareCgroup), -1);
  const wait = find(plain, OpCode.WAIT_JOINED);
  for (const code of ROOTFS_OPS) assert.ok(findLast(plain, code) < wait, `${OpCode[code]} after WAIT_JOINED`);
});

test('a user namespace: maps before RELEASE, the join after the rootfs', () => {
  const ops = v1(
    spec(withUserns),
  );
  assertJoinRules(ops, 'userns');
  assert.ok(findLast(ops, OpCode.CHILD_WRITE) < find(ops, OpCode.RELEASE));
  assert.ok(findLast(ops, OpCode.MASK_PATH) < find(ops, OpCode.WAIT_JOINED));
});

test('a root shared with the host: nothing is mounted before the wait (a failed join would leave the mounts there)', () => {
  const ops = v1(spec((x) => (x.linux.rootfsPropagation = 'rshared')));
  assertJoinRules(ops, 'rshared');
  assert.ok(find(ops, OpCode.WAIT_JOINED) < find(ops, OpCode.MOUNT));
  assert.ok(find(v1(spec((x) => (x.linux.rootfsPropagation = 'rslave'))), OpCode.WAIT_JOINED) > findLast(ops, OpCode.MKNOD));
});

test('a joined mount namespace: the wait before entering it, hooks after', () => {
  const ops = v1(
    spec((x) => {
      x.linux.namespaces = x.linux.namespaces.map((ns: { type: string }) => (ns.type === 'mount' ? { type: 'mount', path: '/proc/9/ns/mnt' } : ns));
      x.mounts = [];
      x.linux.maskedPaths = [];
      x.linux.readonlyPaths = [];
      x.root.readonly = false;
    }),
    { syncHooks: true },
  );
  assertJoinRules(ops, 'joined mount');
  assert.ok(find(ops, OpCode.WAIT_JOINED) < find(ops, OpCode.SETNS, (o) => n(o, 1) === F.CLONE_NEWNS));
});

test('foreground, pid file, every variant at once: the rules hold', () => {
  const ops = v1(spec((x) => (x.process.terminal = true)), {
    mode: 'foreground',
    pidFile: '/run/c.pid',
    consoleSocket: '/tmp/c.sock',
    syncHooks: true,
    execFifo: '/run/f',
    seccomp: SECCOMP,
  });
  assertJoinRules(ops, 'all');
  const clone = find(ops, OpCode.CLONE);
  assert.deepEqual(names(ops.slice(clone + 1, clone + 1 + n(ops[clone]!, 1))).slice(-3), ['CHILD_PIDFILE', 'CHILD_JOINED', 'WAIT_CHILD']);
});

test('exec: the middle joins the namespaces while it is moved, and clones only once it is in the cgroups', () => {
  const process = { user: { uid: 0, gid: 0 }, args: ['true'], cwd: '/', env: [] };
  const ops = compileExec({ pid: 42, namespaces: F.CLONE_NEWNS | F.CLONE_NEWPID, process, mode: 'detached', cgroupProcs: V1_PROCS, rootless: false, host: HOST });
  const first = find(ops, OpCode.CLONE);
  const second = findLast(ops, OpCode.CLONE);
  assert.deepEqual(names(ops.slice(first + 1, second + 1)), [
    'RELEASE', 'CHILD_CGROUP', 'CHILD_CGROUP', 'CHILD_CGROUP', 'CHILD_CGROUP', 'CHILD_JOINED', 'WAIT_CHILD', 'SETNS_PID', 'WAIT_JOINED', 'CLONE',
  ]);
  const none = compileExec({ pid: 42, namespaces: F.CLONE_NEWNS, process, mode: 'detached', cgroupProcs: [], rootless: false, host: HOST });
  assert.equal(find(none, OpCode.WAIT_JOINED), -1);
  assert.equal(find(none, OpCode.CHILD_JOINED), -1);
});

// Without a new user namespace the process joins by itself: v1 by a self-move of its one
// thread ("0" into `tasks`), v2 by being cloned into its cgroup; neither waits for the
// kernel's grace period that a cgroup.procs write of another pid may (cgroup-join.ts).
const kinds = (map: Record<string, 'v1' | 'v2'>) => (dir: string) => map[dir];
const ALL_V1 = kinds(Object.fromEntries(V1_PROCS.map((f) => [dirname(f), 'v1' as const])));
const HYBRID_PROCS = [...V1_PROCS, '/sys/fs/cgroup/unified/berth/c1/cgroup.procs'];
const HYBRID = kinds({ ...Object.fromEntries(V1_PROCS.map((f) => [dirname(f), 'v1' as const])), '/sys/fs/cgroup/unified/berth/c1': 'v2' });

test('planCgroupJoin: v1 dirs moved by the process, the first v2 dir cloned into, the rest (unknown, a second v2, a new user namespace) by the parent', () => {
  const plan = planCgroupJoin([...HYBRID_PROCS, '/x/cgroup.procs', '/sys/fs/cgroup/other/cgroup.procs'], true, (d) =>
    d === '/x' ? undefined : d === '/sys/fs/cgroup/other' ? 'v2' : HYBRID(d),
  );
  assert.deepEqual(plan.selfMove, V1_PROCS.map((f) => join(dirname(f), 'tasks')));
  assert.equal(plan.cloneInto, '/sys/fs/cgroup/unified/berth/c1');
  assert.deepEqual(plan.parentMoves, ['/x/cgroup.procs', '/sys/fs/cgroup/other/cgroup.procs']);
  assert.deepEqual(planCgroupJoin(HYBRID_PROCS, false, HYBRID), { selfMove: [], parentMoves: HYBRID_PROCS });
});

test('create, v1 and hybrid, no user namespace: the child moves itself first thing, cloned into the unified cgroup, no parent moves', () => {
  const ops = v1(spec(), { cgroupProcs: HYBRID_PROCS, cgroupFsKind: HYBRID });
  const clone = find(ops, OpCode.CLONE);
  assert.equal(ops[clone - 1]!.code, OpCode.CLONE_INTO_CGROUP);
  assert.equal(s(ops[clone - 1]!, 0), '/sys/fs/cgroup/unified/berth/c1');
  for (const code of [OpCode.CHILD_CGROUP, OpCode.CHILD_JOINED, OpCode.WAIT_JOINED]) assert.equal(find(ops, code), -1, OpCode[code]);
  const child = clone + 1 + n(ops[clone]!, 1);
  const moves = ops.slice(child, child + V1_PROCS.length);
  assert.deepEqual(moves.map((o) => [o.code, s(o, 0), Buffer.from((o.args[1] as { value: Uint8Array }).value).toString()]), V1_PROCS.map((f) => [OpCode.WRITE_FILE, join(dirname(f), 'tasks'), '0']));
  // the cgroup namespace is made after the moves, so it is rooted in the container's cgroups
  assert.ok(find(ops, OpCode.UNSHARE, isUnshareCgroup) > child + V1_PROCS.length);
});

test('create, pure v2: cloned into the cgroup, nothing moved after', () => {
  const ops = v2(spec(), { cgroupFsKind: () => 'v2' });
  assert.deepEqual(names(ops.slice(find(ops, OpCode.CLONE) - 1, find(ops, OpCode.CLONE) + 1)), ['CLONE_INTO_CGROUP', 'CLONE']);
  assert.equal(find(ops, OpCode.CHILD_CGROUP), -1);
  assert.equal(find(ops, OpCode.WAIT_JOINED), -1);
});

test('create with a new user namespace: the parent moves the child as before, whatever the cgroup kind', () => {
  const ops = v1(
    spec(withUserns),
    { cgroupProcs: HYBRID_PROCS, cgroupFsKind: HYBRID },
  );
  assertJoinRules(ops, 'userns');
  assert.equal(find(ops, OpCode.CLONE_INTO_CGROUP), -1);
  assert.equal(ops.filter((o) => o.code === OpCode.CHILD_CGROUP).length, HYBRID_PROCS.length);
});

test('exec: berth-init moves itself, opens the unified cgroup, joins the namespaces and clones the process there (no top process)', () => {
  const process = { user: { uid: 0, gid: 0 }, args: ['true'], cwd: '/', env: [] };
  const ops = compileExec({ pid: 42, namespaces: F.CLONE_NEWNS | F.CLONE_NEWPID, process, mode: 'detached', cgroupProcs: HYBRID_PROCS, rootless: false, host: HOST, cgroupFsKind: HYBRID });
  const clone = find(ops, OpCode.CLONE);
  assert.equal(findLast(ops, OpCode.CLONE), clone, 'one CLONE');
  assert.deepEqual(names(ops.slice(clone - 6, clone + 4)), [
    'WRITE_FILE', 'WRITE_FILE', 'WRITE_FILE', 'WRITE_FILE', 'CLONE_INTO_CGROUP', 'SETNS_PID', 'CLONE', 'CHILD_REPORT', 'RELEASE', 'EXIT',
  ]);
  assert.deepEqual(ops.slice(clone - 6, clone - 2).map((o) => s(o, 0)), V1_PROCS.map((f) => join(dirname(f), 'tasks')));
});

test('exec: a top process that stays on the host when the parent must move the process, or it enters a user namespace', () => {
  const process = { user: { uid: 0, gid: 0 }, args: ['true'], cwd: '/', env: [] };
  const base = { pid: 42, process, mode: 'foreground' as const, cgroupProcs: HYBRID_PROCS, rootless: false, host: HOST };
  // an unknown file system: the top writes the middle's pid
  const unknown = compileExec({ ...base, namespaces: F.CLONE_NEWNS | F.CLONE_NEWPID, cgroupFsKind: (d) => (d.includes('unified') ? undefined : HYBRID(d)) });
  const first = find(unknown, OpCode.CLONE);
  const second = findLast(unknown, OpCode.CLONE);
  assert.notEqual(first, second);
  assert.deepEqual(names(unknown.slice(first + 1, first + 5)), ['RELEASE', 'CHILD_CGROUP', 'CHILD_JOINED', 'WAIT_CHILD']);
  assert.deepEqual(names(unknown.slice(second - 2, second)), ['SETNS_PID', 'WAIT_JOINED']);
  // a user namespace: the middle joins it; the top stays in the host's
  const userns = compileExec({ ...base, namespaces: F.CLONE_NEWNS | F.CLONE_NEWPID | F.CLONE_NEWUSER, cgroupFsKind: HYBRID });
  const u1 = find(userns, OpCode.CLONE);
  const u2 = findLast(userns, OpCode.CLONE);
  assert.notEqual(u1, u2);
  assert.equal(userns[u1 - 1]!.code, OpCode.CLONE_INTO_CGROUP);
  assert.deepEqual(names(userns.slice(u1 + 1, u2 + 1)), ['RELEASE', 'WAIT_CHILD', 'WRITE_FILE', 'WRITE_FILE', 'WRITE_FILE', 'WRITE_FILE', 'SETNS_PID', 'CLONE']);
});

test('exec prepared ahead: the prelude opens the v1 tasks files and the v2 directory, joins, loads stage one and waits; the main part writes, clones and loads stage two', async () => {
  const { compileExecAhead } = await import('../../../src/runtime/compile/index.js');
  const { decodeInitProgram, encodeInitProgram } = await import('../../../src/runtime/init-program.js');
  const process = { user: { uid: 0, gid: 0 }, args: ['true'], cwd: '/', env: ['PATH=/bin'] };
  const stage1 = { ...SECCOMP, filter: Buffer.alloc(16, 1) };
  const stage2 = { ...SECCOMP, filter: Buffer.alloc(8, 2) };
  const input = { pid: 42, namespaces: F.CLONE_NEWNS | F.CLONE_NEWPID, process, mode: 'detached' as const, pidFile: 'pid', cgroupProcs: HYBRID_PROCS, rootless: false, host: HOST, cgroupFsKind: HYBRID, seccomp: SECCOMP, containerId: 'c1' };
  const parts = compileExecAhead(input, { stage1, stage2 });
  assert.ok(parts);
  const { prelude, main } = parts;
  for (const ops of [prelude, main]) assert.deepEqual(decodeInitProgram(encodeInitProgram(ops)), ops);
  assert.equal(prelude[prelude.length - 1]!.code, OpCode.AWAIT_PROGRAM);
  const opens = prelude.filter((o) => o.code === OpCode.OPEN && s(o, 0) !== 'pid');
  assert.deepEqual(opens.map((o) => s(o, 0)), V1_PROCS.map((f) => join(dirname(f), 'tasks')), 'opened, not written: nothing joins before the exec starts');
  // the pid file made ahead in berth-init's starting directory; the parent writes the pid into it
  const pidOpen = prelude.find((o) => o.code === OpCode.OPEN && s(o, 0) === 'pid')!;
  assert.equal(n(pidOpen, 1), 0o1 | 0o100 | 0o1000, 'O_WRONLY | O_CREAT | O_TRUNC');
  assert.equal(find(prelude, OpCode.PIDFILE_DIR), -1);
  const setns = find(prelude, OpCode.SETNS_PID);
  for (const code of [OpCode.OPEN, OpCode.CLONE_INTO_CGROUP]) assert.ok(findLast(prelude, code) < setns, `${OpCode[code]} before SETNS_PID, in the host's mount namespace`);
  assert.ok(find(prelude, OpCode.JOIN_KEYRING) > setns);
  const seccomp = find(prelude, OpCode.SECCOMP);
  assert.ok(seccomp > find(prelude, OpCode.JOIN_KEYRING), 'keyctl comes before the profile, which refuses it');
  assert.deepEqual(prelude[seccomp]!.args[0]!.value, stage1.filter);
  assert.equal(find(prelude, OpCode.CLONE), -1);
  assert.deepEqual(names(main.slice(0, opens.length)), opens.map(() => 'WRITE_REG'));
  assert.deepEqual(main.slice(0, opens.length).map((o) => n(o, 0)), opens.map((o) => n(o, 2)), 'each register opened is written');
  const clone = find(main, OpCode.CLONE);
  assert.equal(clone, opens.length);
  const parent = main.slice(clone + 1, clone + 1 + n(main[clone]!, 1));
  assert.deepEqual(names(parent), ['CHILD_REPORT', 'RELEASE', 'CHILD_PID_REG', 'EXIT']);
  assert.equal(n(parent[2]!, 0), n(pidOpen, 2), 'into the register the pid file was opened in');
  const child = main.slice(clone + 1 + n(main[clone]!, 1));
  assert.equal(find(child, OpCode.JOIN_KEYRING), -1);
  assert.deepEqual(child[find(child, OpCode.SECCOMP)]!.args[0]!.value, stage2.filter);
  // the bounding set is cut in the prelude (inherited by the child), not again in the child
  const bounding = find(prelude, OpCode.CAP_BOUNDING);
  assert.ok(bounding > setns && bounding < seccomp);
  assert.equal(n(prelude[bounding]!, 0), 0, 'a process without capabilities keeps none in its bounding set');
  assert.equal(find(child, OpCode.CAP_BOUNDING), -1);
  assert.ok(find(compileExec({ ...input, seccomp: undefined }), OpCode.CAP_BOUNDING) >= 0, 'an exec not prepared cuts it itself');
  // what cannot be prepared so
  assert.equal(compileExecAhead({ ...input, process: { ...process, terminal: true }, consoleSocket: '/c.sock' }, { stage1, stage2 }), undefined);
  assert.equal(compileExecAhead({ ...input, namespaces: input.namespaces | F.CLONE_NEWUSER }, { stage1, stage2 }), undefined);
  assert.equal(compileExecAhead({ ...input, seccomp: { ...SECCOMP, listenerPath: '/l.sock' } }, { stage1, stage2 }), undefined);
  assert.equal(compileExecAhead({ ...input, pidFile: undefined, mode: 'foreground' }, { stage1, stage2 }), undefined);
});
