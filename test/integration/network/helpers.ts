import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { connect, isIPv6 } from 'node:net';
import { promisify } from 'node:util';
import { createNetworkManager, type NetworkManager, type NetworkManagerOptions } from '../../../src/network/index.js';
import { makeTempDir, removeTempDir } from '../../harness/tmp.js';

// Helpers of the network integration tests. "Containers" here are network namespaces made
// by the library itself, with processes started inside by util-linux's nsenter: no engine,
// no image. Every test has its own data and exec roots (berth-test-* temp dirs), its own
// nftables table (berth-<hex>) and default bridge (berthd<hex>), an address pool of its own,
// ipForward off (bridges forward among themselves; the host's ip_forward is not touched), and
// removes everything in finally. Traffic goes only to 127.0.0.1, the host's own addresses, and
// the namespaces the test made.

const run = promisify(execFile);

export interface TestNet {
  manager: NetworkManager;
  options: NetworkManagerOptions;
  dataRoot: string;
  execRoot: string;
  /** Starts a second manager on the same roots (a daemon restart). */
  reopen(): Promise<NetworkManager>;
  cleanup(): Promise<void>;
}

/** A manager on fresh roots; `pool` is this test's own address pool (e.g. "10.231.0.0/16"). */
export async function testNet(label: string, pool: string): Promise<TestNet> {
  const dataRoot = await makeTempDir(`${label}-data`);
  const execRoot = await makeTempDir(`${label}-exec`);
  const hex = randomBytes(4).toString('hex');
  const options: NetworkManagerOptions = {
    dataRoot,
    execRoot,
    table: `berth-${hex}`,
    defaultBridge: `berthd${hex.slice(0, 6)}`,
    pools: [{ base: pool, size: 24 }],
    ipForward: false,
  };
  const managers: NetworkManager[] = [];
  const open = async (): Promise<NetworkManager> => {
    const m = await createNetworkManager(options);
    managers.push(m);
    return m;
  };
  const manager = await open();
  return {
    manager,
    options,
    dataRoot,
    execRoot,
    reopen: open,
    async cleanup() {
      const errors: unknown[] = [];
      const last = managers[managers.length - 1]!;
      const owned = last.ownedObjects();
      for (const m of managers) await m.close().catch((e) => errors.push(e));
      // The last manager knows the latest state; teardown removes every kernel object.
      await last.teardown().catch((e) => errors.push(e));
      const left = await leftovers(owned, execRoot);
      await removeTempDir(dataRoot);
      await removeTempDir(execRoot);
      if (errors.length) throw errors[0];
      if (left.length) throw new Error(`left behind: ${left.join(', ')}`);
    },
  };
}

/** What of a manager's objects is still on the machine: links, the table, mounts under the exec root. */
export async function leftovers(owned: ReturnType<NetworkManager['ownedObjects']>, execRoot: string): Promise<string[]> {
  const left: string[] = [];
  const links = (JSON.parse((await run('ip', ['-j', 'link'], { encoding: 'utf8' })).stdout) as { ifname: string }[]).map((l) => l.ifname);
  for (const name of [...owned.bridges, ...owned.veths]) if (links.includes(name)) left.push(`link ${name}`);
  const tables = (await run('nft', ['list', 'tables'], { encoding: 'utf8' })).stdout;
  if (new RegExp(`^table inet ${owned.table}$`, 'm').test(tables)) left.push(`nft table ${owned.table}`);
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    if (line.split(' ')[4]?.startsWith(execRoot)) left.push(`mount ${line.split(' ')[4]}`);
  }
  return left;
}

/** Runs a command inside a namespace; stdout. */
export async function inNetns(netns: string, cmd: string[], timeoutMs = 20_000): Promise<string> {
  const { stdout } = await run('nsenter', [`--net=${netns}`, '--', ...cmd], { timeout: timeoutMs, encoding: 'utf8' });
  return stdout;
}

/** Runs a Node script inside a namespace (argv after the script: process.argv.slice(1)); stdout. */
export async function nodeIn(netns: string, script: string, args: string[] = [], timeoutMs = 20_000): Promise<string> {
  return inNetns(netns, [process.execPath, '--input-type=module', '-e', script, '--', ...args], timeoutMs);
}

export interface Background {
  child: ChildProcess;
  /** Lines printed so far. */
  lines: string[];
  stop(): Promise<void>;
}

/** Starts a Node script inside a namespace and waits until it prints "ready". */
export async function startIn(netns: string, script: string, args: string[] = []): Promise<Background> {
  const child = spawn('nsenter', [`--net=${netns}`, '--', process.execPath, '--input-type=module', '-e', script, '--', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`background script not ready: ${err}`)), 15_000);
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        lines.push(line);
        if (line === 'ready') { clearTimeout(t); resolve(); }
      }
    });
    child.once('exit', (code) => { clearTimeout(t); reject(new Error(`background script exited ${code}: ${err}`)); });
  });
  return {
    child,
    lines,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** A TCP echo server and a UDP echo server on one port, all addresses. */
export const ECHO_SERVER = `
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
const port = Number(process.argv[1]);
createServer((c) => c.pipe(c)).listen(port, '0.0.0.0', () => {
  const u = createSocket('udp4');
  u.on('message', (m, r) => u.send(Buffer.concat([Buffer.from('udp:'), m]), r.port, r.address));
  u.bind(port, '0.0.0.0', () => console.log('ready'));
});
`;

/** Prints "ok" or "fail <code>" for a TCP echo round trip to argv[1]:argv[2] within 2 s. */
export const TCP_PROBE = `
import { connect } from 'node:net';
const c = connect({ host: process.argv[1], port: Number(process.argv[2]) });
const t = setTimeout(() => { console.log('fail ETIMEDOUT'); process.exit(0); }, 2000);
c.on('connect', () => c.write('ping'));
c.on('data', (d) => { clearTimeout(t); console.log(d.toString() === 'ping' ? 'ok' : 'fail ' + d); process.exit(0); });
c.on('error', (e) => { clearTimeout(t); console.log('fail ' + e.code); process.exit(0); });
`;

/** What a TCP echo server at host:port sends back for "hello" (3 s at most). */
export function tcpEcho(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = connect({ host, port });
    const t = setTimeout(() => { c.destroy(); reject(new Error(`tcp ${host}:${port}: timed out`)); }, 3000);
    c.on('connect', () => c.write('hello'));
    c.on('data', (d) => { clearTimeout(t); c.destroy(); resolve(d.toString()); });
    c.on('error', (e) => { clearTimeout(t); reject(e); });
  });
}

/** What a UDP echo server at host:port sends back for "hello" (3 s at most). */
export function udpEcho(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = createSocket(isIPv6(host) ? 'udp6' : 'udp4');
    const t = setTimeout(() => { s.close(); reject(new Error(`udp ${host}:${port}: no answer`)); }, 3000);
    s.on('message', (m) => { clearTimeout(t); s.close(); resolve(m.toString()); });
    s.send('hello', port, host);
  });
}

/** The IPv4 addresses of this machine's own interfaces other than loopback. */
export function hostAddresses(json: { ifname: string; addr_info: { family: string; local: string; scope?: string }[] }[]): string[] {
  return json
    .filter((l) => l.ifname !== 'lo' && !/^berth/.test(l.ifname))
    .flatMap((l) => l.addr_info)
    .filter((a) => a.family === 'inet' && a.scope === 'global')
    .map((a) => a.local);
}

export function readSysctl(path: string): string {
  return readFileSync(`/proc/sys/${path}`, 'utf8').trim();
}
