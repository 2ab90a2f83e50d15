// Bridge networking through berthd, driven by the real docker CLI: the default network, user
// networks with the embedded DNS, isolation, published ports, none/host/container: modes, the
// network commands, recovery after SIGKILL, and nothing of Berth's left on the host
// afterwards. (Rate limits: rates-cli.test.ts; UDP and other host addresses:
// published-ports.test.ts; IPv6, DNS options and container: files: names-ipv6.test.ts.)
//
// Network safety: the harness gives this daemon its own nftables table, bridge and address
// pool and leaves the host's ip_forward alone; traffic goes only to 127.0.0.1 and to the
// containers made here.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { get } from 'node:http';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { DOCKER, TestBerthd } from '../../harness/berthd.js';
import { inspect as inspectWith, ok as okWith } from './clients.js';

const run = promisify(execFile);
const skip = !existsSync(DOCKER) ? `${DOCKER} is not installed` : process.getuid?.() !== 0 ? 'needs root' : false;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

function httpGet(port: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path: '/', timeout: 3000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

async function httpGetRetry(port: number, tries = 40): Promise<{ status: number; body: string }> {
  let last: unknown;
  for (let i = 0; i < tries; i++) {
    try {
      return await httpGet(port);
    } catch (e) {
      last = e;
      await sleep(100);
    }
  }
  throw last;
}

async function links(): Promise<{ ifname: string; master?: string }[]> {
  return JSON.parse((await run('ip', ['-j', 'link'], { encoding: 'utf8' })).stdout) as { ifname: string; master?: string }[];
}

describe('docker CLI against berthd: bridge networking', { skip, concurrency: false }, () => {
  let d: TestBerthd;
  let subnetBase: string; // "10.x" of this daemon's pool
  const bridges = new Set<string>();
  const veths = new Set<string>();

  /** Remembers the host ends of veths on our bridges, for the leak check at the end. */
  async function noteVeths(): Promise<void> {
    for (const l of await links()) if (l.master && bridges.has(l.master)) veths.add(l.ifname);
  }

  const ok = (args: string[], timeoutMs?: number): Promise<string> => okWith(d, args, timeoutMs ? { timeoutMs } : {});
  const inspect = (name: string): Promise<Record<string, any>> => inspectWith(d, name);

  before(async () => {
    d = await TestBerthd.start('berthd-net');
    subnetBase = d.network.pool.split('.').slice(0, 2).join('.');
    bridges.add(d.network.bridge);
  });

  after(async () => {
    await d?.cleanup();
    // Nothing of Berth's remains: veths, bridges, the table, namespaces or mounts under the roots.
    const left: string[] = [];
    const names = (await links()).map((l) => l.ifname);
    for (const n of [...bridges, ...veths]) if (names.includes(n)) left.push(`link ${n}`);
    const tables = (await run('nft', ['list', 'tables'], { encoding: 'utf8' })).stdout;
    if (new RegExp(`^table inet ${d.network.table}$`, 'm').test(tables)) left.push(`nft table ${d.network.table}`);
    for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) if (line.split(' ')[4]?.startsWith(d.dir)) left.push(`mount ${line.split(' ')[4]}`);
    assert.deepEqual(left, [], `left behind: ${left.join(', ')}`);
    assert.ok(veths.size > 0, 'the tests saw veths on their bridges');
  });

  test('the default network gives eth0 an address of the pool; inspect and info show it', async () => {
    const out = await ok(['run', '--rm', 'busybox', 'ip', '-4', 'addr', 'show', 'eth0']);
    assert.match(out, new RegExp(`inet ${subnetBase.replace('.', '\\.')}\\.\\d+\\.\\d+/24`));
    await ok(['run', '-d', '--name', 'def', 'busybox', 'sleep', '300']);
    await noteVeths();
    const i = await inspect('def');
    assert.match(i.NetworkSettings.IPAddress, new RegExp(`^${subnetBase.replace('.', '\\.')}\\.`));
    assert.equal(i.NetworkSettings.Networks.bridge.IPAddress, i.NetworkSettings.IPAddress);
    assert.equal(i.NetworkSettings.Gateway, i.NetworkSettings.Networks.bridge.Gateway);
    assert.match(i.NetworkSettings.MacAddress, /^02:42:/);
    const ping = await d.docker(['exec', 'def', 'ping', '-c1', '-W2', i.NetworkSettings.Gateway]);
    assert.equal(ping.code, 0, ping.stdout + ping.stderr);
    const info = JSON.parse(await ok(['info', '--format', '{{json .Plugins.Network}}'])) as string[];
    assert.deepEqual(info, ['bridge', 'host', 'null']);
    await ok(['rm', '-f', 'def']);
  });

  test('a user network: names and aliases resolve through the embedded DNS; another network is isolated', async () => {
    await ok(['network', 'create', '--subnet', `${subnetBase}.250.0/24`, '--label', 'team=a', 'neta']);
    await ok(['network', 'create', 'netb']);
    await ok(['run', '-d', '--name', 'web', '--network', 'neta', '--network-alias', 'alpha', 'busybox', 'sleep', '300']);
    await ok(['run', '-d', '--name', 'other', '--network', 'netb', 'busybox', 'sleep', '300']);
    await noteVeths();
    const web = await inspect('web');
    const ip = web.NetworkSettings.Networks.neta.IPAddress as string;
    assert.match(ip, new RegExp(`^${subnetBase.replace('.', '\\.')}\\.250\\.`));
    assert.deepEqual(web.NetworkSettings.Networks.neta.Aliases, ['alpha']);
    for (const name of ['web', 'alpha']) {
      const r = await d.docker(['run', '--rm', '--network', 'neta', 'busybox', 'nslookup', name]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, new RegExp(`Address: ${ip.replace(/\./g, '\\.')}`));
    }
    const ping = await d.docker(['run', '--rm', '--network', 'neta', 'busybox', 'ping', '-c1', '-W2', 'alpha']);
    assert.equal(ping.code, 0, ping.stdout + ping.stderr);
    // isolation: from netb, web's address is unreachable (and the control on neta above reached it)
    const iso = await d.docker(['exec', 'other', 'ping', '-c1', '-W1', ip]);
    assert.notEqual(iso.code, 0, 'netb reached neta');
    const nx = await d.docker(['exec', 'other', 'nslookup', 'web']);
    assert.notEqual(nx.code, 0, 'netb resolved a name of neta');
    await ok(['rm', '-f', 'web', 'other']);
  });

  test('published ports: -p 127.0.0.1:<port>:80 and -P answer at 127.0.0.1; docker port shows them', async () => {
    const port = await freePort();
    const serve = ['sh', '-c', 'mkdir -p /www && echo hello from berth > /www/index.html && exec httpd -f -p 80 -h /www'];
    await ok(['run', '-d', '--name', 'httpd', '-p', `127.0.0.1:${port}:80`, 'busybox', ...serve]);
    const r = await httpGetRetry(port);
    assert.equal(r.status, 200);
    assert.equal(r.body, 'hello from berth\n');
    assert.equal((await ok(['port', 'httpd', '80'])).trim(), `127.0.0.1:${port}`);
    await ok(['run', '-d', '--name', 'httpd-p', '--expose', '80', '-P', 'busybox', ...serve]);
    const out = await ok(['port', 'httpd-p', '80/tcp']);
    const m = /0\.0\.0\.0:(\d+)/.exec(out);
    assert.ok(m, out);
    const r2 = await httpGetRetry(Number(m[1]));
    assert.equal(r2.body, 'hello from berth\n');
    const ps = await ok(['ps', '--filter', 'name=httpd-p', '--format', '{{.Ports}}']);
    assert.match(ps, new RegExp(`0\\.0\\.0\\.0:${m[1]}->80/tcp`));
    await noteVeths();
    await ok(['rm', '-f', 'httpd', 'httpd-p']);
    await assert.rejects(httpGet(port));
  });

  test('--network none has only lo; host sees the host links; container:<id> shares a stack', async () => {
    const none = await ok(['run', '--rm', '--network', 'none', 'busybox', 'ip', '-o', 'link']);
    assert.deepEqual(none.trim().split('\n').map((l) => l.split(':')[1]!.trim()), ['lo']);
    const host = await ok(['run', '--rm', '--network', 'host', 'busybox', 'ip', '-o', 'link']);
    assert.match(host, new RegExp(`: ${d.network.bridge}:`));
    await ok(['run', '-d', '--name', 'base', 'busybox', 'sleep', '300']);
    const ip = (await inspect('base')).NetworkSettings.IPAddress as string;
    const shared = await ok(['run', '--rm', '--network', 'container:base', 'busybox', 'ip', '-4', 'addr', 'show', 'eth0']);
    assert.match(shared, new RegExp(`inet ${ip.replace(/\./g, '\\.')}/`));
    await ok(['rm', '-f', 'base']);
  });

  test('a restart policy attaches the container again: a new run has an address and no stale veth', async () => {
    await ok(['run', '-d', '--name', 'again', '--restart', 'always', 'busybox', 'sh', '-c', 'sleep 3; exit 1']);
    await noteVeths();
    let out = '';
    for (let i = 0; i < 100 && !out; i++) {
      await sleep(100);
      const s = await inspect('again');
      if (s.RestartCount < 1 || !s.State.Running) continue;
      const r = await d.docker(['exec', 'again', 'ip', '-4', 'addr', 'show', 'eth0']);
      if (r.code === 0) out = r.stdout;
    }
    assert.match(out, new RegExp(`inet ${subnetBase.replace('.', '\\.')}\\.`));
    await noteVeths();
    const onBridge = (await links()).filter((l) => l.master === d.network.bridge);
    assert.equal(onBridge.length, 1, JSON.stringify(onBridge));
    await ok(['rm', '-f', 'again']);
  });

  test('docker network create/ls/inspect/connect/disconnect/rm/prune', async () => {
    const id = (await ok(['network', 'create', '--subnet', `${subnetBase}.240.0/24`, '--gateway', `${subnetBase}.240.254`, '--ip-range', `${subnetBase}.240.128/25`, '--label', 'x=1', 'cli-net'])).trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    const ls = await ok(['network', 'ls', '--format', '{{.Name}} {{.Driver}}']);
    for (const l of ['bridge bridge', 'host host', 'none null', 'cli-net bridge']) assert.match(ls, new RegExp(`^${l}$`, 'm'));
    assert.equal((await ok(['network', 'ls', '--filter', 'label=x=1', '--format', '{{.Name}}'])).trim(), 'cli-net');
    assert.equal((await ok(['network', 'ls', '--filter', 'type=custom', '--filter', 'name=cli', '--format', '{{.Name}}'])).trim(), 'cli-net');
    const net = (JSON.parse(await ok(['network', 'inspect', 'cli-net'])) as Record<string, any>[])[0]!;
    assert.deepEqual(net.IPAM.Config[0], { Subnet: `${subnetBase}.240.0/24`, IPRange: `${subnetBase}.240.128/25`, Gateway: `${subnetBase}.240.254` });
    await ok(['run', '-d', '--name', 'multi', 'busybox', 'sleep', '300']);
    await ok(['network', 'connect', '--alias', 'mm', '--ip', `${subnetBase}.240.7`, 'cli-net', 'multi']);
    await noteVeths();
    const eth1 = await ok(['exec', 'multi', 'ip', '-4', 'addr', 'show', 'eth1']);
    assert.match(eth1, new RegExp(`inet ${subnetBase.replace('.', '\\.')}\\.240\\.7/24`));
    const inNet = (JSON.parse(await ok(['network', 'inspect', 'cli-net'])) as Record<string, any>[])[0]!;
    assert.equal(Object.values(inNet.Containers as Record<string, { Name: string }>)[0]!.Name, 'multi');
    const rm = await d.docker(['network', 'rm', 'cli-net']);
    assert.notEqual(rm.code, 0);
    assert.match(rm.stderr, /active endpoints/);
    await ok(['network', 'disconnect', 'cli-net', 'multi']);
    const gone = await d.docker(['exec', 'multi', 'ip', 'link', 'show', 'eth1']);
    assert.notEqual(gone.code, 0);
    await ok(['network', 'rm', 'cli-net']);
    // --ip on create, several networks through NetworkingConfig
    await ok(['network', 'create', '--subnet', `${subnetBase}.241.0/24`, 'p1']);
    await ok(['network', 'create', 'p2']);
    await ok(['run', '-d', '--name', 'fixed', '--network', 'p1', '--ip', `${subnetBase}.241.9`, 'busybox', 'sleep', '300']);
    assert.equal((await inspect('fixed')).NetworkSettings.Networks.p1.IPAddress, `${subnetBase}.241.9`);
    const rmHost = await d.docker(['network', 'rm', 'host']);
    assert.notEqual(rmHost.code, 0);
    await ok(['rm', '-f', 'fixed', 'multi']);
    const pruned = await ok(['network', 'prune', '-f']);
    assert.match(pruned, /p1/);
    assert.match(pruned, /p2/);
    assert.match(pruned, /neta/);
    const after = await ok(['network', 'ls', '--format', '{{.Name}}']);
    assert.deepEqual(after.trim().split('\n').sort(), ['bridge', 'host', 'none']);
  });

  test('berthd killed with SIGKILL and restarted keeps the address, the published port and DNS', async () => {
    await ok(['network', 'create', 'keep']);
    const port = await freePort();
    await ok(['run', '-d', '--name', 'kept', '--network', 'keep', '-p', `127.0.0.1:${port}:80`, 'busybox', 'sh', '-c', 'mkdir -p /www && echo kept > /www/index.html && exec httpd -f -p 80 -h /www']);
    await noteVeths();
    const before = (await inspect('kept')).NetworkSettings.Networks.keep.IPAddress as string;
    assert.equal((await httpGetRetry(port)).body, 'kept\n');
    await d.kill9();
    await d.startDaemon();
    const after = (await inspect('kept')).NetworkSettings.Networks.keep.IPAddress as string;
    assert.equal(after, before);
    assert.equal((await httpGetRetry(port)).body, 'kept\n');
    assert.equal((await ok(['port', 'kept', '80'])).trim(), `127.0.0.1:${port}`);
    const ns = await d.docker(['run', '--rm', '--network', 'keep', 'busybox', 'nslookup', 'kept']);
    assert.equal(ns.code, 0, ns.stdout + ns.stderr);
    assert.match(ns.stdout, new RegExp(`Address: ${before.replace(/\./g, '\\.')}`));
    // a new container does not get the kept one's address
    await ok(['run', '-d', '--name', 'kept2', '--network', 'keep', 'busybox', 'sleep', '300']);
    assert.notEqual((await inspect('kept2')).NetworkSettings.Networks.keep.IPAddress, before);
    await ok(['rm', '-f', 'kept', 'kept2']);
    await ok(['network', 'rm', 'keep']);
  });
});
