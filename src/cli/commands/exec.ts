// exec: -d, -i, -t, -e, --env-file, -u, -w, --privileged, --detach-keys; exits with the
// command's exit code.

import { readFileSync } from 'node:fs';
import type { ExecCreateResponse, ExecInspect } from '../../api/types/exec.js';
import { CliError, ExitStatus, type Cli, type CommandDef } from '../cli.js';
import { seg } from './common.js';
import { parseEnvFile } from './run-options.js';
import { forwardResize, pump } from './streams.js';

export const execDef: CommandDef = {
  usage: 'exec [OPTIONS] CONTAINER COMMAND [ARG...]',
  summary: 'Execute a command in a running container',
  flags: [
    { name: 'detach', short: 'd', type: 'bool', help: 'Detached mode: run command in the background' },
    { name: 'detach-keys', type: 'string', help: 'Override the key sequence for detaching a container', value: 'string' },
    { name: 'env', short: 'e', type: 'list', help: 'Set environment variables' },
    { name: 'env-file', type: 'list', help: 'Read in a file of environment variables' },
    { name: 'interactive', short: 'i', type: 'bool', help: 'Keep STDIN open even if not attached' },
    { name: 'privileged', type: 'bool', help: 'Give extended privileges to the command' },
    { name: 'tty', short: 't', type: 'bool', help: 'Allocate a pseudo-TTY' },
    { name: 'user', short: 'u', type: 'string', help: 'Username or UID (format: "<name|uid>[:<group|gid>]")', value: 'string' },
    { name: 'workdir', short: 'w', type: 'string', help: 'Working directory inside the container', value: 'string' },
  ],
  stopAtArg: true,
  minArgs: 2,
};

export async function exec(cli: Cli, args: string[]): Promise<void> {
  const p = cli.parse(execDef, args);
  const f = p.flags;
  const [container, ...cmd] = p.args as [string, ...string[]];
  const env: string[] = [];
  for (const file of f['env-file'] as string[]) env.push(...parseEnvFile(readFileSync(file, 'utf8'), cli.env, file));
  for (const e of f.env as string[]) {
    if (e.includes('=')) env.push(e);
    else if (cli.env[e] !== undefined) env.push(`${e}=${cli.env[e]}`);
  }
  const tty = Boolean(f.tty);
  if (tty && f.interactive && !process.stdin.isTTY && !f.detach) throw new CliError('the input device is not a TTY', 1);
  const detach = Boolean(f.detach);
  const body: Record<string, unknown> = {
    User: (f.user as string | undefined) ?? '',
    Privileged: Boolean(f.privileged),
    Tty: tty,
    AttachStdin: Boolean(f.interactive) && !detach,
    AttachStdout: !detach,
    AttachStderr: !detach,
    Env: env,
    WorkingDir: (f.workdir as string | undefined) ?? '',
    Cmd: cmd,
  };
  if (f['detach-keys']) body.DetachKeys = f['detach-keys'];
  if (tty && process.stdout.isTTY) {
    const [w, h] = process.stdout.getWindowSize();
    body.ConsoleSize = [h, w];
  }
  const client = await cli.client();
  const created = await client.post<ExecCreateResponse>(`/containers/${seg(container)}/exec`, undefined, body);
  const id = created.Id;
  if (detach) {
    await client.post(`/exec/${id}/start`, undefined, { Detach: true, Tty: tty });
    return;
  }
  const startBody: Record<string, unknown> = { Detach: false, Tty: tty };
  if (body.ConsoleSize) startBody.ConsoleSize = body.ConsoleSize;
  const h = await client.hijack('POST', `/exec/${id}/start`, { body: startBody });
  const undoResize = tty ? forwardResize(client, `/exec/${id}/resize`) : () => undefined;
  const r = await pump(h, { tty, stdin: Boolean(body.AttachStdin), ...(f['detach-keys'] ? { detachKeys: f['detach-keys'] as string } : {}) });
  undoResize();
  if (r.detached) return;
  let info: ExecInspect | undefined;
  for (let i = 0; i < 100; i++) {
    info = await client.get<ExecInspect>(`/exec/${id}/json`);
    if (!info.Running) break;
    await new Promise((res) => setTimeout(res, 20));
  }
  const code = info?.ExitCode ?? 0;
  if (code) throw new ExitStatus(code);
}
