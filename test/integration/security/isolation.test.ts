// A container sees only itself: its init is PID 1, its own processes, hostname, network
// (only `lo`) and mounts (its own root, not the host's).

import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { realpathSync } from 'node:fs';
import { test } from 'node:test';
import { makeBundle } from '../../harness/bundle.js';
import { describe, newRuntimeRoot } from '../../harness/runtime.js';

const SCRIPT = [
  'echo "self=$$"',
  'echo "@@ ps"; ps -o pid,comm',
  'echo "@@ proc"; for p in /proc/[0-9]*; do echo "${p#/proc/}"; done',
  'echo "@@ hostname"; hostname',
  'echo "@@ netdev"; cat /proc/net/dev',
  'echo "@@ mountinfo"; cat /proc/self/mountinfo',
  'echo "@@ end"',
].join('; ');

function section(out: string, name: string): string[] {
  const m = new RegExp(`@@ ${name}\\n([\\s\\S]*?)@@ `).exec(out);
  assert.ok(m, `no "${name}" section in:\n${out}`);
  return m[1]!.split('\n').filter(Boolean);
}

test('a container has its own pid, uts, network and mount namespaces', async () => {
  const rt = await newRuntimeRoot();
  const b = await makeBundle({ args: ['sh', '-c', SCRIPT], edit: (c) => (c.hostname = 'berth-iso') });
  try {
    const r = await rt.run(['run', '--bundle', b.dir, b.id]);
    assert.equal(r.code, 0, describe(r));
    const out = r.stdout;

    // PID 1 is the container's process, and only the container's processes are visible.
    assert.match(out, /^self=1$/m, out);
    const ps = section(out, 'ps').slice(1); // drop the header
    assert.ok(ps.length >= 2 && ps.length <= 3, `ps shows more than the shell and ps:\n${ps.join('\n')}`);
    for (const line of ps) assert.match(line.trim(), /^\d+ (sh|ps)$/, `a foreign process in ps: ${line}`);
    const pids = section(out, 'proc').map(Number);
    assert.ok(pids.includes(1), `no pid 1 in /proc: ${pids}`);
    assert.ok(pids.length <= 4, `/proc lists ${pids.length} processes: ${pids}`);

    // Its own hostname; the host's is unchanged.
    assert.deepEqual(section(out, 'hostname'), ['berth-iso']);
    assert.notEqual(hostname(), 'berth-iso');

    // A new network namespace has only the loopback device.
    const devs = section(out, 'netdev').slice(2).map((l) => l.trim().split(':')[0]);
    assert.deepEqual(devs, ['lo']);

    // Its own mounts: the root is the bundle's rootfs, and nothing of the host's mount table
    // beyond what config.json asks for.
    const mounts = section(out, 'mountinfo').map((l) => l.split(' '));
    const root = mounts.find((f) => f[4] === '/');
    assert.ok(root, `no / in the container's mountinfo:\n${out}`);
    assert.equal(root[3], realpathSync(b.rootfs), 'the container root is not the bundle rootfs');
    const allowed = new Set([
      '/',
      ...b.config.mounts!.map((m) => m.destination),
      ...b.config.linux!.maskedPaths!,
      ...b.config.linux!.readonlyPaths!,
    ]);
    // A `cgroup` mount on a v1 or hybrid host is a tmpfs with one mount per hierarchy below it.
    const cgroupRoots = b.config.mounts!.filter((m) => m.type === 'cgroup').map((m) => `${m.destination}/`);
    const foreign = mounts
      .map((f) => f[4]!)
      .filter((p) => !allowed.has(p) && !cgroupRoots.some((r) => p.startsWith(r) && !p.slice(r.length).includes('/')));
    assert.deepEqual(foreign, [], 'mounts the config did not ask for');
  } finally {
    await rt.cleanup();
    await b.cleanup();
  }
});
