import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { compileCreate, type CreateInput } from '../../../src/runtime/compile/index.js';
import { mountPointOf } from '../../../src/runtime/compile/rootfs.js';
import * as F from '../../../src/runtime/compile/flags.js';
import { decodeInitProgram, encodeInitProgram, makeDev, OpCode, type Op } from '../../../src/runtime/init-program.js';
import { capabilityMask } from '../../../src/runtime/capabilities.js';
import type { Spec } from '../../../src/runtime/spec/types.js';
import { makeTempDir, removeTempDir } from '../../harness/tmp.js';
import { all, b, big, find, findLast, HOST, il, makeRootfs, n, name, names, s, sl, spec } from './helpers.js';

const SECCOMP = { filter: Buffer.alloc(8), flags: 0, listenerPath: '', listenerMessage: Buffer.alloc(0) };
const PROCS = ['/sys/fs/cgroup/berth/c1/cgroup.procs'];

let dir = '';
let rootfs = '';
test.before(async () => {
  dir = await makeTempDir('compile');
  rootfs = await makeRootfs(dir);
});
test.after(() => removeTempDir(dir));

function compile(sp: Spec, extra: Partial<CreateInput> = {}): Op[] {
  return compileCreate({ spec: sp, rootfs, bundle: dir, mode: 'detached', cgroupProcs: PROCS, rootless: false, host: HOST, ...extra });
}

/** The parent block of the (single) CLONE. */
function parentBlock(ops: Op[]): { clone: number; parent: Op[]; child: Op[] } {
  const clone = find(ops, OpCode.CLONE);
  const count = n(ops[clone]!, 1);
  return { clone, parent: ops.slice(clone + 1, clone + 1 + count), child: ops.slice(clone + 1 + count) };
}

test('round trip through the encoder, and the same input gives the same program', () => {
  const sp = spec((x) => {
    x.process.terminal = true;
    x.process.consoleSize = { height: 24, width: 80 };
    x.linux.sysctl = { 'net.ipv4.ip_forward': '1' };
  });
  const input = { execFifo: '/run/berth/c1/exec.fifo', consoleSocket: '/tmp/console.sock', seccomp: SECCOMP, pidFile: '/run/c1.pid' };
  const ops = compile(sp, input);
  assert.deepEqual(decodeInitProgram(encodeInitProgram(ops)), ops);
  assert.deepEqual(compile(sp, input), ops);
});

test('parent block: report, maps, release, cgroups, pid file, joined, then exit or wait', () => {
  const sp = spec((x) => {
    x.linux.namespaces.push({ type: 'user' });
    x.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    x.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
  });
  const ops = compile(sp, { cgroupProcs: ['/a/cgroup.procs', '/b/cgroup.procs'], pidFile: '/run/c.pid' });
  const { parent } = parentBlock(ops);
  assert.deepEqual(names(parent), ['CHILD_REPORT', 'CHILD_WRITE', 'CHILD_WRITE', 'RELEASE', 'CHILD_CGROUP', 'CHILD_CGROUP', 'CHILD_PIDFILE', 'CHILD_JOINED', 'EXIT']);
  assert.equal(s(parent[1]!, 0), 'uid_map');
  assert.equal(b(parent[1]!, 1), '0 100000 65536\n');
  assert.equal(s(parent[2]!, 0), 'gid_map');
  assert.deepEqual([s(parent[4]!, 0), s(parent[5]!, 0)], ['/a/cgroup.procs', '/b/cgroup.procs']);
  assert.equal(s(parent[6]!, 0), '/run/c.pid');
  assert.equal(n(parent[8]!, 0), 0);
  // No cgroups to join: the child is released last, and waits for nothing.
  const none = compile(sp, { cgroupProcs: [], pidFile: '/run/c.pid' });
  assert.deepEqual(names(parentBlock(none).parent), ['CHILD_REPORT', 'CHILD_WRITE', 'CHILD_WRITE', 'CHILD_PIDFILE', 'RELEASE', 'EXIT']);
  assert.equal(find(none, OpCode.WAIT_JOINED), -1);
  const fg = parentBlock(compile(sp, { mode: 'foreground' })).parent;
  assert.equal(name(fg[fg.length - 1]!), 'WAIT_CHILD');
});

test('rootless: setgroups is denied before gid_map, and supplementary groups are not touched', () => {
  const sp = spec(() => {}, true);
  const ops = compile(sp, { rootless: true });
  const { parent, child } = parentBlock(ops);
  assert.deepEqual(parent.slice(1, 4).map((o) => [s(o, 0), b(o, 1)]), [
    ['setgroups', 'deny'],
    ['uid_map', '0 1000 1\n'],
    ['gid_map', '0 1000 1\n'],
  ]);
  assert.equal(find(child, OpCode.SETGROUPS), -1);
  // Without rootless, no deny.
  const root = parentBlock(compile(sp)).parent;
  assert.ok(!root.some((o) => o.code === OpCode.CHILD_WRITE && s(o, 0) === 'setgroups'));
});

test('user namespace: the child becomes root in it before mounting; devices are bind mounts', () => {
  const sp = spec(() => {}, true);
  const { child } = parentBlock(compile(sp));
  assert.deepEqual(names(child.slice(0, 3)), ['SETRESGID', 'SETGROUPS', 'SETRESUID']);
  assert.ok(find(child, OpCode.SETRESUID) < find(child, OpCode.MOUNT));
  assert.equal(find(child, OpCode.MKNOD), -1);
  const nullDev = find(child, OpCode.MOUNT, (o) => s(o, 0) === '/dev/null');
  assert.ok(nullDev > 0);
  assert.equal(s(child[nullDev]!, 1), join(rootfs, 'dev/null'));
  assert.equal(n(child[nullDev]!, 3), F.MS_BIND);
  assert.equal(name(child[nullDev - 1]!), 'TOUCH');
});

test('namespaces: joined ones with SETNS before CLONE, user first, mount never; cgroup and time not in CLONE', () => {
  const sp = spec((x) => {
    x.linux.namespaces = [
      { type: 'mount' },
      { type: 'network', path: '/var/run/netns/n1' },
      { type: 'ipc', path: '/proc/9/ns/ipc' },
      { type: 'user', path: '/proc/9/ns/user' },
      { type: 'pid' },
      { type: 'uts' },
      { type: 'cgroup' },
      { type: 'time' },
    ];
    x.linux.timeOffsets = { monotonic: { secs: 100, nanosecs: 5 }, boottime: { secs: -3 } };
  });
  const ops = compile(sp);
  const clone = find(ops, OpCode.CLONE);
  const setns = all(ops.slice(0, clone), OpCode.SETNS);
  assert.deepEqual(setns.map((o) => [s(o, 0), n(o, 1)]), [
    ['/proc/9/ns/user', F.CLONE_NEWUSER],
    ['/proc/9/ns/ipc', F.CLONE_NEWIPC],
    ['/var/run/netns/n1', F.CLONE_NEWNET],
  ]);
  assert.equal(find(ops, OpCode.SETNS, (o) => true) < clone, true);
  assert.equal(findLast(ops, OpCode.SETNS) < clone, true);
  assert.equal(n(ops[clone]!, 0), F.CLONE_NEWNS | F.CLONE_NEWPID | F.CLONE_NEWUTS);
  const unshareTime = find(ops, OpCode.UNSHARE, (o) => n(o, 0) === F.CLONE_NEWTIME);
  assert.ok(unshareTime >= 0 && unshareTime < clone);
  const offsets = ops[unshareTime + 1]!;
  assert.equal(s(offsets, 0), '/proc/self/timens_offsets');
  assert.equal(b(offsets, 1), 'monotonic 100 5\nboottime -3 0\n');
  // Rooted at the container's cgroup: unshared once the child is in it (cgroup-join.test.ts).
  const unshareCgroup = find(ops, OpCode.UNSHARE, (o) => n(o, 0) === F.CLONE_NEWCGROUP);
  assert.equal(unshareCgroup, find(ops, OpCode.WAIT_JOINED) + 1);
  // No mappings are written for a joined user namespace.
  assert.equal(find(ops, OpCode.CHILD_WRITE), -1);
});

test('a mount namespace is required; a joined one gets no rootfs setup and is entered by the child', () => {
  const noMount = spec();
  noMount.linux!.namespaces = [{ type: 'pid' }];
  assert.throws(() => compile(noMount), /a mount namespace is required/);
  const joined = spec();
  joined.linux!.namespaces = [{ type: 'pid' }, { type: 'mount', path: '/proc/1/ns/mnt' }];
  assert.throws(() => compile(joined), /mounts: cannot be set up in a joined mount namespace/);
  joined.mounts = [];
  delete joined.linux!.maskedPaths;
  delete joined.linux!.readonlyPaths;
  delete joined.linux!.devices;
  joined.root!.readonly = false;
  const ops = compile(joined, { execFifo: '/run/berth/c1/exec.fifo' });
  for (const code of [OpCode.MOUNT, OpCode.PIVOT_ROOT, OpCode.MKNOD, OpCode.WAIT_FIFO]) assert.equal(find(ops, code), -1, OpCode[code]);
  const clone = find(ops, OpCode.CLONE);
  assert.equal(n(ops[clone]!, 0) & F.CLONE_NEWNS, 0, 'no new mount namespace in the CLONE');
  const setns = find(ops, OpCode.SETNS);
  assert.ok(setns > find(ops, OpCode.RELEASE), 'the child joins it, after the parent wrote cgroup.procs');
  assert.equal(s(ops[setns]!, 0), '/proc/1/ns/mnt');
  // The fifo is reached by name from its directory: /proc there may be another pid namespace's.
  const open = ops[find(ops, OpCode.OPEN)]!;
  assert.equal(s(open, 0), '/run/berth/c1');
  const wait = ops[find(ops, OpCode.WAIT_FIFO_AT)]!;
  assert.deepEqual([n(wait, 0), s(wait, 1)], [n(open, 2), 'exec.fifo']);
});

test('order: CHILD_CGROUP before CHILD_JOINED, CONNECT and OPEN before CLONE, rootfs before PIVOT_ROOT, masks after', () => {
  const sp = spec((x) => {
    x.process.terminal = true;
  });
  const ops = compile(sp, { consoleSocket: '/tmp/c.sock', execFifo: '/run/f', syncHooks: true });
  const i = (code: OpCode): number => find(ops, code);
  assert.ok(findLast(ops, OpCode.CHILD_CGROUP) < i(OpCode.CHILD_JOINED));
  assert.ok(i(OpCode.CONNECT) < i(OpCode.CLONE));
  assert.deepEqual([s(ops[i(OpCode.CONNECT)]!, 0), n(ops[i(OpCode.CONNECT)]!, 1)], ['/tmp/c.sock', 0]);
  assert.ok(i(OpCode.OPEN) < i(OpCode.CLONE));
  assert.equal(n(ops[i(OpCode.OPEN)]!, 1), F.O_PATH);
  const pivot = i(OpCode.PIVOT_ROOT);
  assert.equal(s(ops[pivot]!, 0), rootfs);
  assert.ok(findLast(ops, OpCode.MKNOD) < pivot);
  assert.ok(i(OpCode.SYNC) < pivot && i(OpCode.SYNC) > findLast(ops, OpCode.SYMLINK));
  assert.ok(i(OpCode.CONSOLE) > pivot);
  // The master is sent before `ready`: a runtime proxying the pty takes it when ready arrives.
  assert.ok(i(OpCode.CONSOLE) < i(OpCode.READY));
  assert.ok(i(OpCode.MASK_PATH) > pivot);
  assert.ok(i(OpCode.READONLY_PATH) > pivot);
  assert.ok(i(OpCode.SETHOSTNAME) > pivot);
  assert.ok(find(ops, OpCode.MOUNT, (o) => s(o, 1) === '/' && (n(o, 3) & F.MS_REMOUNT) !== 0) > pivot);
  // Tail: READY, WAIT_FIFO on register 1, EXEC.
  assert.deepEqual(names(ops.slice(-3)), ['READY', 'WAIT_FIFO', 'EXEC']);
  assert.equal(n(ops[ops.length - 2]!, 0), 1);
  // No SETSID with a terminal (CONSOLE makes the session).
  assert.equal(i(OpCode.SETSID), -1);
  assert.ok(find(compile(spec()), OpCode.SETSID) > 0);
  // --no-pivot
  const np = compile(sp, { consoleSocket: '/tmp/c.sock', noPivot: true });
  assert.equal(find(np, OpCode.PIVOT_ROOT), -1);
  assert.equal(s(np[find(np, OpCode.MOVE_ROOT)]!, 0), rootfs);
});

test('seccomp without no_new_privs: before the user switch and capset; with it: right before exec', () => {
  const without = compile(spec((x) => (x.process.noNewPrivileges = false)), { seccomp: SECCOMP });
  const sec = find(without, OpCode.SECCOMP);
  assert.ok(sec >= 0);
  for (const code of [OpCode.CAP_BOUNDING, OpCode.SETRESUID, OpCode.CAPSET, OpCode.KEEPCAPS]) {
    assert.ok(sec < findLast(without, code), OpCode[code]);
  }
  assert.equal(find(without, OpCode.NO_NEW_PRIVS), -1);

  const withNnp = compile(spec(), { seccomp: SECCOMP, execFifo: '/run/f' });
  assert.deepEqual(names(withNnp.slice(-2)), ['SECCOMP', 'EXEC']);
  assert.ok(find(withNnp, OpCode.NO_NEW_PRIVS) < find(withNnp, OpCode.CAPSET));
  assert.ok(find(withNnp, OpCode.WAIT_FIFO) < find(withNnp, OpCode.SECCOMP));

  assert.throws(() => compile(spec((x) => (x.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW' }))), /no compiled filter was given/);
  // A NOTIFY listener is connected before CLONE, while the host path is reachable, and
  // SECCOMP hands the notify fd to that register.
  const notify = compile(spec(), { seccomp: { ...SECCOMP, listenerPath: '/run/agent.sock' } });
  const connect = notify.findIndex((o) => o.code === OpCode.CONNECT && o.args[0]!.value === '/run/agent.sock');
  assert.ok(connect >= 0 && connect < find(notify, OpCode.CLONE));
  const reg = notify[connect]!.args[1]!.value;
  assert.equal(notify[find(notify, OpCode.SECCOMP)]!.args[2]!.value, reg);
  assert.equal(plainSeccompRegister(compile(spec(), { seccomp: SECCOMP })), -1n);
});

function plainSeccompRegister(ops: Op[]): unknown {
  return ops[find(ops, OpCode.SECCOMP)]!.args[2]!.value;
}

test('user switch: bounding, keepcaps, groups, gid, uid, chdir, capset, ambient', () => {
  const sp = spec((x) => {
    x.process.user = { uid: 1000, gid: 1000, additionalGids: [10, 20], umask: 0o027 };
    x.process.cwd = '/home/app';
    x.process.capabilities = {
      bounding: ['CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_CHOWN'],
      effective: ['CAP_KILL'],
      permitted: ['CAP_KILL', 'CAP_NET_BIND_SERVICE'],
      inheritable: ['CAP_NET_BIND_SERVICE'],
      ambient: ['CAP_NET_BIND_SERVICE', 'CAP_CHOWN'],
    };
  });
  const ops = compile(sp, { preserveFds: 2 });
  const start = find(ops, OpCode.CLOSE_FDS);
  assert.equal(n(ops[start]!, 0), 4);
  const seq = ops.slice(start, start + 11);
  assert.deepEqual(names(seq), [
    'CLOSE_FDS',
    'CAP_BOUNDING',
    'KEEPCAPS',
    'SETGROUPS',
    'SETRESGID',
    'SETRESUID',
    'CHDIR',
    'KEEPCAPS',
    'CAPSET',
    'CAP_AMBIENT',
    'READY',
  ]);
  const mask = (...c: string[]): bigint => capabilityMask(c, 'test');
  assert.equal(big(seq[1]!, 0), mask('CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_CHOWN'));
  assert.equal(n(seq[2]!, 0), 1);
  assert.deepEqual(il(seq[3]!, 0), [10n, 20n]);
  assert.equal(n(seq[4]!, 0), 1000);
  assert.equal(n(seq[5]!, 0), 1000);
  assert.equal(s(seq[6]!, 0), '/home/app');
  assert.equal(n(seq[7]!, 0), 0);
  assert.deepEqual([big(seq[8]!, 0), big(seq[8]!, 1), big(seq[8]!, 2)], [mask('CAP_KILL'), mask('CAP_KILL', 'CAP_NET_BIND_SERVICE'), mask('CAP_NET_BIND_SERVICE')]);
  // CAP_CHOWN is neither permitted nor inheritable: left out of ambient.
  assert.equal(big(seq[9]!, 0), mask('CAP_NET_BIND_SERVICE'));
  const umask = findLast(ops, OpCode.UMASK);
  assert.equal(n(ops[umask]!, 0), 0o027);
  // HOME comes from the rootfs' /etc/passwd.
  assert.ok(sl(ops[ops.length - 1]!, 1).includes('HOME=/home/app'));
});

test('exec: args, env as given plus HOME, PATH search', () => {
  const ops = compile(spec((x) => (x.process.env = ['PATH=/bin', 'HOME=/x'])));
  const exec = ops[ops.length - 1]!;
  assert.deepEqual(sl(exec, 0), ['sh']);
  assert.deepEqual(sl(exec, 1), ['PATH=/bin', 'HOME=/x']);
  assert.equal(n(exec, 2), 1);
  const root = compile(spec((x) => (x.process.env = [])));
  assert.deepEqual(sl(root[root.length - 1]!, 1), ['HOME=/root']);
});

test('rlimits and oom_score_adj are set before CLONE; infinity is -1', () => {
  const sp = spec((x) => {
    x.process.rlimits = [
      { type: 'RLIMIT_NOFILE', soft: 1024, hard: 4096 },
      { type: 'RLIMIT_CORE', soft: 18446744073709551615, hard: 18446744073709551615 },
    ];
    x.process.oomScoreAdj = -500;
  });
  const ops = compile(sp);
  const clone = find(ops, OpCode.CLONE);
  const rl = all(ops.slice(0, clone), OpCode.SETRLIMIT);
  assert.deepEqual(rl.map((o) => [n(o, 0), n(o, 1), n(o, 2)]), [
    [7, 1024, 4096],
    [4, -1, -1],
  ]);
  const oom = find(ops, OpCode.WRITE_FILE, (o) => s(o, 0) === '/proc/self/oom_score_adj');
  assert.ok(oom >= 0 && oom < clone);
  assert.equal(b(ops[oom]!, 1), '-500');
});

test('default mounts: proc, tmpfs /dev with data, devpts, ro sysfs, cgroup2; propagation of /', () => {
  const ops = compile(spec());
  const mounts = all(ops, OpCode.MOUNT);
  assert.deepEqual([s(mounts[0]!, 1), n(mounts[0]!, 3)], ['/', F.MS_SLAVE | F.MS_REC]);
  assert.deepEqual([s(mounts[1]!, 0), s(mounts[1]!, 1), n(mounts[1]!, 3)], [rootfs, rootfs, F.MS_BIND | F.MS_REC]);
  const at = (dest: string): Op => mounts.find((o) => s(o, 1) === join(rootfs, dest))!;
  assert.deepEqual([s(at('proc'), 0), s(at('proc'), 2), s(at('proc'), 5)], ['proc', 'proc', rootfs]);
  const dev = at('dev');
  assert.equal(s(dev, 2), 'tmpfs');
  assert.equal(n(dev, 3), F.MS_NOSUID | F.MS_STRICTATIME);
  assert.equal(s(dev, 4), 'mode=755,size=65536k');
  assert.equal(s(at('dev/pts'), 4), 'newinstance,ptmxmode=0666,mode=0620,gid=5');
  assert.equal(n(at('sys'), 3), F.MS_NOSUID | F.MS_NOEXEC | F.MS_NODEV | F.MS_RDONLY);
  const cg = at('sys/fs/cgroup');
  assert.deepEqual([s(cg, 0), s(cg, 2)], ['cgroup2', 'cgroup2']);
  assert.equal(n(cg, 3), F.MS_NOSUID | F.MS_NOEXEC | F.MS_NODEV | F.MS_RELATIME | F.MS_RDONLY);
  // Every destination is created first, with the rootfs as root.
  for (const m of mounts.slice(2).filter((o) => s(o, 1).startsWith(rootfs + '/'))) {
    const mk = find(ops, OpCode.MKDIR, (o) => s(o, 0) === s(m, 1));
    assert.ok(mk >= 0 && mk < ops.indexOf(m), s(m, 1));
  }
  // rootfsPropagation
  const sharedOps = all(
    compile(spec((x) => (x.linux.rootfsPropagation = 'rshared')), {
      host: { ...HOST, mountinfo: `27 1 254:0 / / rw - ext4 /dev/vda rw\n40 27 0:5 / ${rootfs.split('/').slice(0, 2).join('/')} rw shared:3 - tmpfs tmpfs rw\n` },
    }),
    OpCode.MOUNT,
  );
  assert.equal(n(sharedOps[0]!, 3), F.MS_SHARED | F.MS_REC);
  // The mount holding the rootfs goes back to private, or pivot_root fails with EINVAL.
  assert.deepEqual([s(sharedOps[1]!, 1), n(sharedOps[1]!, 3)], [rootfs.split('/').slice(0, 2).join('/'), F.MS_PRIVATE]);
  const slave = all(compile(spec()), OpCode.MOUNT);
  assert.notEqual(n(slave[1]!, 3), F.MS_PRIVATE, 'no private remount without shared propagation');
});

test('mountPointOf: the longest mount point holding a path, with mountinfo escapes', () => {
  const info = [
    '27 1 254:0 / / rw - ext4 /dev/vda rw',
    '30 27 0:5 / /tmp rw - tmpfs tmpfs rw',
    '31 30 0:6 / /tmp/with\\040space rw - tmpfs tmpfs rw',
    '32 27 0:7 / /tmpfoo rw - tmpfs tmpfs rw',
  ].join('\n');
  assert.equal(mountPointOf('/tmp/a/rootfs', info), '/tmp');
  assert.equal(mountPointOf('/tmp/with space/r', info), '/tmp/with space');
  assert.equal(mountPointOf('/tmpfoo', info), '/tmpfoo');
  assert.equal(mountPointOf('/var/lib/x', info), '/');
});

test('default devices with mknod, links in /dev, ptmx', () => {
  const ops = compile(spec((x) => (x.linux.devices = [{ path: '/dev/fuse', type: 'c', major: 10, minor: 229, fileMode: 0o600, uid: 0, gid: 0 }, { path: '/dev/null', type: 'c', major: 1, minor: 3, fileMode: 0o600 }])));
  const nodes = all(ops, OpCode.MKNOD);
  assert.deepEqual(
    nodes.map((o) => s(o, 0).slice(rootfs.length)),
    ['/dev/zero', '/dev/full', '/dev/tty', '/dev/urandom', '/dev/random', '/dev/fuse', '/dev/null'],
  );
  const tty = nodes[2]!;
  assert.equal(n(tty, 1), F.S_IFCHR | 0o666);
  assert.equal(big(tty, 2), makeDev(5, 0));
  assert.equal(n(nodes[6]!, 1), F.S_IFCHR | 0o600);
  const links = all(ops, OpCode.SYMLINK).map((o) => [s(o, 0), s(o, 1).slice(rootfs.length)]);
  assert.deepEqual(links, [
    ['/proc/self/fd', '/dev/fd'],
    ['/proc/self/fd/0', '/dev/stdin'],
    ['/proc/self/fd/1', '/dev/stdout'],
    ['/proc/self/fd/2', '/dev/stderr'],
    ['/proc/kcore', '/dev/core'],
    ['pts/ptmx', '/dev/ptmx'],
  ]);
  // A bind-mounted /dev is left alone.
  const bound = compile(spec((x) => x.mounts.splice(1, 1, { destination: '/dev', type: 'bind', source: '/dev', options: ['rbind'] })));
  assert.equal(find(bound, OpCode.MKNOD), -1);
  assert.equal(find(bound, OpCode.SYMLINK), -1);
});

test('bind mounts: directory and file sources, ro by remount, propagation as separate mounts', async () => {
  await mkdir(join(dir, 'vol'), { recursive: true });
  await writeFile(join(dir, 'hosts'), '127.0.0.1 localhost\n');
  const ops = compile(
    spec((x) =>
      x.mounts.push(
        { destination: '/data', type: 'bind', source: 'vol', options: ['rbind', 'ro', 'nosuid', 'rprivate'] },
        { destination: '/etc/hosts', source: join(dir, 'hosts'), options: ['bind'] },
      ),
    ),
  );
  const target = join(rootfs, 'data');
  const data = ops.filter((o) => o.code === OpCode.MOUNT && s(o, 1) === target);
  assert.deepEqual(
    data.map((o) => [s(o, 0), n(o, 3), s(o, 5)]),
    [
      [join(dir, 'vol'), F.MS_BIND | F.MS_REC, rootfs],
      ['', F.MS_REMOUNT | F.MS_BIND | F.MS_RDONLY | F.MS_NOSUID, rootfs],
      ['', F.MS_PRIVATE | F.MS_REC, rootfs],
    ],
  );
  assert.ok(find(ops, OpCode.MKDIR, (o) => s(o, 0) === target) >= 0);
  const hosts = join(rootfs, 'etc/hosts');
  const touch = find(ops, OpCode.TOUCH, (o) => s(o, 0) === hosts);
  const bindHosts = find(ops, OpCode.MOUNT, (o) => s(o, 1) === hosts);
  assert.ok(touch >= 0 && touch < bindHosts);
  assert.equal(n(ops[bindHosts]!, 3), F.MS_BIND);
  // A missing source is reported at compile time.
  assert.throws(
    () => compile(spec((x) => x.mounts.push({ destination: '/x', type: 'bind', source: '/nonexistent/berth', options: ['bind'] }))),
    { message: 'mounts[7].source: "/nonexistent/berth" does not exist' },
  );
});

test('mount destinations are resolved inside the rootfs, never escaping', async () => {
  const evil = join(dir, 'evil-rootfs');
  await mkdir(join(evil, 'usr'), { recursive: true });
  await symlink('../../../../../..', join(evil, 'etc'));
  await symlink('/usr', join(evil, 'abs'));
  const ops = compileCreate({
    spec: spec((x) =>
      x.mounts.push(
        { destination: '/etc/x', type: 'tmpfs', source: 'tmpfs' },
        { destination: '/abs/y', type: 'tmpfs', source: 'tmpfs' },
      ),
    ),
    rootfs: evil,
    bundle: dir,
    mode: 'detached',
    cgroupProcs: [],
    rootless: false,
    host: HOST,
  });
  const targets = all(ops, OpCode.MOUNT).map((o) => s(o, 1));
  assert.ok(targets.includes(join(evil, 'x')));
  assert.ok(targets.includes(join(evil, 'usr/y')));
  for (const o of [...all(ops, OpCode.MOUNT), ...all(ops, OpCode.MKDIR), ...all(ops, OpCode.MKNOD), ...all(ops, OpCode.SYMLINK)]) {
    const t = o.code === OpCode.MOUNT ? s(o, 1) : o.code === OpCode.SYMLINK ? s(o, 1) : s(o, 0);
    if (t === '/' || t === '/dev') continue; // ops after pivot or on the runtime's root
    assert.ok(t === evil || t.startsWith(evil + '/'), `${OpCode[o.code]} ${t}`);
  }
});

test('mounts inside /proc are limited; proc only on /proc', () => {
  assert.throws(() => compile(spec((x) => x.mounts.push({ destination: '/proc/self/attr', type: 'tmpfs', source: 'tmpfs' }))), /inside \/proc/);
  assert.throws(() => compile(spec((x) => (x.mounts[0].type = 'tmpfs'))), /only a proc filesystem may be mounted on \/proc/);
  assert.ok(compile(spec((x) => x.mounts.push({ destination: '/proc/meminfo', type: 'bind', source: '/proc/meminfo', options: ['bind'] }))));
});

test('a read-only /dev is mounted writable and remounted after pivot_root', () => {
  const ops = compile(spec((x) => x.mounts[1].options.push('ro')));
  const dev = find(ops, OpCode.MOUNT, (o) => s(o, 1) === join(rootfs, 'dev'));
  assert.equal(n(ops[dev]!, 3) & F.MS_RDONLY, 0);
  const re = find(ops, OpCode.MOUNT, (o) => s(o, 1) === '/dev');
  assert.ok(re > find(ops, OpCode.PIVOT_ROOT));
  assert.equal(n(ops[re]!, 3), F.MS_REMOUNT | F.MS_NOSUID | F.MS_STRICTATIME | F.MS_RDONLY);
});

test('cgroup mounts: bind of the own cgroup in a user namespace without cgroupns; v1 tmpfs with binds', () => {
  const userNoCgns = spec((x) => (x.linux.namespaces = x.linux.namespaces.filter((n: { type: string }) => n.type !== 'cgroup')), true);
  const ops = compile(userNoCgns);
  const cg = join(rootfs, 'sys/fs/cgroup');
  const m = ops.filter((o) => o.code === OpCode.MOUNT && s(o, 1) === cg);
  assert.deepEqual(m.map((o) => [s(o, 0), n(o, 3) & (F.MS_BIND | F.MS_REMOUNT | F.MS_RDONLY)]), [
    ['/sys/fs/cgroup/berth/c1', F.MS_BIND],
    ['', F.MS_BIND | F.MS_REMOUNT | F.MS_RDONLY],
  ]);

  const v1 = compile(spec(), {
    host: { ...HOST, cgroup: 'legacy' },
    cgroupProcs: ['/sys/fs/cgroup/memory/berth/c1/cgroup.procs', '/sys/fs/cgroup/cpu,cpuacct/berth/c1/cgroup.procs'],
  });
  const under = v1.filter((o) => (o.code === OpCode.MOUNT && s(o, 1).startsWith(cg)) || (o.code === OpCode.SYMLINK && s(o, 1).startsWith(cg)));
  assert.deepEqual(
    under.map((o) => `${name(o)} ${s(o, 0)} ${s(o, 1).slice(cg.length)}`),
    [
      'MOUNT tmpfs ',
      'MOUNT /sys/fs/cgroup/memory/berth/c1 /memory',
      'MOUNT  /memory',
      'MOUNT /sys/fs/cgroup/cpu,cpuacct/berth/c1 /cpu,cpuacct',
      'MOUNT  /cpu,cpuacct',
      'SYMLINK cpu,cpuacct /cpu',
      'SYMLINK cpu,cpuacct /cpuacct',
      'MOUNT  ',
    ],
  );
});

test('hostname, domainname, sysctl, readonly and masked paths, personality, read-only root', () => {
  const ops = compile(
    spec((x) => {
      x.hostname = 'box';
      x.domainname = 'example.org';
      x.linux.sysctl = { 'net.ipv4.ip_forward': '1', 'kernel.shmmax': '4096' };
      x.linux.personality = { domain: 'LINUX32' };
    }),
  );
  assert.equal(s(ops[find(ops, OpCode.SETHOSTNAME)]!, 0), 'box');
  assert.equal(s(ops[find(ops, OpCode.SETDOMAINNAME)]!, 0), 'example.org');
  const sys = ops.filter((o) => o.code === OpCode.WRITE_FILE && s(o, 0).startsWith('/proc/sys/'));
  assert.deepEqual(sys.map((o) => [s(o, 0), b(o, 1)]), [
    ['/proc/sys/net/ipv4/ip_forward', '1'],
    ['/proc/sys/kernel/shmmax', '4096'],
  ]);
  assert.equal(all(ops, OpCode.MASK_PATH).length, 11);
  assert.equal(all(ops, OpCode.READONLY_PATH).length, 5);
  assert.equal(n(ops[find(ops, OpCode.PERSONALITY)]!, 0), F.PER_LINUX32);
  const ro = find(ops, OpCode.MOUNT, (o) => s(o, 1) === '/' && (n(o, 3) & F.MS_REMOUNT) !== 0);
  assert.ok(ro > find(ops, OpCode.PIVOT_ROOT));
  assert.equal(n(ops[ro]!, 3), F.MS_REMOUNT | F.MS_BIND | F.MS_RDONLY);
  const rw = compile(spec((x) => (x.root.readonly = false)));
  assert.equal(
    find(rw, OpCode.MOUNT, (o) => s(o, 1) === '/' && (n(o, 3) & F.MS_REMOUNT) !== 0),
    -1,
  );
});

test('AppArmor and SELinux: written to /proc/self/attr when the host has them, refused otherwise', () => {
  const sp = spec((x) => {
    x.process.apparmorProfile = 'berth-default';
    x.process.selinuxLabel = 'system_u:system_r:container_t:s0';
  });
  assert.throws(() => compile(sp), /AppArmor profile "berth-default" is set but AppArmor is not enabled on this host/);
  assert.throws(() => compile(sp, { host: { ...HOST, apparmor: true } }), /SELinux is not enabled/);
  const ops = compile(sp, { host: { ...HOST, apparmor: true, selinux: true } });
  const aa = find(ops, OpCode.WRITE_FILE, (o) => s(o, 0) === '/proc/self/attr/apparmor/exec');
  assert.equal(b(ops[aa]!, 1), 'exec berth-default');
  const se = find(ops, OpCode.WRITE_FILE, (o) => s(o, 0) === '/proc/self/attr/exec');
  assert.equal(b(ops[se]!, 1), 'system_u:system_r:container_t:s0');
  assert.ok(aa > find(ops, OpCode.PIVOT_ROOT));
  assert.ok(se > aa && se < find(ops, OpCode.CAPSET));
});

test('hooks: SYNC hooks only when asked; startContainer hooks after the fifo, with the state on stdin', () => {
  const sp = spec((x) => (x.hooks = { startContainer: [{ path: '/bin/hook', args: ['hook', 'start'], env: ['A=1'], timeout: 3 }] }));
  assert.equal(find(compile(sp), OpCode.SYNC), -1);
  assert.equal(find(compile(sp), OpCode.RUN_HOOK), -1);
  const ops = compile(sp, { execFifo: '/run/f', startContainerHooks: true, stateJson: '{"id":"c1"}' });
  const h = find(ops, OpCode.RUN_HOOK);
  assert.ok(h > find(ops, OpCode.WAIT_FIFO) && h < find(ops, OpCode.EXEC));
  const hook = ops[h]!;
  assert.deepEqual([s(hook, 0), sl(hook, 1), sl(hook, 2), b(hook, 3), n(hook, 4)], ['/bin/hook', ['hook', 'start'], ['A=1'], '{"id":"c1"}', 3000]);
});

test('keyring: joined unless noNewKeyring, named after the container', () => {
  const ops = compile(spec(), { containerId: 'c1' });
  assert.equal(s(ops[find(ops, OpCode.JOIN_KEYRING)]!, 0), '_ses.c1');
  assert.equal(find(compile(spec(), { noNewKeyring: true }), OpCode.JOIN_KEYRING), -1);
});

test('terminal and console socket must agree', () => {
  assert.throws(() => compile(spec((x) => (x.process.terminal = true))), /no console socket was given/);
  assert.throws(() => compile(spec(), { consoleSocket: '/tmp/s' }), /process.terminal is not true/);
  const ops = compile(spec((x) => (x.process.terminal = true)), { consoleSocket: '/tmp/s' });
  const c = ops[find(ops, OpCode.CONSOLE)]!;
  assert.deepEqual([n(c, 0), n(c, 1), n(c, 2)], [0, 0, 0]);
  assert.equal(find(ops, OpCode.FCHOWN), -1, 'root keeps the pty as CONSOLE made it');
});

test('a non-root user gets its terminal: FCHOWN of fd 0 right after CONSOLE, group left alone', () => {
  const ops = compile(spec((x) => {
    x.process.terminal = true;
    x.process.user = { uid: 1000, gid: 1000 };
  }), { consoleSocket: '/tmp/s' });
  const at = find(ops, OpCode.FCHOWN);
  assert.equal(at, find(ops, OpCode.CONSOLE) + 1);
  assert.deepEqual([n(ops[at]!, 0), n(ops[at]!, 1), n(ops[at]!, 2)], [0, 1000, -1]);
  assert.ok(at < find(ops, OpCode.SETRESUID), 'chown needs root: before the user switch');
});
