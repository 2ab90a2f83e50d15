// completion bash|zsh: scripts generated from the command table and each command's flags,
// completing commands, management subcommands, flags, and container / image names.

import { CliError, type Cli, type CommandDef } from '../cli.js';
import { COMMANDS, MANAGEMENT, type Entry } from '../registry.js';
import { GLOBAL_FLAGS } from '../main.js';

export const completionDef: CommandDef = { usage: 'completion [bash|zsh]', summary: 'Generate the autocompletion script for the specified shell', flags: [], minArgs: 1, maxArgs: 1 };

const IMAGE_COMMANDS = new Set(['run', 'create', 'rmi', 'history', 'push', 'save', 'tag', 'image rm', 'image remove', 'image history', 'image inspect', 'image push', 'image save', 'image tag', 'container run', 'container create']);
const NO_NAMES = new Set(['ps', 'images', 'pull', 'login', 'logout', 'version', 'info', 'events', 'load', 'import', 'build', 'search', 'completion']);

async function defFor(e: Entry): Promise<CommandDef | undefined> {
  const mod = (await import(`./${e.module}.js`)) as Record<string, unknown>;
  const names = [`${e.fn}Def`, `${e.fn.replace(/^(container|image|network|volume)(Inspect)$/, 'inspect')}Def`, `${e.fn.replace(/Container$|Image$/, '')}Def`];
  for (const n of names) if (mod[n]) return mod[n] as CommandDef;
  return undefined;
}

function flagWords(def: CommandDef | undefined): string[] {
  const out: string[] = ['--help'];
  for (const f of def?.flags ?? []) {
    if (f.hidden) continue;
    out.push(`--${f.name}`);
    if (f.short) out.push(`-${f.short}`);
  }
  return out;
}

interface Table {
  commands: [string, string][];
  management: Record<string, [string, string][]>;
  flags: Record<string, string[]>;
}

async function table(): Promise<Table> {
  const t: Table = { commands: [], management: {}, flags: {} };
  for (const [n, e] of Object.entries(COMMANDS)) {
    t.commands.push([n, e.summary]);
    t.flags[n] = flagWords(await defFor(e));
  }
  for (const [m, g] of Object.entries(MANAGEMENT)) {
    t.commands.push([m, g.summary]);
    t.management[m] = [];
    for (const [s, e] of Object.entries(g.commands)) {
      t.management[m]!.push([s, e.summary]);
      t.flags[`${m} ${s}`] = flagWords(await defFor(e));
    }
  }
  return t;
}

function nameSource(key: string): string {
  const cmd = key.split(' ').pop()!;
  if (IMAGE_COMMANDS.has(key)) return 'images';
  if (NO_NAMES.has(key) || NO_NAMES.has(cmd) || key.startsWith('system') || /^(network|volume) (ls|list|create|prune)$/.test(key) || /^(image) (ls|list|prune|pull|load|import|build)$/.test(key)) return '';
  if (key.startsWith('network')) return 'networks';
  if (key.startsWith('volume')) return 'volumes';
  return 'containers';
}

/** The shell function (bash and zsh alike) that lists the names of a kind of object from the daemon. */
const NAMES_FN = `_berth_names() {
  case "$1" in
    containers) berth ps -a --format '{{.Names}}' 2>/dev/null ;;
    images) berth images --format '{{.Repository}}:{{.Tag}}' 2>/dev/null | grep -v '<none>' ;;
    networks) berth network ls --format '{{.Name}}' 2>/dev/null ;;
    volumes) berth volume ls -q 2>/dev/null ;;
  esac
}
`;

export function bashScript(t: Table): string {
  const cases = Object.entries(t.flags)
    .map(([k, f]) => `    "${k}") flags="${f.join(' ')}"; names="${nameSource(k)}" ;;`)
    .join('\n');
  const mgmt = Object.entries(t.management)
    .map(([m, subs]) => `    ${m}) subs="${subs.map(([s]) => s).join(' ')}" ;;`)
    .join('\n');
  return `# bash completion for berth (berth completion bash)
${NAMES_FN}
_berth() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}"
  local cmd="" sub="" i w
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    case "$w" in
      -H|--host|--config|--context|-c|--tlscacert|--tlscert|--tlskey|-l|--log-level) [ -z "$cmd" ] && ((i++)) ;;
      -*) ;;
      *) if [ -z "$cmd" ]; then cmd="$w"; elif [ -z "$sub" ]; then sub="$w"; fi ;;
    esac
  done
  if [ -z "$cmd" ]; then
    if [[ "$cur" == -* ]]; then
      COMPREPLY=($(compgen -W "${GLOBAL_FLAGS.map((f) => `--${f.name}${f.short ? ` -${f.short}` : ''}`).join(' ')} --help" -- "$cur"))
    else
      COMPREPLY=($(compgen -W "${t.commands.map(([c]) => c).join(' ')}" -- "$cur"))
    fi
    return
  fi
  local key="$cmd" subs=""
  case "$cmd" in
${mgmt}
  esac
  if [ -n "$subs" ]; then
    if [ -z "$sub" ]; then COMPREPLY=($(compgen -W "$subs" -- "$cur")); return; fi
    key="$cmd $sub"
  fi
  local flags="" names=""
  case "$key" in
${cases}
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$flags" -- "$cur"))
  elif [ -n "$names" ]; then
    COMPREPLY=($(compgen -W "$(_berth_names "$names")" -- "$cur"))
  else
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
}
complete -F _berth berth
`;
}

export function zshScript(t: Table): string {
  const q = (s: string): string => s.replace(/'/g, "'\\''").replace(/:/g, '\\:');
  const cmds = t.commands.map(([c, s]) => `    '${c}:${q(s)}'`).join('\n');
  const mgmt = Object.entries(t.management)
    .map(([m, subs]) => `    ${m}) subs=(${subs.map(([s, d]) => `'${s}:${q(d)}'`).join(' ')}) ;;`)
    .join('\n');
  const cases = Object.entries(t.flags)
    .map(([k, f]) => `    '${k}') flags=(${f.join(' ')}); names=${nameSource(k) || 'none'} ;;`)
    .join('\n');
  return `#compdef berth
# zsh completion for berth (berth completion zsh)
${NAMES_FN}
_berth() {
  local -a cmds subs flags
  local names key
  cmds=(
${cmds}
  )
  local -a args
  args=(\${words[2,CURRENT-1]:#-*})
  if (( \${#args} == 0 )); then
    _describe 'command' cmds
    return
  fi
  key=\${args[1]}
  subs=()
  case \${args[1]} in
${mgmt}
  esac
  if (( \${#subs} )); then
    if (( \${#args} == 1 )); then
      _describe 'subcommand' subs
      return
    fi
    key="\${args[1]} \${args[2]}"
  fi
  flags=(); names=none
  case "$key" in
${cases}
  esac
  if [[ "$PREFIX" == -* ]]; then
    compadd -- $flags
  elif [[ "$names" != none ]]; then
    compadd -- \${(f)"$(_berth_names $names)"}
  else
    _files
  fi
}

if [ "$funcstack[1]" = "_berth" ]; then
  _berth "$@"
else
  compdef _berth berth
fi
`;
}

export async function completion(cli: Cli, args: string[]): Promise<void> {
  const p = cli.parse(completionDef, args);
  const shell = p.args[0]!;
  if (shell !== 'bash' && shell !== 'zsh') throw new CliError(`unsupported shell "${shell}": use bash or zsh`, 1);
  const t = await table();
  cli.out(shell === 'bash' ? bashScript(t) : zshScript(t));
}
