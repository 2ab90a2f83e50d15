import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { promisify } from 'node:util';
import { ECHO_SERVER, TCP_PROBE, inNetns, nodeIn, startIn, testNet, type Background } from './helpers.js';

const run = promisify(execFile);

async function bridgePorts(bridge: string): Promise<string[]> {
  const links = JSON.parse((await run('ip', ['-j', 'link', 'show', 'master', bridge], { encoding: 'utf8' })).stdout || '[]') as { ifname: string }[];
  return links.map((l) => l.ifname);
}

// Two "containers" on a user network find each other by name and alias through the embedded
// DNS server; a third on another network cannot reach them.

const RESOLVE = `
import { Resolver } from 'node:dns/promises';
// Two tries of 2 s each, as glibc's resolver makes by default.
const r = new Resolver({ timeout: 2000, tries: 2 });
r.setServers([process.argv[1]]);
const out = {};
for (const name of process.argv.slice(2)) {
  try { out[name] = await r.resolve4(name); } catch (e) { out[name] = e.code; }
}
console.log(JSON.stringify(out));
`;

/** One try, 2 s: a lookup that is not answered at once fails. */
const RESOLVE_ONCE = RESOLVE.replace('tries: 2', 'tries: 1');

/** A DNS query over TCP from inside a namespace, with the library's own encoder; prints the answers. */
const TCP_QUERY = `
import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { promisify } from 'node:util';
const [server, name, modUrl] = process.argv.slice(1);
const { encodeMessage, decodeMessage, emptyMessage } = await import(modUrl);
const q = encodeMessage(emptyMessage({ id: 5, rd: true, questions: [{ name, type: 1, class: 1 }] }));
const len = Buffer.alloc(2); len.writeUInt16BE(q.length);
const c = connect({ host: server, port: 53 });
let buf = Buffer.alloc(0);
c.on('connect', () => c.write(Buffer.concat([len, q])));
c.on('data', (d) => {
  buf = Buffer.concat([buf, d]);
  if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
    console.log(JSON.stringify(decodeMessage(buf.subarray(2)).answers.map((a) => a.data)));
    c.destroy();
  }
});
`;

test('names and aliases resolve on a user network; networks are isolated', async () => {
  const t = await testNet('net-dns', '10.231.0.0/16');
  const bg: Background[] = [];
  try {
    const m = t.manager;
    await m.restore();
    const { id: n1 } = await m.createNetwork({ name: 'front', labels: { tier: 'web' } });
    await m.createNetwork({ name: 'back' });
    const a = await m.attach('aaaaaaaaaaaa1111', { name: 'alpha', hostname: 'alpha', networks: [{ name: 'front', aliases: ['svc'] }] });
    const b = await m.attach('bbbbbbbbbbbb2222', { name: 'beta', hostname: 'beta', networks: [{ name: n1, aliases: ['svc'] }] });
    const c = await m.attach('cccccccccccc3333', { name: 'gamma', hostname: 'gamma', networks: [{ name: 'back' }] });

    const front = await m.inspectNetwork('front');
    const gw = front.IPAM.Config[0]!.Gateway!;
    assert.match(front.IPAM.Config[0]!.Subnet!, /^10\.231\.\d+\.0\/24$/);
    assert.equal(Object.keys(front.Containers).length, 2);
    const ipA = a.settings.Networks.front!.IPAddress;
    const ipB = b.settings.Networks.front!.IPAddress;
    assert.match(c.settings.Networks.back!.IPAddress, /^10\.231\./);
    assert.equal(a.settings.Networks.front!.Gateway, gw);
    assert.equal(a.settings.Networks.front!.MacAddress.slice(0, 6), '02:42:');
    assert.deepEqual(a.settings.Networks.front!.DNSNames, ['alpha', 'svc', 'aaaaaaaaaaaa']);
    assert.equal(a.resolvConf.match(/^nameserver (.*)$/m)![1], gw);
    assert.match(a.hosts, new RegExp(`^${ipA.replace(/\./g, '\\.')}\\talpha$`, 'm'));

    // Inside alpha's namespace: eth0 with its address, lo up, the default route via the gateway.
    const links = JSON.parse(await inNetns(a.netnsPath, ['ip', '-j', 'addr'])) as { ifname: string; operstate: string; addr_info: { local: string }[] }[];
    assert.deepEqual(links.map((l) => l.ifname).sort(), ['eth0', 'lo']);
    assert.ok(links.find((l) => l.ifname === 'eth0')!.addr_info.some((x) => x.local === ipA));
    assert.match(await inNetns(a.netnsPath, ['ip', 'route']), new RegExp(`default via ${gw.replace(/\./g, '\\.')} dev eth0`));

    // Names, aliases (both addresses, in rotating order), <name>.<network>, the short id.
    const r1 = JSON.parse(await nodeIn(b.netnsPath, RESOLVE, [gw, 'alpha', 'svc', 'alpha.front', 'aaaaaaaaaaaa', 'gamma'])) as Record<string, unknown>;
    assert.deepEqual(r1.alpha, [ipA]);
    assert.deepEqual(new Set(r1.svc as string[]), new Set([ipA, ipB]));
    assert.deepEqual(r1['alpha.front'], [ipA]);
    assert.deepEqual(r1.aaaaaaaaaaaa, [ipA]);
    // gamma is on another network; its name is not ours, so it is forwarded, and this test's
    // container has no upstream it may reach: the server refuses rather than asking the world.
    assert.equal(typeof r1.gamma, 'string');
    const r2 = JSON.parse(await nodeIn(b.netnsPath, RESOLVE, [gw, 'svc'])) as Record<string, string[]>;
    assert.notDeepEqual(r2.svc, r1.svc, 'round robin: the order rotates');
    // Over TCP too.
    const modUrl = new URL('../../../src/network/dns-message.js', import.meta.url).href;
    assert.deepEqual(JSON.parse(await nodeIn(a.netnsPath, TCP_QUERY, [gw, 'beta', modUrl])), [ipB]);

    // Reachability: alpha → beta on the same network works; gamma → alpha does not (isolation),
    // not even with ping.
    bg.push(await startIn(a.netnsPath, ECHO_SERVER, ['7000']));
    assert.equal((await nodeIn(b.netnsPath, TCP_PROBE, [ipA, '7000'])).trim(), 'ok');
    assert.match((await nodeIn(c.netnsPath, TCP_PROBE, [ipA, '7000'])).trim(), /^fail/);
    await assert.rejects(inNetns(c.netnsPath, ['busybox', 'ping', '-c', '1', '-W', '1', ipA]));
    await inNetns(b.netnsPath, ['busybox', 'ping', '-c', '1', '-W', '2', ipA]);
    // The drop is the forward chain's doing: without it the bridges would route between the
    // networks. restore() rebuilds the table (idempotent) and the isolation is back.
    await run('nft', ['flush', 'chain', 'inet', t.options.table!, 'forward']);
    assert.equal((await nodeIn(c.netnsPath, TCP_PROBE, [ipA, '7000'])).trim(), 'ok');
    await m.restore();
    assert.match((await nodeIn(c.netnsPath, TCP_PROBE, [ipA, '7000'])).trim(), /^fail/);
    // The host itself reaches the containers (it owns the gateways).
    await new Promise<void>((resolve, reject) => {
      const s = connect({ host: ipA, port: 7000 }, () => { s.destroy(); resolve(); });
      s.on('error', reject);
    });

    // connect/disconnect while running: gamma joins front, its alias resolves at once (see the
    // next test for why it once did not), it reaches alpha, then leaves.
    const joined = await m.connect('cccccccccccc3333', { name: 'front', aliases: ['late'] });
    assert.equal(Object.keys(joined.Networks).sort().join(), 'back,front');
    const rl = JSON.parse(await nodeIn(a.netnsPath, RESOLVE, [gw, 'late'])) as Record<string, string[] | string>;
    assert.deepEqual(rl.late, [joined.Networks.front!.IPAddress]);
    assert.match(await inNetns(c.netnsPath, ['ip', '-o', 'link']), /eth1/);
    assert.equal((await nodeIn(c.netnsPath, TCP_PROBE, [ipA, '7000'])).trim(), 'ok');
    await m.disconnect('cccccccccccc3333', 'front');
    assert.doesNotMatch(await inNetns(c.netnsPath, ['ip', '-o', 'link']), /eth1/);
    assert.match((await nodeIn(c.netnsPath, TCP_PROBE, [ipA, '7000'])).trim(), /^fail/);

    // A network with endpoints cannot be removed; list filters.
    await assert.rejects(m.removeNetwork('front'), /active endpoints/);
    assert.deepEqual((await m.listNetworks({ label: ['tier=web'] })).map((n) => n.Name), ['front']);
    assert.deepEqual((await m.listNetworks({ name: ['bac'] })).map((n) => n.Name), ['back']);

    for (const b2 of bg.splice(0)) await b2.stop();
    await m.detach('aaaaaaaaaaaa1111');
    await m.detach('bbbbbbbbbbbb2222');
    await m.detach('cccccccccccc3333');
    await m.detach('cccccccccccc3333'); // idempotent
    assert.deepEqual(await m.pruneNetworks(), ['front', 'back']);
    assert.deepEqual(await m.listNetworks(), []);
  } finally {
    for (const b2 of bg) await b2.stop();
    await t.cleanup();
  }
});

// The bug this guards against: left to the kernel, a bridge takes the lowest MAC of its ports.
// When a port with a lower MAC joined, the bridge's MAC changed; a container whose ARP entry
// for the gateway named the old MAC (another container's veth) had its packets to the gateway,
// the embedded DNS among them, taken for someone else's and dropped until the entry expired.
// Here the MACs are chosen so that this happens every time if the bridge's MAC can move.
test('a lookup right after a container joins is answered, whatever MACs the ports have', async () => {
  const t = await testNet('net-mac', '10.237.0.0/16');
  try {
    const m = t.manager;
    await m.restore();
    const { id } = await m.createNetwork({ name: 'macs' });
    const bridge = `berth-${id.slice(0, 9)}`;
    const mac = async (): Promise<string> => (await readFile(`/sys/class/net/${bridge}/address`, 'utf8')).trim();
    assert.equal((await readFile(`/sys/class/net/${bridge}/addr_assign_type`, 'utf8')).trim(), '3', 'the MAC is set, not inherited');
    const macBefore = await mac();
    /** Attaches a container and gives the host end of its veth `portMac`. */
    const join = async (cid: string, name: string, portMac: string): Promise<string> => {
      const before = await bridgePorts(bridge);
      const r = await m.attach(cid, { name, hostname: name, networks: [{ name: 'macs' }] });
      const [port] = (await bridgePorts(bridge)).filter((p) => !before.includes(p));
      await run('ip', ['link', 'set', 'dev', port!, 'address', portMac]);
      return r.netnsPath;
    };
    const one = await join('mmmm00000001', 'one', '02:00:00:00:00:09');
    await join('mmmm00000002', 'two', '02:00:00:00:00:05');
    const gw = (await m.inspectNetwork('macs')).IPAM.Config[0]!.Gateway!;
    const lookup = async (name: string): Promise<unknown> => (JSON.parse(await nodeIn(one, RESOLVE_ONCE, [gw, name])) as Record<string, unknown>)[name];
    // one's ARP entry for the gateway is fresh; then a port with the lowest MAC joins.
    assert.equal((await lookup('two') as string[]).length, 1);
    await join('mmmm00000003', 'three', '02:00:00:00:00:01');
    assert.equal(await mac(), macBefore);
    assert.equal((await lookup('three') as string[]).length, 1, 'answered at once');
    await m.detach('mmmm00000002');
    assert.equal(await mac(), macBefore);
    await m.detach('mmmm00000001');
    await m.detach('mmmm00000003');
  } finally {
    await t.cleanup();
  }
});
