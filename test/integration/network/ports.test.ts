import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ipJson } from '../../../src/sys/ip.js';
import { parsePublish } from '../../../src/network/index.js';
import { ECHO_SERVER, hostAddresses, inNetns, readSysctl, startIn, tcpEcho, testNet, udpEcho, type Background } from './helpers.js';

// Published ports on the default network: TCP and UDP, fixed and ephemeral host ports,
// reachable at 127.0.0.1 and at the host's other addresses (only this machine's own); and a
// namespace without networks has nothing but lo.

test('published TCP and UDP ports answer at 127.0.0.1 and at the host\'s own addresses', async () => {
  const t = await testNet('net-ports', '10.232.0.0/16');
  const bg: Background[] = [];
  try {
    const m = t.manager;
    const forwardBefore = readSysctl('net/ipv4/ip_forward');
    const def = await m.ensureDefaultNetwork();
    assert.equal(def.Name, 'bridge');
    assert.equal(def.Options['com.docker.network.bridge.name'], t.options.defaultBridge);
    assert.equal((await m.ensureDefaultNetwork()).Id, def.Id, 'the default network is made once');
    assert.equal(readSysctl(`net/ipv4/conf/${t.options.defaultBridge}/route_localnet`), '1');

    // Fixed host ports below the ephemeral range, random so parallel runs do not meet.
    const base = 20000 + Math.floor(Math.random() * 9000) * 2;
    const ports = [...parsePublish(`${base}-${base + 1}:7000-7001`), ...parsePublish('7000/udp'), ...parsePublish('127.0.0.1::7000')];
    const fixed = ports[0]!.hostPort;
    const web = await m.attach('eeeeeeeeeeee0001', { name: 'web', hostname: 'web', networks: [{ name: 'bridge' }], ports, exposed: ['7000/tcp'] });
    const s = web.settings;
    assert.equal(s.IPAddress, s.Networks.bridge!.IPAddress);
    assert.equal(s.Gateway, def.IPAM.Config[0]!.Gateway);
    assert.equal(s.Networks.bridge!.Aliases, null);
    assert.deepEqual(s.Ports['7000/tcp']!.map((p) => p.HostPort).slice(0, 1), [String(fixed)]);
    const udpPort = Number(s.Ports['7000/udp']![0]!.HostPort);
    const loopOnly = s.Ports['7000/tcp']!.find((p) => p.HostIp === '127.0.0.1')!;
    const [lo, hi] = readSysctl('net/ipv4/ip_local_port_range').split(/\s+/).map(Number);
    assert.ok(udpPort >= lo! && udpPort <= hi!, `ephemeral ${udpPort} within ${lo}-${hi}`);
    // The default bridge has no embedded DNS: resolv.conf is the host's (no loopback servers).
    assert.doesNotMatch(web.resolvConf, /nameserver 127\./);

    // A second container cannot take a host port that is published.
    await assert.rejects(
      m.attach('eeeeeeeeeeee0002', { name: 'web2', hostname: 'web2', networks: [{ name: 'bridge' }], ports: [{ proto: 'tcp', containerPort: 1, hostIp: '', hostPort: fixed }] }),
      /already allocated/,
    );

    bg.push(await startIn(web.netnsPath, ECHO_SERVER, ['7000']));
    bg.push(await startIn(web.netnsPath, ECHO_SERVER, ['7001']));
    assert.equal(await tcpEcho('127.0.0.1', fixed), 'hello');
    assert.equal(await tcpEcho('127.0.0.1', fixed + 1), 'hello');
    assert.equal(await udpEcho('127.0.0.1', udpPort), 'udp:hello');
    assert.equal(await tcpEcho('127.0.0.1', Number(loopOnly.HostPort)), 'hello');
    const addrs = hostAddresses(await ipJson(['addr', 'show']));
    for (const a of addrs) {
      assert.equal(await tcpEcho(a, fixed), 'hello', `tcp via ${a}`);
      assert.equal(await udpEcho(a, udpPort), 'udp:hello', `udp via ${a}`);
      // Published on 127.0.0.1 only: not on the others.
      await assert.rejects(tcpEcho(a, Number(loopOnly.HostPort)));
    }
    // Directly at the container's address from the host, too.
    assert.equal(await tcpEcho(s.IPAddress, 7000), 'hello');

    for (const b of bg.splice(0)) await b.stop();
    await m.detach('eeeeeeeeeeee0001');
    // Gone with the container: the port is free (connection refused, not answered).
    await assert.rejects(tcpEcho('127.0.0.1', fixed), /ECONNREFUSED/);
    assert.equal(readSysctl('net/ipv4/ip_forward'), forwardBefore, 'ip_forward untouched with ipForward: false');
  } finally {
    for (const b of bg) await b.stop();
    await t.cleanup();
  }
});

test('--network none: a namespace with only lo, up', async () => {
  const t = await testNet('net-none', '10.233.0.0/16');
  try {
    const r = await t.manager.attach('ffffffffffff0001', { name: 'lonely', hostname: 'lonely', networks: [] });
    const links = JSON.parse(await inNetns(r.netnsPath, ['ip', '-j', 'link'])) as { ifname: string; flags: string[] }[];
    assert.deepEqual(links.map((l) => l.ifname), ['lo']);
    assert.ok(links[0]!.flags.includes('UP'));
    assert.deepEqual(r.settings.Networks, {});
    assert.equal(r.settings.SandboxKey, r.netnsPath);
    await inNetns(r.netnsPath, ['busybox', 'ping', '-c', '1', '-W', '1', '127.0.0.1']);
    await t.manager.detach('ffffffffffff0001');
    assert.ok(!(await import('node:fs')).existsSync(r.netnsPath));
  } finally {
    await t.cleanup();
  }
});
