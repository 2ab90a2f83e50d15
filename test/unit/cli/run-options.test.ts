import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseFlags } from '../../../src/cli/flags.js';
import { buildCreateRequest, CREATE_FLAGS, parseDevice, parseEnvFile, parseMount, parsePortSpec, parseRestart, parseUlimit, RUN_ONLY_FLAGS } from '../../../src/cli/commands/run-options.js';
import { DetachWatcher, parseDetachKeys } from '../../../src/cli/commands/streams.js';

function build(argv: string[], files: Record<string, string> = {}) {
  const p = parseFlags([...CREATE_FLAGS, ...RUN_ONLY_FLAGS], argv, { interspersed: false });
  return buildCreateRequest(p.flags, p.changed, p.args, { HOME_VAR: 'from-env' }, { run: true, readFile: (f) => files[f] ?? '' });
}

test('run flags map to Config and HostConfig as docker maps them', () => {
  const r = build([
    '-d', '--name', 'web', '-e', 'A=1', '-e', 'HOME_VAR', '-e', 'UNSET', '--env-file', 'f.env', '-p', '8080:80', '-p', '127.0.0.1:53:53/udp',
    '-v', '/data', '-v', '/host:/ctr:ro', '--hostname', 'h', '-u', '1000:1000', '-w', '/tmp', '--entrypoint', '/bin/sh', '--restart', 'on-failure:3',
    '-m', '512m', '--memory-swap', '-1', '--cpus', '1.5', '--cpu-shares', '512', '--cpuset-cpus', '0', '--pids-limit', '100', '--ulimit', 'nofile=1024:2048',
    '--cap-add', 'NET_ADMIN', '--cap-drop', 'ALL', '--privileged', '--read-only', '--security-opt', 'no-new-privileges', '--device', '/dev/null:/dev/xnull:rw',
    '--tmpfs', '/run:size=64m', '--shm-size', '128m', '--sysctl', 'net.ipv4.ip_forward=1', '--init', '-l', 'a=b', '--health-cmd', 'true', '--health-interval', '5s',
    '--log-driver', 'json-file', '--log-opt', 'max-size=1m', '--stop-signal', 'SIGINT', '--stop-timeout', '3', '--dns', '1.1.1.1', '--add-host', 'x:1.2.3.4',
    '--pid', 'host', '--ipc', 'private', '--uts', 'host', '--userns', 'host', '--group-add', 'audio', '--oom-kill-disable', '--rm', '--network', 'host',
    'busybox', 'echo', 'hi',
  ], { 'f.env': '# comment\nFILE=1\n' });
  const b = r.body;
  const hc = b.HostConfig!;
  assert.equal(r.name, 'web');
  assert.deepEqual(b.Env, ['FILE=1', 'A=1', 'HOME_VAR=from-env']);
  assert.deepEqual(b.Cmd, ['echo', 'hi']);
  assert.deepEqual(b.Entrypoint, ['/bin/sh']);
  assert.equal(b.Image, 'busybox');
  assert.deepEqual(b.ExposedPorts, { '80/tcp': {}, '53/udp': {} });
  assert.deepEqual(hc.PortBindings, { '80/tcp': [{ HostIp: '', HostPort: '8080' }], '53/udp': [{ HostIp: '127.0.0.1', HostPort: '53' }] });
  assert.deepEqual(b.Volumes, { '/data': {} });
  assert.deepEqual(hc.Binds, ['/host:/ctr:ro']);
  assert.equal(b.Hostname, 'h');
  assert.equal(b.User, '1000:1000');
  assert.equal(b.WorkingDir, '/tmp');
  assert.deepEqual(hc.RestartPolicy, { Name: 'on-failure', MaximumRetryCount: 3 });
  assert.equal(hc.Memory, 512 * 1024 * 1024);
  assert.equal(hc.MemorySwap, -1);
  assert.equal(hc.NanoCpus, 1.5e9);
  assert.equal(hc.CpuShares, 512);
  assert.equal(hc.CpusetCpus, '0');
  assert.equal(hc.PidsLimit, 100);
  assert.deepEqual(hc.Ulimits, [{ Name: 'nofile', Soft: 1024, Hard: 2048 }]);
  assert.deepEqual(hc.CapAdd, ['NET_ADMIN']);
  assert.deepEqual(hc.CapDrop, ['ALL']);
  assert.equal(hc.Privileged, true);
  assert.equal(hc.ReadonlyRootfs, true);
  assert.deepEqual(hc.SecurityOpt, ['no-new-privileges']);
  assert.deepEqual(hc.Devices, [{ PathOnHost: '/dev/null', PathInContainer: '/dev/xnull', CgroupPermissions: 'rw' }]);
  assert.deepEqual(hc.Tmpfs, { '/run': 'size=64m' });
  assert.equal(hc.ShmSize, 128 * 1024 * 1024);
  assert.deepEqual(hc.Sysctls, { 'net.ipv4.ip_forward': '1' });
  assert.equal(hc.Init, true);
  assert.deepEqual(b.Labels, { a: 'b' });
  assert.deepEqual(b.Healthcheck, { Test: ['CMD-SHELL', 'true'], Interval: 5e9 });
  assert.deepEqual(hc.LogConfig, { Type: 'json-file', Config: { 'max-size': '1m' } });
  assert.equal(b.StopSignal, 'SIGINT');
  assert.equal(b.StopTimeout, 3);
  assert.deepEqual(hc.Dns, ['1.1.1.1']);
  assert.deepEqual(hc.ExtraHosts, ['x:1.2.3.4']);
  assert.equal(hc.PidMode, 'host');
  assert.equal(hc.IpcMode, 'private');
  assert.equal(hc.UTSMode, 'host');
  assert.equal(hc.UsernsMode, 'host');
  assert.deepEqual(hc.GroupAdd, ['audio']);
  assert.equal(hc.OomKillDisable, true);
  assert.equal(hc.AutoRemove, true);
  assert.equal(hc.NetworkMode, 'host');
  assert.equal(b.AttachStdout, false);
});

test('attach streams: run attaches stdout/stderr, -i adds stdin once', () => {
  const r = build(['-i', 'busybox', 'cat']).body;
  assert.deepEqual([r.AttachStdin, r.AttachStdout, r.AttachStderr, r.OpenStdin, r.StdinOnce], [true, true, true, true, true]);
  const d = build(['-d', 'busybox']).body;
  assert.deepEqual([d.AttachStdin, d.AttachStdout, d.AttachStderr], [false, false, false]);
  assert.deepEqual(build(['--entrypoint=', 'busybox']).body.Entrypoint, ['']);
  assert.equal(build(['busybox']).body.HostConfig!.NetworkMode, 'default');
  assert.equal(build(['busybox']).body.HostConfig!.Init, undefined);
});

test("--egress-rate/--ingress-rate fill Berth's HostConfig fields, only when given", () => {
  const hc = build(['--egress-rate', '8mbit', '--ingress-rate=500kbit', 'busybox']).body.HostConfig!;
  assert.equal(hc.BerthEgressRate, '8mbit');
  assert.equal(hc.BerthIngressRate, '500kbit');
  const plain = build(['busybox']).body.HostConfig!;
  assert.equal('BerthEgressRate' in plain || 'BerthIngressRate' in plain, false, 'a docker-shaped body when the flags are absent');
});

test('flag values docker rejects are errors with status 125', () => {
  assert.throws(() => build(['-m', 'lots', 'busybox']), (e: unknown) => (e as { status: number }).status === 125 && /invalid argument "lots" for "--memory"/.test((e as Error).message));
  assert.throws(() => build(['--restart', 'sometimes', 'busybox']), /invalid restart policy/);
  assert.throws(() => build(['--restart', 'always:3', 'busybox']), /maximum retry count can only be used with 'on-failure'/);
  assert.throws(() => build(['-p', '80:80:80:80', 'busybox']), /invalid port format/);
  assert.throws(() => build(['--pull', 'sometimes', 'busybox']), /invalid pull option/);
  assert.throws(() => build(['--no-healthcheck', '--health-cmd', 'x', 'busybox']), /conflicts/);
});

test('ports, devices, ulimits, restart, mounts, env files', () => {
  assert.deepEqual(parsePortSpec('8000-8001:80-81'), [
    { port: '80/tcp', binding: { HostIp: '', HostPort: '8000' } },
    { port: '81/tcp', binding: { HostIp: '', HostPort: '8001' } },
  ]);
  assert.deepEqual(parsePortSpec('[::1]:80:8080'), [{ port: '8080/tcp', binding: { HostIp: '::1', HostPort: '80' } }]);
  assert.deepEqual(parsePortSpec('80'), [{ port: '80/tcp', binding: { HostIp: '', HostPort: '' } }]);
  assert.deepEqual(parseDevice('/dev/sda'), { PathOnHost: '/dev/sda', PathInContainer: '/dev/sda', CgroupPermissions: 'rwm' });
  assert.deepEqual(parseDevice('/dev/sda:r'), { PathOnHost: '/dev/sda', PathInContainer: '/dev/sda', CgroupPermissions: 'r' });
  assert.deepEqual(parseUlimit('nproc=10'), { Name: 'nproc', Soft: 10, Hard: 10 });
  assert.deepEqual(parseRestart('unless-stopped'), { Name: 'unless-stopped', MaximumRetryCount: 0 });
  assert.deepEqual(parseMount('type=bind,source=/a,target=/b,readonly'), { Type: 'bind', Source: '/a', Target: '/b', ReadOnly: true });
  assert.deepEqual(parseMount('type=tmpfs,dst=/t,tmpfs-size=1m'), { Type: 'tmpfs', Target: '/t', TmpfsOptions: { SizeBytes: 1048576 } });
  assert.throws(() => parseMount('type=bind,source=/a'), /target is required/);
  assert.deepEqual(parseEnvFile('A=1\n  # c\n\nB\nC=x=y\n', { B: 'b' }), ['A=1', 'B=b', 'C=x=y']);
});

test('detach keys: ctrl-p ctrl-q across chunks, held bytes released on mismatch', () => {
  assert.deepEqual(parseDetachKeys('ctrl-p,ctrl-q'), [16, 17]);
  assert.deepEqual(parseDetachKeys('ctrl-a,x'), [1, 120]);
  const w = new DetachWatcher([16, 17]);
  assert.deepEqual(w.feed(Buffer.from([97, 16])), { forward: Buffer.from([97]), detach: false });
  assert.deepEqual(w.feed(Buffer.from([17])), { forward: Buffer.from([]), detach: true });
  const w2 = new DetachWatcher([16, 17]);
  assert.deepEqual(w2.feed(Buffer.from([16, 98])), { forward: Buffer.from([16, 98]), detach: false });
});
