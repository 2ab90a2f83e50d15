// Benchmark: the cost of a container's network and its throughput, berthd against dockerd and
// podman in the same run, on the same busybox image (the test fixture, loaded into berthd's
// store, then `docker save` into dockerd and podman):
//   - set-up cost per container: `run busybox true` on the default bridge network and with
//     `--network none`, interleaved (without --rm: see below); the difference is what the
//     network costs;
//   - throughput container to container on the default bridge, from the host through a port
//     published on 127.0.0.1, and over the host's loopback alone as the reference: a small
//     Node sender and receiver (busybox's nc copies 1 KiB at a time and would measure itself)
//     run with nsenter in the containers' network namespaces (their SandboxKey), so the bytes
//     take the containers' own path (veth, bridge, NAT, docker-proxy); the time runs from
//     connect until the receiver has counted every byte.
//
// dockerd and podman keep their default networking (dockerd: docker0, iptables, docker-proxy
// for 127.0.0.1; podman: netavark with iptables, its podman0 bridge) but run in a network
// namespace of the benchmark's own, so their bridges and iptables rules never touch the host's;
// deleting that namespace removes them all. berthd (the test harness's, with its own bridge and
// nftables table) runs in the host's namespace, as it would in use. Each engine has its own
// data/exec roots under a berth-test- temp dir. Medians.
//
//   npm run bench:network       (node dist/bench/network.js)
//   BENCH_RUNS=15 BENCH_MB=1024 BENCH_REPS=7 node dist/bench/network.js

import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DOCKER, TestBerthd } from '../test/harness/berthd.js';
import { PrivateDockerd, processesMatching } from '../test/harness/dockerd.js';
import { makeTempDir, removeTempDir } from '../test/harness/tmp.js';
import { createNetns, deleteNetns } from '../src/network/netns.js';
import { nodeIn, startIn, type Background } from '../test/integration/network/helpers.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 9);
const MB = Number(process.env.BENCH_MB ?? 512);
const REPS = Number(process.env.BENCH_REPS ?? 5);
const PORT = 5001;

interface Result {
  ms: number;
  code: number | null;
  stdout: string;
  stderr: string;
}

interface Engine {
  name: string;
  /** The engine's CLI (docker's for berthd and dockerd, podman's own) with its arguments. */
  cli(args: string[], input?: Buffer, timeoutMs?: number): Result;
  /** The network namespace the engine's host side lives in (the benchmark's own, or the host's). */
  hostNetns: string;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** Runs a command, timed; after `timeoutMs` it is killed (code null): the docker CLI ignores SIGTERM. */
function timed(file: string, args: string[], env?: NodeJS.ProcessEnv, input?: Buffer, timeoutMs = 120_000): Result {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(file, args, { env: env ?? process.env, input, maxBuffer: 1 << 30, timeout: timeoutMs, killSignal: 'SIGKILL' });
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, code: r.status, stdout: r.stdout?.toString() ?? '', stderr: r.stderr?.toString() ?? '' };
}

function must(e: Engine, args: string[], input?: Buffer): string {
  const r = e.cli(args, input);
  if (r.code !== 0) throw new Error(`${e.name}: ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

const HOST_NETNS = `/proc/${process.pid}/ns/net`;

function dockerCli(name: string, socket: string, netns = HOST_NETNS): Engine {
  const env = { PATH: process.env.PATH, HOME: '/tmp', DOCKER_HOST: `unix://${socket}` };
  return { name, cli: (args, input, timeoutMs) => timed(DOCKER, args, env, input, timeoutMs), hostNetns: netns };
}

/** Counts what each connection sends until it half-closes, then answers the count. */
const RECEIVER = `
import { createServer } from 'node:net';
createServer((c) => {
  let n = 0;
  c.on('data', (d) => { n += d.length; });
  c.on('end', () => c.end(String(n)));
  c.on('error', () => undefined);
}).listen(Number(process.argv[1]), '0.0.0.0', () => console.log('ready'));
`;

/** Sends argv[3] MiB to argv[1]:argv[2], prints {bytes, seconds}: connect to the receiver's count. */
const SENDER = `
import { connect } from 'node:net';
const [host, port, mib] = process.argv.slice(1);
const chunk = Buffer.alloc(1 << 20);
const c = connect({ host, port: Number(port) });
let t0 = 0n;
let reply = '';
c.on('connect', () => {
  t0 = process.hrtime.bigint();
  let sent = 0;
  const pump = () => {
    while (sent < Number(mib)) {
      sent++;
      if (!c.write(chunk)) { c.once('drain', pump); return; }
    }
    c.end();
  };
  pump();
});
c.on('data', (d) => { reply += d; });
c.on('end', () => console.log(JSON.stringify({ bytes: Number(reply), seconds: Number(process.hrtime.bigint() - t0) / 1e9 })));
c.on('error', (e) => console.log(JSON.stringify({ error: e.code })));
`;

/** MiB/s of one transfer into a receiver, sent from the network namespace `from`; retried while the receiver is not reachable yet. */
async function transfer(what: string, from: string, host: string, port: number): Promise<number> {
  let last = '';
  for (let i = 0; i < 20; i++) {
    last = await nodeIn(from, SENDER, [host, String(port), String(MB)], 120_000);
    const r = JSON.parse(last) as { bytes?: number; seconds?: number };
    if (r.bytes === MB * 1024 * 1024 && r.seconds) return MB / r.seconds;
    await sleep(200);
  }
  throw new Error(`${what}: no complete transfer: ${last}`);
}

function podmanEngine(dir: string, netns: string): Engine {
  const global = ['--root', join(dir, 'root'), '--runroot', join(dir, 'run'), '--tmpdir', join(dir, 'tmp'), '--network-config-dir', join(dir, 'networks'),
    '--cgroup-manager', 'cgroupfs', '--runtime', 'runc', '--events-backend', 'file', '--network-backend', 'netavark'];
  const env = { PATH: process.env.PATH, HOME: '/tmp', CONTAINERS_CONF: join(dir, 'containers.conf') };
  // podman's default nofile and nproc limits are above this machine's hard limits, which runc
  // cannot raise here (root without CAP_SYS_RESOURCE): the container would not start. The
  // benchmark's own nofile limit, and 4096 processes, do.
  const nofile = /^Max open files\s+\S+\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))![1]!;
  const ulimits = [`"nofile=${nofile}:${nofile}"`, '"nproc=4096:4096"'];
  writeFileSync(env.CONTAINERS_CONF, `[containers]\ndefault_ulimits = [${ulimits.join(', ')}]\n[engine]\ncgroup_manager = "cgroupfs"\n`);
  return {
    name: 'podman',
    cli: (args, input, timeoutMs) => timed('nsenter', [`--net=${netns}`, '--', 'podman', ...global, ...args], env, input, timeoutMs),
    hostNetns: netns,
  };
}

function topCgroups(name: string): string[] {
  return spawnSync('find', ['/sys/fs/cgroup', '-mindepth', '2', '-maxdepth', '2', '-type', 'd', '-name', name], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
}

/** Unmounts what is left below `dir` (deepest first) and removes cgroups named after it. */
function sweep(dir: string): void {
  const info = readFileSync('/proc/self/mountinfo', 'utf8');
  for (const m of info.split('\n').map((l) => l.split(' ')[4] ?? '').filter((p) => p.startsWith(`${dir}/`)).sort().reverse()) spawnSync('umount', ['-l', m]);
  const found = spawnSync('find', ['/sys/fs/cgroup', '-maxdepth', '5', '-type', 'd', '-name', basename(dir)], { encoding: 'utf8' });
  for (const parent of found.stdout.split('\n').filter(Boolean)) {
    spawnSync('find', [parent, '-depth', '-type', 'd', '-exec', 'rmdir', '{}', ';']);
  }
}

const fmt = (x: number, unit: string): string => (unit === 'ms' ? `${x.toFixed(0)} ms` : `${x.toFixed(0)} MiB/s`);

export async function main(): Promise<void> {
  for (const bin of ['dockerd', 'podman']) if (spawnSync('which', [bin]).status !== 0) throw new Error(`${bin} is missing`);
  const berth = await TestBerthd.start('bench-net', { logLevel: 'info' });
  const dir = await makeTempDir('bench-net-peers');
  const podDir = join(dir, 'podman');
  const dockDir = join(dir, 'dockerd');
  for (const d of [podDir, dockDir]) spawnSync('mkdir', ['-p', d]);
  // Cgroups the peers make at the top of each hierarchy (podman's libpod_parent for conmon,
  // dockerd's "dockerd"): removed at the end when this run made them.
  const peerCgroups = ['libpod_parent', 'dockerd'].filter((n) => topCgroups(n).length === 0);
  let netns: string | undefined;
  let dockerd: PrivateDockerd | undefined;
  const receivers: Background[] = [];
  try {
    netns = await createNetns(dir, 'peers');
    dockerd = await PrivateDockerd.start(dockDir, { netns, defaultNetworking: true });
    const b = dockerCli('berthd', berth.socket);
    const d = dockerCli('dockerd', join(dockDir, 'docker.sock'), netns);
    const p = podmanEngine(podDir, netns);
    const tar = spawnSync(DOCKER, ['save', 'busybox'], { env: { PATH: process.env.PATH, HOME: '/tmp', DOCKER_HOST: `unix://${berth.socket}` }, maxBuffer: 1 << 30 }).stdout;
    must(d, ['load'], tar);
    must(p, ['load'], tar);
    const engines = [b, d, p];

    // Set-up cost: interleaved, two warm-ups.
    // `run` without --rm: the containers are removed after all runs, untimed. dockerd 20.10
    // here wedges now and then in the removal `run --rm` does (containers "removing" for good,
    // `docker run` and `rm -f` never return); a run that has not returned after a minute is
    // counted as hung and not timed.
    const setup: Record<string, { bridge: number[]; none: number[]; hung: number }> = {};
    for (const e of engines) setup[e.name] = { bridge: [], none: [], hung: 0 };
    for (let i = 0; i < RUNS + 2; i++) {
      for (const e of i % 2 ? [...engines].reverse() : engines) {
        for (const mode of ['bridge', 'none'] as const) {
          const r = e.cli(['run', ...(mode === 'none' ? ['--network', 'none'] : []), 'busybox', 'true'], undefined, 60_000);
          if (r.code === null) setup[e.name]!.hung++;
          else if (r.code !== 0) throw new Error(`${e.name}: run (${mode}): ${r.stderr}`);
          else if (i >= 2) setup[e.name]![mode].push(r.ms);
        }
      }
    }
    for (const e of engines) {
      const ids = e.cli(['ps', '-aq']).stdout.split('\n').filter(Boolean);
      if (ids.length) e.cli(['rm', '-f', ...ids], undefined, 120_000);
    }
    console.error(`set-up ${JSON.stringify(setup)}`);

    // Throughput: a receiver in the sink container's namespace (its SandboxKey), the sender in
    // the source container's, or on the engine's host side for the published port.
    const loopback: number[] = [];
    const c2c: Record<string, number[]> = {};
    const published: Record<string, number[]> = {};
    // dockerd and podman share the benchmark's namespace: a host port each.
    const publishedPort = (e: Engine): number => PORT + 1 + engines.indexOf(e);
    const sandbox = (e: Engine, name: string): string => must(e, ['inspect', '-f', '{{.NetworkSettings.SandboxKey}}', name]).trim();
    for (const e of engines) {
      c2c[e.name] = [];
      published[e.name] = [];
      must(e, ['run', '-d', '--name', 'bench-sink', '-p', `127.0.0.1:${publishedPort(e)}:${PORT}`, 'busybox', 'sleep', '3600']);
      must(e, ['run', '-d', '--name', 'bench-src', 'busybox', 'sleep', '3600']);
      receivers.push(await startIn(sandbox(e, 'bench-sink'), RECEIVER, [String(PORT)]));
    }
    receivers.push(await startIn(HOST_NETNS, RECEIVER, [String(PORT + 9)]));
    for (let i = 0; i < REPS; i++) {
      loopback.push(await transfer('loopback', HOST_NETNS, '127.0.0.1', PORT + 9));
      for (const e of engines) {
        const ip = must(e, ['inspect', '-f', '{{.NetworkSettings.IPAddress}}', 'bench-sink']).trim();
        c2c[e.name]!.push(await transfer(`${e.name} container to container`, sandbox(e, 'bench-src'), ip, PORT));
        published[e.name]!.push(await transfer(`${e.name} published port`, e.hostNetns, '127.0.0.1', publishedPort(e)));
      }
    }
    console.error(`throughput MiB/s: loopback ${JSON.stringify(loopback)} c2c ${JSON.stringify(c2c)} published ${JSON.stringify(published)}`);
    for (const r of receivers.splice(0)) await r.stop();
    for (const e of engines) must(e, ['rm', '-f', 'bench-sink', 'bench-src']);

    const rows = [
      '| measure | berthd | dockerd | podman | berthd / dockerd | berthd / podman |',
      '| --- | --- | --- | --- | --- | --- |',
    ];
    const row = (label: string, v: Record<string, number>, unit: string): void => {
      rows.push(`| ${label} | ${fmt(v.berthd!, unit)} | ${fmt(v.dockerd!, unit)} | ${fmt(v.podman!, unit)} | ${(v.berthd! / v.dockerd!).toFixed(2)} | ${(v.berthd! / v.podman!).toFixed(2)} |`);
    };
    const per = (f: (n: string) => number): Record<string, number> => Object.fromEntries(engines.map((e) => [e.name, f(e.name)]));
    row('`run busybox true`, default bridge network', per((n) => median(setup[n]!.bridge)), 'ms');
    row('`run --network none busybox true`', per((n) => median(setup[n]!.none)), 'ms');
    row('network set-up cost (difference of the medians)', per((n) => median(setup[n]!.bridge) - median(setup[n]!.none)), 'ms');
    row('container → container, default bridge', per((n) => median(c2c[n]!)), 'MiB/s');
    row('host → published port on 127.0.0.1', per((n) => median(published[n]!)), 'MiB/s');
    rows.push(`| host loopback alone (reference) | ${fmt(median(loopback), 'MiB/s')} | | | | |`);
    rows.push(`| runs that hung (not counted) | ${engines.map((e) => setup[e.name]!.hung).join(' | ')} | | |`);
    console.log(rows.join('\n'));
  } finally {
    for (const r of receivers) await r.stop();
    await berth.cleanup().catch((e: unknown) => console.error(`berthd cleanup: ${String(e)}`));
    const p = podmanEngine(podDir, netns ?? '/proc/self/ns/net');
    if (netns) p.cli(['rm', '-af', '-t', '0']);
    if (dockerd) {
      const ids = dockerd.docker(['ps', '-aq']).stdout.toString().split('\n').filter(Boolean);
      if (ids.length) dockerd.docker(['rm', '-f', ...ids]);
      await dockerd.stop();
    }
    // Whatever of the peers still runs (containerd, shims, conmon) holds their namespace.
    for (const pid of processesMatching((cmd) => cmd.includes(dir))) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    await sleep(500);
    sweep(dir);
    for (const cg of peerCgroups.flatMap(topCgroups)) spawnSync('find', [cg, '-depth', '-type', 'd', '-exec', 'rmdir', '{}', ';']);
    if (netns) await deleteNetns(netns).catch((e: unknown) => console.error(`bench namespace: ${String(e)}`));
    await removeTempDir(dir);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
