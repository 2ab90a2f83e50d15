// Benchmark: the docker CLI against berthd and against dockerd (Debian's docker.io, with its
// own containerd), and podman (Debian's, runc, cgroupfs), in the same run, on the same busybox
// image (the test fixture, loaded into berthd's store, `docker save`d from it and loaded into
// dockerd and podman):
//   - `run --rm --network none busybox true`, end to end (interleaved);
//   - create + start + wait through the API (HTTP on the unix socket; berthd and dockerd);
//   - `exec <running> true`;
//   - exec create + start (the hijacked stream read to its end) + inspect through the API;
//   - `logs` of a container that printed 100k lines;
//   - memory per idle container: PSS of berth-monitor vs containerd-shim-runc-v2 vs conmon;
//   - daemon RSS at rest and with 100 running containers (dockerd + containerd together;
//     podman has no daemon);
//   - `ps -a` with 1000 created containers.
// dockerd runs with its own --data-root/--exec-root/-H/--pidfile under a temp dir,
// --iptables=false --bridge=none; podman with its own --root/--runroot/--tmpdir there,
// `--cgroup-manager cgroupfs --runtime runc` (crun refuses this hybrid cgroup host).
// The floor: `run --rm` and `exec` are also timed, in the same rounds, with the docker CLI
// against the null engine (bench/null-engine.ts, a Docker API server that answers at once
// and runs nothing): the CLI's own time. A second table gives it, its ratio to dockerd's, the
// room each goal leaves an engine above it, and berthd's and dockerd's time above it; when the
// floor alone is over a goal's ratio, the output says that no engine can meet that goal
// through the docker CLI on this machine.
// Medians; ratios berthd / dockerd and berthd / podman.
//
//   npm run bench:engine        (node dist/bench/engine-run.js)
//   BENCH_RUNS=15 BENCH_IDLE=100 BENCH_PS=1000 BENCH_PODMAN=0 node dist/bench/engine-run.js
//   (BENCH_CLI_RUNS: rounds of run --rm and exec, default 21; BENCH_SETTLE_MS: pause before each sample, default 250)

import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { DOCKER, TestBerthd } from '../test/harness/berthd.js';
import { makeTempDir, removeTempDir } from '../test/harness/tmp.js';
import { PrivateDockerd, processesMatching } from '../test/harness/dockerd.js';
import { NullEngine } from './null-engine.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 11);
/**
 * Rounds of the docker CLI's short steps (`run --rm`, `exec`): a few ms apart between the
 * engines, where nine samples of a CLI that spreads over 20 ms cannot tell them apart.
 */
const CLI_RUNS = Number(process.env.BENCH_CLI_RUNS ?? Math.max(RUNS, 21));
/**
 * The pause before each timed sample: what the step before left running (podman's cleanup
 * process after an exec, a daemon's work after its answer) ends before the next one starts,
 * whichever engine it was, so that no engine's sample pays for another's aftermath.
 */
const SETTLE_MS = Number(process.env.BENCH_SETTLE_MS ?? 250);
const IDLE = Number(process.env.BENCH_IDLE ?? 100);
const PS_COUNT = Number(process.env.BENCH_PS ?? 1000);
const WITH_PODMAN = process.env.BENCH_PODMAN !== '0';

interface Target {
  name: string;
  /** The Docker API socket (none for podman). */
  socket: string;
  /** podman's state dir. */
  dir?: string;
  /** The command line: the docker CLI pointed at the socket, or podman with its flags. */
  cli: (args: string[], input?: Buffer) => CliResult;
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

interface CliResult {
  ms: number;
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv, input?: Buffer): CliResult {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { env, input, maxBuffer: 1 << 30, timeout: 180_000 });
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, code: r.status, stdout: r.stdout, stderr: r.stderr?.toString() ?? '' };
}

const dockerCli = (socket: string) => (args: string[], input?: Buffer): CliResult =>
  timed(DOCKER, args, { PATH: process.env.PATH, HOME: '/tmp', DOCKER_HOST: `unix://${socket}` }, input);

function docker(t: Target, args: string[], input?: Buffer): CliResult {
  return t.cli(args, input);
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
    const req = request({ socketPath: socket, method, path, agent: false, headers: data ? { 'Content-Type': 'application/json', 'Content-Length': data.length } : { 'Content-Length': 0 } }, (res) => {
      let b = '';
      res.on('data', (c: Buffer) => (b += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: b }));
    });
    req.on('error', reject);
    req.end(data);
  });
}

/**
 * A POST whose answer is a hijacked stream (exec start, attach), sent as the docker CLI sends
 * it, with `Connection: Upgrade` and `Upgrade: tcp`: the whole stream, read until the server
 * closes it, after a 101; a server that does not upgrade answers 200 and the same stream.
 */
function hijackedPost(socket: string, path: string, body: unknown): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const data = Buffer.from(JSON.stringify(body));
    const req = request({ socketPath: socket, method: 'POST', path, agent: false, headers: { 'Content-Type': 'application/json', 'Content-Length': data.length, Connection: 'Upgrade', Upgrade: 'tcp' } });
    const readAll = (s: NodeJS.ReadableStream & { destroy(): void }, first: Buffer[]): void => {
      const parts = first;
      s.on('data', (c: Buffer) => parts.push(c));
      s.on('end', () => {
        s.destroy();
        resolve(Buffer.concat(parts));
      });
      s.on('error', reject);
    };
    req.on('upgrade', (_res, sock, head) => readAll(sock, [head]));
    req.on('response', (res) => {
      if (res.statusCode === 200) return readAll(res, []);
      let b = '';
      res.on('data', (c: Buffer) => (b += c.toString()));
      res.on('end', () => reject(new Error(`POST ${path}: ${res.statusCode} ${b}`)));
    });
    req.on('error', reject);
    req.end(data);
  });
}

function dockerdTarget(d: PrivateDockerd): Target {
  return {
    name: 'dockerd',
    socket: d.socket,
    cli: dockerCli(d.socket),
    daemonPids: () => d.pids((comm) => comm === 'dockerd' || comm === 'containerd'),
    shimPids: () => d.pids((comm) => comm.startsWith('containerd-shim')),
  };
}

const podmanEnv = (dir: string): NodeJS.ProcessEnv => ({ PATH: process.env.PATH, HOME: dir, CONTAINERS_CONF: join(dir, 'containers.conf'), XDG_RUNTIME_DIR: join(dir, 'xdg') });

/** podman's flags for its state under the target's dir; `run`/`create` get the cgroup parent. */
function podmanArgs(t: Target, args: string[]): string[] {
  const dir = t.dir!;
  const flags = ['--root', join(dir, 'root'), '--runroot', join(dir, 'run'), '--tmpdir', join(dir, 'tmp'), '--cgroup-manager', 'cgroupfs', '--runtime', 'runc', '--events-backend', 'file', '--storage-driver', 'overlay'];
  const sub = args[0] === 'run' || args[0] === 'create' ? [args[0], '--cgroup-parent', `/${basename(dir)}`, ...args.slice(1)] : args;
  return [...flags, ...sub];
}

/** podman with all its state under dir (storage, run root, tmp, events file, cgroups). */
function podmanTarget(dir: string): Target {
  // podman raises nofile and nproc to 1048576 for root; this sandbox has no CAP_SYS_RESOURCE
  // to go over its hard limits, so runc would fail: low limits, enough for the commands run.
  writeFileSync(join(dir, 'containers.conf'), `[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]\n[engine]\nevents_logger = "file"\nevents_logfile_path = "${join(dir, 'events.log')}"\n`);
  const t: Target = {
    name: 'podman',
    socket: '',
    dir,
    cli: (args, input) => timed('podman', podmanArgs(t, args), podmanEnv(dir), input),
    daemonPids: () => [],
    shimPids: () => processesMatching((cmd, comm) => comm === 'conmon' && cmd.includes(dir)),
  };
  return t;
}

/** create + start + wait through the API, as a client library does; the removal is not timed. */
async function apiRun(t: Target): Promise<number> {
  const t0 = process.hrtime.bigint();
  const c = await api(t.socket, 'POST', '/v1.41/containers/create', { Image: 'busybox', Cmd: ['true'], HostConfig: { NetworkMode: 'none' } });
  if (c.status !== 201) throw new Error(`${t.name}: create: ${c.status} ${c.body}`);
  const id = (JSON.parse(c.body) as { Id: string }).Id;
  const s = await api(t.socket, 'POST', `/v1.41/containers/${id}/start`);
  if (s.status !== 204) throw new Error(`${t.name}: start: ${s.status} ${s.body}`);
  const w = await api(t.socket, 'POST', `/v1.41/containers/${id}/wait`);
  if (w.status !== 200 || (JSON.parse(w.body) as { StatusCode: number }).StatusCode !== 0) throw new Error(`${t.name}: wait: ${w.status} ${w.body}`);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const r = await api(t.socket, 'DELETE', `/v1.41/containers/${id}`);
  if (r.status !== 204) throw new Error(`${t.name}: remove: ${r.status} ${r.body}`);
  return ms;
}

/**
 * exec create + start + inspect through the API, as a client library does: the start's
 * stream read to its end, then the exit code from the exec's inspect.
 */
async function apiExec(t: Target, container: string): Promise<number> {
  const t0 = process.hrtime.bigint();
  const c = await api(t.socket, 'POST', `/v1.41/containers/${container}/exec`, { Cmd: ['true'], AttachStdout: true, AttachStderr: true });
  if (c.status !== 201) throw new Error(`${t.name}: exec create: ${c.status} ${c.body}`);
  const id = (JSON.parse(c.body) as { Id: string }).Id;
  await hijackedPost(t.socket, `/v1.41/exec/${id}/start`, { Detach: false, Tty: false });
  const j = await api(t.socket, 'GET', `/v1.41/exec/${id}/json`);
  const state = j.status === 200 ? (JSON.parse(j.body) as { Running: boolean; ExitCode: number | null }) : undefined;
  if (state?.Running !== false || state.ExitCode !== 0) throw new Error(`${t.name}: exec inspect: ${j.status} ${j.body}`);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/**
 * The floor table's row for one docker CLI step: the null engine's time, its ratio to
 * dockerd's, the room the goal leaves an engine above it, and each daemon's time above it.
 */
function floorRow(label: string, m: Record<string, number>, floor: string, goal: number): string {
  const f = m[floor]!;
  const ms = (x: number): string => (Number.isNaN(x) ? 'n/a' : `${x.toFixed(0)} ms`);
  return `| ${label} | ${ms(f)} | ${(f / m.dockerd!).toFixed(2)} | ≤ ${goal.toFixed(2)} | ${ms(goal * m.dockerd! - f)} | ${ms(m.berthd! - f)} | ${ms(m.dockerd! - f)} | ${((m.berthd! - f) / (m.dockerd! - f)).toFixed(2)} |`;
}

/** Whether the docker CLI alone leaves any engine room to meet the goal, in one sentence. */
function floorVerdict(what: string, m: Record<string, number>, floor: string, goal: number): string {
  const r = m[floor]! / m.dockerd!;
  if (r > goal) return `- ${what}: the docker CLI alone (the null engine) takes ${r.toFixed(2)} of dockerd's time, more than the goal's ${goal.toFixed(2)}: **no engine can meet this goal through the docker CLI on this machine**.`;
  return `- ${what}: the docker CLI alone takes ${r.toFixed(2)} of dockerd's time; the goal (≤ ${goal.toFixed(2)}) leaves an engine ${(goal * m.dockerd! - m[floor]!).toFixed(0)} ms above the floor, berthd took ${(m.berthd! - m[floor]!).toFixed(0)} ms.`;
}

/** A table row: berthd's figure, then each peer's with berthd's ratio to it. */
function row(label: string, unit: string, values: Record<string, number | undefined>, peers: string[], goal = ''): string {
  const f = (x: number | undefined): string => (x === undefined || Number.isNaN(x) ? 'n/a' : `${unit === 'MiB' ? x.toFixed(1) : x.toFixed(0)} ${unit}`);
  const b = values.berthd;
  const ratio = (p: string): string => (b === undefined || values[p] === undefined || Number.isNaN(values[p]!) ? 'n/a' : (b / values[p]!).toFixed(2));
  return `| ${label} | ${f(b)} | ${peers.map((p) => `${f(values[p])} | ${ratio(p)}`).join(' | ')} | ${goal} |`;
}

export async function main(): Promise<void> {
  if (!PrivateDockerd.available()) throw new Error('dockerd is missing: apt-get install -y docker.io');
  const berth = await TestBerthd.start('bench-engine', { logLevel: 'info' });
  const dockerDir = await makeTempDir('bench-dockerd');
  const podmanDir = WITH_PODMAN ? await makeTempDir('bench-podman') : undefined;
  const nullDir = await makeTempDir('bench-null');
  let dockerd: PrivateDockerd | undefined;
  let nullEngine: NullEngine | undefined;
  const lines: string[] = [];
  try {
    dockerd = await PrivateDockerd.start(dockerDir);
    const b: Target = {
      name: 'berthd',
      socket: berth.socket,
      cli: dockerCli(berth.socket),
      // berthd and its monitor spawner (a resident berth-monitor, docs/monitor.md)
      daemonPids: () => [...(berth.child?.pid ? [berth.child.pid] : []), ...processesMatching((cmd, comm) => comm === 'berth-spawner' && cmd.includes(berth.dir))],
      shimPids: () => processesMatching((cmd, comm) => comm === 'berth-monitor' && cmd.includes(berth.dir)),
    };
    const d = dockerdTarget(dockerd);
    const p = podmanDir ? podmanTarget(podmanDir) : undefined;
    const targets = p ? [b, d, p] : [b, d];
    const peers = targets.slice(1).map((t) => t.name);
    const daemons = [b, d];
    // The floor: the docker CLI against a server that answers at once (run --rm and exec only).
    nullEngine = await NullEngine.start(nullDir);
    const floor: Target = { name: 'null engine', socket: nullEngine.socket, cli: dockerCli(nullEngine.socket), daemonPids: () => [], shimPids: () => [] };
    const withFloor = [...targets, floor];
    // At rest: started, answered the CLI, nothing else done yet.
    await sleep(1000);
    const rest: Record<string, number> = {};
    for (const t of daemons) rest[t.name] = t.daemonPids().reduce((s, pid) => s + kib(pid, 'Rss'), 0) / 1024;
    const image = must(b, ['save', 'busybox']);
    for (const t of targets.slice(1)) must(t, ['load'], image);
    const loadavg = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

    // Each round runs every target once, in a rotating order; the first two rounds are warm-up.
    const rounds = async (fn: (t: Target) => number | Promise<number>, over = targets, n = RUNS): Promise<Record<string, number[]>> => {
      const out: Record<string, number[]> = Object.fromEntries(over.map((t) => [t.name, [] as number[]]));
      for (let i = 0; i < n + 2; i++) {
        for (let k = 0; k < over.length; k++) {
          const t = over[(i + k) % over.length]!;
          await sleep(SETTLE_MS);
          const ms = await fn(t);
          if (i >= 2) out[t.name]!.push(ms);
        }
      }
      return out;
    };
    const cliMs = (args: string[]) => (t: Target): number => {
      const r = docker(t, args);
      if (r.code !== 0) throw new Error(`${t.name}: ${args.join(' ')}: ${r.stderr}`);
      return r.ms;
    };
    const run = await rounds(cliMs(['run', '--rm', '--network', 'none', 'busybox', 'true']), withFloor, CLI_RUNS);
    console.error(`run ${JSON.stringify(run)}`);
    const apiMs = await rounds(apiRun, daemons);
    for (const t of withFloor) must(t, ['run', '-d', '--network', 'none', '--name', 'bench-exec', 'busybox', 'sleep', '3600']);
    const exec = await rounds(cliMs(['exec', 'bench-exec', 'true']), withFloor, CLI_RUNS);
    const apiExecMs = await rounds((t) => apiExec(t, 'bench-exec'), daemons);
    for (const t of withFloor) must(t, ['rm', '-f', 'bench-exec']);
    // The first exec on a fresh container: berthd has no launch started ahead for it yet
    // (docs/monitor.md, "Started ahead"); run -d and rm -f untimed.
    let cold = 0;
    const coldExec = await rounds((t) => {
      const name = `bench-cold-${cold++}`;
      must(t, ['run', '-d', '--network', 'none', '--name', name, 'busybox', 'sleep', '3600']);
      const r = docker(t, ['exec', name, 'true']);
      if (r.code !== 0) throw new Error(`${t.name}: exec ${name} true: ${r.stderr}`);
      must(t, ['rm', '-f', name]);
      return r.ms;
    }, targets);
    await nullEngine.stop();
    console.error(`api ${JSON.stringify(apiMs)}\nexec ${JSON.stringify(exec)}\napi exec ${JSON.stringify(apiExecMs)}\nfirst exec ${JSON.stringify(coldExec)}`);
    // logs of 100k lines
    for (const t of targets) must(t, ['run', '--network', 'none', '--name', 'bench-logs', 'busybox', 'seq', '1', '100000']);
    const logs = await rounds((t) => {
      const r = docker(t, ['logs', 'bench-logs']);
      if (r.code !== 0 || r.stdout.length < 588_895) throw new Error(`${t.name}: logs gave ${r.stdout.length} bytes: ${r.stderr}`);
      return r.ms;
    }, targets, Math.max(3, Math.ceil(RUNS / 2)));
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
      pss[t.name] = shims.reduce((s, pid) => s + kib(pid, 'Pss'), 0) / Math.max(1, shims.length);
      if (daemons.includes(t)) busy[t.name] = t.daemonPids().reduce((s, pid) => s + kib(pid, 'Rss'), 0) / 1024;
      lines.push(`<!-- ${t.name}: ${shims.length} helper processes for ${IDLE} containers -->`);
    }
    console.error(`idle: PSS ${JSON.stringify(pss)} KiB, daemons ${JSON.stringify(busy)} MiB, start ${JSON.stringify(startMs)} ms`);
    // ps -a with PS_COUNT created containers (8 at a time: through the API for the daemons,
    // `podman create` for podman) beside the idle ones (removing 100 running containers at
    // once wedges dockerd 20.10 here: "Removal In Progress" for good, its processes left running).
    for (const t of targets) {
      for (let i = 0; i < PS_COUNT; i += 8) {
        await Promise.all(
          Array.from({ length: Math.min(8, PS_COUNT - i) }, async (_x, k) => {
            if (t === p) {
              const r = await new Promise<number | null>((resolve) => spawn('podman', podmanArgs(p, ['create', '--network', 'none', '--name', `bench-ps-${i + k}`, 'busybox', 'true']), { stdio: 'ignore', env: podmanEnv(podmanDir!) }).on('exit', resolve));
              if (r !== 0) throw new Error(`podman: create bench-ps-${i + k} failed (${r})`);
              return;
            }
            const r = await api(t.socket, 'POST', `/v1.41/containers/create?name=bench-ps-${i + k}`, { Image: 'busybox', Cmd: ['true'], HostConfig: { NetworkMode: 'none' } });
            if (r.status !== 201) throw new Error(`${t.name}: create: ${r.status} ${r.body}`);
          }),
        );
      }
    }
    const ps = await rounds(cliMs(['ps', '-a']), targets, Math.max(3, Math.ceil(RUNS / 2)));
    const med = (m: Record<string, number[]>): Record<string, number> => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, median(v)]));
    const md = [
      `<!-- load average before the timed steps: ${loadavg}; medians of ${RUNS} rounds, ${CLI_RUNS} for run --rm and exec, ${SETTLE_MS} ms pause before each sample -->`,
      `| measure | berthd | ${peers.map((n) => `${n} | berthd / ${n}`).join(' | ')} | goal |`,
      `| --- | --- | ${peers.map(() => '--- | ---').join(' | ')} | --- |`,
      row('`run --rm --network none busybox true`', 'ms', med(run), peers, '≤ 0.20 of dockerd'),
      row('create + start + wait through the API', 'ms', med(apiMs), peers),
      row('`exec <running> true`', 'ms', med(exec), peers, '≤ 0.33 of dockerd'),
      row('`exec` of a fresh container, its first', 'ms', med(coldExec), peers),
      row('exec create + start + inspect through the API', 'ms', med(apiExecMs), peers),
      row('`logs` of 100k lines', 'ms', med(logs), peers),
      row('PSS per idle container (berth-monitor / containerd-shim / conmon)', 'KiB', pss, peers, '< 256 KiB'),
      row('daemon RSS at rest (berthd + its spawner / dockerd + containerd)', 'MiB', rest, peers, '< 60 MiB'),
      row(`daemon RSS with ${IDLE} running containers`, 'MiB', busy, peers),
      row(`${IDLE} × \`run -d … sleep 3600\`, one after the other`, 'ms', startMs, peers),
      row(`\`ps -a\` with ${PS_COUNT} created and ${IDLE} running containers`, 'ms', med(ps), peers),
    ];
    // The docker CLI alone: the same rounds against the null engine.
    const floorMd = [
      '',
      '| docker CLI step | null engine (the floor) | floor / dockerd | goal (of dockerd) | room above the floor (goal × dockerd − floor) | berthd − floor | dockerd − floor | (berthd − floor) / (dockerd − floor) |',
      '| --- | --- | --- | --- | --- | --- | --- | --- |',
      floorRow('`run --rm --network none busybox true`', med(run), floor.name, 0.2),
      floorRow('`exec <running> true`', med(exec), floor.name, 1 / 3),
      '',
      floorVerdict('`run --rm`', med(run), floor.name, 0.2),
      floorVerdict('`exec`', med(exec), floor.name, 1 / 3),
    ];
    console.log([...md, ...floorMd, ...lines].join('\n'));
  } finally {
    // 1100 containers are more than the harness' cleanup removes in its one `rm -f`.
    const bt: Target = { name: 'berthd', socket: berth.socket, cli: dockerCli(berth.socket), daemonPids: () => [], shimPids: () => [] };
    const ids = docker(bt, ['ps', '-aq']).stdout?.toString().split('\n').filter(Boolean) ?? [];
    for (let i = 0; i < ids.length; i += 100) docker(bt, ['rm', '-f', ...ids.slice(i, i + 100)]);
    await berth.cleanup().catch((e: unknown) => console.error(`berthd cleanup: ${String(e)}`));
    await dockerd?.stop();
    await nullEngine?.stop();
    await removeTempDir(dockerDir);
    await removeTempDir(nullDir);
    if (podmanDir) await removePodman(podmanDir);
  }
}

/** podman's containers (with their conmon and processes), mounts, cgroups and dir. */
async function removePodman(dir: string): Promise<void> {
  const t = podmanTarget(dir);
  docker(t, ['rm', '-af', '-t', '0']);
  for (const pid of processesMatching((cmd, comm) => comm === 'conmon' && cmd.includes(dir))) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  docker(t, ['system', 'reset', '-f']);
  const info = readFileSync('/proc/self/mountinfo', 'utf8');
  for (const m of info.split('\n').map((l) => l.split(' ')[4] ?? '').filter((p) => p.startsWith(`${dir}/`)).sort().reverse()) spawnSync('umount', ['-l', m]);
  const found = spawnSync('find', ['/sys/fs/cgroup', '-maxdepth', '3', '-type', 'd', '-name', basename(dir)], { encoding: 'utf8' });
  const parents = found.stdout.split('\n').filter(Boolean);
  // What `podman rm` left (it can fail on a loaded run: 89 containers stayed once) still runs
  // under the bench's own cgroup parent: killed there, so that its directories can go.
  for (let round = 0; round < 50; round++) {
    const procs = spawnSync('find', [...parents, '-name', 'cgroup.procs'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
    const pids = [...new Set(procs.flatMap((f) => readFileSync(f, 'utf8').split('\n').filter(Boolean).map(Number)))];
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    await sleep(40);
  }
  for (const parent of parents) {
    for (const e of readdirSync(parent, { withFileTypes: true })) if (e.isDirectory()) spawnSync('find', [join(parent, e.name), '-depth', '-type', 'd', '-exec', 'rmdir', '{}', ';']);
    spawnSync('rmdir', [parent]);
  }
  await removeTempDir(dir);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
