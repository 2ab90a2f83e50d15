// A berthd for tests: its own temp data root, exec root and socket (berth-test-berthd-*),
// a busybox image loaded into its store without a registry, the real docker CLI pointed at
// it, and start / stop / kill -9 / restart. cleanup() removes every container, stops the
// daemon and leaves nothing behind (mounts, cgroups, temp dir).

import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { createWriteStream, existsSync, readFileSync, readdirSync, rmdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ContentStore } from '../../src/image/content/store.js';
import { ImageStore } from '../../src/image/store.js';
import { createNetworkManager, type NetworkManagerOptions } from '../../src/network/index.js';
import { busyboxImage, loadFixtureImage } from './image-fixtures.js';
import { REPO_ROOT } from './paths.js';
import { runCommand, type CommandResult } from './run-command.js';
import { makeTempDir, removeTempDir } from './tmp.js';

export const DOCKER = '/usr/local/bin/docker';
const BERTHD = join(REPO_ROOT, 'bin', 'berthd');
const BERTH = join(REPO_ROOT, 'bin', 'berth');

export type DockerResult = CommandResult;

export interface DockerOptions {
  input?: string;
  timeoutMs?: number;
  /** Extra environment on top of dockerEnv(d). */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export class TestBerthd {
  child: ChildProcess | undefined;
  private stoppedOnPurpose = false;
  /** berthd's --log-level: debug for tests (step traces in the log); benches match dockerd's info. */
  logLevel = 'debug';
  /** More berthd flags (after the harness's own). */
  extraArgs: string[] = [];
  readonly dataRoot: string;
  readonly execRoot: string;
  readonly socket: string;
  readonly logFile: string;
  /**
   * This daemon's networking, its own so parallel test daemons never collide: nftables table
   * berth-<hex>, default bridge berthd<hex>, a 10.x.0.0/16 pool of /24s, and the host's
   * ip_forward left alone. cleanup() removes all of it with the library's teardown().
   */
  readonly network: { table: string; bridge: string; pool: string };

  /** A daemon started by something else (berth's auto-start): cleanup() stops it by pid. */
  private adopted: number | undefined;

  private constructor(readonly dir: string, socketInExecRoot = false) {
    this.dataRoot = join(dir, 'data');
    this.execRoot = join(dir, 'exec');
    this.socket = socketInExecRoot ? join(this.execRoot, 'berth.sock') : join(dir, 'berthd.sock');
    this.logFile = join(dir, 'berthd.log');
    const hex = randomBytes(4).toString('hex');
    this.network = { table: `berth-${hex}`, bridge: `berthd${hex.slice(0, 6)}`, pool: `10.${randomInt(100, 200)}.0.0/16` };
  }

  /** The network library's options this daemon runs with (for teardown and leak checks). */
  get networkOptions(): NetworkManagerOptions {
    return { dataRoot: this.dataRoot, execRoot: this.execRoot, table: this.network.table, defaultBridge: this.network.bridge, pools: [{ base: this.network.pool, size: 24 }], ipForward: false };
  }

  /** A temp dir with the busybox image (as busybox:latest) in its store; the daemon started. */
  static async start(label = 'berthd', opts: { logLevel?: string; extraArgs?: string[] } = {}): Promise<TestBerthd> {
    const d = await TestBerthd.prepare(label);
    if (opts.logLevel) d.logLevel = opts.logLevel;
    if (opts.extraArgs) d.extraArgs = opts.extraArgs;
    await d.startDaemon();
    return d;
  }

  /**
   * The temp dir with busybox in the store, no daemon yet. socketInExecRoot: the socket
   * where berthd puts it by default, berth.sock in the exec root (BERTH_EXEC_ROOT).
   */
  static async prepare(label = 'berthd', opts: { socketInExecRoot?: boolean } = {}): Promise<TestBerthd> {
    const d = new TestBerthd(await makeTempDir(label), opts.socketInExecRoot);
    const content = new ContentStore(d.dataRoot);
    const target = await loadFixtureImage(await busyboxImage('oci'), content);
    await new ImageStore(d.dataRoot, content).put('busybox:latest', target);
    return d;
  }

  /** This daemon's networking settings as daemon.json (for a berthd started without flags). */
  daemonJson(): string {
    return JSON.stringify({ bridge: this.network.bridge, 'nft-table': this.network.table, 'default-address-pools': [{ base: this.network.pool, size: 24 }], 'ip-forward': false });
  }

  /** Takes charge of a berthd started elsewhere: cleanup() removes its containers and stops it. */
  adopt(pid: number): void {
    this.adopted = pid;
  }

  get cgroupParent(): string {
    return `berthd-${createHash('sha256').update(this.dataRoot).digest('hex').slice(0, 12)}`;
  }

  async startDaemon(): Promise<void> {
    this.stoppedOnPurpose = false;
    const log = createWriteStream(this.logFile, { flags: 'a' });
    await new Promise((r) => log.once('open', r));
    this.child = spawn(
      process.execPath,
      [BERTHD, '--data-root', this.dataRoot, '--exec-root', this.execRoot, '-H', `unix://${this.socket}`, '--pidfile', join(this.dir, 'berthd.pid'), '--log-level', this.logLevel,
        '--bridge', this.network.bridge, '--nft-table', this.network.table, '--default-address-pool', `base=${this.network.pool},size=24`, '--ip-forward=false', ...this.extraArgs],
      { stdio: ['ignore', log, log] },
    );
    const child = this.child;
    for (let i = 0; i < 400; i++) {
      if (child.exitCode !== null) throw new Error(`berthd exited with ${child.exitCode}: ${await readFile(this.logFile, 'utf8')}`);
      if (existsSync(this.socket) && (await this.ping())) return;
      await sleep(25);
    }
    throw new Error(`berthd did not answer on ${this.socket}: ${await readFile(this.logFile, 'utf8')}`);
  }

  ping(): Promise<boolean> {
    return new Promise((resolve) => {
      const req = request({ socketPath: this.socket, path: '/_ping', method: 'GET', timeout: 1000 }, (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      });
      req.on('error', () => resolve(false));
      req.on('timeout', () => {
        req.destroy();
        resolve(false);
      });
      req.end();
    });
  }

  /** SIGTERM (clean shutdown; containers keep running). */
  async stop(): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    this.stoppedOnPurpose = true;
    c.kill('SIGTERM');
    await exited;
  }

  /** SIGKILL at once. */
  async kill9(): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    this.stoppedOnPurpose = true;
    c.kill('SIGKILL');
    await exited;
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.startDaemon();
  }

  docker(args: string[], opts: DockerOptions = {}): Promise<DockerResult> {
    return runDocker(this, args, opts);
  }

  /** One API request with a JSON body; the status and the parsed JSON answer ({} when empty). */
  api(method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
    return new Promise((resolve, reject) => {
      const data = body === undefined ? undefined : JSON.stringify(body);
      const req = request({ socketPath: this.socket, method, path, headers: data ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) } : {} }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} }));
      });
      req.on('error', reject);
      req.end(data);
    });
  }

  /** Berth's own CLI (bin/berth) pointed at this daemon, as docker() runs docker's. */
  berth(args: string[], opts: DockerOptions = {}): Promise<DockerResult> {
    return runClient(process.execPath, [BERTH, ...args], this, opts);
  }

  /** Removes every container, stops the daemon, removes what is left and the temp dir. */
  async cleanup(): Promise<void> {
    let died: string | undefined;
    if (this.child && !this.stoppedOnPurpose && (this.child.exitCode !== null || this.child.signalCode !== null)) {
      died = `berthd died during the tests (${this.child.exitCode ?? this.child.signalCode}); its log:\n${(await readFile(this.logFile, 'utf8').catch(() => '')).slice(-4000)}`;
    }
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) {
      const ids = (await this.docker(['ps', '-aq'])).stdout.split('\n').filter(Boolean);
      if (ids.length) await this.docker(['rm', '-f', ...ids], { timeoutMs: 60_000 });
      await this.stop();
    }
    if (this.adopted !== undefined && running(this.adopted)) {
      const ids = (await this.docker(['ps', '-aq'])).stdout.split('\n').filter(Boolean);
      if (ids.length) await this.docker(['rm', '-f', ...ids], { timeoutMs: 60_000 });
      process.kill(this.adopted, 'SIGTERM');
      for (let i = 0; i < 1200 && running(this.adopted); i++) await sleep(25);
    }
    // The network library's teardown: namespaces, veths, bridges and the table of this daemon.
    let netError: unknown;
    if (existsSync(join(this.dataRoot, 'network'))) {
      await createNetworkManager(this.networkOptions).then((m) => m.teardown()).catch((e: unknown) => (netError = e));
    }
    // Whatever is still mounted below the temp dir (a failed test), deepest first.
    const info = await readFile('/proc/self/mountinfo', 'utf8');
    const mounts = info.split('\n').map((l) => l.split(' ')[4] ?? '').filter((p) => p.startsWith(`${this.dir}/`)).sort().reverse();
    for (const m of mounts) await new Promise((r) => spawn('umount', ['-l', m]).on('exit', r));
    for (const h of readdirSync('/sys/fs/cgroup')) {
      const dir = join('/sys/fs/cgroup', h, this.cgroupParent);
      if (!existsSync(dir)) continue;
      for (const id of readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory())) {
        try {
          rmdirSync(join(dir, id.name));
        } catch {
          // busy: reported by the leak check
        }
      }
      try {
        rmdirSync(dir);
      } catch {
        // busy
      }
    }
    await removeTempDir(this.dir);
    if (died) throw new Error(died);
    if (netError) throw netError;
  }
}

/** The process exists and is not a zombie (a detached daemon is reaped by whoever adopted it). */
function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

export function dockerEnv(d: TestBerthd): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: d.dir,
    DOCKER_HOST: `unix://${d.socket}`,
    DOCKER_CONFIG: join(d.dir, 'docker-config'),
  };
}

export function runDocker(d: TestBerthd, args: string[], opts: DockerOptions = {}): Promise<DockerResult> {
  return runAgainst(d, [DOCKER, ...args], opts);
}

function runClient(file: string, args: string[], d: TestBerthd, opts: DockerOptions): Promise<DockerResult> {
  return runAgainst(d, [file, ...args], opts);
}

/** Runs a client program (docker, `node bin/berth` …) against the daemon, output collected. */
export function runAgainst(d: TestBerthd, argv: string[], opts: DockerOptions = {}): Promise<DockerResult> {
  return runCommand(argv[0]!, argv.slice(1), { ...opts, env: { ...dockerEnv(d), ...opts.env } });
}
