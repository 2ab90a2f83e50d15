// `berth completion bash` and `berth completion zsh`, loaded into the real shells and their
// completion functions called as the shells would: commands, management subcommands, flags,
// and container and image names asked of a harness berthd (through `berth` on PATH).

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TestBerthd, dockerEnv } from '../../harness/berthd.js';
import { REPO_ROOT } from '../../harness/paths.js';

const BERTH = join(REPO_ROOT, 'bin', 'berth');
const ZSH = '/usr/bin/zsh';
const skip = process.getuid?.() !== 0 ? 'needs root' : false;

describe('berth completion', { skip }, () => {
  let d: TestBerthd;
  let env: NodeJS.ProcessEnv;
  const script = (shell: string): string => {
    const r = spawnSync(BERTH, ['completion', shell], { env, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const file = join(d.dir, `completion.${shell}`);
    writeFileSync(file, r.stdout);
    return file;
  };
  const shell = (argv: string[], code: string): string => {
    const r = spawnSync(argv[0]!, [...argv.slice(1), code], { env, encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
    return r.stdout;
  };

  before(async () => {
    d = await TestBerthd.start('cli-completion');
    env = { ...dockerEnv(d), PATH: `${join(REPO_ROOT, 'bin')}:${process.env.PATH ?? '/usr/bin:/bin'}` };
    const r = await d.docker(['create', '--name', 'compl-one', 'busybox', 'true']);
    assert.equal(r.code, 0, r.stderr);
  });
  after(async () => {
    await d?.cleanup();
  });

  test('bash: commands, subcommands, flags, container and image names', () => {
    const file = script('bash');
    // Each case: the words typed (the last is the one being completed) → COMPREPLY.
    const cases: [string[], string[]][] = [
      [['berth', 'net'], ['network']],
      [['berth', 'vol'], ['volume']],
      [['berth', 'network', ''], ['connect', 'create', 'disconnect', 'inspect', 'ls', 'list', 'prune', 'rm', 'remove']],
      [['berth', 'ps', '--fo'], ['--format']],
      [['berth', '-H', 'unix:///x', 'ps', '--no'], ['--no-trunc']],
      [['berth', '--tls'], ['--tls', '--tlscacert', '--tlscert', '--tlskey', '--tlsverify']],
      [['berth', 'stop', 'compl'], ['compl-one']],
      [['berth', 'container', 'rm', ''], ['compl-one']],
      [['berth', 'rmi', 'busy'], ['busybox:latest']],
      [['berth', 'run', '--rm', 'busy'], ['busybox:latest']],
    ];
    const calls = cases
      .map(([words]) => `COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; COMPREPLY=(); _berth; echo "\${COMPREPLY[*]}"`)
      .join('\n');
    const out = shell(['bash', '-c'], `source ${file}\n[ "$(complete -p berth)" = "complete -F _berth berth" ] || exit 3\n${calls}`).split('\n');
    cases.forEach(([words, want], i) => assert.deepEqual(out[i]!.split(' ').filter(Boolean), want, `berth ${words.slice(1).join(' ')}<TAB>`));
    const all = shell(['bash', '-c'], `source ${file}; COMP_WORDS=(berth ''); COMP_CWORD=1; _berth; echo "\${COMPREPLY[*]}"`).trim().split(' ');
    for (const c of ['run', 'ps', 'version', 'completion', 'container', 'image', 'system']) assert.ok(all.includes(c), `${c} in ${all.join(' ')}`);
  });

  test('zsh: loads under compinit and its function offers the same words', { skip: existsSync(ZSH) ? false : `${ZSH} is missing (scripts/setup.sh installs zsh)` }, () => {
    const file = script('zsh');
    // Loading as a user's .zshrc would: compdef registers _berth for berth.
    assert.equal(shell([ZSH, '-f', '-c'], `autoload -U compinit; compinit -u -D; source ${file}; print -r -- $_comps[berth]`), '_berth\n');
    // compadd and _describe work only inside a completion widget: stand-ins print what the
    // function hands them (zsh itself would then match them against the typed prefix).
    const out = shell(
      [ZSH, '-f', '-c'],
      `autoload -U compinit; compinit -u -D; source ${file}
compadd() { [[ $1 == -- ]] && shift; print -r -- "compadd $*"; }
_describe() { print -r -- "describe $1 \${(P)2}"; }
_files() { print -r -- files; }
t() { words=("$@"); CURRENT=$#; PREFIX=$words[CURRENT]; _berth; }
t berth ''
t berth network ''
t berth ps --fo
t berth stop co
t berth image rm ''
t berth load -i ''`,
    ).split('\n');
    assert.match(out[0]!, /^describe command run:Create and run a new container from an image .*\bnetwork:Manage networks\b/);
    assert.match(out[1]!, /^describe subcommand connect:Connect a container to a network create:Create a network /);
    assert.ok(out[2]!.startsWith('compadd ') && out[2]!.split(' ').includes('--format') && out[2]!.split(' ').includes('--no-trunc'), out[2]);
    assert.equal(out[3], 'compadd compl-one');
    assert.equal(out[4], 'compadd busybox:latest');
    assert.equal(out[5], 'files');
  });
});
