// Benchmark: the docker CLI against berthd and against dockerd (Debian's docker.io, with its
// own containerd), in the same run, on the same busybox image (the test fixture, loaded into
// berthd's store and `docker save | docker load`ed into dockerd):
//   - `docker run --rm --network none busybox true`, end to end (interleaved);
//   - `docker exec <running> true`;
//   - `docker logs` of a container that printed 100k lines;
//   - memory per idle container: PSS of berth-monitor vs containerd-shim-runc-v2;
//   - daemon RSS at rest and with 100 running containers (dockerd + containerd together);
//   - `docker ps -a` with 1000 created containers.
// dockerd runs with its own --data-root/--exec-root/-H/--pidfile under a temp dir,
// --iptables=false --bridge=none. Medians; ratios berthd / dockerd.
//
//   npm run bench:engine        (node dist/bench/engine-run.js)
//   BENCH_RUNS=15 BENCH_IDLE=100 BENCH_PS=1000 node dist/bench/engine-run.js

import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { DOCKER, TestBerthd } from '../test/harness/berthd.js';
import { makeTempDir, removeTempDir } from '../test/harness/tmp.js';
import { PrivateDockerd, processesMatching } from '../test/harness/dockerd.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 11);
const IDLE = Number(process.env.BENCH_IDLE ?? 100);
const PS_COUNT = Number(process.env.BENCH_PS ?? 1000);

interface Target {
  name: string;
  socket: string;
  /** Pids of the daemon's own processes (berthd; dockerd + containerd). */
  daemonPids: () => number[];
  /** Per-container helper processes: berth-monitor / containerd-shim-runc-v2. */
  shimPids: () => number[];
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

function docker(t: Target, args: string[], input?: Buffer): { ms: number; code: number | null; stdout: Buffer; stderr: string } {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(DOCKER, args, { env: { PATH: process.env.PATH, HOME: '/tmp', DOCKER_HOST: `unix://${t.socket}` }, input, maxBuffer: 1 << 30, timeout: 180_000 });
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, code: r.status, stdout: r.stdout, stderr: r.stderr?.toString() ?? '' };
}

function must(t: Target, args: string[], input?: Buffer): Buffer {
  const r = docker(t, args, input);
  if (r.code !== 0) throw new Error(`${t.name}: docker ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

function kib(pid: number, field: 'Pss' | 'Rss'): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

function api(socket: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = request({ socketPath: socket, method, path, headers: data ? { 'Content-Type': 'application/json', 'Content-Length': data.length } : {} }, (res) => {
      let b = '';
      res.on('data', (c: Buffer) => (b += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: b }));
    });
    req.on('error', reject);
    req.end(data);
  });
}

function dockerdTarget(d: PrivateDockerd): Target {
  return {
    name: 'dockerd',
    socket: d.socket,
    daemonPids: () => d.pids((comm) => comm === 'dockerd' || comm === 'containerd'),
    shimPids: () => d.pids((comm) => comm.startsWith('containerd-shim')),
  };
}

function row(label: string, b: number, d: number, unit: string, goal?: string): string {
  const f = (x: number): string => (unit === 'ms' ? x.toFixed(1) : unit === 'KiB' || unit === 'MiB' ? x.toFixed(unit === 'MiB' ? 1 : 0) : String(x));
  return `| ${label} | ${f(b)} ${unit} | ${f(d)} ${unit} | ${(b / d).toFixed(2)} |${goal ? ` ${goal}` : ''}`;
}

export async function main(): Promise<void> {
  if (!PrivateDockerd.available()) throw new Error('dockerd is missing: apt-get install -y docker.io');
  const berth = await TestBerthd.start('bench-engine');
  const dockerDir = await makeTempDir('bench-dockerd');
  let dockerd: PrivateDockerd | undefined;
  const lines: string[] = [];
  try {
    dockerd = await PrivateDockerd.start(dockerDir);
    const b: Target = {
      name: 'berthd',
      socket: berth.socket,
      daemonPids: () => (berth.child?.pid ? [berth.child.pid] : []),
      shimPids: () => processesMatching((cmd, comm) => comm === 'berth-monitor' && cmd.includes(berth.dir)),
    };
    const d = dockerdTarget(dockerd);
    const targets = [b, d];
    // At rest: started, answered the CLI, nothing else done yet.
    await sleep(1000);
    const rest: Record<string, number> = {};
    for (const t of targets) rest[t.name] = t.daemonPids().reduce((s, p) => s + kib(p, 'Rss'), 0) / 1024;
    must(d, ['load'], must(b, ['save', 'busybox']));

    // run --rm, interleaved
    const run: Record<string, number[]> = { berthd: [], dockerd: [] };
    for (let i = 0; i < RUNS + 2; i++) {
      for (const t of i % 2 ? [d, b] : [b, d]) {
        const r = docker(t, ['run', '--rm', '--network', 'none', 'busybox', 'true']);
        if (r.code !== 0) throw new Error(`${t.name}: run: ${r.stderr}`);
        if (i >= 2) run[t.name]!.push(r.ms);
      }
    }
    // exec
    const exec: Record<string, number[]> = { berthd: [], dockerd: [] };
    for (const t of targets) must(t, ['run', '-d', '--network', 'none', '--name', 'bench-exec', 'busybox', 'sleep', '3600']);
    for (let i = 0; i < RUNS + 2; i++) {
      for (const t of i % 2 ? [d, b] : [b, d]) {
        const r = docker(t, ['exec', 'bench-exec', 'true']);
        if (r.code !== 0) throw new Error(`${t.name}: exec: ${r.stderr}`);
        if (i >= 2) exec[t.name]!.push(r.ms);
      }
    }
    for (const t of targets) must(t, ['rm', '-f', 'bench-exec']);
    console.error(`run ${JSON.stringify(run)}\nexec ${JSON.stringify(exec)}`);
    // logs of 100k lines
    const logs: Record<string, number[]> = { berthd: [], dockerd: [] };
    for (const t of targets) must(t, ['run', '--network', 'none', '--name', 'bench-logs', 'busybox', 'seq', '1', '100000']);
    for (let i = 0; i < Math.max(3, Math.ceil(RUNS / 2)); i++) {
      for (const t of targets) {
        const r = docker(t, ['logs', 'bench-logs']);
        if (r.code !== 0 || r.stdout.length < 588_895) throw new Error(`${t.name}: logs gave ${r.stdout.length} bytes: ${r.stderr}`);
        logs[t.name]!.push(r.ms);
      }
    }
    for (const t of targets) must(t, ['rm', '-f', 'bench-logs']);
    // idle containers: helper PSS and daemon RSS
    const pss: Record<string, number> = {};
    const busy: Record<string, number> = {};
    const startMs: Record<string, number> = {};
    for (const t of targets) {
      const t0 = Date.now();
      for (let i = 0; i < IDLE; i++) must(t, ['run', '-d', '--network', 'none', '--name', `bench-idle-${i}`, 'busybox', 'sleep', '3600']);
      startMs[t.name] = Date.now() - t0;
      await sleep(2000);
      const shims = t.shimPids();
      pss[t.name] = shims.reduce((s, p) => s + kib(p, 'Pss'), 0) / Math.max(1, shims.length);
      busy[t.name] = t.daemonPids().reduce((s, p) => s + kib(p, 'Rss'), 0) / 1024;
      lines.push(`<!-- ${t.name}: ${shims.length} helper processes for ${IDLE} containers -->`);
    }
    console.error(`idle: PSS ${JSON.stringify(pss)} KiB, daemons ${JSON.stringify(busy)} MiB, start ${JSON.stringify(startMs)} ms`);
    // ps -a with PS_COUNT created containers (created through the API, 8 at a time) beside
    // the idle ones (removing 100 running containers at once wedges dockerd 20.10 here:
    // "Removal In Progress" for good, its shims and processes left running).
    const ps: Record<string, number[]> = { berthd: [], dockerd: [] };
    for (const t of targets) {
      for (let i = 0; i < PS_COUNT; i += 8) {
        await Promise.all(
          Array.from({ length: Math.min(8, PS_COUNT - i) }, async (_x, k) => {
            const r = await api(t.socket, 'POST', `/v1.41/containers/create?name=bench-ps-${i + k}`, { Image: 'busybox', Cmd: ['true'], HostConfig: { NetworkMode: 'none' } });
            if (r.status !== 201) throw new Error(`${t.name}: create: ${r.status} ${r.body}`);
          }),
        );
      }
    }
    for (let i = 0; i < Math.max(3, Math.ceil(RUNS / 2)); i++) {
      for (const t of targets) {
        const r = docker(t, ['ps', '-a']);
        if (r.code !== 0) throw new Error(`${t.name}: ps: ${r.stderr}`);
        ps[t.name]!.push(r.ms);
      }
    }
    const md = [
      `| measure | berthd | dockerd | berthd / dockerd |`,
      `| --- | --- | --- | --- |`,
      row('`run --rm --network none busybox true`', median(run.berthd!), median(run.dockerd!), 'ms', '(goal ≤ 0.20)'),
      row('`exec <running> true`', median(exec.berthd!), median(exec.dockerd!), 'ms', '(goal ≤ 0.33)'),
      row('`logs` of 100k lines', median(logs.berthd!), median(logs.dockerd!), 'ms'),
      row('PSS per idle container (berth-monitor / containerd-shim)', pss.berthd!, pss.dockerd!, 'KiB', '(goal < 256 KiB)'),
      row('daemon RSS at rest (berthd / dockerd + containerd)', rest.berthd!, rest.dockerd!, 'MiB', '(goal < 60 MiB)'),
      row(`daemon RSS with ${IDLE} running containers`, busy.berthd!, busy.dockerd!, 'MiB'),
      row(`starting ${IDLE} containers with \`run -d\`, one after the other`, startMs.berthd!, startMs.dockerd!, 'ms'),
      row(`\`ps -a\` with ${PS_COUNT} created and ${IDLE} running containers`, median(ps.berthd!), median(ps.dockerd!), 'ms'),
    ];
    console.log([...md, ...lines].join('\n'));
  } finally {
    // 1100 containers are more than the harness' cleanup removes in its one `rm -f`.
    const bt: Target = { name: 'berthd', socket: berth.socket, daemonPids: () => [], shimPids: () => [] };
    const ids = docker(bt, ['ps', '-aq']).stdout?.toString().split('\n').filter(Boolean) ?? [];
    for (let i = 0; i < ids.length; i += 100) docker(bt, ['rm', '-f', ...ids.slice(i, i + 100)]);
    await berth.cleanup().catch((e: unknown) => console.error(`berthd cleanup: ${String(e)}`));
    await dockerd?.stop();
    await removeTempDir(dockerDir);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
