// Through berthd with the real docker CLI: IPv6 user networks (--ipv6 with a ULA subnet,
// container to container over IPv6 by address and by name), the container's /etc/resolv.conf
// and /etc/hosts from --dns, --dns-search, --dns-option and --add-host (host-gateway too), and
// --network container:<id>, which sees the same hostname, /etc/hosts and /etc/resolv.conf as the
// container it joins, as with dockerd.
//
// Network safety: the harness's daemon has its own table, bridge and pool; the DNS servers
// named here (203.0.113.0/24, TEST-NET-3) are only written into files, never asked.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { DOCKER, TestBerthd } from '../../harness/berthd.js';
import { inspect as inspectWith, ok as okWith } from './clients.js';

const skip = !existsSync(DOCKER) ? `${DOCKER} is not installed` : process.getuid?.() !== 0 ? 'needs root' : false;

const ETC = 'hostname; echo ---; cat /etc/hostname; echo ---; cat /etc/hosts; echo ---; cat /etc/resolv.conf';

describe('docker CLI against berthd: IPv6, DNS options, host entries, container: mode', { skip, concurrency: false }, () => {
  let d: TestBerthd;

  const ok = (args: string[]): Promise<string> => okWith(d, args);
  const inspect = (name: string): Promise<Record<string, any>> => inspectWith(d, name);

  before(async () => {
    d = await TestBerthd.start('berthd-names');
  });

  after(async () => {
    await d?.cleanup();
  });

  test('an --ipv6 network with a ULA subnet: containers reach each other over IPv6 by address and name', async () => {
    // A random ULA /64 written as docker prints it (no leading zeros in a group).
    const r = randomBytes(5);
    const prefix = `fd${r.readUInt8(0).toString(16).padStart(2, '0')}:${r.readUInt16BE(1).toString(16)}:${r.readUInt16BE(3).toString(16)}:1`;
    await ok(['network', 'create', '--ipv6', '--subnet', `${prefix}::/64`, 'six']);
    const net = (JSON.parse(await ok(['network', 'inspect', 'six'])) as Record<string, any>[])[0]!;
    assert.equal(net.EnableIPv6, true);
    assert.ok((net.IPAM.Config as { Subnet: string }[]).some((c) => c.Subnet === `${prefix}::/64`), JSON.stringify(net.IPAM));
    await ok(['run', '-d', '--name', 'six-srv', '--network', 'six', 'busybox', 'sh', '-c', 'mkdir -p /www && echo over six > /www/index.html && exec httpd -f -p 80 -h /www']);
    await ok(['run', '-d', '--name', 'six-cli', '--network', 'six', '--ip6', `${prefix}::99`, 'busybox', 'sleep', '300']);
    const srv = (await inspect('six-srv')).NetworkSettings.Networks.six;
    assert.ok((srv.GlobalIPv6Address as string).startsWith(`${prefix}:`), srv.GlobalIPv6Address);
    assert.equal(srv.GlobalIPv6PrefixLen, 64);
    assert.match(await ok(['exec', 'six-cli', 'ip', '-6', 'addr', 'show', 'eth0']), new RegExp(`inet6 ${prefix}::99/64`));

    const ping = await d.docker(['exec', 'six-cli', 'ping', '-6', '-c1', '-W2', srv.GlobalIPv6Address]);
    assert.equal(ping.code, 0, ping.stdout + ping.stderr);
    assert.equal(await ok(['exec', 'six-cli', 'wget', '-q', '-O', '-', `http://[${srv.GlobalIPv6Address}]/`]), 'over six\n');
    // The embedded DNS answers AAAA with the IPv6 address.
    const aaaa = await ok(['exec', 'six-cli', 'nslookup', '-type=AAAA', 'six-srv']);
    assert.ok(aaaa.includes(srv.GlobalIPv6Address), aaaa);
    await ok(['rm', '-f', 'six-srv', 'six-cli']);
    await ok(['network', 'rm', 'six']);
  });

  test('--dns, --dns-search, --dns-option and --add-host (host-gateway too) in /etc/resolv.conf and /etc/hosts', async () => {
    const gateway = (JSON.parse(await ok(['network', 'inspect', 'bridge'])) as Record<string, any>[])[0]!.IPAM.Config[0].Gateway as string;
    const flags = ['--dns', '203.0.113.53', '--dns', '203.0.113.54', '--dns-search', 'a.example', '--dns-search', 'b.example', '--dns-option', 'ndots:3', '--dns-option', 'timeout:1',
      '--add-host', 'x.example:10.1.2.3', '--add-host', 'gw.example:host-gateway'];
    const out = await ok(['run', '--rm', ...flags, 'busybox', 'sh', '-c', 'cat /etc/resolv.conf; echo ---; cat /etc/hosts']);
    const [resolv, hosts] = out.split('---\n') as [string, string];
    assert.deepEqual(resolv.trim().split('\n'), ['nameserver 203.0.113.53', 'nameserver 203.0.113.54', 'search a.example b.example', 'options ndots:3 timeout:1']);
    assert.match(hosts, /^10\.1\.2\.3\tx\.example$/m);
    assert.match(hosts, new RegExp(`^${gateway.replace(/\./g, '\\.')}\\tgw\\.example$`, 'm'));
    assert.match(hosts, /^127\.0\.0\.1\tlocalhost$/m);

    // On a user network the embedded DNS (the gateway) is the name server; it forwards to the
    // --dns servers. Search domains and options are the container's.
    await ok(['network', 'create', 'named']);
    const userGw = (JSON.parse(await ok(['network', 'inspect', 'named'])) as Record<string, any>[])[0]!.IPAM.Config[0].Gateway as string;
    const onUser = await ok(['run', '--rm', '--network', 'named', ...flags, 'busybox', 'cat', '/etc/resolv.conf']);
    const lines = onUser.trim().split('\n').filter((l) => !l.startsWith('#'));
    assert.deepEqual(lines, [`nameserver ${userGw}`, 'search a.example b.example', 'options ndots:3 timeout:1']);
    await ok(['network', 'rm', 'named']);
  });

  test('--network container:<id> sees the hostname, /etc/hosts and /etc/resolv.conf of the container it joins', async () => {
    await ok(['run', '-d', '--name', 'base', '--hostname', 'basehost', '--dns', '203.0.113.53', '--dns-search', 'c.example', '--add-host', 'y.example:10.9.8.7', 'busybox', 'sleep', '300']);
    const base = await inspect('base');
    const want = await ok(['exec', 'base', 'sh', '-c', ETC]);
    assert.match(want, /^basehost\n---\nbasehost\n/);
    assert.match(want, /^10\.9\.8\.7\ty\.example$/m);
    assert.match(want, /^nameserver 203\.0\.113\.53$/m);
    for (const ref of ['base', base.Id as string]) {
      assert.equal(await ok(['run', '--rm', '--network', `container:${ref}`, 'busybox', 'sh', '-c', ETC]), want, `container:${ref}`);
    }
    await ok(['run', '-d', '--name', 'joined', '--network', 'container:base', 'busybox', 'sleep', '300']);
    const joined = await inspect('joined');
    assert.equal(joined.Config.Hostname, 'basehost');
    for (const k of ['HostsPath', 'ResolvConfPath', 'HostnamePath']) assert.equal(joined[k], base[k], k);
    // What the other container decides cannot be asked of the joining one (dockerd's errors).
    for (const [flags, msg] of [
      [['--hostname', 'other'], /conflicting options: hostname and the network mode/],
      [['--dns', '203.0.113.9'], /conflicting options: dns and the network mode/],
      [['--add-host', 'z:10.0.0.1'], /conflicting options: custom host-to-IP mapping and the network mode/],
      [['-p', '8080:80'], /conflicting options: port publishing and the container type network mode/],
    ] as const) {
      const r = await d.docker(['run', '--rm', '--network', 'container:base', ...flags, 'busybox', 'true']);
      assert.notEqual(r.code, 0, flags.join(' '));
      assert.match(r.stderr, msg);
    }
    await ok(['rm', '-f', 'joined', 'base']);
  });
});
