// Create fields that berthd used to accept and ignore, through the real docker CLI (and
// dockerode for NetworkDisabled, which the CLI no longer sends): now applied (cgroup parent,
// OOM score, IPC mode none, NetworkDisabled) or refused with dockerd's message.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import Docker from 'dockerode';
import { DOCKER, TestBerthd } from '../../harness/berthd.js';

const skip = !existsSync(DOCKER) ? `${DOCKER} is not installed` : process.getuid?.() !== 0 ? 'needs root' : false;

describe('container create fields: applied or refused', { skip }, () => {
  let d: TestBerthd;
  const parent = `berth-test-cgp-${randomBytes(4).toString('hex')}`;
  before(async () => {
    d = await TestBerthd.start('berthd-create-fields');
  });
  after(async () => {
    await d?.cleanup();
    // The parent cgroup a container was put under stays, as with dockerd: remove it.
    for (const h of readdirSync('/sys/fs/cgroup')) {
      const dir = join('/sys/fs/cgroup', h, parent);
      if (existsSync(dir)) rmdirSync(dir);
    }
  });

  test('--cgroup-parent puts the container under that cgroup', async () => {
    const r = await d.docker(['run', '--rm', '--network', 'none', '--cgroup-parent', `/${parent}`, 'busybox', 'cat', '/proc/self/cgroup']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^\\d+:[^:]*memory[^:]*:/${parent}/[0-9a-f]{64}$`, 'm'));
  });

  test('--cgroupns private: the container sees its own cgroups as the root of every hierarchy', async () => {
    const r = await d.docker(['run', '--rm', '--network', 'none', '--cgroupns', 'private', 'busybox', 'cat', '/proc/self/cgroup']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.ok(lines.length >= 1, r.stdout);
    // The namespace is made once the process is in its cgroups: no `/..` path outside it.
    assert.deepEqual(lines.filter((l) => !l.endsWith(':/')), [], r.stdout);
  });

  test('--oom-score-adj and --ipc none are applied', async () => {
    const oom = await d.docker(['run', '--rm', '--network', 'none', '--oom-score-adj', '500', 'busybox', 'cat', '/proc/self/oom_score_adj']);
    assert.equal(oom.stdout, '500\n', oom.stderr);
    const ipc = await d.docker(['run', '--rm', '--network', 'none', '--ipc', 'none', 'busybox', 'sh', '-c', 'test -e /dev/shm && echo shm || echo no-shm']);
    assert.equal(ipc.stdout, 'no-shm\n', ipc.stderr);
    // dockerd's warning for a setting it accepts but finds risky reaches the CLI
    const warned = await d.docker(['create', '--oom-kill-disable', 'busybox', 'true']);
    assert.equal(warned.code, 0, warned.stderr);
    assert.match(warned.stderr, /WARNING: OOM killer is disabled for the container, but no memory limit is set/);
    assert.equal((await d.docker(['rm', warned.stdout.trim()])).code, 0);
  });

  test('NetworkDisabled: only the loopback', async () => {
    const docker = new Docker({ socketPath: d.socket });
    const c = await docker.createContainer({ Image: 'busybox', Cmd: ['cat', '/proc/net/dev'], NetworkDisabled: true });
    await c.start();
    assert.equal((await c.wait()).StatusCode, 0);
    const out = ((await c.logs({ stdout: true, follow: false })) as unknown as Buffer).toString();
    const ifaces = [...out.matchAll(/^\S*?\s*(\w+):/gm)].map((m) => m[1]).filter((n) => n !== 'face');
    assert.deepEqual(ifaces, ['lo'], out);
    await c.remove();
  });

  test('sysctls: a namespaced one is applied; a host-wide one is refused, not written to the host', async () => {
    const ok = await d.docker(['run', '--rm', '--network', 'none', '--sysctl', 'net.ipv4.ip_unprivileged_port_start=1024', '--sysctl', 'kernel.shmmni=1000', 'busybox', 'cat', '/proc/sys/net/ipv4/ip_unprivileged_port_start', '/proc/sys/kernel/shmmni']);
    assert.equal(ok.stdout, '1024\n1000\n', ok.stderr);
    // The CLI checks --sysctl keys itself; an API client does not (dockerode here). The host's
    // own value, so that even a regression would not change the host.
    const current = readFileSync('/proc/sys/vm/swappiness', 'utf8').trim();
    const docker = new Docker({ socketPath: d.socket });
    await assert.rejects(docker.createContainer({ Image: 'busybox', Cmd: ['true'], HostConfig: { Sysctls: { 'vm.swappiness': current } } }), (e: Error & { statusCode?: number }) => {
      assert.equal(e.statusCode, 400);
      assert.match(e.message, /sysctl "vm.swappiness" is not in a separate kernel namespace/);
      return true;
    });
    const hostNet = await d.docker(['create', '--network', 'host', '--sysctl', 'net.ipv4.ip_unprivileged_port_start=1024', 'busybox', 'true']);
    assert.match(hostNet.stderr, /sysctl "net.ipv4.ip_unprivileged_port_start" not allowed in host network namespace/);
  });

  test('refused with dockerd\'s message instead of ignored', async () => {
    const cases: [string[], RegExp][] = [
      [['--isolation', 'hyperv'], /Invalid isolation: "hyperv" - linux only supports 'default'/],
      [['--runtime', 'kata'], /unknown or invalid runtime name: kata/],
      [['--storage-opt', 'size=1G'], /--storage-opt is supported only for overlay over xfs with 'pquota' mount option/],
      [['--gpus', 'all'], /could not select device driver "" with capabilities: \[\[gpu\]\]/],
      [['--volume-driver', 'flocker', '-v', 'v1:/v'], /error looking up volume plugin flocker: plugin "flocker" not found/],
      [['--link', 'other:o'], /legacy links \(--link\) on the default bridge network are not supported/],
    ];
    for (const [flags, message] of cases) {
      const r = await d.docker(['create', ...flags, 'busybox', 'true']);
      assert.notEqual(r.code, 0, flags.join(' '));
      assert.match(r.stderr, message, flags.join(' '));
    }
    assert.equal((await d.docker(['ps', '-aq'])).stdout, '', 'nothing was created');
  });
});
