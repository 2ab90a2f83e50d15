// Benchmark: a cold and a fully cached build of a 4-step Dockerfile with a 50 MB COPY
// (FROM busybox, COPY, RUN, CMD), by Berth's builder, `docker build` with the legacy
// builder (DOCKER_BUILDKIT=0) on a dockerd this bench starts with its own directories,
// and `podman build` (when it runs here), interleaved in one run; medians.
//
//   node dist/bench/build.js [runs]        default 5 runs each, BENCH_RUNS overrides
//
// "Cold" is `--no-cache` with the base image present (every step executed: the 50 MB copy,
// a container for RUN, the layers diffed and stored); "cached" is the same build again
// with nothing changed. Berth is measured several ways: `berth build` against a berthd this
// bench starts (the whole path: CLI start-up, the context's manifest and the files berthd
// lacks — none after the warm-up, as BuildKit's file sync — POST /build and the build),
// `berth build -` with the context tar on stdin (sent whole every time), POST /build by curl
// with the context packed once (the daemon's side alone; dockerd likewise), the builder in
// a long-running process (berthd's share of that), and the builder in a new node process
// per build.
// Results go to docs/benchmarks.md ("Build") by hand; this prints the table.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { ContentStore } from '../src/image/content/store.js';
import { ImageStore } from '../src/image/store.js';
import { OverlaySnapshotter } from '../src/image/snapshot/snapshotter.js';
import { saveImages } from '../src/image/archive/save.js';
import { Builder } from '../src/build/executor/index.js';
import { buildRunSandbox } from '../src/engine/build-sandbox.js';
import { openContextDir } from '../src/build/context/context.js';
import { busyboxImage, loadFixtureImage } from '../test/harness/image-fixtures.js';
import { makeTempDir, removeTempDir } from '../test/harness/tmp.js';
import { TestBerthd, dockerEnv } from '../test/harness/berthd.js';
import { REPO_ROOT } from '../test/harness/paths.js';
import { ensureProgram } from './image/debian-image.js';
import { PrivateDockerd } from '../test/harness/dockerd.js';

const DOCKERFILE = 'FROM busybox\nCOPY data.bin /data/\nRUN wc -c /data/data.bin > /size.txt\nCMD ["cat", "/size.txt"]\n';

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

function timed(argv: string[], env: NodeJS.ProcessEnv = process.env): { ms: number; ok: boolean; stderr: string } {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', env, maxBuffer: 64 * 1024 * 1024 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  return { ms, ok: !r.error && r.status === 0, stderr: r.error ? String(r.error) : r.stderr };
}

/** The child: one build of `ctx` in `dataRoot` (argv: --berth-child dataRoot ctx nocache). */
async function berthChild(dataRoot: string, ctx: string, noCache: boolean): Promise<void> {
  const content = new ContentStore(dataRoot);
  const snapshotter = new OverlaySnapshotter(dataRoot);
  const images = new ImageStore(dataRoot, content, snapshotter);
  const builder = new Builder({ dataRoot, content, images, snapshotter, sandbox: buildRunSandbox(join(dataRoot, 'exec')) });
  const r = await builder.build({ context: await openContextDir(ctx), tags: ['bench/build:latest'], noCache });
  if (noCache && r.runsExecuted !== 1) throw new Error(`cold build ran ${r.runsExecuted} RUN steps`);
  if (!noCache && r.runsExecuted !== 0) throw new Error(`cached build ran ${r.runsExecuted} RUN steps`);
}

/**
 * The long-running form (as berthd will build): one process, one Builder; each stdin
 * line `cold` or `cached` builds once and answers `ok` (or `error …`).
 */
async function berthServer(dataRoot: string, ctx: string): Promise<void> {
  const content = new ContentStore(dataRoot);
  const snapshotter = new OverlaySnapshotter(dataRoot);
  const images = new ImageStore(dataRoot, content, snapshotter);
  const builder = new Builder({ dataRoot, content, images, snapshotter, sandbox: buildRunSandbox(join(dataRoot, 'exec')) });
  let buf = '';
  for await (const chunk of process.stdin) {
    buf += (chunk as Buffer).toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const cmd = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      try {
        const r = await builder.build({ context: await openContextDir(ctx), tags: ['bench/build:latest'], noCache: cmd === 'cold' });
        if (r.runsExecuted !== (cmd === 'cold' ? 1 : 0)) throw new Error(`${cmd} build ran ${r.runsExecuted} RUN steps`);
        process.stdout.write('ok\n');
      } catch (e) {
        process.stdout.write(`error ${(e as Error).message.replace(/\n/g, ' ')}\n`);
      }
    }
  }
}

class ServerClient {
  private readonly child: ChildProcess;
  private pending: ((line: string) => void) | undefined;
  private buf = '';
  constructor(argv: string[]) {
    this.child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] });
    this.child.stdout!.on('data', (c: Buffer) => {
      this.buf += c.toString();
      let nl: number;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        const p = this.pending;
        this.pending = undefined;
        p?.(line);
      }
    });
  }
  /** Wall time of one build request, from the request to the answer. */
  async request(cmd: string): Promise<{ ms: number; ok: boolean; stderr: string }> {
    const t0 = process.hrtime.bigint();
    const line = await new Promise<string>((resolve) => {
      this.pending = resolve;
      this.child.stdin!.write(`${cmd}\n`);
    });
    return { ms: Number(process.hrtime.bigint() - t0) / 1e6, ok: line === 'ok', stderr: line };
  }
  close(): Promise<void> {
    this.child.stdin!.end();
    return new Promise((r) => (this.child.exitCode !== null ? r() : this.child.once('exit', () => r())));
  }
}

interface Tool {
  name: string;
  cold: () => string[];
  cached: () => string[];
  /** Runs the build in a long-running process instead of a new one per build. */
  server?: ServerClient;
  env?: NodeJS.ProcessEnv;
  samples: { cold: number[]; cached: number[] };
  excluded?: string;
}

export async function main(): Promise<void> {
  const runs = Number(process.env.BENCH_RUNS ?? process.argv[2] ?? 5);
  const scratch = await makeTempDir('bench-build');
  let dockerd: PrivateDockerd | undefined;
  let berthd: TestBerthd | undefined;
  const here = fileURLToPath(import.meta.url);
  try {
    // The context: a Dockerfile and 50 MB of random bytes.
    const ctx = join(scratch, 'ctx');
    await mkdir(ctx);
    await writeFile(join(ctx, 'Dockerfile'), DOCKERFILE);
    await writeFile(join(ctx, 'data.bin'), randomBytes(50 * 1024 * 1024));
    // Berth's store with the busybox fixture, and a docker archive of it for the others.
    const berthRoot = join(scratch, 'berth');
    const content = new ContentStore(berthRoot);
    const images = new ImageStore(berthRoot, content, new OverlaySnapshotter(berthRoot));
    await images.put('busybox:latest', await loadFixtureImage(await busyboxImage('docker'), content));
    const archive = join(scratch, 'busybox.tar');
    await pipeline(await saveImages(images, ['busybox:latest']), createWriteStream(archive));

    const server = new ServerClient([process.execPath, here, '--berth-server', join(scratch, 'berth-server'), ctx]);
    {
      const c2 = new ContentStore(join(scratch, 'berth-server'));
      const i2 = new ImageStore(join(scratch, 'berth-server'), c2, new OverlaySnapshotter(join(scratch, 'berth-server')));
      await i2.put('busybox:latest', await loadFixtureImage(await busyboxImage('docker'), c2));
    }
    // The context as the CLIs send it, packed once: POST /build with it by curl measures a
    // daemon's side alone (receiving the context and building), without a CLI's start-up.
    const ctxTar = join(scratch, 'ctx.tar');
    if (spawnSync('tar', ['-C', ctx, '-cf', ctxTar, 'Dockerfile', 'data.bin']).status !== 0) throw new Error('tar of the context failed');
    const postBuild = (socket: string, noCache: boolean): string[] => ['sh', '-c',
      `curl -sS --fail --unix-socket "$1" -H 'Expect:' -H 'Content-Type: application/x-tar' -X POST -T "$2" "http://d/build?q=1&networkmode=none&t=bench/build${noCache ? '&nocache=1' : ''}" | grep -q 'sha256:'`,
      'sh', socket, ctxTar];
    berthd = await TestBerthd.start('bench-berthd', { logLevel: 'info' });
    // bin/berth as a user runs it (from the CLI's V8 start-up snapshot; `node bin/berth` would pass it over).
    const berthCli = [join(REPO_ROOT, 'bin', 'berth'), 'build', '-q', '-t', 'bench/build'];
    const tools: Tool[] = [{
      name: 'berth build → berthd',
      cold: () => [...berthCli, '--no-cache', ctx],
      cached: () => [...berthCli, ctx],
      env: dockerEnv(berthd),
      samples: { cold: [], cached: [] },
    }, {
      // The context sent whole every time (a tar on stdin: no incremental context), as before.
      name: 'berth build - < context.tar → berthd (the whole context sent)',
      cold: () => ['sh', '-c', 'f=$1; shift; exec "$@" - < "$f"', 'sh', ctxTar, ...berthCli, '--no-cache'],
      cached: () => ['sh', '-c', 'f=$1; shift; exec "$@" - < "$f"', 'sh', ctxTar, ...berthCli],
      env: dockerEnv(berthd),
      samples: { cold: [], cached: [] },
    }, {
      name: 'POST /build → berthd (curl, the daemon\'s side)',
      cold: () => postBuild(berthd!.socket, true),
      cached: () => postBuild(berthd!.socket, false),
      samples: { cold: [], cached: [] },
    }, {
      name: 'berth builder (long-running process, as in berthd)',
      cold: () => [],
      cached: () => [],
      server,
      samples: { cold: [], cached: [] },
    }, {
      name: 'berth builder (a new node process per build)',
      cold: () => [process.execPath, here, '--berth-child', berthRoot, ctx, 'nocache'],
      cached: () => [process.execPath, here, '--berth-child', berthRoot, ctx, 'cache'],
      samples: { cold: [], cached: [] },
    }];
    // The floor under any node CLI on this machine at this moment (the load moves it a lot).
    tools.push({ name: 'node -e 0 (a node process start, for scale)', cold: () => [process.execPath, '-e', '0'], cached: () => [process.execPath, '-e', '0'], samples: { cold: [], cached: [] } });
    const dockerTool: Tool = { name: 'docker build (legacy builder)', cold: () => [], cached: () => [], env: { ...process.env, DOCKER_BUILDKIT: '0' }, samples: { cold: [], cached: [] } };
    tools.push(dockerTool);
    const dockerdTool: Tool = { name: 'POST /build → dockerd, legacy builder (curl, the daemon\'s side)', cold: () => [], cached: () => [], samples: { cold: [], cached: [] } };
    tools.push(dockerdTool);
    if (!ensureProgram('dockerd', 'docker.io')) dockerTool.excluded = dockerdTool.excluded = 'docker.io is not installed and could not be';
    else {
      const d = join(scratch, 'docker');
      await mkdir(d);
      dockerd = await PrivateDockerd.start(d);
      const dk = dockerd.argv();
      const load = spawnSync(dk[0]!, [...dk.slice(1), 'load', '-i', archive], { encoding: 'utf8' });
      if (load.status !== 0) dockerTool.excluded = dockerdTool.excluded = `docker load failed: ${load.stderr}`;
      const socket = dockerd.socket;
      dockerdTool.cold = () => postBuild(socket, true);
      dockerdTool.cached = () => postBuild(socket, false);
      dockerTool.cold = () => [...dk, 'build', '--no-cache', '--network', 'none', '-q', '-t', 'bench/build', ctx];
      dockerTool.cached = () => [...dk, 'build', '--network', 'none', '-q', '-t', 'bench/build', ctx];
    }
    const podmanTool: Tool = { name: 'podman build', cold: () => [], cached: () => [], samples: { cold: [], cached: [] } };
    tools.push(podmanTool);
    if (!ensureProgram('podman', 'podman')) podmanTool.excluded = 'podman is not installed and could not be';
    else {
      const p = join(scratch, 'podman');
      // crun refuses this hybrid cgroup host; Debian's runc works on it.
      const pm = ['podman', '--root', join(p, 'root'), '--runroot', join(p, 'run'), '--storage-driver', 'overlay'];
      if (spawnSync('sh', ['-c', 'command -v runc'], { stdio: 'ignore' }).status === 0) pm.push('--runtime', 'runc', '--cgroup-manager', 'cgroupfs');
      const load = spawnSync(pm[0]!, [...pm.slice(1), 'load', '-i', archive], { encoding: 'utf8' });
      if (load.status !== 0) podmanTool.excluded = `podman load failed: ${load.stderr.trim().split('\n').at(-1)}`;
      podmanTool.cold = () => [...pm, 'build', '--no-cache', '--network', 'none', '-q', '-t', 'bench/build', ctx];
      podmanTool.cached = () => [...pm, 'build', '--network', 'none', '-q', '-t', 'bench/build', ctx];
    }
    // A warm-up of each (not counted): page cache, the first image layers.
    for (const t of tools) {
      if (t.excluded) continue;
      const r = t.server ? await t.server.request('cold') : timed(t.cold(), t.env);
      if (!r.ok) t.excluded = `build failed: ${r.stderr.trim().split('\n').slice(-3).join(' / ')}`;
    }
    for (let i = 0; i < runs; i++) {
      for (const t of tools) {
        if (t.excluded) continue;
        for (const kind of ['cold', 'cached'] as const) {
          const r = t.server ? await t.server.request(kind) : timed(kind === 'cold' ? t.cold() : t.cached(), t.env);
          if (!r.ok) {
            t.excluded = `${kind} build failed: ${r.stderr.trim().split('\n').slice(-3).join(' / ')}`;
            break;
          }
          t.samples[kind].push(r.ms);
        }
      }
    }
    const fmt = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
    const lines: string[] = [];
    lines.push(`Dockerfile: \`${DOCKERFILE.trim().split('\n').join(' / ')}\`, a 50 MB file of random bytes; median of ${runs} runs each, interleaved; cold = --no-cache with the base image present.`);
    lines.push('');
    lines.push('| tool | cold | cached | cold ratio to berth | cached ratio to berth |');
    lines.push('| --- | --- | --- | --- | --- |');
    const b = tools[0]!;
    const bc = median(b.samples.cold);
    const bh = median(b.samples.cached);
    for (const t of tools) {
      if (t.excluded || t.samples.cold.length === 0) {
        lines.push(`| ${t.name} | — | — | — | — (${t.excluded ?? 'no samples'}) |`);
        continue;
      }
      const c = median(t.samples.cold);
      const h = median(t.samples.cached);
      lines.push(`| ${t.name} | ${fmt(c)} | ${fmt(h)} | ${(c / bc).toFixed(2)} | ${(h / bh).toFixed(2)} |`);
    }
    lines.push('');
    lines.push(`Goal (issue 7): faster than BuildKit's 2.2 s cold and 0.11 s cached on this machine: berth ${fmt(bc)} cold (${bc < 2200 ? 'met' : 'not met'}), ${fmt(bh)} cached (${bh < 110 ? 'met' : 'not met'}).`);
    process.stdout.write(lines.join('\n') + '\n');
    await server.close();
  } finally {
    await berthd?.cleanup().catch((e: unknown) => process.stderr.write(`berthd cleanup: ${String(e)}\n`));
    await dockerd?.stop();
    const p = join(scratch, 'podman');
    if (existsSync(p)) spawnSync('podman', ['--root', join(p, 'root'), '--runroot', join(p, 'run'), '--storage-driver', 'overlay', 'system', 'reset', '-f'], { stdio: 'ignore' });
    spawnSync('sh', ['-c', `grep -o ' ${scratch}[^ ]*' /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l`], { stdio: 'ignore' });
    await removeTempDir(scratch);
  }
}

if (process.argv[2] === '--berth-server') {
  berthServer(process.argv[3]!, process.argv[4]!).catch((e: unknown) => {
    process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  });
} else if (process.argv[2] === '--berth-child') {
  berthChild(process.argv[3]!, process.argv[4]!, process.argv[5] === 'nocache').catch((e: unknown) => {
    process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  });
} else if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((e: unknown) => {
    process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  });
}
