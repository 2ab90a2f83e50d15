// berthd's flags (named as dockerd's) and daemon.json, merged into one DaemonConfig.
// Flags win over the file for scalars; lists (mirrors, insecure registries) are joined.
// Pure, so it is unit-tested.

import { readFileSync } from 'node:fs';
import { invalidParameter } from '../errors.js';
import { parseGoDuration } from '../engine/images/filters.js';
import type { Ulimit } from '../api/types/container.js';

export interface DaemonConfig {
  dataRoot: string;
  execRoot: string;
  hosts: string[];
  pidfile: string;
  configFile: string | undefined;
  registryMirrors: string[];
  insecureRegistries: string[];
  logLevel: 'debug' | 'info' | 'warn' | 'error' | 'fatal';
  logDriver: string;
  logOpts: Record<string, string>;
  defaultUlimits: Ulimit[] | undefined;
  liveRestore: boolean;
  tls: boolean;
  tlsVerify: boolean;
  tlsCaCert: string | undefined;
  tlsCert: string | undefined;
  tlsKey: string | undefined;
  cgroupParent: string | undefined;
  group: string | undefined;
  /** Bridge networking (docs/network.md): the default network's bridge device (-b/--bridge, "bridge"). */
  bridge: string | undefined;
  /** The default network's address, as dockerd's --bip ("172.17.0.1/16"). */
  bip: string | undefined;
  /** Pools user networks are carved from ("default-address-pools": [{"base": "10.10.0.0/16", "size": 24}]). */
  defaultAddressPools: { base: string; size: number }[] | undefined;
  /** Set net.ipv4.ip_forward=1 when a network needs it (default true). */
  ipForward: boolean;
  /** Write the nftables table (NAT, published ports, isolation); dockerd's "iptables" (default true). */
  iptables: boolean;
  /** Berth's own: the nftables table (family inet) of this daemon (default "berth"). */
  nftTable: string | undefined;
  /** Berth's own: how long an ended exec stays inspectable, in ms ("exec-retention"; the engine's default, 5m, when unset). */
  execRetentionMs: number | undefined;
}

export const DEFAULTS = {
  dataRoot: '/var/lib/berth',
  execRoot: '/run/berth',
  host: 'unix:///run/berth/berth.sock',
  pidfile: '/run/berth/berthd.pid',
  configFile: '/etc/berth/daemon.json',
};

const USAGE = `Usage: berthd [OPTIONS]

A container engine serving the Docker Engine API.

Options:
      --config-file string          Daemon configuration file (default "/etc/berth/daemon.json")
  -D, --debug                       Enable debug mode (log level debug)
      --data-root string            Root directory of persistent state (default "/var/lib/berth")
      --exec-root string            Root directory for execution state files (default "/run/berth")
  -G, --group string                Group for the unix socket (default "berth" when it exists)
  -H, --host list                   Daemon socket(s) to connect to (default unix:///run/berth/berth.sock)
      --insecure-registry list      Enable insecure registry communication
      --live-restore                Keep containers running while berthd is down (always on)
  -l, --log-level string            Set the logging level ("debug"|"info"|"warn"|"error"|"fatal") (default "info")
      --log-driver string           Default log driver for containers (json-file, local, none)
      --log-opt map                 Default log driver options for containers
  -p, --pidfile string              Path to use for daemon PID file (default "/run/berth/berthd.pid")
      --registry-mirror list        Preferred registry mirror
      --cgroup-parent string        Parent cgroup for all containers
  -b, --bridge string               Bridge device of the default network (default "berth0")
      --bip string                  Address and prefix of the default network's bridge
      --default-address-pool pool   Default address pools for networks (base=10.10.0.0/16,size=24)
      --ip-forward                  Enable net.ipv4.ip_forward (default true)
      --iptables                    Write Berth's nftables rules (default true)
      --nft-table string            nftables table of this daemon (default "berth")
      --exec-retention duration     How long an ended exec stays inspectable (default 5m0s)
      --default-ulimit ulimit       Default ulimits for containers (name=soft[:hard])
      --tls                         Use TLS; implied by --tlsverify
      --tlscacert string            Trust certs signed only by this CA
      --tlscert string              Path to TLS certificate file
      --tlskey string               Path to TLS key file
      --tlsverify                   Use TLS and verify the remote
  -v, --version                     Print version information and quit
  -h, --help                        Print usage

Environment: BERTH_DATA_ROOT, BERTH_EXEC_ROOT (the default socket and pidfile follow it) and
BERTH_DAEMON_CONFIG replace the defaults above; the berth CLI honours them too.
`;

export function usage(): string {
  return USAGE;
}

/** --exec-retention and "exec-retention": a Go duration (`5m`, `90s`) of at least a second, in ms. */
function retention(what: string, v: string): number {
  const seconds = parseGoDuration(v);
  if (seconds === undefined || seconds < 1) throw invalidParameter(`${what}: expected a duration of at least 1s such as 5m or 90s, got ${JSON.stringify(v)}`);
  return seconds * 1000;
}

/** --default-address-pool base=10.10.0.0/16,size=24 */
export function parseAddressPool(s: string): { base: string; size: number } {
  const kv = Object.fromEntries(s.split(',').map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)]));
  const size = Number(kv.size);
  if (!kv.base || !/^[\d.]+\/\d+$/.test(kv.base) || !Number.isInteger(size) || size < 1 || size > 32) throw invalidParameter(`invalid default address pool: ${s}: expected base=<subnet>,size=<prefix length>`);
  return { base: kv.base, size };
}

export function parseUlimit(s: string): Ulimit {
  const m = /^([a-z]+)=(-?\d+)(?::(-?\d+))?$/.exec(s);
  if (!m) throw invalidParameter(`invalid ulimit argument: ${s}`);
  const soft = Number(m[2]);
  const hard = m[3] === undefined ? soft : Number(m[3]);
  if (soft > hard) throw invalidParameter(`ulimit soft limit must be less than or equal to hard limit: ${soft} > ${hard}`);
  return { Name: m[1]!, Soft: soft, Hard: hard };
}

/** Settings from flags or the file; `debug` (-D, "debug") is a directive of its own that raises the log level. */
export type PartialDaemonConfig = Partial<DaemonConfig> & { debug?: boolean };

interface FlagResult {
  values: PartialDaemonConfig;
  help: boolean;
  version: boolean;
}

const STRING_FLAGS: Record<string, keyof DaemonConfig> = {
  '--data-root': 'dataRoot',
  '--exec-root': 'execRoot',
  '--pidfile': 'pidfile',
  '-p': 'pidfile',
  '--config-file': 'configFile',
  '--log-level': 'logLevel',
  '-l': 'logLevel',
  '--log-driver': 'logDriver',
  '--tlscacert': 'tlsCaCert',
  '--tlscert': 'tlsCert',
  '--tlskey': 'tlsKey',
  '--cgroup-parent': 'cgroupParent',
  '--group': 'group',
  '-G': 'group',
  '--bridge': 'bridge',
  '-b': 'bridge',
  '--bip': 'bip',
  '--nft-table': 'nftTable',
};

/** The daemon.json directive of each setting: the name conflicts are reported with. */
const DIRECTIVES: Partial<Record<keyof DaemonConfig, string>> = {
  dataRoot: 'data-root',
  execRoot: 'exec-root',
  hosts: 'hosts',
  pidfile: 'pidfile',
  logLevel: 'log-level',
  logDriver: 'log-driver',
  logOpts: 'log-opts',
  defaultUlimits: 'default-ulimits',
  liveRestore: 'live-restore',
  tls: 'tls',
  tlsVerify: 'tlsverify',
  tlsCaCert: 'tlscacert',
  tlsCert: 'tlscert',
  tlsKey: 'tlskey',
  cgroupParent: 'cgroup-parent',
  group: 'group',
  bridge: 'bridge',
  bip: 'bip',
  defaultAddressPools: 'default-address-pools',
  ipForward: 'ip-forward',
  iptables: 'iptables',
  nftTable: 'nft-table',
  execRetentionMs: 'exec-retention',
};

/** A value as Go's %v prints it (dockerd's conflict messages). */
function goValue(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(goValue).join(' ')}]`;
  if (typeof v === 'object' && v !== null) {
    if ('Name' in v && 'Soft' in v && 'Hard' in v) return `${String(v.Name)}=${String(v.Soft)}:${String(v.Hard)}`;
    return `map[${Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, x]) => `${k}:${goValue(x)}`).join(' ')}]`;
  }
  return String(v);
}

/** strconv.ParseBool, as pflag reads `--flag=value`. */
function parseBoolFlag(flag: string, v: string): boolean {
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(v)) return false;
  throw invalidParameter(`invalid argument "${v}" for "${flag}" flag: strconv.ParseBool: parsing "${v}": invalid syntax`);
}

const BOOL_FLAGS: Record<string, keyof DaemonConfig> = {
  '--live-restore': 'liveRestore',
  '--tls': 'tls',
  '--tlsverify': 'tlsVerify',
  '--ip-forward': 'ipForward',
  '--iptables': 'iptables',
};

export function parseFlags(argv: string[]): FlagResult {
  const values: FlagResult['values'] = {};
  let help = false;
  let version = false;
  let debug = false;
  const lists = { hosts: [] as string[], registryMirrors: [] as string[], insecureRegistries: [] as string[], logOpts: {} as Record<string, string>, ulimits: [] as Ulimit[], pools: [] as { base: string; size: number }[] };
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i]!;
    let inline: string | undefined;
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq > 0) {
      inline = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    const value = (): string => {
      if (inline !== undefined) return inline;
      const v = argv[++i];
      if (v === undefined) throw invalidParameter(`flag needs an argument: ${arg}`);
      return v;
    };
    if (arg === '-h' || arg === '--help') help = true;
    else if (arg === '-v' || arg === '--version') version = true;
    else if (arg === '-H' || arg === '--host') lists.hosts.push(value());
    else if (arg === '--registry-mirror') lists.registryMirrors.push(value());
    else if (arg === '--insecure-registry') lists.insecureRegistries.push(value());
    else if (arg === '--log-opt') {
      const kv = value();
      const j = kv.indexOf('=');
      if (j <= 0) throw invalidParameter(`invalid --log-opt: ${kv}: expected key=value`);
      lists.logOpts[kv.slice(0, j)] = kv.slice(j + 1);
    } else if (arg === '--default-ulimit') lists.ulimits.push(parseUlimit(value()));
    else if (arg === '--default-address-pool') lists.pools.push(parseAddressPool(value()));
    else if (arg === '--exec-retention') values.execRetentionMs = retention(`invalid argument for "${arg}" flag`, value());
    else if (arg in STRING_FLAGS) (values as Record<string, unknown>)[STRING_FLAGS[arg]!] = value();
    else if (arg in BOOL_FLAGS) (values as Record<string, unknown>)[BOOL_FLAGS[arg]!] = inline === undefined ? true : parseBoolFlag(arg, inline);
    else if (arg === '-D' || arg === '--debug') debug = inline === undefined ? true : parseBoolFlag(arg, inline);
    else throw invalidParameter(`unknown flag: ${argv[i]}\nSee 'berthd --help'.`);
  }
  if (lists.hosts.length) values.hosts = lists.hosts;
  if (lists.registryMirrors.length) values.registryMirrors = lists.registryMirrors;
  if (lists.insecureRegistries.length) values.insecureRegistries = lists.insecureRegistries;
  if (Object.keys(lists.logOpts).length) values.logOpts = lists.logOpts;
  if (lists.ulimits.length) values.defaultUlimits = lists.ulimits;
  if (lists.pools.length) values.defaultAddressPools = lists.pools;
  if (debug) values.debug = true;
  return { values, help, version };
}

/**
 * daemon.json: the keys dockerd reads that berthd knows. Errors read as dockerd's, `unable to
 * configure the daemon with file <path>: …`; unknown keys are an error, all of them named.
 */
export function parseDaemonJson(text: string, source: string): PartialDaemonConfig {
  const prefix = `unable to configure the daemon with file ${source}`;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw invalidParameter(`${prefix}: invalid JSON: ${(e as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw invalidParameter(`${prefix}: expected a JSON object`);
  const out: PartialDaemonConfig = {};
  const unknown: string[] = [];
  const strList = (k: string, v: unknown): string[] => {
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw invalidParameter(`${prefix}: ${k}: expected a list of strings`);
    return v as string[];
  };
  const str = (k: string, v: unknown): string => {
    if (typeof v !== 'string') throw invalidParameter(`${prefix}: ${k}: expected a string`);
    return v;
  };
  const bool = (k: string, v: unknown): boolean => {
    if (typeof v !== 'boolean') throw invalidParameter(`${prefix}: ${k}: expected true or false`);
    return v;
  };
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    switch (k) {
      case 'data-root': out.dataRoot = str(k, v); break;
      case 'exec-root': out.execRoot = str(k, v); break;
      case 'hosts': out.hosts = strList(k, v); break;
      case 'pidfile': out.pidfile = str(k, v); break;
      case 'registry-mirrors': out.registryMirrors = strList(k, v); break;
      case 'insecure-registries': out.insecureRegistries = strList(k, v); break;
      case 'log-level': out.logLevel = str(k, v) as DaemonConfig['logLevel']; break;
      case 'log-driver': out.logDriver = str(k, v); break;
      case 'log-opts': {
        if (typeof v !== 'object' || v === null || Array.isArray(v) || Object.values(v).some((x) => typeof x !== 'string')) throw invalidParameter(`${prefix}: log-opts: expected an object of strings`);
        out.logOpts = v as Record<string, string>;
        break;
      }
      case 'default-ulimits': {
        if (typeof v !== 'object' || v === null || Array.isArray(v)) throw invalidParameter(`${prefix}: default-ulimits: expected an object`);
        out.defaultUlimits = Object.entries(v as Record<string, { Name?: string; Soft?: number; Hard?: number }>).map(([name, u]) => {
          if (!Number.isInteger(u?.Soft) || !Number.isInteger(u?.Hard)) throw invalidParameter(`${prefix}: default-ulimits.${name}: expected {"Name", "Soft", "Hard"} with whole numbers`);
          if (u.Soft! > u.Hard!) throw invalidParameter(`${prefix}: default-ulimits.${name}: ulimit soft limit must be less than or equal to hard limit: ${u.Soft} > ${u.Hard}`);
          return { Name: u.Name ?? name, Soft: u.Soft!, Hard: u.Hard! };
        });
        break;
      }
      case 'live-restore': out.liveRestore = bool(k, v); break;
      case 'tls': out.tls = bool(k, v); break;
      case 'tlsverify': out.tlsVerify = bool(k, v); break;
      case 'tlscacert': out.tlsCaCert = str(k, v); break;
      case 'tlscert': out.tlsCert = str(k, v); break;
      case 'tlskey': out.tlsKey = str(k, v); break;
      case 'cgroup-parent': out.cgroupParent = str(k, v); break;
      case 'group': out.group = str(k, v); break;
      case 'bridge': out.bridge = str(k, v); break;
      case 'bip': out.bip = str(k, v); break;
      case 'ip-forward': out.ipForward = bool(k, v); break;
      case 'iptables': out.iptables = bool(k, v); break;
      case 'nft-table': out.nftTable = str(k, v); break;
      case 'exec-retention': out.execRetentionMs = retention(`${prefix}: ${k}`, str(k, v)); break;
      case 'default-address-pools': {
        if (!Array.isArray(v) || v.some((p) => typeof p?.base !== 'string' || typeof p?.size !== 'number')) throw invalidParameter(`${prefix}: default-address-pools: expected [{"base": "10.10.0.0/16", "size": 24}]`);
        out.defaultAddressPools = (v as { base: string; size: number }[]).map((p) => ({ base: p.base, size: p.size }));
        break;
      }
      case 'debug': out.debug = bool(k, v); break;
      default:
        unknown.push(k);
    }
  }
  if (unknown.length) throw invalidParameter(`${prefix}: the following directives don't match any configuration option: ${unknown.sort().join(', ')}`);
  return out;
}

const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'fatal'];

/**
 * Where the defaults move to: BERTH_DATA_ROOT, BERTH_EXEC_ROOT (the socket and pidfile follow
 * it) and BERTH_DAEMON_CONFIG, which the `berth` CLI honours as well (its default socket and
 * the berthd it starts), so a whole installation can live outside /var/lib and /run.
 */
export interface DaemonEnv {
  BERTH_DATA_ROOT?: string | undefined;
  BERTH_EXEC_ROOT?: string | undefined;
  BERTH_DAEMON_CONFIG?: string | undefined;
}

/** Flags, then the config file (the default one only when it exists), then the environment, then defaults. */
export function loadDaemonConfig(
  argv: string[],
  readConfig: (path: string) => string | undefined = readOptional,
  env: DaemonEnv = process.env,
): { config: DaemonConfig; help: boolean; version: boolean } {
  const { values: flags, help, version } = parseFlags(argv);
  const configFile = flags.configFile ?? (env.BERTH_DAEMON_CONFIG || DEFAULTS.configFile);
  const text = readConfig(configFile);
  if (text === undefined && configFile !== DEFAULTS.configFile) throw invalidParameter(`unable to configure the daemon with file ${configFile}: no such file`);
  const file = text === undefined ? {} : parseDaemonJson(text, configFile);
  // As dockerd: a directive given both ways is an error naming each with both values
  // (lists of mirrors and insecure registries are joined instead).
  const conflicts: string[] = [];
  for (const k of Object.keys(flags) as (keyof PartialDaemonConfig)[]) {
    if (k === 'registryMirrors' || k === 'insecureRegistries' || k === 'configFile' || !(k in file)) continue;
    const name = k === 'debug' ? 'debug' : (DIRECTIVES[k] ?? k);
    conflicts.push(`${name}: (from flag: ${goValue(flags[k])}, from file: ${goValue(file[k])})`);
  }
  if (conflicts.length) {
    throw invalidParameter(`unable to configure the daemon with file ${configFile}: the following directives are specified both as a flag and in the configuration file: ${conflicts.sort().join(', ')}`);
  }
  const config: DaemonConfig = {
    dataRoot: flags.dataRoot ?? file.dataRoot ?? (env.BERTH_DATA_ROOT || DEFAULTS.dataRoot),
    execRoot: flags.execRoot ?? file.execRoot ?? (env.BERTH_EXEC_ROOT || DEFAULTS.execRoot),
    hosts: flags.hosts ?? file.hosts ?? [env.BERTH_EXEC_ROOT ? `unix://${env.BERTH_EXEC_ROOT}/berth.sock` : DEFAULTS.host],
    pidfile: flags.pidfile ?? file.pidfile ?? (flags.execRoot ?? file.execRoot ?? env.BERTH_EXEC_ROOT ? `${flags.execRoot ?? file.execRoot ?? env.BERTH_EXEC_ROOT}/berthd.pid` : DEFAULTS.pidfile),
    configFile: text === undefined ? undefined : configFile,
    registryMirrors: [...(file.registryMirrors ?? []), ...(flags.registryMirrors ?? [])],
    insecureRegistries: [...(file.insecureRegistries ?? []), ...(flags.insecureRegistries ?? [])],
    logLevel: flags.debug || file.debug ? 'debug' : (flags.logLevel ?? file.logLevel ?? 'info'),
    logDriver: flags.logDriver ?? file.logDriver ?? 'json-file',
    logOpts: flags.logOpts ?? file.logOpts ?? {},
    defaultUlimits: flags.defaultUlimits ?? file.defaultUlimits,
    liveRestore: flags.liveRestore ?? file.liveRestore ?? true,
    tls: flags.tls ?? file.tls ?? false,
    tlsVerify: flags.tlsVerify ?? file.tlsVerify ?? false,
    tlsCaCert: flags.tlsCaCert ?? file.tlsCaCert,
    tlsCert: flags.tlsCert ?? file.tlsCert,
    tlsKey: flags.tlsKey ?? file.tlsKey,
    cgroupParent: flags.cgroupParent ?? file.cgroupParent,
    group: flags.group ?? file.group,
    bridge: flags.bridge ?? file.bridge,
    bip: flags.bip ?? file.bip,
    defaultAddressPools: flags.defaultAddressPools ?? file.defaultAddressPools,
    ipForward: flags.ipForward ?? file.ipForward ?? true,
    iptables: flags.iptables ?? file.iptables ?? true,
    nftTable: flags.nftTable ?? file.nftTable,
    execRetentionMs: flags.execRetentionMs ?? file.execRetentionMs,
  };
  if (!LOG_LEVELS.includes(config.logLevel)) throw invalidParameter(`unable to parse logging level: ${config.logLevel}`);
  if (!['json-file', 'local', 'none'].includes(config.logDriver)) throw invalidParameter(`logging driver "${config.logDriver}" is not supported (json-file, local, none)`);
  for (const h of config.hosts) {
    if (h.startsWith('tcp://')) {
      if (!config.tlsVerify || !config.tlsCaCert || !config.tlsCert || !config.tlsKey) {
        throw invalidParameter(`refusing to listen on ${h} without TLS: give --tlsverify --tlscacert --tlscert --tlskey`);
      }
    } else if (!h.startsWith('unix://') && !h.startsWith('/')) {
      throw invalidParameter(`invalid host ${h}: expected unix:///path or tcp://host:port`);
    }
  }
  return { config, help, version };
}

function readOptional(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw invalidParameter(`unable to read ${path}: ${(e as Error).message}`);
  }
}
