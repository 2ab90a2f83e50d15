// berth against a real dockerd (Debian's docker.io), started privately by the harness: the
// Engine API client and the commands work with the engine they imitate, not only with
// berthd. Skipped, saying why, where dockerd is missing or cannot start.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { PrivateDockerd } from '../../harness/dockerd.js';
import { writeBusyboxArchive } from '../../harness/image-fixtures.js';
import { REPO_ROOT } from '../../harness/paths.js';
import { makeTempDir, removeTempDir } from '../../harness/tmp.js';

const BERTH = join(REPO_ROOT, 'bin', 'berth');
const unavailable = PrivateDockerd.unavailable();

describe('berth against a real dockerd', { skip: unavailable ?? false }, () => {
  let dir: string;
  let dockerd: PrivateDockerd | undefined;
  let cannotStart: string | undefined;
  const berth = (args: string[]): { code: number | null; stdout: string; stderr: string } => {
    const r = spawnSync(BERTH, args, { env: dockerd!.env(), encoding: 'utf8', timeout: 120_000 });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  const ok = (args: string[]): string => {
    const r = berth(args);
    assert.equal(r.code, 0, `berth ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const docker = (args: string[]): string => {
    const r = dockerd!.docker(args);
    assert.equal(r.status, 0, `docker ${args.join(' ')}: ${r.stderr.toString()}`);
    return r.stdout.toString();
  };

  before(async () => {
    dir = await makeTempDir('cli-dockerd');
    try {
      dockerd = await PrivateDockerd.start(join(dir));
    } catch (e) {
      cannotStart = `dockerd could not start here: ${(e as Error).message.slice(0, 400)}`;
    }
  });
  after(async () => {
    if (dockerd) {
      for (const id of docker(['ps', '-aq']).split('\n').filter(Boolean)) dockerd.docker(['rm', '-f', id]);
      await dockerd.stop();
    }
    if (dir) await removeTempDir(dir);
  });

  test('version, info, load, run, ps, logs, exec, inspect, stop, rm, images, rmi', (t) => {
    if (cannotStart) return t.skip(cannotStart);
    // version and info: the server is dockerd's, not berthd's.
    const server = docker(['version', '--format', '{{.Server.Version}} {{.Server.APIVersion}}']);
    assert.equal(ok(['version', '--format', '{{.Server.Version}} {{.Server.APIVersion}}']), server);
    const v = ok(['version']);
    assert.ok(v.includes(`\nServer:`) && v.includes(`\n Engine:\n  Version:          ${server.split(' ')[0]}\n`) && v.includes('\n containerd:\n'), v);
    assert.equal(ok(['info', '--format', '{{.ServerVersion}} {{.DockerRootDir}}']), `${server.split(' ')[0]} ${join(dir, 'data')}\n`);

    const archive = join(dir, 'busybox.tar');
    return writeBusyboxArchive(archive).then(() => {
      assert.match(ok(['load', '-i', archive]), /Loaded image: busybox:latest/);
      assert.equal(ok(['images', '--format', '{{.Repository}}:{{.Tag}}']), 'busybox:latest\n');
      assert.equal(ok(['images']), docker(['images']));

      // run --rm: output and exit codes pass through, nothing left.
      assert.equal(ok(['run', '--rm', '--network', 'none', 'busybox', 'echo', 'hello from dockerd']), 'hello from dockerd\n');
      assert.equal(berth(['run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', 'exit 3']).code, 3);
      assert.equal(docker(['ps', '-aq']), '');

      // run -d, ps, logs, exec, inspect
      const id = ok(['run', '-d', '--network', 'none', '--name', 'berth-on-dockerd', 'busybox', 'sh', '-c', 'echo started; exec sleep 600']).trim();
      assert.match(id, /^[0-9a-f]{64}$/);
      assert.equal(ok(['ps', '--format', '{{.ID}} {{.Names}} {{.Image}} {{.Command}}']), docker(['ps', '--format', '{{.ID}} {{.Names}} {{.Image}} {{.Command}}']));
      assert.match(ok(['ps']), /berth-on-dockerd\n$/);
      for (let i = 0; i < 100 && !ok(['logs', 'berth-on-dockerd']).includes('started'); i++) spawnSync('sleep', ['0.1']);
      assert.equal(ok(['logs', 'berth-on-dockerd']), 'started\n');
      assert.equal(ok(['exec', 'berth-on-dockerd', 'cat', '/hello.txt']), docker(['exec', 'berth-on-dockerd', 'cat', '/hello.txt']));
      assert.equal(berth(['exec', 'berth-on-dockerd', 'sh', '-c', 'exit 7']).code, 7);
      assert.equal(ok(['inspect', '--format', '{{.Id}} {{.State.Running}} {{.Config.Image}}', 'berth-on-dockerd']), `${id} true busybox\n`);
      assert.deepEqual(JSON.parse(ok(['inspect', 'berth-on-dockerd']))[0].Id, id);

      // stop, rm, rmi, and an error from dockerd as docker prints it
      assert.equal(ok(['stop', '-t', '1', 'berth-on-dockerd']), 'berth-on-dockerd\n');
      assert.equal(ok(['inspect', '--format', '{{.State.Running}}', 'berth-on-dockerd']), 'false\n');
      assert.equal(ok(['rm', 'berth-on-dockerd']), 'berth-on-dockerd\n');
      const missing = berth(['rm', 'berth-on-dockerd']);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /^Error response from daemon: No such container: berth-on-dockerd\n$/);
      assert.match(ok(['rmi', 'busybox']), /^Untagged: busybox:latest\n/);
      assert.equal(ok(['images', '-q']), '');
    });
  });
});
