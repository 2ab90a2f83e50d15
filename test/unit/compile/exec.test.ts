import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileExec, namespaceFlag, type ExecInput } from '../../../src/runtime/compile/index.js';
import * as F from '../../../src/runtime/compile/flags.js';
import { decodeInitProgram, encodeInitProgram, OpCode, type Op } from '../../../src/runtime/init-program.js';
import type { Process } from '../../../src/runtime/spec/types.js';
import { find, HOST, n, names, s, sl } from './helpers.js';

const NS = F.CLONE_NEWNS | F.CLONE_NEWPID | F.CLONE_NEWUTS | F.CLONE_NEWIPC | F.CLONE_NEWNET;
const PROCESS: Process = { user: { uid: 0, gid: 0 }, args: ['ps', 'aux'], cwd: '/', env: ['PATH=/bin'] };
const SECCOMP = { filter: Buffer.alloc(8), flags: 0, listenerPath: '', listenerMessage: Buffer.alloc(0) };

function compile(extra: Partial<ExecInput> = {}): Op[] {
  return compileExec({ pid: 4242, namespaces: NS, process: PROCESS, mode: 'foreground', cgroupProcs: ['/sys/fs/cgroup/c1/cgroup.procs'], rootless: false, host: HOST, ...extra });
}

test('namespaceFlag', () => {
  assert.equal(namespaceFlag('mount'), 0x20000);
  assert.equal(namespaceFlag('user'), 0x10000000);
  assert.equal(namespaceFlag('time'), 0x80);
  assert.throws(() => namespaceFlag('nope'), /unknown namespace type "nope"/);
});

test('structure: the top stays in the host for the cgroup, the middle joins, the child runs', () => {
  const ops = compile();
  assert.deepEqual(decodeInitProgram(encodeInitProgram(ops)), ops);
  const first = find(ops, OpCode.CLONE);
  assert.equal(n(ops[first]!, 0), 0);
  const topParent = ops.slice(first + 1, first + 1 + n(ops[first]!, 1));
  assert.deepEqual(names(topParent), ['RELEASE', 'CHILD_CGROUP', 'CHILD_JOINED', 'WAIT_CHILD']);
  const join = first + 1 + topParent.length;
  assert.equal(ops[join]!.code, OpCode.SETNS_PID);
  assert.deepEqual([n(ops[join]!, 0), n(ops[join]!, 1)], [4242, NS]);
  // The middle joins the namespaces while the top moves it, and clones once it is moved:
  // its child inherits the cgroups.
  assert.equal(ops[join + 1]!.code, OpCode.WAIT_JOINED);
  const second = join + 2;
  assert.equal(ops[second]!.code, OpCode.CLONE);
  assert.equal(n(ops[second]!, 0), 0);
  const midParent = ops.slice(second + 1, second + 1 + n(ops[second]!, 1));
  assert.deepEqual(names(midParent), ['CHILD_REPORT', 'RELEASE', 'WAIT_CHILD']);
  const child = ops.slice(second + 1 + midParent.length);
  assert.equal(find(child, OpCode.MOUNT), -1);
  assert.equal(find(child, OpCode.PIVOT_ROOT), -1);
  assert.deepEqual(names(child.slice(-2)), ['READY', 'EXEC']);
  assert.deepEqual(sl(child[child.length - 1]!, 0), ['ps', 'aux']);
  assert.deepEqual(sl(child[child.length - 1]!, 1), ['PATH=/bin', 'HOME=/']);
  const detached = compile({ mode: 'detached' });
  const d2 = find(detached, OpCode.CLONE, (o) => detached.indexOf(o) > find(detached, OpCode.SETNS_PID));
  assert.deepEqual(names(detached.slice(d2 + 1, d2 + 4)), ['CHILD_REPORT', 'RELEASE', 'EXIT']);
});

test('host paths are used before joining: console socket, rlimits, oom', () => {
  const ops = compile({
    process: { ...PROCESS, terminal: true, consoleSize: { height: 40, width: 120 }, rlimits: [{ type: 'RLIMIT_NOFILE', soft: 10, hard: 10 }], oomScoreAdj: 5 },
    consoleSocket: '/tmp/console.sock',
  });
  const join = find(ops, OpCode.SETNS_PID);
  assert.ok(find(ops, OpCode.CONNECT) < find(ops, OpCode.CLONE));
  assert.ok(find(ops, OpCode.SETRLIMIT) < join);
  assert.ok(find(ops, OpCode.WRITE_FILE, (o) => s(o, 0) === '/proc/self/oom_score_adj') < join);
  const c = find(ops, OpCode.CONSOLE);
  assert.ok(c > join);
  assert.ok(c < find(ops, OpCode.READY), 'the master is sent before `ready`');
  assert.deepEqual([n(ops[c]!, 0), n(ops[c]!, 1), n(ops[c]!, 2)], [0, 40, 120]);
  assert.equal(find(ops, OpCode.SETSID), -1);
});

test('user namespace: become root in it first; rootless leaves groups alone', () => {
  const ops = compile({ namespaces: NS | F.CLONE_NEWUSER, process: { ...PROCESS, user: { uid: 1000, gid: 1000, additionalGids: [5] } } });
  const second = find(ops, OpCode.CLONE, (o) => ops.indexOf(o) > find(ops, OpCode.SETNS_PID));
  const child = ops.slice(second + 1 + n(ops[second]!, 1));
  assert.deepEqual(names(child.slice(0, 2)), ['SETRESGID', 'SETRESUID']);
  assert.ok(find(child, OpCode.SETGROUPS) > 0);
  const rootless = compile({ rootless: true, process: { ...PROCESS, user: { uid: 1000, gid: 1000, additionalGids: [5] } } });
  assert.equal(find(rootless, OpCode.SETGROUPS), -1);
});

test('seccomp placement, no_new_privs and apparmor overrides', () => {
  const plain = compile({ seccomp: SECCOMP });
  assert.ok(find(plain, OpCode.SECCOMP) < find(plain, OpCode.CAPSET));
  assert.equal(find(plain, OpCode.NO_NEW_PRIVS), -1);
  const nnp = compile({ seccomp: SECCOMP, noNewPrivileges: true });
  assert.deepEqual(names(nnp.slice(-2)), ['SECCOMP', 'EXEC']);
  assert.ok(find(nnp, OpCode.NO_NEW_PRIVS) > find(nnp, OpCode.SETNS_PID));
  assert.throws(() => compile({ apparmorProfile: 'x' }), /AppArmor is not enabled/);
  const aa = compile({ apparmorProfile: 'x', host: { ...HOST, apparmor: true } });
  assert.ok(find(aa, OpCode.WRITE_FILE, (o) => s(o, 0) === '/proc/self/attr/apparmor/exec') > 0);
});

test('refusals: empty args, bad pid, pid file, terminal without socket', () => {
  assert.throws(() => compile({ process: { ...PROCESS, args: [] } }), /process\.args/);
  assert.throws(() => compile({ pid: 0 }), /not a process id/);
  assert.throws(() => compile({ mode: 'detached', pidFile: '/run/x.pid' }), /pidFile: "\/run\/x.pid": not written by the exec program/);
  assert.throws(() => compile({ mode: 'detached', pidFile: 'a/pid' }), /only a file name in berth-init's starting directory/);
  assert.throws(() => compile({ pidFile: 'pid' }), /pidFile: only with mode detached/);
  assert.throws(() => compile({ process: { ...PROCESS, terminal: true } }), /no console socket/);
});

test('a pid file name: the middle opens its starting directory before it joins, writes the pid there after RELEASE and leaves', () => {
  for (const [cgroupProcs, namespaces] of [[['/sys/fs/cgroup/c1/cgroup.procs'], NS], [[], NS], [['/sys/fs/cgroup/c1/cgroup.procs'], NS | F.CLONE_NEWUSER]] as const) {
    const ops = compile({ mode: 'detached', pidFile: 'pid', cgroupProcs: [...cgroupProcs], namespaces, cgroupFsKind: () => 'v1' });
    assert.deepEqual(decodeInitProgram(encodeInitProgram(ops)), ops);
    const dir = find(ops, OpCode.PIDFILE_DIR);
    assert.ok(dir >= 0);
    assert.equal(s(ops[dir]!, 0), '.');
    assert.ok(dir < find(ops, OpCode.SETNS_PID), 'opened while the host mount namespace is still its own');
    const clones = ops.map((o, i) => (o.code === OpCode.CLONE ? i : -1)).filter((i) => i >= 0);
    const last = clones[clones.length - 1]!;
    assert.equal(clones.length, namespaces === NS ? 1 : 2, 'a top process only for the user namespace');
    assert.ok(dir < last && (clones.length === 1 || dir > clones[0]!), 'in the middle, which writes the file');
    const parent = ops.slice(last + 1, last + 1 + n(ops[last]!, 1));
    assert.deepEqual(names(parent), ['CHILD_REPORT', 'RELEASE', 'CHILD_PIDFILE', 'EXIT']);
    assert.equal(s(parent[2]!, 0), 'pid');
  }
});
