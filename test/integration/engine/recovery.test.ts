// Live restore: berthd killed with SIGKILL (or stopped) while containers run; the next berthd
// re-adopts running containers (logs, exec, stop still work) and records the exit of those
// that ended while it was down, with their exit codes; exec instances started before the
// kill are still known after it (exec-store.ts), whether they ended before, during or after
// the downtime.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execFileSync } from 'node:child_process';
import { DOCKER, TestBerthd } from '../../harness/berthd.js';
import { containerSnapshotKey } from '../../../src/engine/images/rootfs.js';
import { OverlaySnapshotter } from '../../../src/image/snapshot/snapshotter.js';

const api = (d: TestBerthd, method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> => d.api(method, path, body);

/** Creates and starts a detached exec; its id. */
async function execDetached(d: TestBerthd, container: string, script: string): Promise<string> {
  const created = await api(d, 'POST', `/v1.47/containers/${container}/exec`, { Cmd: ['sh', '-c', script] });
  assert.equal(created.status, 201, JSON.stringify(created.json));
  const id = created.json.Id as string;
  const started = await api(d, 'POST', `/v1.47/exec/${id}/start`, { Detach: true });
  assert.equal(started.status, 200);
  return id;
}

async function execState(d: TestBerthd, id: string): Promise<string> {
  const r = await api(d, 'GET', `/v1.47/exec/${id}/json`);
  assert.equal(r.status, 200, JSON.stringify(r.json));
  return `${String(r.json.Running)} ${String(r.json.ExitCode)}`;
}

async function poll(what: string, fn: () => Promise<boolean> | boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** pid's parent, grandparent, … up to pid 1. */
function ancestors(pid: number): number[] {
  const out: number[] = [];
  for (let p = pid; p > 1; ) {
    p = Number(/^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1]);
    out.push(p);
  }
  return out;
}

const skip = !existsSync(DOCKER) ? `${DOCKER} is not installed` : process.getuid?.() !== 0 ? 'needs root' : false;

describe('berthd killed and restarted: live restore', { skip }, () => {
  let d: TestBerthd;
  before(async () => {
    d = await TestBerthd.start('berthd-restore');
  });
  after(async () => {
    await d?.cleanup();
  });

  test('kill -9 while containers run: after a restart they are still there, with logs and exit codes', async () => {
    const a = await d.docker(['run', '-d', '--name', 'survivor', 'busybox', 'sh', '-c', 'echo before; sleep 60']);
    assert.equal(a.code, 0, a.stderr);
    const b = await d.docker(['run', '-d', '--name', 'quitter', 'busybox', 'sh', '-c', 'echo bye; sleep 1; exit 9']);
    assert.equal(b.code, 0, b.stderr);
    await sleep(200);
    await d.kill9();
    await sleep(1500); // quitter exits while berthd is down
    await d.startDaemon();

    const ps = await d.docker(['ps', '-a', '--format', '{{.Names}} {{.State}}']);
    assert.match(ps.stdout, /^survivor running$/m);
    assert.match(ps.stdout, /^quitter exited$/m);
    assert.equal((await d.docker(['inspect', '--format', '{{.State.ExitCode}}', 'quitter'])).stdout, '9\n');
    assert.equal((await d.docker(['logs', 'quitter'])).stdout, 'bye\n');
    assert.equal((await d.docker(['logs', 'survivor'])).stdout, 'before\n');
    const ex = await d.docker(['exec', 'survivor', 'echo', 'still here']);
    assert.equal(ex.stdout, 'still here\n');
    const waiter = d.docker(['wait', 'survivor']);
    assert.equal((await d.docker(['kill', 'survivor'])).code, 0);
    assert.equal((await waiter).stdout, '137\n');
  });

  test('--rm containers that ended while berthd was down are removed by the next one, with or without their exit file', async () => {
    // berthd does not write the record of an auto-removed container at its exit: the
    // `running` record with its monitor gone must be enough to finish the removal.
    const ids: string[] = [];
    for (const name of ['rm-exit-file', 'rm-no-exit-file']) {
      const r = await d.docker(['run', '-d', '--rm', '--name', name, '--network', 'none', 'busybox', 'sleep', '1']);
      assert.equal(r.code, 0, r.stderr);
      ids.push(r.stdout.trim());
    }
    await d.kill9();
    const runtime = (id: string): string => join(d.execRoot, 'c', id.slice(0, 16));
    await poll('both to exit', () => ids.every((id) => existsSync(join(runtime(id), 'exit'))));
    // As if berthd had died in the middle of the second one's removal, its runtime dir gone.
    rmSync(runtime(ids[1]!), { recursive: true, force: true });
    await d.startDaemon();
    await poll('both removed', async () => (await d.docker(['ps', '-aq', '--no-trunc'])).stdout.split('\n').every((l) => !ids.includes(l)));
    for (const id of ids) {
      assert.equal(existsSync(join(d.dataRoot, 'containers', id)), false, `record dir of ${id}`);
      assert.equal(existsSync(join(d.dataRoot, 'rootfs', id)), false, `rootfs of ${id}`);
    }
  });

  test('a created container whose rootfs a crash did not let finish is removed (its create was never answered)', async () => {
    // The record of a container without volumes is written beside its rootfs snapshot; a
    // crash can leave the record alone. Made here by taking the snapshot away while berthd is down.
    const c = await d.docker(['create', '--name', 'half-made', '--network', 'none', 'busybox', 'true']);
    assert.equal(c.code, 0, c.stderr);
    const id = c.stdout.trim();
    const kept = await d.docker(['create', '--name', 'whole', '--network', 'none', 'busybox', 'true']);
    assert.equal(kept.code, 0, kept.stderr);
    await d.kill9();
    const rootfs = join(d.dataRoot, 'rootfs', id);
    execFileSync('umount', [rootfs]);
    const snapshots = new OverlaySnapshotter(d.dataRoot);
    await snapshots.remove(containerSnapshotKey(id));
    await d.startDaemon();
    const ps = await d.docker(['ps', '-a', '--format', '{{.Names}}']);
    assert.doesNotMatch(ps.stdout, /^half-made$/m);
    assert.match(ps.stdout, /^whole$/m);
    assert.equal(existsSync(join(d.dataRoot, 'containers', id)), false, 'record dir');
    assert.equal(existsSync(rootfs), false, 'mount point');
    const again = await d.docker(['run', '--rm', '--name', 'half-made', '--network', 'none', 'busybox', 'true']);
    assert.equal(again.code, 0, again.stderr); // the name is free
    assert.equal((await d.docker(['rm', 'whole'])).code, 0);
  });

  test('a clean stop (SIGTERM) leaves containers running', async () => {
    await d.docker(['run', '-d', '--name', 'calm', 'busybox', 'sleep', '60']);
    await d.restart();
    assert.equal((await d.docker(['inspect', '--format', '{{.State.Status}}', 'calm'])).stdout, 'running\n');
    assert.equal((await d.docker(['rm', '-f', 'calm'])).code, 0);
  });

  test('a container with restart=always that exited while berthd was down is started again', async () => {
    await d.docker(['run', '-d', '--name', 'phoenix', '--restart', 'always', 'busybox', 'sh', '-c', 'sleep 1; exit 1']);
    await d.kill9();
    await sleep(1500);
    await d.startDaemon();
    let st = '';
    for (let i = 0; i < 50; i++) {
      st = (await d.docker(['inspect', '--format', '{{.State.Status}} {{.RestartCount}}', 'phoenix'])).stdout;
      if (/^running [1-9]/.test(st)) break;
      await sleep(100);
    }
    assert.match(st, /^running [1-9]/);
    await d.docker(['rm', '-f', 'phoenix']);
  });

  test('exec instances across kill -9: ended before, during and after the downtime', async () => {
    const r = await d.docker(['run', '-d', '--name', 'host', '--network', 'none', 'busybox', 'sleep', '120']);
    assert.equal(r.code, 0, r.stderr);
    const cid = r.stdout.trim();
    const before = await execDetached(d, 'host', 'exit 5');
    await poll('the first exec to end', async () => (await execState(d, before)) === 'false 5');
    const during = await execDetached(d, 'host', 'while [ ! -e /tmp/stop-during ]; do sleep 0.05; done; exit 7');
    const after = await execDetached(d, 'host', 'while [ ! -e /tmp/go ]; do sleep 0.05; done; exit 3');
    await poll('both execs to run', async () => (await execState(d, during)) === 'true null' && (await execState(d, after)) === 'true null');
    const pid = (await d.docker(['inspect', '-f', '{{.State.Pid}}', 'host'])).stdout.trim();
    await d.kill9();
    // While berthd is down, end one exec (through the container's root as the host sees it)
    // and wait for its berth-monitor to write the exit file.
    writeFileSync(`/proc/${pid}/root/tmp/stop-during`, '');
    const dir = join(d.execRoot, 'c', cid.slice(0, 16), `e-${during.slice(0, 16)}`);
    await poll('the exit file of the exec that ends during the downtime', () => existsSync(join(dir, 'exit')));
    await d.startDaemon();

    assert.equal(await execState(d, before), 'false 5');
    assert.equal(await execState(d, during), 'false 7');
    assert.equal(await execState(d, after), 'true null');
    // ExecIDs, as dockerd's, lists the execs not ended; the ended ones stay inspectable by id.
    const ids = (await d.docker(['inspect', '-f', '{{join .ExecIDs " "}}', 'host'])).stdout.trim().split(' ');
    assert.deepEqual(ids, [after]);
    // The exec still running is watched again: its end is recorded by the new berthd.
    assert.equal((await d.docker(['exec', 'host', 'touch', '/tmp/go'])).code, 0);
    await poll('the re-adopted exec to end', async () => (await execState(d, after)) === 'false 3');
    // A new exec is started by the container's re-adopted berth-monitor (docs/monitor.md,
    // Exec monitors), whose output and exit code reach the client.
    const monitorPid = ancestors(Number(pid))[0]!;
    const late = await execDetached(d, 'host', 'exec sleep 30');
    await poll('the late exec to run', async () => (await execState(d, late)) === 'true null');
    const latePid = (await api(d, 'GET', `/v1.47/exec/${late}/json`)).json.Pid as number;
    assert.ok(ancestors(latePid).includes(monitorPid), `exec ${latePid} under the container's monitor ${monitorPid}: ${ancestors(latePid).join(' ')}`);
    const out = await d.docker(['exec', 'host', 'sh', '-c', 'echo after-restore; exit 6']);
    assert.equal(out.code, 6);
    assert.equal(out.stdout, 'after-restore\n');
    assert.equal((await d.docker(['rm', '-f', 'host'])).code, 0);
    assert.equal((await api(d, 'GET', `/v1.47/exec/${after}/json`)).status, 404);
  });
});
