// Benchmark: pull a ~175 MB Debian image (debootstrap minbase, one gzip layer of ~60 MB)
// from a local docker-registry into an empty store, with Berth (download, gunzip, sha256
// and extraction into an overlay snapshot overlapping), against skopeo (`copy docker://…
// oci:…`: download and verify only, no extraction), docker (`pull` on a dockerd of the
// bench's own, a fresh one with an empty data root for every run) and podman (`pull`:
// download and extract into containers/storage overlay), interleaved in one run; then
// unpack throughput of the same layer from a local file (Berth's applyLayer, GNU tar -xzf,
// gzip -dc alone).
//
//   node dist/bench/image-pull.js [runs]      default 5 runs each, BENCH_RUNS overrides
//
// The first run builds the image with debootstrap (cached under .cache/fixtures) and
// installs debootstrap/podman with apt-get when they are missing. On this machine writes
// right after deleting a similar amount are slow for a minute, so no run's output is
// deleted before the end: each run writes into a fresh directory (docker: a new dockerd
// whose data root is that directory, started before and stopped after the timed pull),
// after a `sync` and a pause, and everything is removed once all runs are done.

import { spawnSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { ContentStore, READ_CHUNK } from '../src/image/content/store.js';
import { applyLayer } from '../src/image/layer/apply.js';
import { pushImage } from '../src/image/push.js';
import { parseNormalizedReference } from '../src/image/reference.js';
import { RegistryClient } from '../src/image/registry/client.js';
import { overlaySupported } from '../src/image/snapshot/snapshotter.js';
import { hasDockerRegistry, startRegistry } from '../test/harness/registry.js';
import { makeTempDir, removeTempDir } from '../test/harness/tmp.js';
import { debianImage, ensureProgram, storeDebianImage } from './image/debian-image.js';
import { PrivateDockerd } from '../test/harness/dockerd.js';
import { DOCKER, TestBerthd } from '../test/harness/berthd.js';

interface Runner {
  name: string;
  what: string;
  /** Untimed, before the settling pause: start what the run needs (a fresh dockerd). */
  prepare?: (dir: string) => Promise<void>;
  argv: (dir: string) => string[];
  /** Untimed, after the run: stop what prepare started (nothing is deleted yet). */
  finish?: () => Promise<void>;
  samples: number[];
  excluded?: string;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

function timed(argv: string[]): { ms: number; ok: boolean; stderr: string } {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  return { ms, ok: !r.error && r.status === 0, stderr: r.error ? String(r.error) : r.stderr };
}

async function settle(seconds: number): Promise<void> {
  spawnSync('sync');
  await sleep(seconds * 1000);
}

const fmt = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

export async function main(): Promise<void> {
  const runs = Number(process.env.BENCH_RUNS ?? process.argv[2] ?? 5);
  const pause = Number(process.env.BENCH_SETTLE_SECONDS ?? 5);
  if (!hasDockerRegistry()) throw new Error('docker-registry is missing: apt-get install docker-registry');
  const img = await debianImage();
  const scratch = await makeTempDir('bench-image-pull');
  const reg = await startRegistry();
  const load0 = loadavg();
  let dockerd: PrivateDockerd | undefined;
  let berthd: TestBerthd | undefined;
  const berthds: TestBerthd[] = [];
  try {
    const ref = `${reg.host}/bench/debian:bookworm`;
    const pushRoot = join(scratch, 'push');
    const content = new ContentStore(pushRoot);
    await pushImage(new RegistryClient(), content, parseNormalizedReference(ref), await storeDebianImage(img, content));
    const overlay = await overlaySupported(scratch);
    const here = fileURLToPath(new URL('.', import.meta.url));
    const runners: Runner[] = [
      { name: 'berth', what: `pull + unpack (${overlay ? 'overlay' : 'vfs'})`, argv: (d) => [process.execPath, join(here, 'image', 'berth-pull.js'), ref, d, overlay ? 'overlay' : 'vfs'], samples: [] },
      { name: 'skopeo', what: 'copy to an OCI layout (no unpack)', argv: (d) => ['skopeo', '--insecure-policy', 'copy', '-q', '--src-tls-verify=false', `docker://${ref}`, `oci:${d}/layout:bench`], samples: [] },
      {
        name: 'docker',
        what: 'pull + unpack (overlay2; a new dockerd per run)',
        prepare: async (d) => {
          dockerd = await PrivateDockerd.start(d, { insecureRegistries: [reg.host] });
        },
        argv: () => dockerd!.argv('pull', '-q', ref),
        finish: async () => {
          await dockerd?.stop();
          dockerd = undefined;
        },
        samples: [],
      },
      { name: 'podman', what: 'pull + unpack (overlay)', argv: (d) => ['podman', '--root', `${d}/root`, '--runroot', `${d}/run`, '--storage-driver', 'overlay', 'pull', '-q', '--tls-verify=false', ref], samples: [] },
      // Berth with its layers downloaded on a worker thread (off by default: docs/benchmarks.md).
      { name: 'berth-thread', what: `pull + unpack (${overlay ? 'overlay' : 'vfs'}), downloads on a worker thread`, argv: (d) => [process.execPath, join(here, 'image', 'berth-pull.js'), ref, d, overlay ? 'overlay' : 'vfs', 'thread'], samples: [] },
      // The same client as docker's row against berthd: what `docker pull` / `berth pull` do
      // with Berth's daemon. A new berthd per run, started (and stopped) outside the timing,
      // as dockerd is; its store is removed only at the end, with the other runs' dirs.
      {
        name: 'berthd',
        what: `docker pull → berthd (${overlay ? 'overlay' : 'vfs'}; a new berthd per run)`,
        prepare: async () => {
          const b = await TestBerthd.start('bench-pull-berthd', { logLevel: 'info' });
          berthds.push(b);
          berthd = b;
        },
        argv: () => [DOCKER, '-H', `unix://${berthd!.socket}`, 'pull', '-q', ref],
        finish: async () => {
          await berthd?.stop();
          berthd = undefined;
        },
        samples: [],
      },
    ];
    if (!ensureProgram('skopeo', 'skopeo')) runners[1]!.excluded = 'skopeo is not installed';
    if (!PrivateDockerd.available()) runners[2]!.excluded = 'dockerd is not installed (apt-get install docker.io)';
    if (!ensureProgram('podman', 'podman')) runners[3]!.excluded = 'podman is not installed and could not be';
    // A check run each (not timed): a runner that fails is left out, with its reason.
    let n = 0;
    const fresh = async (): Promise<string> => {
      const d = join(scratch, `run-${n++}`);
      await mkdir(d, { recursive: true });
      return d;
    };
    for (const r of runners) {
      if (r.excluded) continue;
      try {
        const d = await fresh();
        await r.prepare?.(d);
        const res = timed(r.argv(d));
        if (!res.ok) r.excluded = `check run failed: ${res.stderr.trim().split('\n').slice(-2).join(' ')}`;
      } catch (e) {
        r.excluded = `check run failed: ${(e as Error).message.split('\n')[0]}`;
      }
      await r.finish?.();
      await settle(pause);
    }
    for (let i = 0; i < runs; i++) {
      for (const r of runners) {
        if (r.excluded) continue;
        const d = await fresh();
        await r.prepare?.(d);
        await settle(pause);
        const res = timed(r.argv(d));
        await r.finish?.();
        if (!res.ok) throw new Error(`${r.name} failed in run ${i}: ${res.stderr}`);
        r.samples.push(res.ms);
        process.stderr.write(`${r.name} run ${i + 1}/${runs}: ${fmt(res.ms)}\n`);
      }
    }

    // Unpack throughput: the layer from a local file into an empty directory.
    const layerFile = join(scratch, 'layer.tar.gz');
    await writeFile(layerFile, img.layer);
    const unpack: { name: string; samples: number[]; bytes?: number }[] = [
      { name: 'berth applyLayer (gunzip + sha256 + extract)', samples: [] },
      { name: 'GNU tar -xzf', samples: [] },
      { name: 'gzip -dc > /dev/null (decompression alone)', samples: [] },
    ];
    let uncompressed = 0;
    for (let i = 0; i < runs; i++) {
      let d = await fresh();
      await settle(pause);
      const t0 = process.hrtime.bigint();
      // Read as a pull reads its layers (ContentStore.openRead, BlobFollower: 1 MiB reads).
      const res = await applyLayer(d, createReadStream(layerFile, { highWaterMark: READ_CHUNK }), { mode: 'overlay', diffId: img.diffId });
      unpack[0]!.samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
      uncompressed = res.size;
      d = await fresh();
      await settle(pause);
      unpack[1]!.samples.push(timed(['tar', '-xzf', layerFile, '-C', d]).ms);
      await settle(1);
      unpack[2]!.samples.push(timed(['sh', '-c', `gzip -dc ${layerFile} > /dev/null`]).ms);
    }

    const load1 = loadavg();
    const lines: string[] = [];
    lines.push(`Image: Debian bookworm (debootstrap minbase), one layer: ${(img.layer.length / 1e6).toFixed(1)} MB compressed, ${(uncompressed / 1e6).toFixed(1)} MB uncompressed; local docker-registry; median of ${runs} runs each, interleaved.`);
    lines.push(`Load average (1, 5, 15 min) at the start: ${load0.map((x) => x.toFixed(1)).join(', ')}; at the end: ${load1.map((x) => x.toFixed(1)).join(', ')}.`);
    lines.push('');
    lines.push('| tool | what | median | min | ratio to berth |');
    lines.push('| --- | --- | --- | --- | --- |');
    const berth = median(runners[0]!.samples);
    for (const r of runners) {
      if (r.excluded) {
        lines.push(`| ${r.name} | ${r.what} | — | — | left out: ${r.excluded} |`);
        continue;
      }
      const m = median(r.samples);
      lines.push(`| ${r.name} | ${r.what} | ${fmt(m)} | ${fmt(Math.min(...r.samples))} | ${(m / berth).toFixed(2)}× |`);
    }
    const docker = runners[2]!;
    if (!docker.excluded) {
      lines.push('', `Goal (issue 3): berth at most half of docker's time: berth ÷ docker = ${(berth / median(docker.samples)).toFixed(2)} (${berth <= median(docker.samples) / 2 ? 'met' : 'not met'}).`);
      const thread = runners[4]!;
      const viaDaemon = runners.find((r) => r.name === 'berthd');
      if (viaDaemon && !viaDaemon.excluded) lines.push(`Through the daemons, the same client (docker pull → berthd vs → dockerd): ${(median(viaDaemon.samples) / median(docker.samples)).toFixed(2)} (${median(viaDaemon.samples) <= median(docker.samples) / 2 ? 'met' : 'not met'}).`);
      if (!thread.excluded) lines.push(`With the download thread: berth-thread ÷ docker = ${(median(thread.samples) / median(docker.samples)).toFixed(2)}; berth-thread ÷ berth, run by run: ${thread.samples.map((t, i) => (t / runners[0]!.samples[i]!).toFixed(2)).join(' ')}.`);
    }
    lines.push('');
    lines.push('Unpack of the same layer from a local file:');
    lines.push('');
    lines.push('| what | median | throughput (uncompressed) |');
    lines.push('| --- | --- | --- |');
    for (const u of unpack) {
      const m = median(u.samples);
      lines.push(`| ${u.name} | ${fmt(m)} | ${((uncompressed / 1e6) / (m / 1000)).toFixed(0)} MB/s |`);
    }
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await dockerd?.stop();
    for (const b of berthds) await b.cleanup().catch((e: unknown) => process.stderr.write(`berthd cleanup: ${(e as Error).message}\n`));
    await reg.stop();
    // Podman's overlay storage may have mounts: let podman clean its own up first.
    spawnSync('sh', ['-c', `for d in ${scratch}/run-*/root; do [ -d "$d" ] && podman --root "$d" --runroot "$(dirname $d)/run" --storage-driver overlay system reset -f >/dev/null 2>&1; done; true`]);
    spawnSync('sh', ['-c', `grep -o ' ${scratch}[^ ]*' /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l`]);
    await removeTempDir(scratch);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
