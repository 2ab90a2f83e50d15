// CHILD_JOINED / WAIT_JOINED: the child runs from RELEASE on while the parent moves it into
// its cgroups, and waits for the parent's word before what needs them. A failed move kills
// the child: nothing of the container runs on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { makeTempDir, removeTempDir } from '../../harness/tmp.js';
import { CLONE_NEWCGROUP, CLONE_NEWPID, O, bytes, int, killAtSync, op, CGROUP2, removeCgroupDir, run, sh, skipUnlessRoot, str, waitGone } from './helpers.js';

/** A cgroup of our own in the pids hierarchy (v1), or the unified one on a v2 host. */
function makeCgroup(): { dir: string; line: RegExp; remove: () => Promise<void> } {
  const v1 = existsSync('/sys/fs/cgroup/pids/cgroup.procs');
  const name = `berth-test-join-${randomBytes(4).toString('hex')}`;
  const dir = join(v1 ? '/sys/fs/cgroup/pids' : '/sys/fs/cgroup', name);
  mkdirSync(dir);
  return {
    dir,
    line: v1 ? /^\d+:pids:(.*)$/m : /^0::(.*)$/m,
    remove: () => removeCgroupDir(dir), // the container's process may still be exiting
  };
}

/** The parent block of a create program with the join after RELEASE. */
const parentJoining = (procs: string, last = op(O.WAIT_CHILD)) => [
  op(O.CHILD_REPORT),
  op(O.RELEASE),
  op(O.CHILD_CGROUP, str(procs)),
  op(O.CHILD_JOINED),
  last,
];

test('after WAIT_JOINED the child is in its cgroup; a cgroup namespace made then is rooted there', { skip: skipUnlessRoot }, async () => {
  const cg = makeCgroup();
  try {
    const procs = join(cg.dir, 'cgroup.procs');
    const parent = parentJoining(procs);
    const moved = await run([op(O.CLONE, int(CLONE_NEWPID), int(parent.length)), ...parent, op(O.WAIT_JOINED), op(O.READY), sh('cat /proc/self/cgroup')]);
    assert.equal(moved.code, 0, moved.stderr);
    assert.equal(cg.line.exec(moved.stdout)?.[1], cg.dir.slice(cg.dir.lastIndexOf('/')));

    const rooted = await run([
      op(O.CLONE, int(CLONE_NEWPID), int(parent.length)),
      ...parent,
      op(O.WAIT_JOINED),
      op(O.UNSHARE, int(CLONE_NEWCGROUP)),
      op(O.READY),
      sh('cat /proc/self/cgroup'),
    ]);
    assert.equal(rooted.code, 0, rooted.stderr);
    assert.equal(cg.line.exec(rooted.stdout)?.[1], '/', rooted.stdout);
  } finally {
    await cg.remove();
  }
});

test('a failed CHILD_CGROUP after RELEASE: berth-init fails with its message, the child is gone and ran nothing past the wait', { skip: skipUnlessRoot }, async () => {
  const dir = await makeTempDir('join-fail');
  try {
    const marker = join(dir, 'ran');
    const parent = parentJoining('/nonexistent/berth-test/cgroup.procs', op(O.EXIT, int(0)));
    const r = await run([
      op(O.CLONE, int(CLONE_NEWPID), int(parent.length)),
      ...parent,
      op(O.UMASK, int(0)),
      op(O.WAIT_JOINED),
      op(O.WRITE_FILE, str(marker), bytes('x'), int(0o100 | 0o1000), int(0o644)),
      op(O.READY),
      sh('sleep 10'),
    ]);
    assert.equal(r.code, 1);
    assert.ok(r.pid && r.pid > 0);
    assert.equal(r.readyError?.message, `add pid ${r.pid} to cgroup \`/nonexistent/berth-test/cgroup.procs\`: No such file or directory`);
    assert.ok(await waitGone(r.pid), 'the child is gone');
    assert.equal(existsSync(marker), false, 'the child went on past WAIT_JOINED');
  } finally {
    await removeTempDir(dir);
  }
});

test('the child is killed when the parent is killed between RELEASE and CHILD_JOINED', { skip: skipUnlessRoot }, async () => {
  const parent = [op(O.CHILD_REPORT), op(O.RELEASE), op(O.SYNC, str('hold')), op(O.CHILD_JOINED), op(O.WAIT_CHILD)];
  const { result, child } = await killAtSync([op(O.CLONE, int(CLONE_NEWPID), int(parent.length)), ...parent, op(O.WAIT_JOINED), op(O.READY), sh('sleep 10')]);
  assert.equal(result.signal, 'SIGKILL');
  assert.ok(child > 0);
  assert.ok(await waitGone(child), 'the child is gone');
});

test('a child that fails while the parent moves it: its own error is the one reported', { skip: skipUnlessRoot }, async () => {
  const cg = makeCgroup();
  try {
    const parent = parentJoining(join(cg.dir, 'cgroup.procs'), op(O.EXIT, int(0)));
    const r = await run([
      op(O.CLONE, int(CLONE_NEWPID), int(parent.length)),
      ...parent,
      op(O.WRITE_FILE, str('/nonexistent/berth-test'), bytes(''), int(0), int(0)),
      op(O.WAIT_JOINED),
      op(O.READY),
      sh('true'),
    ]);
    assert.equal(r.code, 1);
    assert.equal(r.readyError?.message, 'write `/nonexistent/berth-test`: No such file or directory');
    assert.ok(r.pid && (await waitGone(r.pid)));
  } finally {
    await cg.remove();
  }
});


test('CLONE_INTO_CGROUP: the child is born in a cgroup v2 directory; a missing one fails with its name', { skip: skipUnlessRoot || (CGROUP2 ? false : 'no cgroup2 mount') }, async () => {
  const name = `berth-test-into-${randomBytes(4).toString('hex')}`;
  const dir = join(CGROUP2!, name);
  mkdirSync(dir);
  try {
    const parent = [op(O.CHILD_REPORT), op(O.RELEASE), op(O.WAIT_CHILD)];
    const r = await run([op(O.CLONE_INTO_CGROUP, str(dir)), op(O.CLONE, int(CLONE_NEWPID), int(parent.length)), ...parent, op(O.READY), sh('cat /proc/self/cgroup')]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(/^0::(.*)$/m.exec(r.stdout)?.[1], `/${name}`, r.stdout);
    const missing = await run([op(O.CLONE_INTO_CGROUP, str(`${dir}-gone`)), op(O.CLONE, int(0), int(parent.length)), ...parent, op(O.READY), sh('true')]);
    assert.equal(missing.code, 1);
    assert.equal(missing.readyError?.message, `open cgroup \`${dir}-gone\`: No such file or directory`);
  } finally {
    await removeCgroupDir(dir);
  }
});
