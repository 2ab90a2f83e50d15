// Makes the client for a command: host from -H, BERTH_HOST, DOCKER_HOST or the default
// socket. When that default socket is absent and we are root, starts bin/berthd in the
// background (its log under the data root), waits for /_ping and says so once on stderr.
// BERTH_EXEC_ROOT and BERTH_DATA_ROOT move the defaults for berth and berthd alike.

import { existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EngineClient } from '../client/client.js';
import { builtin } from '../client/builtin.js';
import { parseHost, resolveHost } from '../client/connection.js';
import { CliError, type Cli } from './cli.js';

/** How long a started berthd has to answer /_ping. */
const START_TIMEOUT_MS = 30_000;

export async function connect(cli: Cli): Promise<EngineClient> {
  let target;
  let from;
  try {
    const r = resolveHost({ hosts: cli.opts.hosts, env: cli.env });
    from = r.from;
    target = parseHost(r.host, cli.opts, cli.env);
  } catch (e) {
    throw new CliError((e as Error).message, 125);
  }
  const version = cli.env.BERTH_API_VERSION ?? cli.env.DOCKER_API_VERSION;
  const client = new EngineClient(target, version ? { version } : {});
  if (from === 'default' && target.kind === 'unix' && !existsSync(target.socketPath) && process.geteuid?.() === 0) {
    await startDaemon(cli, client, target.socketPath);
  }
  return client;
}

/** bin/berthd of this checkout (the bundle and the modules sit at the same depth under dist/). */
function berthdPath(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'berthd');
}

async function startDaemon(cli: Cli, client: EngineClient, socket: string): Promise<void> {
  const berthd = berthdPath();
  if (!existsSync(berthd)) return;
  const dataRoot = cli.env.BERTH_DATA_ROOT || '/var/lib/berth';
  mkdirSync(dataRoot, { recursive: true, mode: 0o711 });
  const logPath = join(dataRoot, 'berthd.log');
  const log = openSync(logPath, 'a');
  // node:child_process is loaded only here: it costs every other command ~10 ms at start.
  const { spawn } = builtin<typeof import('node:child_process')>('node:child_process');
  // berthd reads BERTH_EXEC_ROOT, BERTH_DATA_ROOT and BERTH_DAEMON_CONFIG from this env.
  const child = spawn(process.execPath, [berthd], { detached: true, stdio: ['ignore', log, log], env: cli.env });
  child.unref();
  cli.err(`Started the Berth daemon (berthd, pid ${child.pid}) in the background; its log is ${logPath}\n`);
  const deadline = Date.now() + START_TIMEOUT_MS;
  let exited: number | null = null;
  child.on('exit', (code) => (exited = code ?? 1));
  while (Date.now() < deadline) {
    if (exited !== null) throw new CliError(`berthd exited with status ${exited} while starting; see ${logPath}`, 125);
    if (existsSync(socket)) {
      try {
        await client.ping();
        return;
      } catch {
        // not answering yet
      }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new CliError(`berthd did not answer on ${socket} within ${START_TIMEOUT_MS / 1000}s; see ${logPath}`, 125);
}
