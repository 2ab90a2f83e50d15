import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readlinkSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { chmod } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { copyBusyboxRootfs } from '../../harness/fixtures.js';
import { removeTempDir } from '../../harness/tmp.js';
import {
  ALL_NS, CLONE_NEWNS, CLONE_NEWUSER, MS_BIND, MS_NODEV, MS_NOSUID, MS_REC, MS_SLAVE, MS_RDONLY, MS_REMOUNT, O, bytes, cloneOps, int, op, CGROUP2, removeCgroupDir, rootfsOps, run, sh, skipUnlessRoot, str,
} from './helpers.js';

test('CLONE into new pid, uts, ipc, net, mount and cgroup namespaces', { skip: skipUnlessRoot }, async () => {
  const rootfs = await copyBusyboxRootfs();
  try {
    const r = await run([
      ...cloneOps(ALL_NS),
      op(O.SETHOSTNAME, str('berth-box')),
      op(O.SETDOMAINNAME, str('berth.test')),
      ...rootfsOps(rootfs),
      op(O.READY),
      sh('echo pid=$$; hostname; cat /proc/sys/kernel/domainname; cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d " "'),
    ]);
    assert.equal(r.readyError, undefined);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), ['pid=1', 'berth-box', 'berth.test', 'lo']);
    // the reported pid is the host's view of the container process, in other namespaces
    assert.ok(r.pid && r.pid > 1);
  } finally {
    await removeTempDir(dirname(rootfs));
  }
});

test('the reported pid is the container process, whose namespaces differ from ours', { skip: skipUnlessRoot }, async () => {
  const rootfs = await copyBusyboxRootfs();
  try {
    const { start } = await import('./helpers.js');
    const s = start([...cloneOps(ALL_NS), ...rootfsOps(rootfs), op(O.READY), sh('read x')], { stdio: ['pipe', 'pipe', 'pipe'] });
    const pid = await s.handle.pid;
    await s.handle.ready;
    for (const ns of ['pid', 'uts', 'ipc', 'net', 'mnt', 'cgroup']) {
      assert.notEqual(readlinkSync(`/proc/${pid}/ns/${ns}`), readlinkSync(`/proc/self/ns/${ns}`), ns);
    }
    assert.equal(readlinkSync(`/proc/${pid}/ns/user`), readlinkSync('/proc/self/ns/user'));
    s.handle.child.stdin!.end('\n');
    assert.equal((await s.result).code, 0);
  } finally {
    await removeTempDir(dirname(rootfs));
  }
});

test('a user namespace with maps written by the parent (CHILD_WRITE), read-only remount keeps locked flags', { skip: skipUnlessRoot }, async () => {
  const rootfs = await copyBusyboxRootfs();
  try {
    await chmod(dirname(rootfs), 0o755); // the mapped root must reach the rootfs
    const r = await run([
      // in a mount namespace of our own, give the rootfs nosuid,nodev: the user namespace locks them
      op(O.UNSHARE, int(CLONE_NEWNS)),
      op(O.MOUNT, str(''), str('/'), str(''), int(MS_SLAVE | MS_REC), str(''), str('')),
      op(O.MOUNT, str(rootfs), str(rootfs), str(''), int(MS_BIND | MS_REC), str(''), str('')),
      op(O.MOUNT, str(''), str(rootfs), str(''), int(MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV), str(''), str(rootfs)),
      ...cloneOps(ALL_NS | CLONE_NEWUSER, [
        op(O.CHILD_WRITE, str('setgroups'), bytes('deny')),
        op(O.CHILD_WRITE, str('uid_map'), bytes('0 100000 65536\n')),
        op(O.CHILD_WRITE, str('gid_map'), bytes('0 100000 65536\n')),
      ]),
      op(O.SETRESGID, int(0)),
      op(O.SETRESUID, int(0)),
      // /dev nodes cannot be made in a user namespace: bind the host's instead
      ...rootfsOps(rootfs, { mknod: false }),
      // the rootfs bind carries flags locked by the user namespace: the remount must keep them
      op(O.MOUNT, str(''), str('/'), str(''), int(MS_BIND | MS_REMOUNT | MS_RDONLY), str(''), str('')),
      op(O.READY),
      sh('cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups; id -u; id -g; touch /x 2>&1; echo ok > /dev/null && echo null-ok; ' + `awk '$5 == "/" { print $6 }' /proc/self/mountinfo`),
    ]);
    assert.equal(r.readyError, undefined, r.stderr);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n').map((l) => l.trim().replace(/\s+/g, ' '));
    assert.deepEqual(lines.slice(0, 5), ['0 100000 65536', '0 100000 65536', 'deny', '0', '0']);
    assert.match(lines[5]!, /Read-only file system/);
    assert.equal(lines[6], 'null-ok');
    assert.match(lines[7]!, /^ro,nosuid,nodev/);
  } finally {
    await removeTempDir(dirname(rootfs));
  }
});

/** A running "container" (all namespaces, hostname `inside`) for `fn`, ended and removed after. */
async function withRunningBox(fn: (pid: number) => Promise<void>): Promise<void> {
  const rootfs = await copyBusyboxRootfs();
  const { start } = await import('./helpers.js');
  const c = start([...cloneOps(ALL_NS), op(O.SETHOSTNAME, str('inside')), ...rootfsOps(rootfs), op(O.READY), sh('echo started; read x')], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  try {
    const pid = await c.handle.pid;
    await c.handle.ready;
    await fn(pid);
  } finally {
    c.handle.child.stdin!.end('\n');
    await c.result;
    await removeTempDir(dirname(rootfs));
  }
}

test('SETNS_PID and a second CLONE enter a running container (the exec path)', { skip: skipUnlessRoot }, async () => {
  await withRunningBox(async (pid) => {
    const r = await run([
      op(O.SETNS_PID, int(pid), int(ALL_NS)), // every namespace but the user one
      ...cloneOps(0),
      op(O.READY),
      sh('echo pid=$$; hostname; cat /proc/1/comm'),
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), ['pid=2', 'inside', 'sh']);
  });
});


test('CLONE_INTO_CGROUP, SETNS_PID, CLONE: the directory is opened on the host, the process born in it inside the container (the exec path without a top process)', { skip: skipUnlessRoot || (CGROUP2 ? false : 'no cgroup2 mount') }, async () => {
  const name = `berth-test-into-${randomBytes(4).toString('hex')}`;
  const dir = join(CGROUP2!, name);
  mkdirSync(dir);
  try {
    await withRunningBox(async (pid) => {
      const r = await run([
        op(O.CLONE_INTO_CGROUP, str(dir)),
        op(O.SETNS_PID, int(pid), int(ALL_NS)),
        ...cloneOps(0),
        op(O.READY),
        sh('echo pid=$$; hostname; cat /proc/self/cgroup'),
      ]);
      assert.equal(r.code, 0, r.stderr);
      const lines = r.stdout.trim().split('\n');
      assert.deepEqual(lines.slice(0, 2), ['pid=2', 'inside']);
      // the container has a cgroup namespace of its own: the path is shown from its root
      assert.ok(lines.some((l) => l.startsWith('0::') && l.endsWith(`/${name}`)), r.stdout);
    });
  } finally {
    await removeCgroupDir(dir);
  }
});
