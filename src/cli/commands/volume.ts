// volume ls, create, rm, prune (inspect lives in inspect.ts).

import type { Volume } from '../../api/types/volume.js';
import type { Cli, CommandDef } from '../cli.js';
import { renderFormat } from '../output/format.js';
import { humanSize } from '../output/units.js';
import { byName, confirmPrune, filterFlag, formatFlag, keyValues, parseFilterArgs, pruneForceFlag, removeEach, withLabels } from './common.js';

export const lsDef: CommandDef = {
  usage: 'volume ls [OPTIONS]',
  summary: 'List volumes',
  flags: [filterFlag(), formatFlag(), { name: 'quiet', short: 'q', type: 'bool', help: 'Only display volume names' }],
  maxArgs: 0,
};

export async function ls(cli: Cli, args: string[]): Promise<void> {
  const p = cli.parse(lsDef, args);
  const filters = parseFilterArgs(p.flags.filter as string[]);
  const client = await cli.client();
  const r = await client.get<{ Volumes: Volume[] | null; Warnings: string[] | null }>('/volumes', filters ? { filters } : undefined);
  const vols = [...(r.Volumes ?? [])].sort(byName);
  const rows = vols.map((v) =>
    withLabels({ Driver: v.Driver, Links: 'N/A', Mountpoint: v.Mountpoint, Name: v.Name, Scope: v.Scope, Size: 'N/A' }, v.Labels as Record<string, string> | null),
  );
  const format = (p.flags.format as string | undefined) || (p.flags.quiet ? '{{.Name}}' : 'table');
  cli.out(
    renderFormat(format, rows, {
      defaultTable: '{{.Driver}}\t{{.Name}}',
      headers: { Driver: 'DRIVER', Name: 'VOLUME NAME', Mountpoint: 'MOUNTPOINT', Scope: 'SCOPE', Labels: 'LABELS', Links: 'LINKS', Size: 'SIZE' },
    }),
  );
  for (const w of r.Warnings ?? []) cli.err(`${w}\n`);
}

export const createDef: CommandDef = {
  usage: 'volume create [OPTIONS] [VOLUME]',
  summary: 'Create a volume',
  flags: [
    { name: 'driver', short: 'd', type: 'string', help: 'Specify volume driver name', default: 'local', value: 'string' },
    { name: 'label', type: 'list', help: 'Set metadata for a volume' },
    { name: 'name', type: 'string', help: 'Specify volume name', value: 'string', hidden: true },
    { name: 'opt', short: 'o', type: 'list', help: 'Set driver specific options', value: 'map' },
  ],
  maxArgs: 1,
};

export async function create(cli: Cli, args: string[]): Promise<void> {
  const p = cli.parse(createDef, args);
  const client = await cli.client();
  const v = await client.post<Volume>('/volumes/create', undefined, {
    Name: p.args[0] ?? (p.flags.name as string | undefined) ?? '',
    Driver: p.flags.driver,
    DriverOpts: keyValues(p.flags.opt as string[]),
    Labels: keyValues(p.flags.label as string[]),
  });
  cli.out(`${v.Name}\n`);
}

export const rmDef: CommandDef = {
  usage: 'volume rm [OPTIONS] VOLUME [VOLUME...]',
  summary: 'Remove one or more volumes',
  flags: [{ name: 'force', short: 'f', type: 'bool', help: 'Force the removal of one or more volumes' }],
  minArgs: 1,
};

export async function rm(cli: Cli, args: string[]): Promise<void> {
  const p = cli.parse(rmDef, args);
  await removeEach(cli, p.args, '/volumes', p.flags.force ? { force: true } : undefined);
}

export const pruneDef: CommandDef = {
  usage: 'volume prune [OPTIONS]',
  summary: 'Remove unused local volumes',
  flags: [
    { name: 'all', short: 'a', type: 'bool', help: 'Remove all unused volumes, not just anonymous ones' },
    filterFlag(),
    pruneForceFlag(),
  ],
  maxArgs: 0,
};

export async function prune(cli: Cli, args: string[]): Promise<void> {
  const p = cli.parse(pruneDef, args);
  if (!(await confirmPrune(cli, p.flags.force, 'WARNING! This will remove anonymous local volumes not used by at least one container.'))) return;
  const m = JSON.parse(parseFilterArgs(p.flags.filter as string[]) ?? '{}') as Record<string, Record<string, boolean>>;
  if (p.flags.all) m.all = { true: true };
  const client = await cli.client();
  const r = await client.post<{ VolumesDeleted: string[] | null; SpaceReclaimed: number }>('/volumes/prune', Object.keys(m).length ? { filters: JSON.stringify(m) } : {});
  if (r.VolumesDeleted?.length) cli.out(`Deleted Volumes:\n${r.VolumesDeleted.join('\n')}\n\n`);
  cli.out(`Total reclaimed space: ${humanSize(r.SpaceReclaimed ?? 0)}\n`);
}
