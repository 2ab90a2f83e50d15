// berthd: the engine daemon. Reads flags and daemon.json, recovers the engine's state from
// the data root (re-adopting running containers), serves the Docker Engine API, and on
// SIGTERM/SIGINT stops serving and exits — containers keep running under their berth-monitor
// (live restore), to be re-adopted by the next berthd.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { createApiServer, type ApiServer, type ListenTarget } from '../api/server.js';
import { BERTH_VERSION } from '../api/version.js';
import { errorMessage, invalidParameter } from '../errors.js';
import { Engine } from '../engine/engine.js';
import { createEngineImages } from '../engine/images/index.js';
import { wireBuildsAndVolumes } from '../engine/build-wiring.js';
import { createNetworkManager, type NetworkManager } from '../network/index.js';
import { DEFAULTS, loadDaemonConfig, usage, type DaemonConfig } from './config.js';

type Level = 'debug' | 'info' | 'warn' | 'error';
const RANK: Record<string, number> = { debug: 0, info: 1, warn: 2, error: 3, fatal: 4 };

function makeLogger(min: string): (level: Level, message: string, fields?: Record<string, unknown>) => void {
  return (level, message, fields) => {
    if (RANK[level]! < RANK[min]!) return;
    const extra = fields ? Object.entries(fields).map(([k, v]) => ` ${k}=${JSON.stringify(v)}`).join('') : '';
    process.stderr.write(`time="${new Date().toISOString()}" level=${level} msg=${JSON.stringify(message)}${extra}\n`);
  };
}

/** The cgroup all of a daemon's containers go under: /berthd, or per data root for others. */
export function cgroupParentFor(config: DaemonConfig): string {
  if (config.cgroupParent) return config.cgroupParent.startsWith('/') ? config.cgroupParent : `/${config.cgroupParent}`;
  if (config.dataRoot === DEFAULTS.dataRoot) return '/berthd';
  return `/berthd-${createHash('sha256').update(config.dataRoot).digest('hex').slice(0, 12)}`;
}

function listenTarget(host: string, config: DaemonConfig): ListenTarget {
  if (host.startsWith('unix://')) return host.slice('unix://'.length);
  if (host.startsWith('/')) return host;
  const m = /^tcp:\/\/(\[[^\]]+\]|[^:]*):(\d+)$/.exec(host);
  if (!m) throw invalidParameter(`invalid host ${host}`);
  return {
    host: m[1]!.replace(/^\[|\]$/g, '') || '0.0.0.0',
    port: Number(m[2]),
    tls: { cert: readFileSync(config.tlsCert!), key: readFileSync(config.tlsKey!), ca: readFileSync(config.tlsCaCert!) },
  };
}

/** dockerd's --bip "172.17.0.1/16" as the subnet it lies in. */
function bipSubnet(bip: string): string {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(bip);
  if (!m) throw invalidParameter(`invalid bip: ${bip}: expected an IPv4 address with a prefix length, e.g. 172.17.0.1/16`);
  const len = Number(m[5]);
  const addr = m.slice(1, 5).reduce((a, o) => a * 256 + Number(o), 0);
  const net = addr - (addr % 2 ** (32 - len));
  return `${[24, 16, 8, 0].map((s) => Math.floor(net / 2 ** s) % 256).join('.')}/${len}`;
}

/** The network library, restored (bridges, rules, ports, DNS of the last run) and with its default network. */
async function startNetworking(config: DaemonConfig, log: (level: Level, message: string) => void): Promise<NetworkManager> {
  const network = await createNetworkManager({
    dataRoot: config.dataRoot,
    execRoot: config.execRoot,
    ...(config.nftTable ? { table: config.nftTable } : {}),
    ...(config.bridge ? { defaultBridge: config.bridge } : {}),
    ...(config.defaultAddressPools ? { pools: config.defaultAddressPools } : {}),
    ...(config.bip ? { defaultSubnet: bipSubnet(config.bip) } : {}),
    ipForward: config.ipForward,
    nftables: config.iptables,
    logger: log,
  });
  await network.restore();
  await network.ensureDefaultNetwork();
  return network;
}

async function claimPidfile(path: string): Promise<void> {
  const old = Number((await readFile(path, 'utf8').catch(() => '')).trim());
  if (old && old !== process.pid) {
    let alive = false;
    try {
      alive = readFileSync(`/proc/${old}/cmdline`, 'utf8').includes('berthd');
    } catch {
      alive = false;
    }
    if (alive) throw invalidParameter(`pid file found, ensure berthd is not running or delete ${path}`);
  }
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${process.pid}`);
}

export async function main(argv: string[]): Promise<void> {
  let config: DaemonConfig;
  try {
    const loaded = loadDaemonConfig(argv);
    if (loaded.help) {
      process.stdout.write(usage());
      return;
    }
    if (loaded.version) {
      process.stdout.write(`Berth version ${BERTH_VERSION}\n`);
      return;
    }
    config = loaded.config;
  } catch (e) {
    process.stderr.write(`berthd: ${errorMessage(e)}\n`);
    process.exitCode = 125;
    return;
  }
  const log = makeLogger(config.logLevel);
  if (process.geteuid?.() !== 0) log('warn', 'berthd is not running as root: containers will fail to start');

  let server: ApiServer | undefined;
  let engine: Engine | undefined;
  let network: NetworkManager | undefined;
  try {
    await mkdir(config.dataRoot, { recursive: true, mode: 0o711 });
    await mkdir(config.execRoot, { recursive: true, mode: 0o700 });
    await claimPidfile(config.pidfile);
    const images = createEngineImages({
      dataRoot: config.dataRoot,
      registryMirrors: config.registryMirrors,
      insecureRegistries: config.insecureRegistries,
      containersUsingImage: (id) => engine?.containersUsing(id) ?? [],
      isContainerRunning: (id) => engine?.isRunning(id) ?? false,
      log,
    });
    network = await startNetworking(config, log);
    const builds = await wireBuildsAndVolumes(config.dataRoot, config.execRoot, images);
    engine = new Engine({
      dataRoot: config.dataRoot,
      execRoot: config.execRoot,
      images,
      ...(config.defaultUlimits ? { defaultUlimits: config.defaultUlimits } : {}),
      logDriver: config.logDriver,
      logOpts: config.logOpts,
      cgroupParent: cgroupParentFor(config),
      liveRestore: config.liveRestore,
      registryMirrors: config.registryMirrors,
      insecureRegistries: config.insecureRegistries,
      log,
      network,
      ...(builds ? { volumes: builds.volumes } : {}),
      ...(config.execRetentionMs !== undefined ? { execRetentionMs: config.execRetentionMs } : {}),
    });
    builds?.plug(engine);
    await engine.recover();
    server = createApiServer(engine, {
      logger: log,
      ...(config.group !== undefined ? { socketGroup: config.group } : {}),
    });
    for (const h of config.hosts) {
      const addr = await server.listen(listenTarget(h, config));
      log('info', `API listen on ${addr.url}`);
    }
  } catch (e) {
    log('error', `failed to start daemon: ${errorMessage(e)}`);
    await server?.close().catch(() => undefined);
    await engine?.close();
    await network?.close().catch(() => undefined);
    await rm(config.pidfile, { force: true });
    process.exitCode = 1;
    return;
  }
  // bin/berthd kept V8's young generation from growing while the modules loaded; from here
  // on it grows with the load (V8's default factor).
  setFlagsFromString('--semi-space-growth-factor=2');
  log('info', `Daemon has completed initialization (data root ${config.dataRoot}, exec root ${config.execRoot})`);

  let stopping = false;
  const shutdown = (sig: string): void => {
    if (stopping) return;
    stopping = true;
    log('info', `Processing signal '${sig}': shutting down; containers keep running (live restore)`);
    void (async () => {
      const force = setTimeout(() => process.exit(0), 10_000);
      force.unref();
      await server?.close().catch(() => undefined);
      await engine?.close();
      // DNS servers and port reservations go; bridges, veths and rules stay (live restore).
      await network?.close().catch((e: unknown) => log('warn', `close networking: ${errorMessage(e)}`));
      await rm(config.pidfile, { force: true });
      log('info', 'Daemon shutdown complete');
      process.exit(0);
    })();
  };
  process.on('SIGTERM', () => shutdown('terminated'));
  process.on('SIGINT', () => shutdown('interrupt'));
  process.on('SIGHUP', () => log('info', 'SIGHUP ignored (no configuration reload yet)'));
  process.on('SIGPIPE', () => undefined);
  // A stray socket error must not take the daemon (and every client) down: log it.
  process.on('uncaughtException', (e) => log('error', `uncaught exception: ${e.stack ?? errorMessage(e)}`));
}
