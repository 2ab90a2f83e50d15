// A dockerd (Debian's docker.io) of a test's or benchmark's own: data root, exec root,
// socket, pidfile and daemon.json under one directory, no iptables, no bridge, and a cgroup
// parent named after that directory so that whatever it leaves can be found and removed.
// dockerd starts its own containerd (state under the same directory); stop() ends both and
// removes their processes, cgroups and mounts, leaving the directory to the caller.

import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DOCKER } from './berthd.js';

/** Pids of the processes whose command line (args joined by spaces) and comm match. */
export function processesMatching(match: (cmd: string, comm: string) => boolean): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const cmd = readFileSync(`/proc/${e}/cmdline`, 'utf8').replaceAll('\0', ' ');
      const comm = readFileSync(`/proc/${e}/comm`, 'utf8').trim();
      if (match(cmd, comm)) out.push(Number(e));
    } catch {
      // gone
    }
  }
  return out;
}

export interface PrivateDockerdOptions {
  /** Registries reached over plain HTTP ("127.0.0.1:5000"): daemon.json `insecure-registries`. */
  insecureRegistries?: string[];
  /** How long dockerd has to answer `docker version` (default 60 s). */
  startTimeoutMs?: number;
  /** Run dockerd in this network namespace (a path for `nsenter --net`). */
  netns?: string;
  /**
   * Keep dockerd's own networking (docker0, iptables, NAT) instead of
   * `--iptables=false --bridge=none --ip-masq=false`: only inside a `netns` of the caller's,
   * so that none of it touches the host's.
   */
  defaultNetworking?: boolean;
}

export class PrivateDockerd {
  readonly socket: string;
  /** The last 4000 characters dockerd wrote to stderr. */
  log = '';

  private constructor(
    readonly dir: string,
    readonly child: ChildProcess,
  ) {
    this.socket = join(dir, 'docker.sock');
  }

  /** True when dockerd is installed. */
  static available(): boolean {
    return existsSync('/usr/sbin/dockerd') || existsSync('/usr/bin/dockerd');
  }

  /** Why a private dockerd cannot run here, or undefined when it can be tried. */
  static unavailable(): string | undefined {
    if (process.getuid?.() !== 0) return 'dockerd needs root';
    if (!PrivateDockerd.available()) return 'dockerd is not installed (Debian docker.io: scripts/setup.sh --bench installs it)';
    if (!existsSync(DOCKER)) return `the docker CLI (${DOCKER}) is not installed`;
    return undefined;
  }

  /** Starts dockerd in `dir` (an empty directory) and waits until it answers the CLI. */
  static async start(dir: string, opts: PrivateDockerdOptions = {}): Promise<PrivateDockerd> {
    const config: Record<string, unknown> = {};
    if (opts.insecureRegistries?.length) config['insecure-registries'] = opts.insecureRegistries;
    writeFileSync(join(dir, 'daemon.json'), JSON.stringify(config));
    if (opts.defaultNetworking && !opts.netns) throw new Error('PrivateDockerd: defaultNetworking needs a netns of its own');
    const args = ['--data-root', join(dir, 'data'), '--exec-root', join(dir, 'exec'), '-H', `unix://${join(dir, 'docker.sock')}`, '--pidfile', join(dir, 'docker.pid'), '--config-file', join(dir, 'daemon.json'), '--cgroup-parent', basename(dir)];
    if (!opts.defaultNetworking) args.push('--iptables=false', '--bridge=none', '--ip-masq=false');
    const argv = opts.netns ? ['nsenter', `--net=${opts.netns}`, '--', 'dockerd', ...args] : ['dockerd', ...args];
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
    const d = new PrivateDockerd(dir, child);
    child.stderr!.on('data', (c: Buffer) => (d.log = (d.log + c.toString()).slice(-4000)));
    const deadline = Date.now() + (opts.startTimeoutMs ?? 60_000);
    while (Date.now() < deadline) {
      if (child.exitCode !== null) break;
      if (existsSync(d.socket) && d.docker(['version']).status === 0) return d;
      await sleep(100);
    }
    await d.stop();
    throw new Error(`dockerd in ${dir} did not start: ${d.log}`);
  }

  /** The docker CLI's argv against this daemon. */
  argv(...args: string[]): string[] {
    return [DOCKER, '-H', `unix://${this.socket}`, ...args];
  }

  env(): NodeJS.ProcessEnv {
    return { PATH: process.env.PATH, HOME: this.dir, DOCKER_HOST: `unix://${this.socket}` };
  }

  docker(args: string[], input?: Buffer): SpawnSyncReturns<Buffer> {
    return spawnSync(DOCKER, args, { env: this.env(), input, maxBuffer: 1 << 30, timeout: 180_000 });
  }

  /** Processes whose command line names this daemon's directory and whose comm matches. */
  pids(comm: (name: string) => boolean): number[] {
    return processesMatching((cmd, name) => comm(name) && cmd.includes(this.dir));
  }

  /**
   * Stops dockerd (SIGTERM: it stops its containers, there is no live restore), then kills
   * what is left of its containerd and shims, removes its cgroup parent and unmounts what it
   * mounted under the directory.
   */
  async stop(): Promise<void> {
    const c = this.child;
    if (c.exitCode === null && c.signalCode === null) {
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      await Promise.race([exited, sleep(60_000)]);
      if (c.exitCode === null && c.signalCode === null) {
        c.kill('SIGKILL');
        await exited;
      }
    }
    for (const pid of this.pids((n) => n.startsWith('containerd'))) {
      try {
        for (const child of readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean)) process.kill(Number(child), 'SIGKILL');
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    for (let i = 0; i < 50 && this.pids((n) => n.startsWith('containerd')).length > 0; i++) await sleep(100);
    // dockerd puts a relative --cgroup-parent under its own cgroup, which differs per
    // hierarchy: look for it below each one.
    const found = spawnSync('find', ['/sys/fs/cgroup', '-maxdepth', '5', '-type', 'd', '-name', basename(this.dir)], { encoding: 'utf8' });
    for (const parent of found.stdout.split('\n').filter(Boolean)) {
      for (const e of readdirSync(parent, { withFileTypes: true })) if (e.isDirectory()) spawnSync('rmdir', [join(parent, e.name)]);
      spawnSync('rmdir', [parent]);
    }
    // Its mounts under the directory (overlay, netns, containerd's shm), deepest first.
    const info = readFileSync('/proc/self/mountinfo', 'utf8');
    for (const m of info.split('\n').map((l) => l.split(' ')[4] ?? '').filter((p) => p.startsWith(`${this.dir}/`)).sort().reverse()) spawnSync('umount', ['-l', m]);
  }
}
