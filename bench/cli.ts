// Benchmark: the start-up of the berth CLI against Node's own and against the docker CLI,
// both talking to the same harness-started berthd (busybox loaded), in the same run:
//   - the floors: `node -e 0` and `docker --version`;
//   - `version`, `ps` and `run --rm busybox true` through berth and through docker;
//   - berth's three ways to start (bin/berth picks the first that is fresh): the startup
//     snapshot, the single-file bundle, the separate modules (for version and ps).
// hyperfine (-N, no shell) runs all commands once per round; rounds alternate the order so
// that a change of load on this shared machine hits every command alike. Wall times are
// medians over all rounds; CPU (user + system) is the mean of hyperfine's rounds.
//
//   node dist/bench/cli.js            BENCH_ROUNDS=6 BENCH_RUNS=5 node dist/bench/cli.js

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DOCKER, TestBerthd, dockerEnv } from '../test/harness/berthd.js';
import { REPO_ROOT } from '../test/harness/paths.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 6);
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const BERTH = join(REPO_ROOT, 'bin', 'berth');
const CLI = join(REPO_ROOT, 'dist', 'src', 'cli');
/** The goal of issue #5: berth's cost above `node -e 0`, and run's above docker's, in ms. */
const GOAL_MS = 15;

interface Command {
  label: string;
  argv: string[];
}

interface HyperfineResult {
  command: string;
  times: number[];
  user: number;
  system: number;
  exit_codes: number[];
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

function commands(): Command[] {
  const node = process.execPath;
  const c: Command[] = [
    { label: 'node -e 0', argv: [node, '-e', '0'] },
    { label: 'docker --version', argv: [DOCKER, '--version'] },
    { label: 'berth version', argv: [BERTH, 'version'] },
    { label: 'docker version', argv: [DOCKER, 'version'] },
    { label: 'berth ps', argv: [BERTH, 'ps'] },
    { label: 'docker ps', argv: [DOCKER, 'ps'] },
    { label: 'berth run --rm busybox true', argv: [BERTH, 'run', '--rm', 'busybox', 'true'] },
    { label: 'docker run --rm busybox true', argv: [DOCKER, 'run', '--rm', 'busybox', 'true'] },
  ];
  if (existsSync(join(CLI, 'berth.cjs'))) {
    c.push({ label: 'berth version (bundle, no snapshot)', argv: [node, join(CLI, 'berth.cjs'), 'version'] });
    c.push({ label: 'berth ps (bundle, no snapshot)', argv: [node, join(CLI, 'berth.cjs'), 'ps'] });
  }
  c.push({ label: 'berth version (modules)', argv: [node, join(CLI, 'entry.js'), 'version'] });
  c.push({ label: 'berth ps (modules)', argv: [node, join(CLI, 'entry.js'), 'ps'] });
  return c;
}

/** Which way bin/berth starts (its sh tests, in the same order, but for the node binary's). */
function launcherPath(): string {
  const mtime = (name: string): number => statSync(join(CLI, name), { throwIfNoEntry: false })?.mtimeMs ?? -1;
  if (mtime('berth.blob') > mtime('main.js')) return 'the startup snapshot';
  if (mtime('berth.cjs') > mtime('main.js')) return 'the bundle';
  return 'the modules';
}

function hyperfine(cmds: Command[], env: NodeJS.ProcessEnv): HyperfineResult[] {
  const out = join(String(env.HOME), 'hyperfine.json');
  const args = ['-N', '--warmup', '1', '--runs', String(RUNS), '--export-json', out, '--style', 'none'];
  for (const c of cmds) args.push('-n', c.label, c.argv.map((a) => (/\s/.test(a) ? `'${a}'` : a)).join(' '));
  const r = spawnSync('hyperfine', args, { env, encoding: 'utf8', timeout: 30 * 60_000 });
  if (r.status !== 0) throw new Error(`hyperfine failed: ${r.stderr}`);
  return (JSON.parse(readFileSync(out, 'utf8')) as { results: HyperfineResult[] }).results;
}

export async function main(): Promise<void> {
  if (spawnSync('hyperfine', ['--version']).status !== 0) throw new Error('hyperfine is missing: apt-get install -y hyperfine');
  const d = await TestBerthd.start('bench-cli', { logLevel: 'info' });
  try {
    const env = { ...dockerEnv(d), HOME: d.dir };
    const cmds = commands();
    for (const c of cmds) {
      const r = spawnSync(c.argv[0]!, c.argv.slice(1), { env, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`${c.label}: exit ${r.status}: ${r.stderr}`);
    }
    const wall = new Map<string, number[]>(cmds.map((c) => [c.label, []]));
    const cpu = new Map<string, number[]>(cmds.map((c) => [c.label, []]));
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 ? [...cmds].reverse() : cmds;
      for (const r of hyperfine(order, env)) {
        if (r.exit_codes.some((x) => x !== 0)) throw new Error(`${r.command}: a run failed`);
        wall.get(r.command)!.push(...r.times.map((t) => t * 1000));
        cpu.get(r.command)!.push((r.user + r.system) * 1000);
      }
    }
    const w = (l: string): number => median(wall.get(l)!);
    const u = (l: string): number => mean(cpu.get(l)!);
    const floor = w('node -e 0');
    const f = (x: number): string => `${x.toFixed(1)} ms`;
    // The daemon's share of a command (what docker spends above its own start-up) is not
    // berth's start-up cost: berth's own is what is left after taking both floors off.
    const own = (label: string): number => {
      const cmd = /^berth (\S+)/.exec(label)![1]!;
      const peer = cmds.find((c) => c.label.startsWith(`docker ${cmd}`))!.label;
      return w(label) - floor - (w(peer) - w('docker --version'));
    };
    const lines = [
      `bin/berth starts from: ${launcherPath()}; ${ROUNDS} rounds × ${RUNS} runs; load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')} at the end`,
      '',
      '| command | wall (median) | CPU (user+sys) | above `node -e 0` (wall) | berth\'s own: that minus docker\'s time above `docker --version` |',
      '| --- | --- | --- | --- | --- |',
      ...cmds.map((c) => `| \`${c.label}\` | ${f(w(c.label))} | ${f(u(c.label))} | ${c.label.startsWith('docker') ? '' : f(w(c.label) - floor)} | ${c.label.startsWith('docker') || c.label === 'node -e 0' ? '' : f(own(c.label))} |`),
      '',
      '| goal | result | met |',
      '| --- | --- | --- |',
    ];
    for (const cmd of ['version', 'ps']) {
      const above = w(`berth ${cmd}`) - floor;
      lines.push(`| \`berth ${cmd}\` − \`node -e 0\` < ${GOAL_MS} ms | ${f(above)} | ${above < GOAL_MS ? 'yes' : 'no'} |`);
      const o = own(`berth ${cmd}`);
      lines.push(`| the same without the daemon's share (\`docker ${cmd}\` − \`docker --version\`) | ${f(o)} | ${o < GOAL_MS ? 'yes' : 'no'} |`);
    }
    const runGap = w('berth run --rm busybox true') - w('docker run --rm busybox true');
    lines.push(`| \`berth run\` − \`docker run\` < \`node -e 0\` + ${GOAL_MS} ms = ${f(floor + GOAL_MS)} | ${f(runGap)} | ${runGap < floor + GOAL_MS ? 'yes' : 'no'} |`);
    const strict = floor - w('docker --version') + GOAL_MS;
    lines.push(`| the same, counting only Node's start-up beyond docker's (\`node -e 0\` − \`docker --version\` + ${GOAL_MS} ms = ${f(strict)}) | ${f(runGap)} | ${runGap < strict ? 'yes' : 'no'} |`);
    console.log(lines.join('\n'));
  } finally {
    await d.cleanup();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
