// version, info, events, system df, system prune.

import type { DiskUsage, EventMessage, SystemInfo, SystemVersion } from '../../api/types/system.js';
import { CLIENT_API_VERSION } from '../../client/client.js';
import { ApiError, ConnectionError } from '../../client/errors.js';
import type { Cli, CommandDef } from '../cli.js';
import { CliError } from '../cli.js';
import { confirmPrune, filterFlag, formatFlag, parseFilterArgs, parseTimestamp, pruneForceFlag } from './common.js';
import { renderFormat } from '../output/format.js';
import { tabwrite } from '../output/tabwriter.js';
import { bytesSize, humanSize } from '../output/units.js';
import { compileTemplate } from '../template/index.js';
import { BERTH_CLI_VERSION } from '../version.js';

const VERSION_TEMPLATE = `{{with .Client -}}
Client:{{if ne .Platform.Name ""}} {{.Platform.Name}}{{end}}
 Version:\t{{.Version}}
 API version:\t{{.APIVersion}}{{if ne .APIVersion .DefaultAPIVersion}} (downgraded from {{.DefaultAPIVersion}}){{end}}
 Node version:\t{{.NodeVersion}}
 OS/Arch:\t{{.Os}}/{{.Arch}}
 Context:\t{{.Context}}
{{- end}}

{{- if ne .Server nil}}{{with .Server}}

Server:{{if ne .Platform.Name ""}} {{.Platform.Name}}{{end}}
 {{- range $component := .Components}}
 {{$component.Name}}:
  {{- if eq $component.Name "Engine" }}
  Version:\t{{.Version}}
  API version:\t{{index .Details "ApiVersion"}} (minimum version {{index .Details "MinAPIVersion"}})
  Go version:\t{{index .Details "GoVersion"}}
  Git commit:\t{{index .Details "GitCommit"}}
  Built:\t{{index .Details "BuildTime"}}
  OS/Arch:\t{{index .Details "Os"}}/{{index .Details "Arch"}}
  Experimental:\t{{index .Details "Experimental"}}
  {{- with index .Details "KernelVersion" }}
  Kernel Version:\t{{.}}
  {{- end}}
  {{- else }}
  Version:\t{{$component.Version}}
  {{- range $key, $value := $component.Details}}
  {{$key}}:\t{{$value}}
  {{- end}}
  {{- end}}
 {{- end}}
 {{- end}}{{- end}}`;

export const versionDef: CommandDef = {
  usage: 'version [OPTIONS]',
  summary: 'Show the Berth version information',
  flags: [formatFlag('Format output using a custom template:\n\'json\':             Print in JSON format\n\'TEMPLATE\':         Print output using the given Go template')],
  maxArgs: 0,
};

function arch(): string {
  return process.arch === 'x64' ? 'amd64' : process.arch;
}

export async function version(cli: Cli, args: string[]): Promise<void> {
  const p = cli.parse(versionDef, args);
  const format = (p.flags.format as string | undefined) ?? '';
  const client = await cli.client();
  const data: Record<string, unknown> = {
    Client: {
      Platform: { Name: 'Berth' },
      Version: BERTH_CLI_VERSION,
      APIVersion: CLIENT_API_VERSION,
      DefaultAPIVersion: CLIENT_API_VERSION,
      GoVersion: '',
      NodeVersion: process.version,
      GitCommit: '',
      BuildTime: '',
      Os: process.platform,
      Arch: arch(),
      Context: 'default',
    },
    Server: null,
  };
  let failure: unknown;
  try {
    await client.negotiate();
    const v = await client.get<SystemVersion>('/version');
    (data.Client as Record<string, unknown>).APIVersion = client.apiVersion;
    data.Server = {
      ...v,
      APIVersion: v.ApiVersion,
      MinAPIVersion: v.MinAPIVersion,
      Components: (v.Components ?? []).map((c) => ({ ...c, Details: c.Details ?? {} })),
      Platform: v.Platform ?? { Name: '' },
    };
  } catch (e) {
    failure = e;
  }
  let out: string;
  if (format === 'json') out = `${JSON.stringify(data)}\n`;
  else if (format) out = `${compileTemplate(format.replace(/\\t/g, '\t').replace(/\\n/g, '\n')).execute(data)}\n`;
  else out = tabwrite(`${compileTemplate(VERSION_TEMPLATE).execute(data)}\n`, { minwidth: 20, padding: 1 });
  cli.out(out);
  if (failure) throw failure;
}

export const infoDef: CommandDef = {
  usage: 'info [OPTIONS]',
  summary: 'Display system-wide information',
  flags: [formatFlag('Format output using a custom template')],
  maxArgs: 0,
};

export async function info(cli: Cli, args: string[]): Promise<void> {
  const p = cli.parse(infoDef, args);
  const format = (p.flags.format as string | undefined) ?? '';
  const client = await cli.client();
  const clientInfo = { Debug: Boolean(cli.opts.debug), Version: BERTH_CLI_VERSION, Context: 'default', Plugins: [], Warnings: null };
  let server: SystemInfo | undefined;
  let failure: unknown;
  try {
    server = await client.get<SystemInfo>('/info');
  } catch (e) {
    if (!(e instanceof ApiError || e instanceof ConnectionError) || format) throw e;
    failure = e;
  }
  if (format) {
    const data = { ...(server ?? {}), ClientInfo: clientInfo, ServerErrors: null, ClientErrors: null };
    cli.out(format === 'json' ? `${JSON.stringify(data)}\n` : `${compileTemplate(format.replace(/\\t/g, '\t').replace(/\\n/g, '\n')).execute(data)}\n`);
    return;
  }
  let out = `Client:\n${tabwrite(` Version:\t${BERTH_CLI_VERSION}\n Context:\tdefault\n Debug Mode:\t${clientInfo.Debug}\n`, { minwidth: 0, padding: 1 })}\n`;
  if (!server) {
    cli.out(`${out}Server:\n`);
    cli.err(`ERROR: ${(failure as Error).message}\nerrors pretty printing info\n`);
    throw new CliError('', 1);
  }
  out += 'Server:\n';
  out += prettyServerInfo(server);
  cli.out(out);
  for (const w of server.Warnings ?? []) cli.err(`${w}\n`);
}

export function prettyServerInfo(s: SystemInfo): string {
  const l: string[] = [];
  const add = (k: string, v: unknown, indent = ' '): void => {
    l.push(`${indent}${k}: ${v ?? ''}`);
  };
  add('Containers', s.Containers);
  add('Running', s.ContainersRunning, '  ');
  add('Paused', s.ContainersPaused, '  ');
  add('Stopped', s.ContainersStopped, '  ');
  add('Images', s.Images);
  add('Server Version', s.ServerVersion);
  add('Storage Driver', s.Driver);
  for (const [k, v] of s.DriverStatus ?? []) add(k, v, '  ');
  add('Logging Driver', s.LoggingDriver);
  add('Cgroup Driver', s.CgroupDriver);
  add('Cgroup Version', s.CgroupVersion);
  l.push(' Plugins:');
  add('Volume', (s.Plugins?.Volume ?? []).join(' '), '  ');
  add('Network', (s.Plugins?.Network ?? []).join(' '), '  ');
  add('Log', (s.Plugins?.Log ?? []).join(' '), '  ');
  add('Swarm', s.Swarm?.LocalNodeState || 'inactive');
  add('Runtimes', Object.keys(s.Runtimes ?? {}).sort().join(' '));
  add('Default Runtime', s.DefaultRuntime);
  add('Init Binary', s.InitBinary);
  add('containerd version', s.ContainerdCommit?.ID);
  add('runc version', s.RuncCommit?.ID);
  add('init version', s.InitCommit?.ID);
  if (s.SecurityOptions?.length) {
    l.push(' Security Options:');
    for (const o of s.SecurityOptions) {
      const kv = o.split(',').map((x) => x.split('='));
      const name = kv.find(([k]) => k === 'name')?.[1] ?? o;
      l.push(`  ${name}`);
      for (const [k, v] of kv) if (k !== 'name') l.push(`   ${k![0]!.toUpperCase()}${k!.slice(1)}: ${v}`);
    }
  }
  add('Kernel Version', s.KernelVersion);
  add('Operating System', s.OperatingSystem);
  add('OSType', s.OSType);
  add('Architecture', s.Architecture);
  add('CPUs', s.NCPU);
  add('Total Memory', bytesSize(s.MemTotal ?? 0));
  add('Name', s.Name);
  add('ID', s.ID);
  add('Docker Root Dir', s.DockerRootDir);
  add('Debug Mode', s.Debug);
  if (s.Debug) {
    add('File Descriptors', s.NFd, '  ');
    add('Goroutines', s.NGoroutines, '  ');
    add('System Time', s.SystemTime, '  ');
    add('EventsListeners', s.NEventsListener, '  ');
  }
  if (s.HttpProxy) add('HTTP Proxy', s.HttpProxy);
  if (s.HttpsProxy) add('HTTPS Proxy', s.HttpsProxy);
  if (s.NoProxy) add('No Proxy', s.NoProxy);
  if (s.Labels?.length) {
    l.push(' Labels:');
    for (const x of s.Labels) l.push(`  ${x}`);
  }
  add('Experimental', s.ExperimentalBuild);
  const rc = s.RegistryConfig;
  if (rc) {
    const insecure = [...(rc.InsecureRegistryCIDRs ?? []), ...Object.values(rc.IndexConfigs ?? {}).filter((c) => !c.Secure).map((c) => c.Name)];
    if (insecure.length) {
      l.push(' Insecure Registries:');
      for (const x of insecure) l.push(`  ${x}`);
    }
    if (rc.Mirrors?.length) {
      l.push(' Registry Mirrors:');
      for (const x of rc.Mirrors) l.push(`  ${x}`);
    }
  }
  add('Live Restore Enabled', s.LiveRestoreEnabled);
  return `${l.join('\n')}\n\n`;
}

export const eventsDef: CommandDef = {
  usage: 'events [OPTIONS]',
  summary: 'Get real time events from the server',
  flags: [
    filterFlag(),
    formatFlag('Format output using a custom template'),
    { name: 'since', type: 'string', help: 'Show all events created since timestamp', value: 'string' },
    { name: 'until', type: 'string', help: 'Stream events until this timestamp', value: 'string' },
  ],
  maxArgs: 0,
};

function rfc3339Nano(timeNano: number | bigint, time: number): string {
  const ns = BigInt(timeNano || time * 1e9);
  const secs = Number(ns / 1_000_000_000n);
  const frac = String(ns % 1_000_000_000n).padStart(9, '0');
  return `${new Date(secs * 1000).toISOString().slice(0, 19)}.${frac}Z`;
}

export async function events(cli: Cli, args: string[]): Promise<void> {
  const p = cli.parse(eventsDef, args);
  const client = await cli.client();
  const query: Record<string, string> = {};
  if (p.flags.since) query.since = parseTimestamp(p.flags.since as string);
  if (p.flags.until) query.until = parseTimestamp(p.flags.until as string);
  const filters = parseFilterArgs(p.flags.filter as string[]);
  if (filters) query.filters = filters;
  const res = await client.stream('GET', '/events', { query });
  const { readJsonStream } = await import('../../client/json-stream.js');
  const format = p.flags.format as string | undefined;
  const tmpl = format && format !== 'json' ? compileTemplate(format.replace(/\\t/g, '\t').replace(/\\n/g, '\n')) : undefined;
  const stop = (): void => {
    res.destroy();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  await readJsonStream<EventMessage>(res, (ev) => {
    if (format === 'json') cli.out(`${JSON.stringify(ev)}\n`);
    else if (tmpl) cli.out(`${tmpl.execute(ev)}\n`);
    else {
      const attrs = Object.entries(ev.Actor?.Attributes ?? {})
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([k, v]) => `${k}=${v}`)
        .join(', ');
      cli.out(`${rfc3339Nano(ev.timeNano, ev.time)} ${ev.Type} ${ev.Action} ${ev.Actor?.ID ?? ''}${attrs ? ` (${attrs})` : ''}\n`);
    }
  }).catch(() => undefined);
  process.off('SIGINT', stop);
  process.off('SIGTERM', stop);
}

export const dfDef: CommandDef = {
  usage: 'system df [OPTIONS]',
  summary: 'Show Berth disk usage',
  flags: [formatFlag('Format output using a custom template'), { name: 'verbose', short: 'v', type: 'bool', help: 'Show detailed information on space usage' }],
  maxArgs: 0,
};

export async function df(cli: Cli, args: string[]): Promise<void> {
  const p = cli.parse(dfDef, args);
  const client = await cli.client();
  const du = await client.get<DiskUsage>('/system/df');
  const images = du.Images ?? [];
  const containers = du.Containers ?? [];
  const volumes = du.Volumes ?? [];
  const cache = du.BuildCache ?? [];
  const pct = (part: number, total: number): string => (total > 0 ? ` (${Math.round((part * 100) / total)}%)` : '');
  const imgActive = images.filter((i) => i.Containers > 0).length;
  const imgSize = du.LayersSize ?? images.reduce((a, i) => a + (i.Size ?? 0), 0);
  const imgUsed = images.filter((i) => i.Containers > 0).reduce((a, i) => a + (i.Size - (i.SharedSize > 0 ? i.SharedSize : 0)), 0);
  const ctrActive = containers.filter((c) => c.State === 'running' || c.State === 'paused').length;
  const ctrSize = containers.reduce((a, c) => a + (c.SizeRw ?? 0), 0);
  const ctrReclaim = containers.filter((c) => !(c.State === 'running' || c.State === 'paused')).reduce((a, c) => a + (c.SizeRw ?? 0), 0);
  const volActive = volumes.filter((v) => ((v as { UsageData?: { RefCount?: number } }).UsageData?.RefCount ?? 0) > 0).length;
  const volSize = volumes.reduce((a, v) => a + Math.max(0, (v as { UsageData?: { Size?: number } }).UsageData?.Size ?? 0), 0);
  const cacheSize = cache.reduce((a, c) => a + c.Size, 0);
  const rows = [
    { Type: 'Images', TotalCount: String(images.length), Active: String(imgActive), Size: humanSize(imgSize), Reclaimable: `${humanSize(Math.max(0, imgSize - imgUsed))}${pct(imgSize - imgUsed, imgSize)}` },
    { Type: 'Containers', TotalCount: String(containers.length), Active: String(ctrActive), Size: humanSize(ctrSize), Reclaimable: `${humanSize(ctrReclaim)}${pct(ctrReclaim, ctrSize)}` },
    { Type: 'Local Volumes', TotalCount: String(volumes.length), Active: String(volActive), Size: humanSize(volSize), Reclaimable: `${humanSize(volSize)}${pct(volSize, volSize)}` },
    { Type: 'Build Cache', TotalCount: String(cache.length), Active: String(cache.filter((c) => c.InUse).length), Size: humanSize(cacheSize), Reclaimable: humanSize(cache.filter((c) => !c.InUse).reduce((a, c) => a + c.Size, 0)) },
  ];
  cli.out(
    renderFormat((p.flags.format as string | undefined) ?? 'table', rows, {
      defaultTable: '{{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}',
      headers: { Type: 'TYPE', TotalCount: 'TOTAL', Active: 'ACTIVE', Size: 'SIZE', Reclaimable: 'RECLAIMABLE' },
    }),
  );
}

export const pruneDef: CommandDef = {
  usage: 'system prune [OPTIONS]',
  summary: 'Remove unused data',
  flags: [
    { name: 'all', short: 'a', type: 'bool', help: 'Remove all unused images not just dangling ones' },
    filterFlag(),
    pruneForceFlag(),
    { name: 'volumes', type: 'bool', help: 'Prune anonymous volumes' },
  ],
  maxArgs: 0,
};

export async function prune(cli: Cli, args: string[]): Promise<void> {
  const p = cli.parse(pruneDef, args);
  const warning = `WARNING! This will remove:
  - all stopped containers
  - all networks not used by at least one container
${p.flags.volumes ? '  - all anonymous volumes not used by at least one container\n' : ''}${p.flags.all ? '  - all images without at least one container associated to them\n' : '  - all dangling images\n'}  - unused build cache
`;
  if (!(await confirmPrune(cli, p.flags.force, warning))) return;
  const client = await cli.client();
  const filters = parseFilterArgs(p.flags.filter as string[]);
  const q = filters ? { filters } : {};
  let reclaimed = 0;
  const c = await client.post<{ ContainersDeleted: string[] | null; SpaceReclaimed: number }>('/containers/prune', q);
  if (c?.ContainersDeleted?.length) cli.out(`Deleted Containers:\n${c.ContainersDeleted.join('\n')}\n\n`);
  reclaimed += c?.SpaceReclaimed ?? 0;
  try {
    const n = await client.post<{ NetworksDeleted: string[] | null }>('/networks/prune', q);
    if (n?.NetworksDeleted?.length) cli.out(`Deleted Networks:\n${n.NetworksDeleted.join('\n')}\n\n`);
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 501)) throw e;
  }
  if (p.flags.volumes) {
    const v = await client.post<{ VolumesDeleted: string[] | null; SpaceReclaimed: number }>('/volumes/prune', q);
    if (v?.VolumesDeleted?.length) cli.out(`Deleted Volumes:\n${v.VolumesDeleted.join('\n')}\n\n`);
    reclaimed += v?.SpaceReclaimed ?? 0;
  }
  const imgFilters = p.flags.all ? JSON.stringify({ ...(filters ? JSON.parse(filters) : {}), dangling: { false: true } }) : filters;
  const i = await client.post<{ ImagesDeleted: { Untagged?: string; Deleted?: string }[] | null; SpaceReclaimed: number }>('/images/prune', imgFilters ? { filters: imgFilters } : {});
  if (i?.ImagesDeleted?.length) {
    cli.out('Deleted Images:\n');
    for (const d of i.ImagesDeleted) cli.out(d.Untagged ? `untagged: ${d.Untagged}\n` : `deleted: ${d.Deleted}\n`);
    cli.out('\n');
  }
  reclaimed += i?.SpaceReclaimed ?? 0;
  try {
    const b = await client.post<{ CachesDeleted: string[] | null; SpaceReclaimed: number }>('/build/prune', {});
    if (b?.CachesDeleted?.length) cli.out(`Deleted build cache objects:\n${b.CachesDeleted.join('\n')}\n\n`);
    reclaimed += b?.SpaceReclaimed ?? 0;
  } catch (e) {
    if (!(e instanceof ApiError && (e.status === 501 || e.status === 404))) throw e;
  }
  cli.out(`Total reclaimed space: ${humanSize(reclaimed)}\n`);
}
