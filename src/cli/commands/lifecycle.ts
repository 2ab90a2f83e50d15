// start, stop, restart, kill, rm, pause, unpause, rename, wait, update, container prune.

import type { ContainerInspect, ContainerPruneReport, ContainerUpdateResponse, ContainerWaitResponse } from '../../api/types/container.js';
import { CliError, ExitStatus, type Cli, type CommandDef } from '../cli.js';
import type { FlagSpec } from '../flags.js';
import { humanSize, parseRamBytes } from '../output/units.js';
import { confirmPrune, filterFlag, forEach, parseFilterArgs, pruneForceFlag, seg } from './common.js';
import { parseRestart } from './run-options.js';
import { forwardResize, proxySignals, pump } from './streams.js';

const many = (usage: string, summary: string, flags: FlagSpec[]): CommandDef => ({ usage, summary, flags, minArgs: 1 });

export const startDef = many('start [OPTIONS] CONTAINER [CONTAINER...]', 'Start one or more stopped containers', [
  { name: 'attach', short: 'a', type: 'bool', help: "Attach STDOUT/STDERR and forward signals" },
  { name: 'detach-keys', type: 'string', help: 'Override the key sequence for detaching a container', value: 'string' },
  { name: 'interactive', short: 'i', type: 'bool', help: "Attach container's STDIN" },
]);

export async function start(cli: Cli, args: string[]): Promise<void> {
  const p = cli.parse(startDef, args);
  const client = await cli.client();
  if (!p.flags.attach && !p.flags.interactive) {
    await forEach(cli, p.args, async (n) => {
      await client.post(`/containers/${seg(n)}/start`);
      return n;
    });
    return;
  }
  if (p.args.length > 1) throw new CliError('you cannot start and attach multiple containers at once', 1);
  const name = p.args[0]!;
  const c = await client.get<ContainerInspect>(`/containers/${seg(name)}/json`);
  const tty = Boolean(c.Config.Tty);
  const stdin = Boolean(p.flags.interactive) && Boolean(c.Config.OpenStdin);
  const detachKeys = p.flags['detach-keys'] as string | undefined;
  const q: Record<string, string | boolean> = { stream: true, stdin, stdout: true, stderr: true };
  if (detachKeys) q.detachKeys = detachKeys;
  const h = await client.hijack('POST', `/containers/${seg(c.Id)}/attach`, { query: q });
  const waitRes = await client.stream('POST', `/containers/${seg(c.Id)}/wait`, { query: { condition: 'next-exit' } });
  const waited = new Promise<ContainerWaitResponse>((resolve, reject) => {
    let body = '';
    waitRes.on('data', (d: Buffer) => (body += d.toString()));
    waitRes.on('end', () => {
      try {
        resolve(JSON.parse(body) as ContainerWaitResponse);
      } catch (e) {
        reject(e);
      }
    });
    waitRes.on('error', reject);
  });
  waited.catch(() => undefined);
  await client.post(`/containers/${seg(c.Id)}/start`);
  const undoResize = tty ? forwardResize(client, `/containers/${seg(c.Id)}/resize`) : () => undefined;
  const undoSig = tty ? () => undefined : proxySignals(client, c.Id);
  const r = await pump(h, { tty, stdin, ...(detachKeys ? { detachKeys } : {}) });
  undoResize();
  undoSig();
  if (r.detached) {
    waitRes.destroy();
    return;
  }
  const status = await waited;
  if (status.StatusCode) throw new ExitStatus(status.StatusCode);
}

const timeFlags: FlagSpec[] = [
  { name: 'signal', short: 's', type: 'string', help: 'Signal to send to the container', value: 'string' },
  { name: 'time', short: 't', type: 'int', help: 'Seconds to wait before killing the container' },
];

export const stopDef = many('stop [OPTIONS] CONTAINER [CONTAINER...]', 'Stop one or more running containers', timeFlags);
export const restartDef = many('restart [OPTIONS] CONTAINER [CONTAINER...]', 'Restart one or more containers', timeFlags);

async function stopOrRestart(cli: Cli, args: string[], action: 'stop' | 'restart'): Promise<void> {
  const p = cli.parse(action === 'stop' ? stopDef : restartDef, args);
  const client = await cli.client();
  const q: Record<string, string | number> = {};
  if (p.changed.has('time')) q.t = p.flags.time as number;
  if (p.flags.signal) q.signal = p.flags.signal as string;
  await forEach(cli, p.args, async (n) => {
    await client.post(`/containers/${seg(n)}/${action}`, q);
    return n;
  });
}

export const stop = (cli: Cli, args: string[]): Promise<void> => stopOrRestart(cli, args, 'stop');
export const restart = (cli: Cli, args: string[]): Promise<void> => stopOrRestart(cli, args, 'restart');

export const killDef = many('kill [OPTIONS] CONTAINER [CONTAINER...]', 'Kill one or more running containers', [
  { name: 'signal', short: 's', type: 'string', help: 'Signal to send to the container', value: 'string' },
]);

export async function kill(cli: Cli, args: string[]): Promise<void> {
  const p = cli.parse(killDef, args);
  const client = await cli.client();
  const q = p.flags.signal ? { signal: p.flags.signal as string } : undefined;
  await forEach(cli, p.args, async (n) => {
    await client.post(`/containers/${seg(n)}/kill`, q);
    return n;
  });
}

export const rmDef = many('rm [OPTIONS] CONTAINER [CONTAINER...]', 'Remove one or more containers', [
  { name: 'force', short: 'f', type: 'bool', help: 'Force the removal of a running container (uses SIGKILL)' },
  { name: 'link', short: 'l', type: 'bool', help: 'Remove the specified link' },
  { name: 'volumes', short: 'v', type: 'bool', help: 'Remove anonymous volumes associated with the container' },
]);

export async function rm(cli: Cli, args: string[]): Promise<void> {
  const p = cli.parse(rmDef, args);
  const client = await cli.client();
  const q = { force: Boolean(p.flags.force), v: Boolean(p.flags.volumes), link: Boolean(p.flags.link) };
  const { ApiError } = await import('../../client/errors.js');
  await forEach(cli, p.args, async (n) => {
    const name = n.replace(/^\//, '');
    if (!name) throw new CliError('Container name cannot be empty', 1);
    try {
      await client.delete(`/containers/${seg(name)}`, q);
    } catch (e) {
      // -f on a container that is already gone is not an error (docker does the same).
      if (p.flags.force && e instanceof ApiError && e.status === 404) return undefined;
      throw e;
    }
    return n;
  });
}

const simple = (action: 'pause' | 'unpause', summary: string): [CommandDef, (cli: Cli, args: string[]) => Promise<void>] => {
  const def = many(`${action} CONTAINER [CONTAINER...]`, summary, []);
  return [
    def,
    async (cli, args) => {
      const p = cli.parse(def, args);
      const client = await cli.client();
      await forEach(cli, p.args, async (n) => {
        await client.post(`/containers/${seg(n)}/${action}`);
        return n;
      });
    },
  ];
};

export const [pauseDef, pause] = simple('pause', 'Pause all processes within one or more containers');
export const [unpauseDef, unpause] = simple('unpause', 'Unpause all processes within one or more containers');

export const renameDef: CommandDef = { usage: 'rename CONTAINER NEW_NAME', summary: 'Rename a container', flags: [], minArgs: 2, maxArgs: 2 };

export async function rename(cli: Cli, args: string[]): Promise<void> {
  const p = cli.parse(renameDef, args);
  const [oldName, newName] = p.args as [string, string];
  if (!newName.trim() || !oldName.trim()) throw new CliError('Error: Neither old nor new names may be empty', 1);
  const client = await cli.client();
  await client.post(`/containers/${seg(oldName)}/rename`, { name: newName });
}

export const waitDef = many('wait CONTAINER [CONTAINER...]', 'Block until one or more containers stop, then print their exit codes', []);

export async function wait(cli: Cli, args: string[]): Promise<void> {
  const p = cli.parse(waitDef, args);
  const client = await cli.client();
  await forEach(cli, p.args, async (n) => {
    const r = await client.post<ContainerWaitResponse>(`/containers/${seg(n)}/wait`);
    return String(r.StatusCode);
  });
}

export const updateDef = many('update [OPTIONS] CONTAINER [CONTAINER...]', 'Update configuration of one or more containers', [
  { name: 'blkio-weight', type: 'int', help: 'Block IO (relative weight), between 10 and 1000, or 0 to disable', value: 'uint16' },
  { name: 'cpu-period', type: 'int', help: 'Limit CPU CFS (Completely Fair Scheduler) period' },
  { name: 'cpu-quota', type: 'int', help: 'Limit CPU CFS (Completely Fair Scheduler) quota' },
  { name: 'cpu-shares', short: 'c', type: 'int', help: 'CPU shares (relative weight)' },
  { name: 'cpus', type: 'float', help: 'Number of CPUs' },
  { name: 'cpuset-cpus', type: 'string', help: 'CPUs in which to allow execution (0-3, 0,1)', value: 'string' },
  { name: 'cpuset-mems', type: 'string', help: 'MEMs in which to allow execution (0-3, 0,1)', value: 'string' },
  { name: 'egress-rate', type: 'string', help: "Limit the container's outgoing bandwidth (Berth's own; e.g. 8mbit; 0 removes the limit)", value: 'rate' },
  { name: 'ingress-rate', type: 'string', help: "Limit the container's incoming bandwidth (Berth's own; e.g. 8mbit; 0 removes the limit)", value: 'rate' },
  { name: 'memory', short: 'm', type: 'string', help: 'Memory limit', value: 'bytes' },
  { name: 'memory-reservation', type: 'string', help: 'Memory soft limit', value: 'bytes' },
  { name: 'memory-swap', type: 'string', help: "Swap limit equal to memory plus swap: -1 to enable unlimited swap", value: 'bytes' },
  { name: 'pids-limit', type: 'int', help: 'Tune container pids limit (set -1 for unlimited)' },
  { name: 'restart', type: 'string', help: 'Restart policy to apply when a container exits', value: 'string' },
]);

export async function update(cli: Cli, args: string[]): Promise<void> {
  const p = cli.parse(updateDef, args);
  const f = p.flags;
  if (p.changed.size === 0) throw cli.usageError('you must provide one or more flags when using this command');
  const body: Record<string, unknown> = {};
  const bytes = (k: string): number => (f[k] === '-1' ? -1 : parseRamBytes(String(f[k])));
  if (p.changed.has('blkio-weight')) body.BlkioWeight = f['blkio-weight'];
  if (p.changed.has('cpu-period')) body.CpuPeriod = f['cpu-period'];
  if (p.changed.has('cpu-quota')) body.CpuQuota = f['cpu-quota'];
  if (p.changed.has('cpu-shares')) body.CpuShares = f['cpu-shares'];
  if (p.changed.has('cpus')) body.NanoCpus = Math.round((f.cpus as number) * 1e9);
  if (p.changed.has('cpuset-cpus')) body.CpusetCpus = f['cpuset-cpus'];
  if (p.changed.has('cpuset-mems')) body.CpusetMems = f['cpuset-mems'];
  if (p.changed.has('egress-rate')) body.BerthEgressRate = f['egress-rate'];
  if (p.changed.has('ingress-rate')) body.BerthIngressRate = f['ingress-rate'];
  if (p.changed.has('memory')) body.Memory = bytes('memory');
  if (p.changed.has('memory-reservation')) body.MemoryReservation = bytes('memory-reservation');
  if (p.changed.has('memory-swap')) body.MemorySwap = bytes('memory-swap');
  if (p.changed.has('pids-limit')) body.PidsLimit = f['pids-limit'];
  if (p.changed.has('restart')) body.RestartPolicy = parseRestart(f.restart as string);
  const client = await cli.client();
  await forEach(cli, p.args, async (n) => {
    const r = await client.post<ContainerUpdateResponse>(`/containers/${seg(n)}/update`, undefined, body);
    for (const w of r?.Warnings ?? []) cli.err(`${w}\n`);
    return n;
  });
}

export const pruneDef: CommandDef = {
  usage: 'container prune [OPTIONS]',
  summary: 'Remove all stopped containers',
  flags: [filterFlag(), pruneForceFlag()],
  maxArgs: 0,
};

export async function prune(cli: Cli, args: string[]): Promise<void> {
  const p = cli.parse(pruneDef, args);
  if (!(await confirmPrune(cli, p.flags.force, 'WARNING! This will remove all stopped containers.'))) return;
  const client = await cli.client();
  const filters = parseFilterArgs(p.flags.filter as string[]);
  const r = await client.post<ContainerPruneReport>('/containers/prune', filters ? { filters } : {});
  if (r.ContainersDeleted?.length) cli.out(`Deleted Containers:\n${r.ContainersDeleted.join('\n')}\n\n`);
  cli.out(`Total reclaimed space: ${humanSize(r.SpaceReclaimed ?? 0)}\n`);
}
