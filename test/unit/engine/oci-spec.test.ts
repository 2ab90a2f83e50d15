// The OCI spec berthd builds from Docker's Config + HostConfig (src/engine/oci-spec.ts),
// without a daemon: Docker's defaults (capabilities, masked and read-only paths, seccomp,
// the /etc files, /dev/shm, namespaces, sysctls) and each HostConfig field's mapping
// (limits, ulimits, devices, sysctls, tmpfs, binds, read-only rootfs, privileged, modes),
// with dockerd's 400s for bad values.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { HostConfig } from '../../../src/api/types/container.js';
import { buildSpec, capabilitySet, DEFAULT_SHM_SIZE, DOCKER_MASKED_PATHS, DOCKER_READONLY_PATHS, INIT_PATH, securityOptions, validateResources, type DeviceInfo, type SpecContext } from '../../../src/engine/oci-spec.js';
import { DOCKER_DEFAULT_CAPABILITIES } from '../../../src/runtime/seccomp-default-profile.js';
import { isBerthError } from '../../../src/errors.js';

const DEVICES: Record<string, DeviceInfo> = {
  '/dev/fuse': { type: 'c', major: 10, minor: 229, mode: 0o20666, uid: 0, gid: 0 },
  '/dev/sda': { type: 'b', major: 8, minor: 0, mode: 0o60660, uid: 0, gid: 6 },
};

const ctx: SpecContext = {
  id: 'c1',
  rootfs: '/rootfs',
  hostsPath: '/ctr/hosts',
  hostnamePath: '/ctr/hostname',
  resolvConfPath: '/ctr/resolv.conf',
  hostname: 'abc123',
  user: { uid: 1000, gid: 1000, additionalGids: [10] },
  env: ['PATH=/bin'],
  args: ['sh', '-c', 'true'],
  cwd: '/work',
  cgroupsPath: '/berthd/c1',
  defaultUlimits: [{ Name: 'nofile', Soft: 1024, Hard: 4096 }],
  statDevice: (p) => {
    const d = DEVICES[p];
    if (!d) throw Object.assign(new Error(`error gathering device information while adding custom device "${p}": no such file or directory`), { kind: 'InvalidParameter' });
    return d;
  },
  joinPid: (ref) => (ref === 'other' ? 4242 : 0),
};

function spec(hc: HostConfig = {}, config: { Tty?: boolean; Domainname?: string } = {}, extra: Partial<SpecContext> = {}) {
  return buildSpec(config, hc, { ...ctx, ...extra }).spec;
}

function bad(fn: () => unknown, message: RegExp, kind = 'InvalidParameter'): void {
  assert.throws(fn, (e: unknown) => isBerthError(e) && e.kind === kind && message.test(e.message));
}

test('defaults: Docker\'s capabilities, masked and read-only paths, seccomp, no-new-privileges off', () => {
  const s = spec();
  const caps = s.process!.capabilities!;
  assert.deepEqual(caps.bounding, [...DOCKER_DEFAULT_CAPABILITIES]);
  assert.deepEqual(caps.effective, caps.bounding);
  assert.equal(DOCKER_DEFAULT_CAPABILITIES.length, 14);
  assert.ok(!caps.bounding!.includes('CAP_SYS_ADMIN'));
  assert.deepEqual(s.linux!.maskedPaths, DOCKER_MASKED_PATHS);
  assert.deepEqual(s.linux!.readonlyPaths, DOCKER_READONLY_PATHS);
  assert.equal(s.linux!.seccomp!.defaultAction, 'SCMP_ACT_ERRNO');
  assert.equal(s.process!.noNewPrivileges, false);
  assert.deepEqual(s.process!.user, { uid: 1000, gid: 1000, additionalGids: [10] });
  assert.deepEqual([s.process!.args, s.process!.cwd, s.process!.terminal, s.hostname], [['sh', '-c', 'true'], '/work', false, 'abc123']);
  assert.deepEqual(s.root, { path: '/rootfs', readonly: false });
});

test('defaults: mounts, /etc files bound rw from the container dir, 64 MiB /dev/shm, namespaces, sysctls, rlimits', () => {
  const s = spec();
  const by = new Map(s.mounts!.map((m) => [m.destination, m]));
  for (const d of ['/proc', '/dev', '/dev/pts', '/sys', '/sys/fs/cgroup', '/dev/mqueue', '/dev/shm']) assert.ok(by.has(d), d);
  assert.ok(by.get('/sys')!.options!.includes('ro'));
  assert.ok(by.get('/dev/shm')!.options!.includes(`size=${DEFAULT_SHM_SIZE}`));
  assert.deepEqual(by.get('/etc/hosts'), { destination: '/etc/hosts', type: 'bind', source: '/ctr/hosts', options: ['rbind', 'rprivate', 'rw'] });
  assert.equal(by.get('/etc/resolv.conf')!.source, '/ctr/resolv.conf');
  assert.equal(by.get('/etc/hostname')!.source, '/ctr/hostname');
  assert.deepEqual(s.linux!.namespaces!.map((n) => n.type).sort(), ['ipc', 'mount', 'network', 'pid', 'uts']);
  assert.deepEqual(s.linux!.sysctl, { 'net.ipv4.ip_unprivileged_port_start': '0', 'net.ipv4.ping_group_range': '0 2147483647' });
  assert.deepEqual(s.process!.rlimits, [{ type: 'RLIMIT_NOFILE', soft: 1024, hard: 4096 }]);
  assert.deepEqual(s.linux!.resources!.devices, [{ allow: false, access: 'rwm' }]);
  assert.equal(s.linux!.cgroupsPath, '/berthd/c1');
});

test('capabilities: CapAdd, CapDrop, ALL, unknown names', () => {
  const all = ['CAP_CHOWN', 'CAP_NET_ADMIN', 'CAP_SYS_ADMIN', 'CAP_KILL'];
  assert.ok(capabilitySet({ CapAdd: ['net_admin'] }).includes('CAP_NET_ADMIN'));
  assert.ok(!capabilitySet({ CapDrop: ['CHOWN'] }).includes('CAP_CHOWN'));
  assert.deepEqual(capabilitySet({ CapDrop: ['ALL'], CapAdd: ['kill'] }), ['CAP_KILL']);
  assert.deepEqual(capabilitySet({ CapAdd: ['ALL'], CapDrop: ['sys_admin'] }, all), ['CAP_CHOWN', 'CAP_NET_ADMIN', 'CAP_KILL']);
  assert.deepEqual(capabilitySet({ Privileged: true, CapDrop: ['ALL'] }, all), all);
  bad(() => capabilitySet({ CapAdd: ['flying'] }), /^unknown capability: "CAP_FLYING"$/);
});

test('security options: no-new-privileges, seccomp unconfined, bad options', () => {
  assert.equal(securityOptions({ SecurityOpt: ['no-new-privileges'] }, []).noNewPrivileges, true);
  assert.equal(securityOptions({ SecurityOpt: ['no-new-privileges:true'] }, []).noNewPrivileges, true);
  assert.equal(securityOptions({ SecurityOpt: ['no-new-privileges=false'] }, []).noNewPrivileges, false);
  assert.equal(securityOptions({ SecurityOpt: ['seccomp=unconfined'] }, []).seccomp, undefined);
  assert.equal(spec({ SecurityOpt: ['seccomp=unconfined'] }).linux!.seccomp, undefined);
  bad(() => securityOptions({ SecurityOpt: ['no-new-privileges:maybe'] }, []), /^invalid --security-opt 2: "no-new-privileges:maybe"$/);
  bad(() => securityOptions({ SecurityOpt: ['bogus'] }, []), /^invalid --security-opt 1: "bogus"$/);
});

test('privileged: every capability, no seccomp, no masked paths, rw /sys, all devices', () => {
  const s = spec({ Privileged: true });
  assert.ok(s.process!.capabilities!.bounding!.length >= DOCKER_DEFAULT_CAPABILITIES.length);
  assert.equal(s.linux!.seccomp, undefined);
  assert.equal(s.linux!.maskedPaths, undefined);
  assert.equal(s.linux!.readonlyPaths, undefined);
  assert.ok(s.mounts!.find((m) => m.destination === '/sys')!.options!.includes('rw'));
  assert.deepEqual(s.linux!.resources!.devices, [{ allow: false, access: 'rwm' }, { allow: true, access: 'rwm' }]);
});

test('resources: memory and swap, CPUs, pids, blkio weight and throttles, OOM killer', () => {
  const r = spec({
    Memory: 64 << 20, MemoryReservation: 32 << 20, MemorySwappiness: 10, OomKillDisable: true, NanoCpus: 1.5e9, CpuShares: 512, CpusetCpus: '0', CpusetMems: '0',
    PidsLimit: 100, BlkioWeight: 300, BlkioWeightDevice: [{ Path: '/dev/sda', Weight: 200 }], BlkioDeviceReadBps: [{ Path: '/dev/sda', Rate: 1048576 }],
    BlkioDeviceWriteIOps: [{ Path: '/dev/sda', Rate: 100 }],
  }).linux!.resources!;
  assert.deepEqual(r.memory, { limit: 64 << 20, reservation: 32 << 20, swap: 128 << 20, swappiness: 10, disableOOMKiller: true });
  assert.deepEqual(r.cpu, { shares: 512, period: 100_000, quota: 150_000, cpus: '0', mems: '0' });
  assert.deepEqual(r.pids, { limit: 100 });
  assert.deepEqual(r.blockIO, {
    weight: 300,
    weightDevice: [{ major: 8, minor: 0, weight: 200 }],
    throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1048576 }],
    throttleWriteIOPSDevice: [{ major: 8, minor: 0, rate: 100 }],
  });
  assert.equal(spec({ Memory: 64 << 20, MemorySwap: -1 }).linux!.resources!.memory!.swap, -1);
  assert.equal(spec({ Memory: 64 << 20, MemorySwap: 100 << 20 }).linux!.resources!.memory!.swap, 100 << 20);
  assert.deepEqual(spec({ CpuPeriod: 50_000, CpuQuota: 25_000 }).linux!.resources!.cpu, { period: 50_000, quota: 25_000 });
  assert.deepEqual(spec({ PidsLimit: -1 }).linux!.resources!.pids, { limit: -1 });
});

test('validateResources: dockerd\'s messages', () => {
  const host = { ncpu: 2, cpus: [0, 1], memTotal: 8 << 30, hardRlimits: new Map([['RLIMIT_NOFILE', 4096]]) };
  bad(() => validateResources({ Memory: 1024 }, host), /^Minimum memory limit allowed is 6MB$/);
  bad(() => validateResources({ Memory: 64 << 20, MemorySwap: 32 << 20 }, host), /^Minimum memoryswap limit should be larger than memory limit, see usage$/);
  bad(() => validateResources({ MemorySwap: 32 << 20 }, host), /^You should always set the Memory limit when using Memoryswap limit, see usage$/);
  bad(() => validateResources({ Memory: 64 << 20, MemoryReservation: 128 << 20 }, host), /^Minimum memory limit can not be less than memory reservation limit, see usage$/);
  bad(() => validateResources({ MemorySwappiness: 101 }, host), /^Invalid value: 101, valid memory swappiness range is 0-100$/);
  bad(() => validateResources({ NanoCpus: 1e9, CpuPeriod: 100000 }, host), /^Conflicting options: Nano CPUs and CPU Period cannot both be set$/);
  bad(() => validateResources({ NanoCpus: 1e9, CpuQuota: 50000 }, host), /^Conflicting options: Nano CPUs and CPU Quota cannot both be set$/);
  bad(() => validateResources({ NanoCpus: 3e9 }, host), /^range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available$/);
  bad(() => validateResources({ MemoryReservation: 1 << 20 }, host), /^Minimum memory reservation allowed is 6MB$/);
  bad(() => validateResources({ CpusetCpus: '0-3' }, host), /^Requested CPUs are not available - requested 0-3, available: 0-1$/);
  bad(() => validateResources({ CpusetCpus: 'x' }, host), /^Invalid value x for cpuset cpus$/);
  bad(() => validateResources({ BlkioWeight: 5 }, host), /^Range of blkio weight is from 10 to 1000$/);
  bad(() => validateResources({ Ulimits: [{ Name: 'nofile', Soft: 10, Hard: 5 }] }, host), /^ulimit soft limit must be less than or equal to hard limit: 10 > 5$/);
  bad(() => validateResources({ Ulimits: [{ Name: 'nofile', Soft: 10, Hard: 99999 }] }, host), /hard limit 99999 is above the daemon's own \(4096\)/);
  bad(() => validateResources({ Ulimits: [{ Name: 'bogus', Soft: 1, Hard: 1 }] }, host), /^invalid ulimit type: bogus$/);
  validateResources({ Memory: 64 << 20, NanoCpus: 2e9, CpusetCpus: '0,1', Ulimits: [{ Name: 'nproc', Soft: 10, Hard: 20 }] }, host);
});

test('ulimits on top of the default ones; OomScoreAdj; ConsoleSize with a tty', () => {
  const s = spec({ Ulimits: [{ Name: 'nofile', Soft: 100, Hard: 200 }, { Name: 'nproc', Soft: 5, Hard: 10 }], OomScoreAdj: 500, ConsoleSize: [24, 80] }, { Tty: true });
  assert.deepEqual(s.process!.rlimits, [{ type: 'RLIMIT_NOFILE', soft: 100, hard: 200 }, { type: 'RLIMIT_NPROC', soft: 5, hard: 10 }]);
  assert.equal(s.process!.oomScoreAdj, 500);
  assert.deepEqual(s.process!.consoleSize, { height: 24, width: 80 });
  assert.equal(s.process!.terminal, true);
});

test('devices and device cgroup rules', () => {
  const s = spec({ Devices: [{ PathOnHost: '/dev/fuse', PathInContainer: '/dev/myfuse', CgroupPermissions: 'rw' }], DeviceCgroupRules: ['c 1:3 mr', 'b *:* rwm'] });
  assert.deepEqual(s.linux!.devices, [{ path: '/dev/myfuse', type: 'c', major: 10, minor: 229, fileMode: 0o666, uid: 0, gid: 0 }]);
  assert.deepEqual(s.linux!.resources!.devices, [
    { allow: false, access: 'rwm' },
    { allow: true, type: 'c', major: 10, minor: 229, access: 'rw' },
    { allow: true, type: 'c', major: 1, minor: 3, access: 'mr' },
    { allow: true, type: 'b', access: 'rwm' },
  ]);
  bad(() => spec({ Devices: [{ PathOnHost: '/dev/fuse', PathInContainer: '', CgroupPermissions: 'rx' }] }), /^invalid device mode: rx$/);
  bad(() => spec({ DeviceCgroupRules: ['z 1:1 r'] }), /^invalid device cgroup rule: z 1:1 r$/);
  assert.throws(() => spec({ Devices: [{ PathOnHost: '/dev/nope', PathInContainer: '', CgroupPermissions: 'rwm' }] }), /\/dev\/nope/);
});

test('sysctls; none of Docker\'s network sysctls in the host\'s network namespace', () => {
  assert.deepEqual(spec({ Sysctls: { 'net.core.somaxconn': '1024', 'net.ipv4.ip_unprivileged_port_start': '80' } }).linux!.sysctl, {
    'net.core.somaxconn': '1024',
    'net.ipv4.ip_unprivileged_port_start': '80',
    'net.ipv4.ping_group_range': '0 2147483647',
  });
  assert.equal(spec({ NetworkMode: 'host' }).linux!.sysctl, undefined);
  assert.deepEqual(spec({ Sysctls: { 'kernel.shmmax': '1', 'fs.mqueue.msg_max': '5', 'kernel.domainname': 'x' }, NetworkMode: 'none' }).linux!.sysctl!['kernel.shmmax'], '1');
  // host-wide keys, or keys of a namespace shared with the host, would set the host's value
  bad(() => spec({ Sysctls: { 'vm.swappiness': '1' } }), /^sysctl "vm.swappiness" is not in a separate kernel namespace$/);
  bad(() => spec({ Sysctls: { 'kernel/panic': '1' } }), /^sysctl "kernel\/panic" is not in a separate kernel namespace$/);
  bad(() => spec({ Sysctls: { 'net.ipv4.ip_forward': '1' }, NetworkMode: 'host' }), /^sysctl "net.ipv4.ip_forward" not allowed in host network namespace$/);
  bad(() => spec({ Sysctls: { 'kernel.sem': '1 2 3 4' }, IpcMode: 'host' }), /^sysctl "kernel.sem" is not allowed in the hosts ipc namespace$/);
  bad(() => spec({ Sysctls: { 'kernel.hostname': 'h' } }), /conflicts with the OCI "hostname" field$/);
  bad(() => spec({ Sysctls: { 'kernel.domainname': 'd' }, UTSMode: 'host' }), /is not in a separate kernel namespace$/);
  bad(() => spec({ Sysctls: { 'net..x': '1' } }), /is not a valid sysctl name$/);
});

test('tmpfs, binds and mounts; duplicates and malformed specs', () => {
  const s = spec({
    Tmpfs: { '/run': 'size=64m,exec', '/cache': '' },
    Binds: ['/srv/data:/data:ro', '/srv/logs:/logs:rw,rshared'],
    Mounts: [{ Type: 'bind', Source: '/srv/x', Target: '/x', ReadOnly: true }, { Type: 'tmpfs', Target: '/scratch', TmpfsOptions: { SizeBytes: 1048576, Mode: 0o700 } }],
  });
  const by = new Map(s.mounts!.map((m) => [m.destination, m]));
  assert.deepEqual(by.get('/run')!.options, ['nosuid', 'nodev', 'size=64m']);
  assert.deepEqual(by.get('/cache')!.options, ['nosuid', 'nodev', 'noexec']);
  assert.deepEqual(by.get('/data'), { destination: '/data', type: 'bind', source: '/srv/data', options: ['rbind', 'ro', 'rprivate'] });
  assert.deepEqual(by.get('/logs')!.options, ['rbind', 'rw', 'rshared']);
  assert.deepEqual(by.get('/x')!.options, ['rbind', 'ro', 'rprivate']);
  assert.deepEqual(by.get('/scratch')!.options, ['nosuid', 'nodev', 'noexec', 'size=1048576', 'mode=700']);
  // user mounts come after the /etc files, so a bind over /etc/hosts replaces Berth's
  const over = spec({ Binds: ['/my/hosts:/etc/hosts'] }).mounts!.filter((m) => m.destination === '/etc/hosts');
  assert.deepEqual(over.map((m) => m.source), ['/my/hosts']);
  bad(() => spec({ Binds: ['/a:/x', '/b:/x'] }), /^Duplicate mount point: \/x$/);
  bad(() => spec({ Binds: ['/a:rel:ro'] }), /destination must be an absolute path/);
  bad(() => spec({ Binds: ['/a:/b:/c:/d'] }), /^invalid volume specification: '\/a:\/b:\/c:\/d'$/);
  bad(() => spec({ Mounts: [{ Type: 'bind', Source: 'rel', Target: '/t' }] }), /mount path must be absolute/);
  bad(() => spec({ Mounts: [{ Type: 'npipe' as 'bind', Source: '/a', Target: '/t' }] }), /^mount type unknown: "npipe"$/);
  bad(() => spec({ Tmpfs: { rel: '' } }), /^invalid tmpfs mount: rel/);
});

test('read-only rootfs: root and the /etc files read-only', () => {
  const s = spec({ ReadonlyRootfs: true });
  assert.equal(s.root!.readonly, true);
  for (const d of ['/etc/hosts', '/etc/hostname', '/etc/resolv.conf']) assert.ok(s.mounts!.find((m) => m.destination === d)!.options!.includes('ro'), d);
});

test('namespace modes: host, container:<name>, none IPC, shm size, cgroupns, userns', () => {
  const host = spec({ NetworkMode: 'host', PidMode: 'host', IpcMode: 'host', UTSMode: 'host' });
  assert.deepEqual(host.linux!.namespaces, [{ type: 'mount' }]);
  assert.equal(host.hostname, undefined);
  assert.equal(host.mounts!.find((m) => m.destination === '/sys')!.type, 'bind');
  assert.ok(!host.mounts!.some((m) => m.destination === '/dev/shm'));
  const joined = spec({ NetworkMode: 'container:other', PidMode: 'container:other' });
  assert.ok(joined.linux!.namespaces!.some((n) => n.type === 'network' && n.path === '/proc/4242/ns/net'));
  assert.ok(joined.linux!.namespaces!.some((n) => n.type === 'pid' && n.path === '/proc/4242/ns/pid'));
  const none = spec({ IpcMode: 'none' });
  assert.ok(none.linux!.namespaces!.some((n) => n.type === 'ipc'));
  assert.ok(!none.mounts!.some((m) => m.destination === '/dev/shm'), 'IpcMode none has no /dev/shm');
  assert.ok(spec({ ShmSize: 1 << 20 }).mounts!.find((m) => m.destination === '/dev/shm')!.options!.includes('size=1048576'));
  assert.ok(spec({ CgroupnsMode: 'private' }).linux!.namespaces!.some((n) => n.type === 'cgroup'));
  assert.deepEqual(spec({}, {}, { netnsPath: '/run/berth/netns/c1' }).linux!.namespaces!.find((n) => n.type === 'network'), { type: 'network', path: '/run/berth/netns/c1' });
  bad(() => spec({ PidMode: 'bogus' }), /^invalid PID mode: bogus$/);
  bad(() => spec({ UsernsMode: 'private' }), /userns mode "private" is not supported/, 'NotImplemented');
  bad(() => spec({ NetworkMode: 'mynet' }), /network "mynet" is not supported/, 'NotImplemented');
  assert.ok(spec({ NetworkMode: 'mynet' }, {}, { userNetworks: true }).linux!.namespaces!.some((n) => n.type === 'network'));
});

test('--init: tini bound read-only and run as PID 1 before the command; Domainname', () => {
  const s = spec({}, { Domainname: 'example.org' }, { initPath: '/usr/bin/tini-static' });
  assert.deepEqual(s.process!.args, [INIT_PATH, '--', 'sh', '-c', 'true']);
  assert.deepEqual(s.mounts!.find((m) => m.destination === INIT_PATH), { destination: INIT_PATH, type: 'bind', source: '/usr/bin/tini-static', options: ['bind', 'ro'] });
  assert.equal(s.domainname, 'example.org');
});
