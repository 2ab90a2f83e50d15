// berth and the real docker CLI against the same harness-started berthd: the same commands,
// outputs compared with ids and times normalised; exit codes; pull/push against the
// harness's docker-registry.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DOCKER, TestBerthd, dockerEnv, type DockerResult } from '../../harness/berthd.js';
import { REPO_ROOT } from '../../harness/paths.js';
import { runCommand } from '../../harness/run-command.js';
import { hasDockerRegistry, startRegistry, type TestRegistry } from '../../harness/registry.js';

const BERTH = join(REPO_ROOT, 'bin', 'berth');
const skip = !existsSync(DOCKER) ? `${DOCKER} is not installed` : process.getuid?.() !== 0 ? 'needs root' : false;

function runBerth(d: TestBerthd, args: string[], input = '', extraEnv: Record<string, string> = {}): Promise<DockerResult> {
  return runCommand(BERTH, args, { env: { ...dockerEnv(d), ...extraEnv }, input, timeoutMs: 60_000 });
}

/** Ids, names docker generates, times and ages replaced by placeholders. */
export function normalise(s: string): string {
  return s
    .replace(/\b[0-9a-f]{64}\b/g, '<ID>')
    .replace(/\b[0-9a-f]{12}\b/g, '<id>')
    .replace(/\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d+)?( ?[+-]\d{4} \w+|Z)?/g, '<time>')
    .replace(/(Less than a second|About a minute|About an hour|\d+ (second|minute|hour|day|week|month|year)s?)( ago)?/g, '<age>$3')
    // Column widths follow the ages, which differ between two runs.
    .replace(/ {2,}/g, '  ');
}

describe('berth and the docker CLI against the same berthd', { skip }, () => {
  let d: TestBerthd;
  const berth = (args: string[], input = ''): Promise<DockerResult> => runBerth(d, args, input);
  const both = async (args: string[], input = ''): Promise<[DockerResult, DockerResult]> => [await d.docker(args, { input }), await berth(args, input)];

  before(async () => {
    d = await TestBerthd.start('berth-cli');
  });
  after(async () => {
    await d?.cleanup();
  });

  test('version --format and the default version output', async () => {
    const [dk, b] = await both(['version', '--format', '{{.Server.Version}} {{.Server.APIVersion}} {{.Server.Os}} {{.Server.Arch}} {{(index .Server.Components 0).Name}}']);
    assert.equal(b.code, 0, b.stderr);
    assert.equal(b.stdout, dk.stdout);
    const v = await berth(['version']);
    assert.equal(v.code, 0, v.stderr);
    assert.match(v.stdout, /^Client: Berth\n Version: +0\.1\.0\n API version: +1\.47\n/);
    assert.match(v.stdout, /\nServer: Berth\n Engine:\n  Version: +\S+\n  API version: +1\.47 \(minimum version 1\.24\)\n/);
    assert.equal((await berth(['version', '--format', '{{json .Client.Version}}'])).stdout, '"0.1.0"\n');
  });

  test('info: the same server facts as docker info', async () => {
    const [dk, b] = await both(['info', '--format', '{{.ServerVersion}} {{.Driver}} {{.NCPU}} {{.Containers}} {{.DockerRootDir}}']);
    assert.equal(b.code, 0, b.stderr);
    assert.equal(b.stdout, dk.stdout);
    const plain = await berth(['info']);
    assert.equal(plain.code, 0, plain.stderr);
    const serverPart = (s: string): string => s.slice(s.indexOf('Server:'));
    assert.equal(serverPart(plain.stdout), serverPart((await d.docker(['info'])).stdout));
  });

  test('ps, ps -a, -q, --no-trunc, --format, filters: the same output', async () => {
    const [dk0, b0] = await both(['ps']);
    assert.equal(b0.stdout, dk0.stdout);
    const run = await berth(['run', '-d', '--name', 'cli-ps', '-l', 'tier=web', 'busybox', 'sleep', '300']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^[0-9a-f]{64}\n$/);
    assert.equal((await berth(['run', '--name', 'cli-ps-done', 'busybox', 'true'])).code, 0);
    for (const args of [
      ['ps'],
      ['ps', '-a'],
      ['ps', '-q'],
      ['ps', '-aq', '--no-trunc'],
      ['ps', '-a', '--no-trunc'],
      ['ps', '-a', '--format', '{{.Names}}\t{{.Image}}\t{{.Command}}\t{{.State}}\t{{.Label "tier"}}'],
      ['ps', '-a', '--format', 'table {{.ID}}\t{{.Names}}\t{{.Status}}\t{{.Networks}}'],
      ['ps', '--filter', 'name=cli-ps', '--format', '{{json .}}'],
      ['ps', '-a', '--filter', 'status=exited', '--format', '{{.Names}}'],
      ['ps', '-a', '-n', '1', '--format', '{{.Names}}'],
      ['container', 'ls', '-s'],
    ]) {
      const [dk, b] = await both(args);
      assert.equal(b.code, 0, `${args.join(' ')}: ${b.stderr}`);
      assert.equal(normalise(b.stdout), normalise(dk.stdout), args.join(' '));
    }
  });

  test('images, images -q, --format, history, image inspect -f', async () => {
    for (const args of [
      ['images'],
      ['images', '-q'],
      ['images', '--no-trunc'],
      ['images', '--format', '{{.Repository}}:{{.Tag}} {{.Size}}'],
      ['images', '--format', '{{json .}}'],
      ['image', 'ls', 'busybox'],
      ['history', 'busybox'],
      ['image', 'inspect', '-f', '{{.Id}} {{.Os}}/{{.Architecture}} {{json .RepoTags}} {{.Config.Cmd}}', 'busybox'],
    ]) {
      const [dk, b] = await both(args);
      assert.equal(b.code, 0, `${args.join(' ')}: ${b.stderr}`);
      assert.equal(normalise(b.stdout), normalise(dk.stdout), args.join(' '));
    }
  });

  test('inspect: the same JSON, -f templates, and errors', async () => {
    const [dk, b] = await both(['inspect', 'cli-ps']);
    assert.equal(b.code, 0, b.stderr);
    assert.deepEqual(JSON.parse(b.stdout), JSON.parse(dk.stdout));
    assert.equal(b.stdout.split('\n')[2], dk.stdout.split('\n')[2]);
    for (const f of [
      '{{.State.Status}} {{.Name}} {{.Config.Image}} {{json .Config.Cmd}}',
      '{{.HostConfig.LogConfig}} {{.Config.Labels}} {{index .Config.Labels "tier"}}',
      '{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}} {{join .Args ","}} {{upper .State.Status}}',
      '{{if .State.Running}}running{{else}}stopped{{end}} {{len .Config.Env}}',
    ]) {
      const [x, y] = await both(['inspect', '-f', f, 'cli-ps']);
      assert.equal(y.stdout, x.stdout, f);
    }
    const [nx, ny] = await both(['inspect', 'nosuch']);
    assert.equal(ny.code, nx.code);
    assert.equal(ny.stderr, nx.stderr);
    const [rx, ry] = await both(['rm', 'nosuch']);
    assert.equal(ry.code, 1);
    assert.equal(ry.code, rx.code);
    assert.equal(ry.stderr, rx.stderr);
  });

  test('run --rm: output and exit codes as docker (0, 3, 127, 125 for flags), stdin with -i', async () => {
    for (const [args, code] of [
      [['run', '--rm', 'busybox', 'sh', '-c', 'echo out; echo err >&2'], 0],
      [['run', '--rm', 'busybox', 'sh', '-c', 'exit 3'], 3],
      [['run', '--rm', 'busybox', 'nosuchcmd'], 127],
      [['run', '--rm', '--nmae', 'x', 'busybox'], 125],
      [['run', '--rm', '--restart', 'sometimes', 'busybox'], 125],
    ] as [string[], number][]) {
      const [dk, b] = await both(args);
      assert.equal(dk.code, code, `docker ${args.join(' ')}: ${dk.stderr}`);
      assert.equal(b.code, code, `berth ${args.join(' ')}: ${b.stderr}`);
      assert.equal(b.stdout, dk.stdout);
    }
    const nmae = await berth(['run', '--nmae', 'x', 'busybox']);
    assert.match(nmae.stderr, /^unknown flag: --nmae\nDid you mean --name\?\n/);
    const [dk, b] = await both(['run', '--rm', '-i', 'busybox', 'cat'], 'hi\nthere\n');
    assert.equal(b.code, 0, b.stderr);
    assert.equal(b.stdout, dk.stdout);
    assert.equal(b.stdout, 'hi\nthere\n');
    const env = await berth(['run', '--rm', '-e', 'A=1', '-w', '/tmp', '-u', '1000', '--hostname', 'hh', '--entrypoint', 'sh', 'busybox', '-c', 'echo $A $(pwd) $(id -u) $(hostname)']);
    assert.equal(env.stdout, '1 /tmp 1000 hh\n', env.stderr);
    assert.equal((await d.docker(['ps', '-aq', '--filter', 'status=exited', '--filter', 'ancestor=busybox', '--filter', 'name=cli-rm'])).stdout, '');
  });

  test('logs (stdout and stderr, --tail, -t) and logs -f until exit; wait', async () => {
    const r = await berth(['run', '-d', '--name', 'cli-logs', 'busybox', 'sh', '-c', 'echo a; echo b >&2; echo c']);
    assert.equal(r.code, 0, r.stderr);
    const w = await berth(['wait', 'cli-logs']);
    assert.equal(w.stdout, '0\n');
    for (const args of [['logs', 'cli-logs'], ['logs', '--tail', '1', 'cli-logs'], ['logs', '-n', '2', 'cli-logs']]) {
      const [dk, b] = await both(args);
      assert.equal(b.stdout, dk.stdout, args.join(' '));
      assert.equal(b.stderr, dk.stderr, args.join(' '));
    }
    const t = await berth(['logs', '-t', 'cli-logs']);
    assert.match(t.stdout, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z a\n/);
    await berth(['run', '-d', '--name', 'cli-follow', 'busybox', 'sh', '-c', 'for i in 1 2 3; do echo $i; sleep 0.2; done']);
    const f = await berth(['logs', '-f', 'cli-follow']);
    assert.equal(f.stdout, '1\n2\n3\n');
  });

  test('exec: output, exit code, -e, -w, -u, stdin', async () => {
    const [dk, b] = await both(['exec', 'cli-ps', 'sh', '-c', 'echo x; echo y >&2; exit 5']);
    assert.equal(dk.code, 5);
    assert.equal(b.code, 5, b.stderr);
    assert.equal(b.stdout, dk.stdout);
    assert.equal(b.stderr, dk.stderr);
    const e = await berth(['exec', '-e', 'V=2', '-w', '/etc', '-u', '65534', 'cli-ps', 'sh', '-c', 'echo $V $(pwd) $(id -u)']);
    assert.equal(e.stdout, '2 /etc 65534\n', e.stderr);
    const i = await berth(['exec', '-i', 'cli-ps', 'cat'], 'piped\n');
    assert.equal(i.stdout, 'piped\n', i.stderr);
    const [nx, ny] = await both(['exec', 'nosuch', 'true']);
    assert.equal(ny.code, nx.code);
    assert.equal(ny.stderr, nx.stderr);
  });

  test('top, stats --no-stream, port, rename, pause/unpause, update, restart, kill', async () => {
    const top = await berth(['top', 'cli-ps']);
    assert.equal(top.code, 0, top.stderr);
    assert.match(top.stdout, /^UID\s+PID\s+PPID\s+C\s+STIME\s+TTY\s+TIME\s+CMD\n.*sleep 300/s);
    const stats = await berth(['stats', '--no-stream', 'cli-ps']);
    assert.equal(stats.code, 0, stats.stderr);
    assert.match(stats.stdout, /^CONTAINER ID   NAME      CPU %     MEM USAGE \/ LIMIT +MEM % +NET I\/O +BLOCK I\/O +PIDS\n[0-9a-f]{12}   cli-ps +\d+\.\d\d% +\S+ \/ \S+ +\d+\.\d\d% /);
    const sf = await berth(['stats', '--no-stream', '--format', '{{.Name}} {{.PIDs}}', 'cli-ps']);
    assert.equal(sf.stdout, 'cli-ps 1\n');
    assert.equal((await berth(['rename', 'cli-ps', 'cli-ps2'])).code, 0);
    assert.equal((await berth(['pause', 'cli-ps2'])).stdout, 'cli-ps2\n');
    assert.equal((await d.docker(['inspect', '-f', '{{.State.Status}}', 'cli-ps2'])).stdout, 'paused\n');
    assert.equal((await berth(['unpause', 'cli-ps2'])).stdout, 'cli-ps2\n');
    const up = await berth(['update', '--memory', '64m', '--memory-swap', '128m', '--pids-limit', '50', 'cli-ps2']);
    assert.equal(up.code, 0, up.stderr);
    assert.equal((await d.docker(['inspect', '-f', '{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}}', 'cli-ps2'])).stdout, `${64 * 1024 * 1024} 50\n`);
    assert.equal((await berth(['restart', '-t', '1', 'cli-ps2'])).stdout, 'cli-ps2\n');
    assert.equal((await berth(['kill', 'cli-ps2'])).stdout, 'cli-ps2\n');
    assert.equal((await berth(['wait', 'cli-ps2'])).stdout, '137\n');
  });

  test('create, start -a, stop and rm (-f, -v): printed names, gone from ps', async () => {
    const c = await berth(['create', '--name', 'cli-created', 'busybox', 'sh', '-c', 'echo started; exit 2']);
    assert.equal(c.code, 0, c.stderr);
    assert.match(c.stdout, /^[0-9a-f]{64}\n$/);
    const s = await berth(['start', '-a', 'cli-created']);
    assert.equal(s.stdout, 'started\n');
    assert.equal(s.code, 2);
    await berth(['run', '-d', '--name', 'cli-stop', 'busybox', 'sleep', '300']);
    const st = await berth(['stop', '-t', '1', 'cli-stop']);
    assert.equal(st.stdout, 'cli-stop\n', st.stderr);
    assert.equal((await berth(['rm', 'cli-stop', 'cli-created'])).stdout, 'cli-stop\ncli-created\n');
    await berth(['run', '-d', '--name', 'cli-force', 'busybox', 'sleep', '300']);
    const rmRunning = await berth(['rm', 'cli-force']);
    assert.equal(rmRunning.code, 1);
    assert.match(rmRunning.stderr, /^Error response from daemon: .*cli-force/);
    assert.equal((await berth(['rm', '-fv', 'cli-force'])).stdout, 'cli-force\n');
    const ps = await d.docker(['ps', '-a', '--format', '{{.Names}}']);
    assert.doesNotMatch(ps.stdout, /cli-stop|cli-created|cli-force/);
  });

  test('unknown commands and missing arguments', async () => {
    const u = await berth(['psx']);
    assert.equal(u.code, 1);
    assert.match(u.stderr, /^berth: unknown command: berth psx\nDid you mean "berth ps"\?/);
    const m = await berth(['logs']);
    assert.equal(m.code, 125);
    assert.match(m.stderr, /"berth logs" requires exactly 1 argument\./);
    const h = await berth(['ps', '--help']);
    assert.equal(h.code, 0);
    assert.match(h.stdout, /Usage:  berth ps \[OPTIONS\]/);
    const none = await runBerth(d, ['ps'], '', { DOCKER_HOST: `unix://${join(d.dir, 'none.sock')}` });
    assert.equal(none.code, 1);
    assert.match(none.stderr, /Cannot connect to the Berth daemon at unix:\/\/.*none\.sock\. Is the daemon running\?/);
  });

  test('pull and push against the harness registry', { skip: hasDockerRegistry() ? false : 'docker-registry is not installed' }, async () => {
    let reg: TestRegistry | undefined;
    try {
      reg = await startRegistry();
      const ref = `${reg.host}/cli/busybox:v1`;
      assert.equal((await berth(['tag', 'busybox', ref])).code, 0);
      const push = await berth(['push', ref]);
      assert.equal(push.code, 0, push.stderr);
      assert.match(push.stdout, /v1: digest: sha256:[0-9a-f]{64} size: \d+/);
      const rmi = await berth(['rmi', ref]);
      assert.equal(rmi.stdout, `Untagged: ${ref}\n`, rmi.stderr);
      const pull = await berth(['pull', ref]);
      assert.equal(pull.code, 0, pull.stderr);
      assert.match(pull.stdout, /^v1: Pulling from cli\/busybox\n/);
      assert.match(pull.stdout, /\nStatus: (Downloaded newer image|Image is up to date) for .*\n127\.0\.0\.1:\d+\/cli\/busybox:v1\n$/);
      const dpull = await d.docker(['pull', ref]);
      assert.equal(pull.stdout.split('\n').slice(-2).join('\n'), dpull.stdout.split('\n').slice(-2).join('\n'));
      const q = await berth(['pull', '-q', ref]);
      assert.equal(q.stdout, `${ref}\n`);
      const missing = await berth(['pull', `${reg.host}/cli/nothere:v1`]);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /^Error response from daemon: /);
      const runPull = await berth(['rmi', ref]);
      assert.equal(runPull.code, 0, runPull.stderr);
      const r = await berth(['run', '--rm', ref, 'echo', 'pulled']);
      assert.equal(r.stdout, 'pulled\n', r.stderr);
      assert.match(r.stderr, new RegExp(`Unable to find image '${ref.replace(/[.]/g, '\\.')}' locally`));
    } finally {
      await reg?.stop();
    }
  });

  test('events --since/--until shows the lifecycle docker shows', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    await berth(['run', '--rm', '--name', 'cli-ev', 'busybox', 'true']);
    await sleep(200);
    const until = Math.floor(Date.now() / 1000) + 1;
    const args = ['events', '--since', String(since), '--until', String(until), '--filter', 'container=cli-ev', '--format', '{{.Type}} {{.Action}} {{.Actor.Attributes.name}}'];
    const [dk, b] = await both(args);
    assert.equal(b.code, 0, b.stderr);
    assert.equal(b.stdout, dk.stdout);
    assert.match(b.stdout, /container create cli-ev\n/);
  });
});
