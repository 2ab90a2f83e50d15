// berth: the entry. Parses the global options, finds the command (management forms too),
// loads only that command's module and runs it; maps errors to docker's messages and exit
// codes (125 for flag and daemon errors of run/create, 1 for other commands' failures).

import { CliError, Cli, ExitStatus, type GlobalOptions } from './cli.js';
import { FlagError, nearest, parseFlags, type FlagSpec } from './flags.js';
import { COMMANDS, MANAGEMENT, type Entry } from './registry.js';
import { BERTH_CLI_VERSION } from './version.js';


export const GLOBAL_FLAGS: FlagSpec[] = [
  { name: 'config', type: 'string', help: 'Location of client config files', value: 'string' },
  { name: 'context', short: 'c', type: 'string', help: 'Name of the context to use (only "default")', value: 'string' },
  { name: 'debug', short: 'D', type: 'bool', help: 'Enable debug mode' },
  { name: 'host', short: 'H', type: 'list', help: 'Daemon socket to connect to' },
  { name: 'log-level', short: 'l', type: 'string', help: 'Set the logging level ("debug", "info", "warn", "error", "fatal")', default: 'info' },
  { name: 'tls', type: 'bool', help: 'Use TLS; implied by --tlsverify' },
  { name: 'tlscacert', type: 'string', help: 'Trust certs signed only by this CA', value: 'string' },
  { name: 'tlscert', type: 'string', help: 'Path to TLS certificate file', value: 'string' },
  { name: 'tlskey', type: 'string', help: 'Path to TLS key file', value: 'string' },
  { name: 'tlsverify', type: 'bool', help: 'Use TLS and verify the remote' },
  { name: 'version', short: 'v', type: 'bool', help: 'Print version information and quit' },
];

function usage(): string {
  const lines = ['', 'Usage:  berth [OPTIONS] COMMAND', '', 'A container engine that speaks Docker', '', 'Commands:'];
  const names = Object.keys(COMMANDS);
  const w = Math.max(...names.map((n) => n.length), ...Object.keys(MANAGEMENT).map((n) => n.length));
  for (const n of names) lines.push(`  ${n.padEnd(w)}  ${COMMANDS[n]!.summary}`);
  lines.push('', 'Management Commands:');
  for (const [n, m] of Object.entries(MANAGEMENT)) lines.push(`  ${n.padEnd(w)}  ${m.summary}`);
  lines.push('', 'Global Options:');
  for (const f of GLOBAL_FLAGS) lines.push(`  ${f.short ? `-${f.short}, ` : '    '}--${f.name}`.padEnd(22) + f.help);
  lines.push('', "Run 'berth COMMAND --help' for more information on a command.", '');
  return lines.join('\n');
}

function managementUsage(name: string): string {
  const m = MANAGEMENT[name]!;
  const lines = ['', `Usage:  berth ${name} COMMAND`, '', m.summary, '', 'Commands:'];
  const seen = new Set<Entry>();
  const names = Object.keys(m.commands).filter((n) => {
    const ent = m.commands[n]!;
    if (seen.has(ent)) return false;
    seen.add(ent);
    return true;
  });
  const w = Math.max(...names.map((n) => n.length));
  for (const n of names) lines.push(`  ${n.padEnd(w)}  ${m.commands[n]!.summary}`);
  lines.push('', `Run 'berth ${name} COMMAND --help' for more information on a command.`, '');
  return lines.join('\n');
}

type Handler = (cli: Cli, args: string[]) => Promise<void>;

/** A command's module (commands/<name>.js), loaded on first use; the snapshot preloads some. */
export function loadCommandModule(name: string): Promise<Record<string, Handler>> {
  return import(`./commands/${name}.js`) as Promise<Record<string, Handler>>;
}

export async function main(argv: string[]): Promise<void> {
  let status = 0;
  let cli: Cli | undefined;
  try {
    let parsed;
    try {
      parsed = parseFlags(GLOBAL_FLAGS, argv, { interspersed: false });
    } catch (e) {
      if (e instanceof FlagError) throw new CliError(e.message, 125, "\nRun 'berth --help' for more information");
      throw e;
    }
    const f = parsed.flags;
    const opts: GlobalOptions = { hosts: f.host as string[] };
    if (f.config !== undefined) opts.config = f.config as string;
    if (parsed.changed.has('tls')) opts.tls = f.tls as boolean;
    if (parsed.changed.has('tlsverify')) opts.tlsverify = f.tlsverify as boolean;
    for (const k of ['tlscacert', 'tlscert', 'tlskey'] as const) if (f[k] !== undefined) opts[k] = f[k] as string;
    if (f.debug) opts.debug = true;
    cli = new Cli(opts);
    if (f.version) {
      process.stdout.write(`Berth version ${BERTH_CLI_VERSION}\n`);
      return;
    }
    const [name, ...rest] = parsed.args;
    if (parsed.help || !name || name === 'help') {
      if (name === 'help' && rest[0]) return await main([...rest, '--help']);
      process.stdout.write(usage());
      return;
    }
    let entry: Entry | undefined = COMMANDS[name];
    let args = rest;
    let path = name;
    if (!entry && MANAGEMENT[name]) {
      const sub = rest[0];
      if (!sub || sub === '--help' || sub === '-h' || sub === 'help') {
        process.stdout.write(managementUsage(name));
        return;
      }
      entry = MANAGEMENT[name].commands[sub];
      if (!entry) {
        const near = nearest(sub, Object.keys(MANAGEMENT[name].commands));
        throw new CliError(`berth: unknown command: berth ${name} ${sub}${near ? `\nDid you mean "berth ${name} ${near}"?` : ''}`, 1, `\nRun 'berth ${name} --help' for more information`);
      }
      args = rest.slice(1);
      path = `${name} ${sub}`;
    }
    if (!entry) {
      const near = nearest(name, [...Object.keys(COMMANDS), ...Object.keys(MANAGEMENT)]);
      throw new CliError(`berth: unknown command: berth ${name}${near ? `\nDid you mean "berth ${near}"?` : ''}`, 1, "\nRun 'berth --help' for more information");
    }
    cli.command = path;
    const mod = await loadCommandModule(entry.module);
    await mod[entry.fn]!(cli, args);
  } catch (e) {
    status = await report(e);
  }
  process.exitCode = status;
}

async function report(e: unknown): Promise<number> {
  if (e instanceof ExitStatus) return e.status;
  if (e instanceof CliError) {
    if (e.message || e.usage) process.stderr.write(`${e.message}\n${e.usage ? `${e.usage}\n` : ''}`);
    return e.status;
  }
  const { ApiError, ConnectionError } = await import('../client/errors.js');
  if (e instanceof ApiError) {
    process.stderr.write(`Error response from daemon: ${e.message}\n`);
    return 1;
  }
  if (e instanceof ConnectionError) {
    process.stderr.write(`${e.message}\n`);
    return 1;
  }
  const { TemplateError } = await import('./template/tokenizer.js');
  if (e instanceof TemplateError) {
    process.stderr.write(`${e.message}\n`);
    return 1;
  }
  process.stderr.write(`berth: ${e instanceof Error ? (process.env.BERTH_DEBUG ? e.stack : e.message) : String(e)}\n`);
  return 1;
}
