// network ls, create, rm, connect, disconnect, prune (inspect lives in inspect.ts).

import type { Cli, CommandDef } from '../cli.js';
import { renderFormat } from '../output/format.js';
import { goTimeString } from '../output/units.js';
import { byName, confirmPrune, filterFlag, formatFlag, keyValues, parseFilterArgs, pruneForceFlag, removeEach, seg, withLabels } from './common.js';

interface NetworkSummary {
  Name: string;
  Id: string;
  Created: string;
  Scope: string;
  Driver: string;
  EnableIPv6: boolean;
  Internal: boolean;
  Attachable: boolean;
  Ingress: boolean;
  Labels: Record<string, string> | null;
}

export const lsDef: CommandDef = {
  usage: 'network ls [OPTIONS]',
  summary: 'List networks',
  flags: [filterFlag(), formatFlag(), { name: 'no-trunc', type: 'bool', help: 'Do not truncate the output' }, { name: 'quiet', short: 'q', type: 'bool', help: 'Only display network IDs' }],
  maxArgs: 0,
};

export async function ls(cli: Cli, args: string[]): Promise<void> {
  const p = cli.parse(lsDef, args);
  const filters = parseFilterArgs(p.flags.filter as string[]);
  const client = await cli.client();
  const list = await client.get<NetworkSummary[]>('/networks', filters ? { filters } : undefined);
  list.sort(byName);
  const trunc = !p.flags['no-trunc'];
  const rows = list.map((n) =>
    withLabels(
      {
        CreatedAt: n.Created ? goTimeString(new Date(n.Created)) : '',
        Driver: n.Driver,
        ID: trunc ? n.Id.slice(0, 12) : n.Id,
        IPv4: 'true',
        IPv6: String(Boolean(n.EnableIPv6)),
        Internal: String(Boolean(n.Internal)),
        Name: n.Name,
        Scope: n.Scope,
      },
      n.Labels,
    ),
  );
  const format = (p.flags.format as string | undefined) || (p.flags.quiet ? '{{.ID}}' : 'table');
  cli.out(
    renderFormat(format, rows, {
      defaultTable: '{{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}',
      headers: { ID: 'NETWORK ID', Name: 'NAME', Driver: 'DRIVER', Scope: 'SCOPE', IPv4: 'IPV4', IPv6: 'IPV6', Internal: 'INTERNAL', Labels: 'LABELS', CreatedAt: 'CREATED' },
    }),
  );
}

export const createDef: CommandDef = {
  usage: 'network create [OPTIONS] NETWORK',
  summary: 'Create a network',
  flags: [
    { name: 'attachable', type: 'bool', help: 'Enable manual container attachment' },
    { name: 'driver', short: 'd', type: 'string', help: 'Driver to manage the Network', default: 'bridge', value: 'string' },
    { name: 'gateway', type: 'list', help: 'IPv4 or IPv6 Gateway for the master subnet', value: 'strings' },
    { name: 'internal', type: 'bool', help: 'Restrict external access to the network' },
    { name: 'ip-range', type: 'list', help: 'Allocate container ip from a sub-range', value: 'strings' },
    { name: 'ipv6', type: 'bool', help: 'Enable or disable IPv6 networking' },
    { name: 'label', type: 'list', help: 'Set metadata on a network' },
    { name: 'opt', short: 'o', type: 'list', help: 'Set driver specific options', value: 'map' },
    { name: 'subnet', type: 'list', help: 'Subnet in CIDR format that represents a network segment', value: 'strings' },
  ],
  minArgs: 1,
  maxArgs: 1,
};

export async function create(cli: Cli, args: string[]): Promise<void> {
  const p = cli.parse(createDef, args);
  const f = p.flags;
  const subnets = f.subnet as string[];
  const gateways = f.gateway as string[];
  const ranges = f['ip-range'] as string[];
  const config = subnets.map((s, i) => ({ Subnet: s, ...(gateways[i] ? { Gateway: gateways[i] } : {}), ...(ranges[i] ? { IPRange: ranges[i] } : {}) }));
  const body = {
    Name: p.args[0],
    Driver: f.driver,
    Internal: Boolean(f.internal),
    Attachable: Boolean(f.attachable),
    EnableIPv6: Boolean(f.ipv6),
    IPAM: { Driver: 'default', Config: config, Options: {} },
    Options: keyValues(f.opt as string[]),
    Labels: keyValues(f.label as string[]),
  };
  const client = await cli.client();
  const r = await client.post<{ Id: string; Warning?: string }>('/networks/create', undefined, body);
  if (r.Warning) cli.err(`${r.Warning}\n`);
  cli.out(`${r.Id}\n`);
}

export const rmDef: CommandDef = {
  usage: 'network rm NETWORK [NETWORK...]',
  summary: 'Remove one or more networks',
  flags: [{ name: 'force', short: 'f', type: 'bool', help: 'Do not error if the network does not exist' }],
  minArgs: 1,
};

export async function rm(cli: Cli, args: string[]): Promise<void> {
  const p = cli.parse(rmDef, args);
  await removeEach(cli, p.args, '/networks');
}

export const connectDef: CommandDef = {
  usage: 'network connect [OPTIONS] NETWORK CONTAINER',
  summary: 'Connect a container to a network',
  flags: [
    { name: 'alias', type: 'list', help: 'Add network-scoped alias for the container' },
    { name: 'ip', type: 'string', help: 'IPv4 address (e.g., "172.30.100.104")', value: 'string' },
    { name: 'ip6', type: 'string', help: 'IPv6 address (e.g., "2001:db8::33")', value: 'string' },
  ],
  minArgs: 2,
  maxArgs: 2,
};

export async function connect(cli: Cli, args: string[]): Promise<void> {
  const p = cli.parse(connectDef, args);
  const [net, container] = p.args as [string, string];
  const ep: Record<string, unknown> = {};
  if ((p.flags.alias as string[]).length) ep.Aliases = p.flags.alias;
  if (p.flags.ip || p.flags.ip6) ep.IPAMConfig = { ...(p.flags.ip ? { IPv4Address: p.flags.ip } : {}), ...(p.flags.ip6 ? { IPv6Address: p.flags.ip6 } : {}) };
  const client = await cli.client();
  await client.post(`/networks/${seg(net)}/connect`, undefined, { Container: container, EndpointConfig: ep });
}

export const disconnectDef: CommandDef = {
  usage: 'network disconnect [OPTIONS] NETWORK CONTAINER',
  summary: 'Disconnect a container from a network',
  flags: [{ name: 'force', short: 'f', type: 'bool', help: 'Force the container to disconnect from a network' }],
  minArgs: 2,
  maxArgs: 2,
};

export async function disconnect(cli: Cli, args: string[]): Promise<void> {
  const p = cli.parse(disconnectDef, args);
  const [net, container] = p.args as [string, string];
  const client = await cli.client();
  await client.post(`/networks/${seg(net)}/disconnect`, undefined, { Container: container, Force: Boolean(p.flags.force) });
}

export const pruneDef: CommandDef = {
  usage: 'network prune [OPTIONS]',
  summary: 'Remove all unused networks',
  flags: [filterFlag(), pruneForceFlag()],
  maxArgs: 0,
};

export async function prune(cli: Cli, args: string[]): Promise<void> {
  const p = cli.parse(pruneDef, args);
  if (!(await confirmPrune(cli, p.flags.force, 'WARNING! This will remove all custom networks not used by at least one container.'))) return;
  const filters = parseFilterArgs(p.flags.filter as string[]);
  const client = await cli.client();
  const r = await client.post<{ NetworksDeleted: string[] | null }>('/networks/prune', filters ? { filters } : {});
  if (r.NetworksDeleted?.length) cli.out(`Deleted Networks:\n${r.NetworksDeleted.join('\n')}\n`);
}
