// docker run / create flags and their mapping onto the API's Config, HostConfig and
// NetworkingConfig, as docker's opts do it (ports, volumes, mounts, devices, ulimits,
// restart policies, memory sizes, health checks, env files). Pure: unit-tested.

import { readFileSync } from 'node:fs';
import type { ContainerCreateBody, DeviceMapping, HostConfig, MountSpec, PortBinding, Ulimit } from '../../api/types/container.js';
import { CliError } from '../cli.js';
import type { FlagSpec, FlagValues } from '../flags.js';
import { parseDuration, parseHumanSize, parseRamBytes } from '../output/units.js';

const s = (name: string, help: string, short?: string, value = 'string'): FlagSpec => ({ name, type: 'string', help, value, ...(short ? { short } : {}) });
const l = (name: string, help: string, short?: string, value = 'list'): FlagSpec => ({ name, type: 'list', help, value, ...(short ? { short } : {}) });
const b = (name: string, help: string, short?: string): FlagSpec => ({ name, type: 'bool', help, ...(short ? { short } : {}) });

/** The flags create and run share. */
export const CREATE_FLAGS: FlagSpec[] = [
  l('add-host', 'Add a custom host-to-IP mapping (host:ip)'),
  l('annotation', 'Add an annotation to the container (passed through to the OCI runtime)', undefined, 'map'),
  l('attach', 'Attach to STDIN, STDOUT or STDERR', 'a'),
  { name: 'blkio-weight', type: 'int', help: 'Block IO (relative weight), between 10 and 1000, or 0 to disable', value: 'uint16' },
  l('cap-add', 'Add Linux capabilities'),
  l('cap-drop', 'Drop Linux capabilities'),
  s('cgroup-parent', 'Optional parent cgroup for the container'),
  s('cgroupns', 'Cgroup namespace to use (host|private)'),
  s('cidfile', 'Write the container ID to the file'),
  { name: 'cpu-period', type: 'int', help: 'Limit CPU CFS (Completely Fair Scheduler) period' },
  { name: 'cpu-quota', type: 'int', help: 'Limit CPU CFS (Completely Fair Scheduler) quota' },
  { name: 'cpu-shares', short: 'c', type: 'int', help: 'CPU shares (relative weight)' },
  { name: 'cpus', type: 'float', help: 'Number of CPUs' },
  s('cpuset-cpus', 'CPUs in which to allow execution (0-3, 0,1)'),
  s('cpuset-mems', 'MEMs in which to allow execution (0-3, 0,1)'),
  l('device', 'Add a host device to the container'),
  l('device-cgroup-rule', 'Add a rule to the cgroup allowed devices list'),
  l('dns', 'Set custom DNS servers'),
  s('egress-rate', "Limit the container's outgoing bandwidth (Berth's own; e.g. 500kbit, 8mbit, 1gbit)", undefined, 'rate'),
  l('dns-option', 'Set DNS options'),
  l('dns-search', 'Set custom DNS search domains'),
  s('domainname', 'Container NIS domain name'),
  s('entrypoint', 'Overwrite the default ENTRYPOINT of the image'),
  l('env', 'Set environment variables', 'e'),
  l('env-file', 'Read in a file of environment variables'),
  l('expose', 'Expose a port or a range of ports'),
  l('group-add', 'Add additional groups to join'),
  s('health-cmd', 'Command to run to check health'),
  s('health-interval', 'Time between running the check (ms|s|m|h) (default 0s)', undefined, 'duration'),
  { name: 'health-retries', type: 'int', help: 'Consecutive failures needed to report unhealthy' },
  s('health-start-interval', 'Time between running the check during the start period (ms|s|m|h) (default 0s)', undefined, 'duration'),
  s('health-start-period', 'Start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)', undefined, 'duration'),
  s('health-timeout', 'Maximum time to allow one check to run (ms|s|m|h) (default 0s)', undefined, 'duration'),
  s('hostname', 'Container host name', 'h'),
  s('ingress-rate', "Limit the container's incoming bandwidth (Berth's own; e.g. 500kbit, 8mbit, 1gbit)", undefined, 'rate'),
  b('init', 'Run an init inside the container that forwards signals and reaps processes'),
  b('interactive', 'Keep STDIN open even if not attached', 'i'),
  s('ip', 'IPv4 address (e.g., 172.30.100.104)'),
  s('ip6', 'IPv6 address (e.g., 2001:db8::33)'),
  s('ipc', 'IPC mode to use'),
  s('isolation', 'Container isolation technology'),
  l('label', 'Set meta data on a container', 'l'),
  l('label-file', 'Read in a line delimited file of labels'),
  l('link', 'Add link to another container'),
  s('log-driver', 'Logging driver for the container'),
  l('log-opt', 'Log driver options'),
  s('mac-address', 'Container MAC address (e.g., 92:d0:c6:0a:29:33)'),
  s('memory', 'Memory limit', 'm', 'bytes'),
  s('memory-reservation', 'Memory soft limit', undefined, 'bytes'),
  s('memory-swap', "Swap limit equal to memory plus swap: '-1' to enable unlimited swap", undefined, 'bytes'),
  { name: 'memory-swappiness', type: 'int', help: 'Tune container memory swappiness (0 to 100)', default: -1 },
  l('mount', 'Attach a filesystem mount to the container', undefined, 'mount'),
  s('name', 'Assign a name to the container'),
  s('network', 'Connect a container to a network', undefined, 'network'),
  l('network-alias', 'Add network-scoped alias for the container'),
  b('no-healthcheck', 'Disable any container-specified HEALTHCHECK'),
  b('oom-kill-disable', 'Disable OOM Killer'),
  { name: 'oom-score-adj', type: 'int', help: "Tune host's OOM preferences (-1000 to 1000)" },
  s('pid', 'PID namespace to use'),
  { name: 'pids-limit', type: 'int', help: 'Tune container pids limit (set -1 for unlimited)' },
  s('platform', 'Set platform if server is multi-platform capable'),
  b('privileged', 'Give extended privileges to this container'),
  l('publish', "Publish a container's port(s) to the host", 'p'),
  b('publish-all', 'Publish all exposed ports to random ports', 'P'),
  { name: 'pull', type: 'string', help: 'Pull image before running ("always", "missing", "never")', default: 'missing', value: 'string' },
  b('quiet', 'Suppress the pull output', 'q'),
  b('read-only', "Mount the container's root filesystem as read only"),
  { name: 'restart', type: 'string', help: 'Restart policy to apply when a container exits', default: 'no', value: 'string' },
  b('rm', 'Automatically remove the container and its associated anonymous volumes when it exits'),
  s('runtime', 'Runtime to use for this container'),
  l('security-opt', 'Security Options'),
  s('shm-size', 'Size of /dev/shm', undefined, 'bytes'),
  s('stop-signal', 'Signal to stop the container'),
  { name: 'stop-timeout', type: 'int', help: 'Timeout (in seconds) to stop a container' },
  l('storage-opt', 'Storage driver options for the container'),
  l('sysctl', 'Sysctl options', undefined, 'map'),
  l('tmpfs', 'Mount a tmpfs directory'),
  b('tty', 'Allocate a pseudo-TTY', 't'),
  l('ulimit', 'Ulimit options', undefined, 'ulimit'),
  s('user', 'Username or UID (format: <name|uid>[:<group|gid>])', 'u'),
  s('userns', 'User namespace to use'),
  s('uts', 'UTS namespace to use'),
  l('volume', 'Bind mount a volume', 'v'),
  s('volume-driver', 'Optional volume driver for the container'),
  l('volumes-from', 'Mount volumes from the specified container(s)'),
  s('workdir', 'Working directory inside the container', 'w'),
];

/** Only `run` has these. */
export const RUN_ONLY_FLAGS: FlagSpec[] = [
  b('detach', 'Run container in background and print container ID', 'd'),
  s('detach-keys', 'Override the key sequence for detaching a container'),
  { name: 'sig-proxy', type: 'bool', help: 'Proxy received signals to the process', default: true },
];

export interface CreateRequest {
  body: ContainerCreateBody;
  name?: string;
  platform?: string;
  pull: 'missing' | 'always' | 'never';
  cidfile?: string;
}

function bad(msg: string): CliError {
  return new CliError(`berth: ${msg}\n\nRun 'berth run --help' for more information`, 125);
}

/** An env file: KEY=VALUE lines, # comments, a bare KEY taken from the environment. */
export function parseEnvFile(text: string, env: Record<string, string | undefined>, path = 'env file'): string[] {
  const out: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/^\s+/, '');
    if (!line || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    const key = eq >= 0 ? line.slice(0, eq) : line.trimEnd();
    if (!key || /\s/.test(key)) throw bad(`variable '${key}' contains whitespaces (in ${path})`);
    if (eq >= 0) out.push(line);
    else if (env[key] !== undefined) out.push(`${key}=${env[key]}`);
  }
  return out;
}

function envValue(e: string, env: Record<string, string | undefined>): string | undefined {
  if (e.includes('=')) return e;
  const v = env[e];
  return v === undefined ? undefined : `${e}=${v}`;
}

/** "8080:80", "127.0.0.1:8080:80/udp", "8000-8001:80-81", "80", "[::1]:80:80". */
export function parsePortSpec(spec: string): { port: string; binding: PortBinding }[] {
  let proto = 'tcp';
  let rest = spec;
  const slash = rest.lastIndexOf('/');
  if (slash >= 0) {
    proto = rest.slice(slash + 1).toLowerCase();
    rest = rest.slice(0, slash);
  }
  if (!['tcp', 'udp', 'sctp'].includes(proto)) throw bad(`invalid proto: ${proto}`);
  let ip = '';
  let hostPart = '';
  let containerPart: string;
  const v6 = /^\[([^\]]+)\]:(.*)$/.exec(rest);
  if (v6) {
    ip = v6[1]!;
    const parts = v6[2]!.split(':');
    if (parts.length !== 2) throw bad(`invalid port format for --publish: ${spec}`);
    hostPart = parts[0]!;
    containerPart = parts[1]!;
  } else {
    const parts = rest.split(':');
    if (parts.length === 1) containerPart = parts[0]!;
    else if (parts.length === 2) {
      hostPart = parts[0]!;
      containerPart = parts[1]!;
    } else if (parts.length === 3) {
      ip = parts[0]!;
      hostPart = parts[1]!;
      containerPart = parts[2]!;
    } else throw bad(`invalid port format for --publish: ${spec}`);
  }
  const range = (r: string, what: string): [number, number] => {
    const m = /^(\d+)(?:-(\d+))?$/.exec(r);
    if (!m) throw bad(`invalid ${what}Port: ${r}`);
    const a = Number(m[1]);
    const z = m[2] ? Number(m[2]) : a;
    if (a < 0 || a > 65535 || z > 65535 || z < a) throw bad(`invalid ${what}Port: ${r}`);
    return [a, z];
  };
  const [c0, c1] = range(containerPart, 'container');
  const host = hostPart ? range(hostPart, 'host') : undefined;
  const n = c1 - c0 + 1;
  if (host && host[1] - host[0] + 1 !== n && host[0] !== host[1]) throw bad(`invalid ranges specified for container and host Ports: ${containerPart} and ${hostPart}`);
  const out: { port: string; binding: PortBinding }[] = [];
  for (let i = 0; i < n; i++) {
    let hp = '';
    if (host) hp = host[0] === host[1] ? (n === 1 ? String(host[0]) : `${host[0]}`) : String(host[0] + i);
    if (host && host[0] === host[1] && n > 1) hp = String(host[0]);
    out.push({ port: `${c0 + i}/${proto}`, binding: { HostIp: ip, HostPort: hp } });
  }
  return out;
}

/** "nofile=1024:2048" → {Name, Soft, Hard}. */
export function parseUlimit(v: string): Ulimit {
  const m = /^([a-z]+)=(-?\d+)(?::(-?\d+))?$/.exec(v);
  if (!m) throw bad(`invalid ulimit argument: ${v}`);
  const soft = Number(m[2]);
  const hard = m[3] !== undefined ? Number(m[3]) : soft;
  if (soft > hard && hard !== -1) throw bad(`ulimit soft limit must be less than or equal to hard limit: ${soft} > ${hard}`);
  return { Name: m[1]!, Soft: soft, Hard: hard };
}

/** "/dev/sda:/dev/xvda:rwm". */
export function parseDevice(v: string): DeviceMapping {
  const parts = v.split(':');
  let perms = 'rwm';
  let src = parts[0]!;
  let dst = src;
  if (parts.length === 2) {
    if (/^[rwm]+$/.test(parts[1]!)) perms = parts[1]!;
    else dst = parts[1]!;
  } else if (parts.length === 3) {
    dst = parts[1]!;
    perms = parts[2]!;
    if (!/^[rwm]+$/.test(perms)) throw bad(`invalid device mode: ${perms}`);
  } else if (parts.length > 3) throw bad(`invalid device specification: ${v}`);
  if (!src) throw bad(`invalid device specification: ${v}`);
  src = src.trim();
  return { PathOnHost: src, PathInContainer: dst, CgroupPermissions: perms };
}

/** "on-failure:3", "always", "unless-stopped", "no". */
export function parseRestart(v: string): { Name: string; MaximumRetryCount: number } {
  if (!v) return { Name: 'no', MaximumRetryCount: 0 };
  const [name, count] = v.split(':');
  if (!['no', 'always', 'unless-stopped', 'on-failure'].includes(name!)) throw bad(`invalid restart policy: ${v}`);
  if (count !== undefined) {
    if (name !== 'on-failure') throw bad(`invalid restart policy format: maximum retry count can only be used with 'on-failure'`);
    if (!/^\d+$/.test(count)) throw bad(`invalid restart policy format: maximum retry count must be an integer`);
  }
  return { Name: name!, MaximumRetryCount: count ? Number(count) : 0 };
}

/** --mount type=bind,source=/a,target=/b,readonly. */
export function parseMount(v: string): MountSpec {
  const m: MountSpec = { Type: 'volume' };
  const fields = v.split(',');
  for (const f of fields) {
    const eq = f.indexOf('=');
    const key = (eq >= 0 ? f.slice(0, eq) : f).trim().toLowerCase();
    const val = eq >= 0 ? f.slice(eq + 1) : undefined;
    const truth = (): boolean => {
      if (val === undefined) return true;
      if (['1', 'true', 't'].includes(val.toLowerCase())) return true;
      if (['0', 'false', 'f'].includes(val.toLowerCase())) return false;
      throw bad(`invalid value for ${key}: ${val}`);
    };
    switch (key) {
      case 'type':
        m.Type = val ?? '';
        break;
      case 'source':
      case 'src':
        m.Source = val ?? '';
        break;
      case 'target':
      case 'dst':
      case 'destination':
        m.Target = val ?? '';
        break;
      case 'readonly':
      case 'ro':
        m.ReadOnly = truth();
        break;
      case 'consistency':
        m.Consistency = val ?? '';
        break;
      case 'bind-propagation':
        m.BindOptions = { ...(m.BindOptions ?? {}), Propagation: val ?? '' };
        break;
      case 'bind-nonrecursive':
        m.BindOptions = { ...(m.BindOptions ?? {}), NonRecursive: truth() };
        break;
      case 'volume-nocopy':
        m.VolumeOptions = { ...(m.VolumeOptions ?? {}), NoCopy: truth() };
        break;
      case 'volume-subpath':
        m.VolumeOptions = { ...(m.VolumeOptions ?? {}), Subpath: val ?? '' };
        break;
      case 'volume-driver':
        m.VolumeOptions = { ...(m.VolumeOptions ?? {}), DriverConfig: { ...(m.VolumeOptions?.DriverConfig ?? {}), Name: val ?? '' } };
        break;
      case 'volume-label': {
        const [k, x] = (val ?? '').split(/=(.*)/s);
        m.VolumeOptions = { ...(m.VolumeOptions ?? {}), Labels: { ...(m.VolumeOptions?.Labels ?? {}), [k!]: x ?? '' } };
        break;
      }
      case 'volume-opt': {
        const [k, x] = (val ?? '').split(/=(.*)/s);
        const dc = m.VolumeOptions?.DriverConfig ?? {};
        m.VolumeOptions = { ...(m.VolumeOptions ?? {}), DriverConfig: { ...dc, Options: { ...(dc.Options ?? {}), [k!]: x ?? '' } } };
        break;
      }
      case 'tmpfs-size':
        m.TmpfsOptions = { ...(m.TmpfsOptions ?? {}), SizeBytes: parseRamBytes(val ?? '') };
        break;
      case 'tmpfs-mode':
        m.TmpfsOptions = { ...(m.TmpfsOptions ?? {}), Mode: parseInt(val ?? '', 8) };
        break;
      default:
        throw bad(`invalid argument "${v}" for "--mount" flag: unexpected key '${key}' in '${f}'`);
    }
  }
  if (!m.Target) throw bad(`invalid argument "${v}" for "--mount" flag: target is required`);
  return m;
}

function bytesFlag(v: unknown, name: string): number | undefined {
  if (v === undefined || v === '') return undefined;
  if (v === '-1') return -1;
  try {
    return parseRamBytes(String(v));
  } catch {
    throw bad(`invalid argument "${String(v)}" for "--${name}" flag: invalid size: '${String(v)}'`);
  }
}

function durationFlag(v: unknown, name: string): number | undefined {
  if (v === undefined || v === '') return undefined;
  try {
    const ns = parseDuration(String(v));
    if (ns < 0) throw new Error('negative');
    return ns;
  } catch {
    throw bad(`invalid argument "${String(v)}" for "--${name}" flag: time: invalid duration "${String(v)}"`);
  }
}

function keyValues(list: string[], what: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const x of list) {
    const eq = x.indexOf('=');
    if (eq <= 0) throw bad(`invalid argument "${x}" for "--${what}" flag: ${what} must be of the form key=value`);
    out[x.slice(0, eq)] = x.slice(eq + 1);
  }
  return out;
}

/** Maps parsed run/create flags and IMAGE [COMMAND] [ARG...] to the create request. */
export function buildCreateRequest(
  f: FlagValues,
  changed: Set<string>,
  positional: string[],
  env: Record<string, string | undefined>,
  opts: { readFile?: (p: string) => string; consoleSize?: [number, number]; run?: boolean } = {},
): CreateRequest {
  const readFile = opts.readFile ?? ((p: string) => readFileSync(p, 'utf8'));
  const [image, ...cmd] = positional;
  if (!image) throw bad('"create" requires at least 1 argument.');
  const list = (k: string): string[] => (f[k] as string[] | undefined) ?? [];
  const str = (k: string): string | undefined => (f[k] === undefined || f[k] === '' ? undefined : String(f[k]));

  const detach = Boolean(f.detach);
  const attach = list('attach').map((a) => a.toLowerCase());
  for (const a of attach) if (!['stdin', 'stdout', 'stderr'].includes(a)) throw bad(`invalid argument "${a}" for "-a, --attach" flag: valid streams are STDIN, STDOUT and STDERR`);
  if (detach && attach.length) throw bad('Conflicting options: -a and -d');
  const interactive = Boolean(f.interactive);
  let attachStdin = attach.includes('stdin');
  let attachStdout = attach.includes('stdout');
  let attachStderr = attach.includes('stderr');
  if (opts.run && !detach && attach.length === 0) {
    attachStdout = true;
    attachStderr = true;
    attachStdin = interactive;
  }
  if (!opts.run && attach.length === 0) {
    attachStdout = !detach;
    attachStderr = !detach;
    attachStdin = interactive && !detach;
  }

  // Environment: env files first, then -e.
  const envList: string[] = [];
  for (const file of list('env-file')) {
    let text: string;
    try {
      text = readFile(file);
    } catch (e) {
      throw bad(`open ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (e as Error).message}`);
    }
    envList.push(...parseEnvFile(text, env, file));
  }
  for (const e of list('env')) {
    const v = envValue(e, env);
    if (v !== undefined) envList.push(v);
  }

  const labels: Record<string, string> = {};
  for (const file of list('label-file')) {
    for (const line of readFile(file).split(/\r?\n/)) {
      const t = line.trim();
      if (!t || t.startsWith('#')) continue;
      const eq = t.indexOf('=');
      labels[eq >= 0 ? t.slice(0, eq) : t] = eq >= 0 ? t.slice(eq + 1) : '';
    }
  }
  for (const x of list('label')) {
    const eq = x.indexOf('=');
    labels[eq >= 0 ? x.slice(0, eq) : x] = eq >= 0 ? x.slice(eq + 1) : '';
  }

  // Ports.
  const exposed: Record<string, Record<string, never>> = {};
  const bindings: Record<string, PortBinding[]> = {};
  for (const p of list('publish')) {
    for (const { port, binding } of parsePortSpec(p)) {
      exposed[port] = {};
      (bindings[port] ??= []).push(binding);
    }
  }
  for (const e of list('expose')) {
    const [range, proto = 'tcp'] = e.split('/');
    const m = /^(\d+)(?:-(\d+))?$/.exec(range ?? '');
    if (!m) throw bad(`invalid range format for --expose: ${e}`);
    for (let pn = Number(m[1]); pn <= Number(m[2] ?? m[1]); pn++) exposed[`${pn}/${proto}`] = {};
  }

  // Volumes: anonymous (/path) or binds (src:dst[:opts]).
  const volumes: Record<string, Record<string, never>> = {};
  const binds: string[] = [];
  for (const v of list('volume')) {
    const parts = v.split(':');
    if (parts.length === 1) {
      if (!v.startsWith('/')) throw bad(`invalid volume specification: '${v}': invalid mount config for type "volume": invalid mount path: '${v}' mount path must be absolute`);
      volumes[v] = {};
    } else if (parts.length <= 3) {
      if (!parts[1]!.startsWith('/')) throw bad(`invalid volume specification: '${v}'`);
      binds.push(v);
    } else throw bad(`invalid volume specification: '${v}'`);
  }

  const tmpfs: Record<string, string> = {};
  for (const t of list('tmpfs')) {
    const i = t.indexOf(':');
    tmpfs[i >= 0 ? t.slice(0, i) : t] = i >= 0 ? t.slice(i + 1) : '';
  }

  const logOpts = keyValues(list('log-opt'), 'log-opt');
  const sysctls = keyValues(list('sysctl'), 'sysctl');
  const annotations = keyValues(list('annotation'), 'annotation');
  const storageOpt = keyValues(list('storage-opt'), 'storage-opt');

  // Health check.
  let healthcheck: ContainerCreateBody['Healthcheck'];
  const hcChanged = ['health-cmd', 'health-interval', 'health-timeout', 'health-retries', 'health-start-period', 'health-start-interval'].some((k) => changed.has(k));
  if (f['no-healthcheck']) {
    if (hcChanged) throw bad('--no-healthcheck conflicts with --health-* options');
    healthcheck = { Test: ['NONE'] };
  } else if (hcChanged) {
    healthcheck = {};
    if (str('health-cmd')) healthcheck.Test = ['CMD-SHELL', str('health-cmd')!];
    const iv = durationFlag(f['health-interval'], 'health-interval');
    const to = durationFlag(f['health-timeout'], 'health-timeout');
    const sp = durationFlag(f['health-start-period'], 'health-start-period');
    const si = durationFlag(f['health-start-interval'], 'health-start-interval');
    if (iv !== undefined) healthcheck.Interval = iv;
    if (to !== undefined) healthcheck.Timeout = to;
    if (sp !== undefined) healthcheck.StartPeriod = sp;
    if (si !== undefined) healthcheck.StartInterval = si;
    if (f['health-retries'] !== undefined) {
      if ((f['health-retries'] as number) < 0) throw bad('--health-retries cannot be negative');
      healthcheck.Retries = f['health-retries'] as number;
    }
  }

  const memory = bytesFlag(f.memory, 'memory');
  const memorySwap = bytesFlag(f['memory-swap'], 'memory-swap');
  const memoryReservation = bytesFlag(f['memory-reservation'], 'memory-reservation');
  const shmSize = bytesFlag(f['shm-size'], 'shm-size');
  if (changed.has('cpus') && (changed.has('cpu-period') || changed.has('cpu-quota')))
    throw bad('Conflicting options: Nano CPUs and CPU Period cannot both be set');

  let entrypoint: string[] | undefined;
  if (str('entrypoint') !== undefined) entrypoint = [str('entrypoint')!];
  else if (changed.has('entrypoint')) entrypoint = [''];

  const network = str('network') ?? 'default';
  const hc: HostConfig = {
    Binds: binds.length ? binds : null,
    ContainerIDFile: str('cidfile') ?? '',
    LogConfig: { Type: str('log-driver') ?? '', Config: Object.keys(logOpts).length ? logOpts : {} },
    NetworkMode: network,
    PortBindings: bindings,
    RestartPolicy: parseRestart((f.restart as string) ?? 'no'),
    AutoRemove: Boolean(f.rm),
    VolumeDriver: str('volume-driver') ?? '',
    VolumesFrom: list('volumes-from').length ? list('volumes-from') : null,
    ConsoleSize: opts.consoleSize ?? [0, 0],
    CapAdd: list('cap-add').length ? list('cap-add') : null,
    CapDrop: list('cap-drop').length ? list('cap-drop') : null,
    CgroupnsMode: str('cgroupns') ?? '',
    Dns: list('dns'),
    DnsOptions: list('dns-option'),
    DnsSearch: list('dns-search'),
    ExtraHosts: list('add-host').length ? list('add-host').map((h) => h.replace(/^([^:]+)=/, '$1:')) : null,
    GroupAdd: list('group-add').length ? list('group-add') : null,
    IpcMode: str('ipc') ?? '',
    Cgroup: '',
    Links: list('link').length ? list('link') : null,
    OomScoreAdj: (f['oom-score-adj'] as number | undefined) ?? 0,
    PidMode: str('pid') ?? '',
    Privileged: Boolean(f.privileged),
    PublishAllPorts: Boolean(f['publish-all']),
    ReadonlyRootfs: Boolean(f['read-only']),
    SecurityOpt: list('security-opt').length ? list('security-opt') : null,
    UTSMode: str('uts') ?? '',
    UsernsMode: str('userns') ?? '',
    ShmSize: shmSize ?? 0,
    Isolation: str('isolation') ?? '',
    CpuShares: (f['cpu-shares'] as number | undefined) ?? 0,
    Memory: memory ?? 0,
    NanoCpus: changed.has('cpus') ? Math.round((f.cpus as number) * 1e9) : 0,
    CgroupParent: str('cgroup-parent') ?? '',
    BlkioWeight: (f['blkio-weight'] as number | undefined) ?? 0,
    CpuPeriod: (f['cpu-period'] as number | undefined) ?? 0,
    CpuQuota: (f['cpu-quota'] as number | undefined) ?? 0,
    CpusetCpus: str('cpuset-cpus') ?? '',
    CpusetMems: str('cpuset-mems') ?? '',
    Devices: list('device').map(parseDevice),
    DeviceCgroupRules: list('device-cgroup-rule').length ? list('device-cgroup-rule') : null,
    MemoryReservation: memoryReservation ?? 0,
    MemorySwap: memorySwap ?? 0,
    MemorySwappiness: (f['memory-swappiness'] as number | undefined) === -1 || f['memory-swappiness'] === undefined ? null : (f['memory-swappiness'] as number),
    OomKillDisable: changed.has('oom-kill-disable') ? Boolean(f['oom-kill-disable']) : null,
    PidsLimit: changed.has('pids-limit') ? (f['pids-limit'] as number) : null,
    Ulimits: list('ulimit').length ? list('ulimit').map(parseUlimit) : null,
  };
  if (list('mount').length) hc.Mounts = list('mount').map(parseMount);
  if (Object.keys(tmpfs).length) hc.Tmpfs = tmpfs;
  if (Object.keys(sysctls).length) hc.Sysctls = sysctls;
  if (Object.keys(annotations).length) hc.Annotations = annotations;
  if (Object.keys(storageOpt).length) hc.StorageOpt = storageOpt;
  if (changed.has('init')) hc.Init = Boolean(f.init);
  if (str('runtime')) hc.Runtime = str('runtime')!;
  // Berth's bandwidth limits; berthd parses and checks the rate.
  if (str('egress-rate')) hc.BerthEgressRate = str('egress-rate')!;
  if (str('ingress-rate')) hc.BerthIngressRate = str('ingress-rate')!;

  const body: ContainerCreateBody = {
    Hostname: str('hostname') ?? '',
    Domainname: str('domainname') ?? '',
    User: str('user') ?? '',
    AttachStdin: attachStdin,
    AttachStdout: attachStdout,
    AttachStderr: attachStderr,
    Tty: Boolean(f.tty),
    OpenStdin: interactive,
    StdinOnce: Boolean(opts.run) && attachStdin && interactive,
    Env: envList,
    Cmd: cmd.length ? cmd : null,
    Image: image,
    Volumes: Object.keys(volumes).length ? volumes : {},
    WorkingDir: str('workdir') ?? '',
    Entrypoint: entrypoint ?? null,
    Labels: labels,
    HostConfig: hc,
  };
  if (Object.keys(exposed).length) body.ExposedPorts = exposed;
  if (healthcheck) body.Healthcheck = healthcheck;
  if (str('stop-signal')) body.StopSignal = str('stop-signal')!;
  if (changed.has('stop-timeout')) body.StopTimeout = f['stop-timeout'] as number;
  if (str('mac-address')) (body as Record<string, unknown>).MacAddress = str('mac-address');

  const aliases = list('network-alias');
  const ip = str('ip');
  const ip6 = str('ip6');
  if (aliases.length || ip || ip6) {
    const netName = network === 'default' ? 'bridge' : network;
    const ep: Record<string, unknown> = {};
    if (aliases.length) ep.Aliases = aliases;
    if (ip || ip6) ep.IPAMConfig = { ...(ip ? { IPv4Address: ip } : {}), ...(ip6 ? { IPv6Address: ip6 } : {}) };
    body.NetworkingConfig = { EndpointsConfig: { [netName]: ep as never } };
  }

  const pull = (f.pull as string | undefined) ?? 'missing';
  if (!['missing', 'always', 'never'].includes(pull)) throw bad(`invalid pull option: '${pull}': must be one of "always", "missing" or "never"`);
  const req: CreateRequest = { body, pull: pull as CreateRequest['pull'] };
  if (str('name')) req.name = str('name')!;
  if (str('platform')) req.platform = str('platform')!;
  if (str('cidfile')) req.cidfile = str('cidfile')!;
  void parseHumanSize;
  return req;
}
