// The namespaces a config.json can ask for, end to end through the runtime CLI: a user
// namespace with id mappings, a time namespace with offsets, a namespace joined by path,
// the cgroup namespace's view, and the uts/ipc settings (domainname, sysctl).

import assert from 'node:assert/strict';
import { readFileSync, readlinkSync } from 'node:fs';
import { chmod, chown } from 'node:fs/promises';
import { test } from 'node:test';
import { makeBundle } from '../../harness/bundle.js';
import { describe, newRuntimeRoot } from '../../harness/runtime.js';
import { waitFor } from '../../harness/wait.js';

test('user namespace: root in the container is an unprivileged host uid through the mappings', async () => {
  const rt = await newRuntimeRoot();
  const b = await makeBundle({
    args: ['sh', '-c', 'id -u; cat /proc/self/uid_map /proc/self/gid_map; stat -c %u /bin/busybox; touch /tmp/x && stat -c %u /tmp/x'],
    edit: (c) => {
      c.linux!.namespaces!.push({ type: 'user' });
      c.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      c.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    },
  });
  try {
    // As with runc, the mapped root must be able to reach the bundle (temp dirs are 0700),
    // and /tmp is handed to it so that it can write there.
    await chmod(b.dir, 0o755);
    await chown(`${b.rootfs}/tmp`, 100000, 100000);
    const r = await rt.run(['run', '--bundle', b.dir, b.id]);
    assert.equal(r.code, 0, describe(r));
    const lines = r.stdout.trim().split('\n').map((l) => l.trim().replace(/\s+/g, ' '));
    assert.equal(lines[0], '0', 'root inside');
    assert.equal(lines[1], '0 100000 65536');
    assert.equal(lines[2], '0 100000 65536');
    assert.equal(lines[3], '65534', 'files of unmapped host root show as the overflow uid');
    assert.equal(lines[4], '0', 'a file the container makes is its root\'s');
  } finally {
    await rt.cleanup();
    await b.cleanup();
  }
});

test('time namespace: boottime and monotonic offsets shift the clocks the container sees', async () => {
  const rt = await newRuntimeRoot();
  const b = await makeBundle({
    args: ['cat', '/proc/uptime'],
    edit: (c) => {
      c.linux!.namespaces!.push({ type: 'time' });
      c.linux!.timeOffsets = { boottime: { secs: 86400 * 365, nanosecs: 0 }, monotonic: { secs: 86400, nanosecs: 0 } };
    },
  });
  try {
    const r = await rt.run(['run', '--bundle', b.dir, b.id]);
    assert.equal(r.code, 0, describe(r));
    const inside = Number(r.stdout.split(' ')[0]);
    const host = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
    assert.ok(inside - host > 86400 * 365 - 60, `uptime inside ${inside}, host ${host}`);
  } finally {
    await rt.cleanup();
    await b.cleanup();
  }
});

test('a namespace joined by path: the second container shares the first one\'s network and ipc', async () => {
  const rt = await newRuntimeRoot();
  const first = await makeBundle({ args: ['sleep', '60'] });
  const second = await makeBundle({ args: ['sh', '-c', 'for n in net ipc uts; do readlink /proc/self/ns/$n; done'] });
  try {
    const c = await rt.run(['run', '-d', '--bundle', first.dir, first.id]);
    assert.equal(c.code, 0, describe(c));
    const pid = await waitFor('the first container\'s pid', async () => {
      const s = await rt.run(['state', first.id]);
      const st = JSON.parse(s.stdout || '{}') as { pid?: number; status?: string };
      return st.status === 'running' && st.pid ? st.pid : undefined;
    });
    second.config.linux!.namespaces = second.config.linux!.namespaces!.map((n) =>
      n.type === 'network' || n.type === 'ipc' ? { type: n.type, path: `/proc/${pid}/ns/${n.type === 'network' ? 'net' : 'ipc'}` } : n,
    );
    await second.write();
    const r = await rt.run(['run', '--bundle', second.dir, second.id]);
    assert.equal(r.code, 0, describe(r));
    const [net, ipc, uts] = r.stdout.trim().split('\n');
    assert.equal(net, readlinkSync(`/proc/${pid}/ns/net`));
    assert.equal(ipc, readlinkSync(`/proc/${pid}/ns/ipc`));
    assert.notEqual(uts, readlinkSync(`/proc/${pid}/ns/uts`), 'a namespace not joined stays its own');
  } finally {
    await rt.cleanup();
    await first.cleanup();
    await second.cleanup();
  }
});

test('uts and ipc settings: domainname, a namespaced sysctl, and the cgroup namespace root', async () => {
  const rt = await newRuntimeRoot();
  const b = await makeBundle({
    args: ['sh', '-c', 'hostname; cat /proc/sys/kernel/domainname; cat /proc/sys/kernel/shm_rmid_forced; cat /proc/self/cgroup | grep -c ":/$"; cat /proc/self/cgroup | grep -v ":/$" | wc -l'],
    edit: (c) => {
      c.hostname = 'box';
      c.domainname = 'example.test';
      c.linux!.sysctl = { 'kernel.shm_rmid_forced': '1' };
    },
  });
  try {
    const r = await rt.run(['run', '--bundle', b.dir, b.id]);
    assert.equal(r.code, 0, describe(r));
    const [host, domain, shm, roots, others] = r.stdout.trim().split('\n');
    assert.equal(host, 'box');
    assert.equal(domain, 'example.test');
    assert.equal(shm, '1');
    assert.ok(Number(roots) >= 1, 'inside its cgroup namespace the container\'s cgroup is "/"');
    // Unshared after the move into every hierarchy: none shows a path outside its root.
    assert.equal(others?.trim(), '0', r.stdout);
  } finally {
    await rt.cleanup();
    await b.cleanup();
  }
});

test('a mount namespace joined by path: the process sees the other container\'s files; mounts are refused', async () => {
  const rt = await newRuntimeRoot();
  const first = await makeBundle({ args: ['sh', '-c', 'echo from-first > /tmp/marker; sleep 60'] });
  const second = await makeBundle({ args: ['cat', '/tmp/marker'] });
  try {
    const c = await rt.run(['run', '-d', '--bundle', first.dir, first.id]);
    assert.equal(c.code, 0, describe(c));
    const pid = await waitFor('the first container\'s marker', async () => {
      const s = await rt.run(['state', first.id]);
      const st = JSON.parse(s.stdout || '{}') as { pid?: number; status?: string };
      if (st.status !== 'running' || !st.pid) return undefined;
      try {
        return readFileSync(`/proc/${st.pid}/root/tmp/marker`, 'utf8') ? st.pid : undefined;
      } catch {
        return undefined;
      }
    });
    second.config.linux!.namespaces = second.config.linux!.namespaces!.map((n) =>
      n.type === 'mount' ? { type: 'mount' as const, path: `/proc/${pid}/ns/mnt` } : n,
    );
    // The default config mounts /proc, /dev…: a joined namespace cannot take them.
    await second.write();
    const refused = await rt.run(['run', '--bundle', second.dir, second.id]);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /mounts: cannot be set up in a joined mount namespace/);
    assert.deepEqual(await rt.containers(), [first.id], 'the refused container left no state');

    second.config.mounts = [];
    delete second.config.linux!.maskedPaths;
    delete second.config.linux!.readonlyPaths;
    await second.write();
    const r = await rt.run(['run', '--bundle', second.dir, second.id]);
    assert.equal(r.code, 0, describe(r));
    assert.equal(r.stdout, 'from-first\n');
  } finally {
    await rt.cleanup();
    await first.cleanup();
    await second.cleanup();
  }
});
