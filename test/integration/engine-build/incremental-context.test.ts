// berth build's incremental context against a harness berthd (docs/build.md, "Incremental
// contexts"): berthd keeps the context of a directory between builds and is sent only what
// changed; what it received and kept shows in the aux line berth build prints
// ("Build context: N files received (…), M unchanged kept by the daemon (…)"). Each test
// checks the image's COPY result, so a stale copy in the daemon would fail it.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, rename, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DOCKER, TestBerthd, runAgainst, type DockerResult } from '../../harness/berthd.js';
import { PrivateDockerd } from '../../harness/dockerd.js';
import { REPO_ROOT } from '../../harness/paths.js';
import { makeTempDir, removeTempDir } from '../../harness/tmp.js';

const BERTH = join(REPO_ROOT, 'bin', 'berth');
const skip = !existsSync(DOCKER) ? `${DOCKER} is not installed` : process.getuid?.() !== 0 ? 'needs root' : false;

function berth(d: TestBerthd, args: string[]): Promise<DockerResult> {
  return runAgainst(d, [process.execPath, BERTH, ...args], { timeoutMs: 120_000 });
}

/** The counts of the "Build context:" line, and whether a RUN ran. */
function summary(r: DockerResult): { received: number; receivedSize: string; kept: number; ran: boolean } {
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const m = /^Build context: (\d+) files? received \(([^)]+)\), (\d+) unchanged kept by the daemon/m.exec(r.stdout);
  assert.ok(m, r.stdout);
  return { received: Number(m[1]), receivedSize: m[2]!, kept: Number(m[3]), ran: /Running in /.test(r.stdout) };
}

describe('berth build with an incremental context', { skip }, () => {
  let d: TestBerthd;
  let ctx: string;
  const show = async (tag: string): Promise<string> => {
    const r = await d.docker(['run', '--rm', tag, 'cat', '/listing']);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout;
  };
  before(async () => {
    d = await TestBerthd.start('berthd-incremental');
    ctx = join(d.dir, 'ctx');
    await mkdir(join(ctx, 'dir'), { recursive: true });
    await writeFile(join(ctx, 'a.txt'), 'aaaa\n');
    await writeFile(join(ctx, 'dir', 'b.txt'), 'bbbb\n');
    // A whole second, so that the test can set it back exactly (utimes takes float seconds).
    await utimes(join(ctx, 'dir', 'b.txt'), 1_700_000_000, 1_700_000_000);
    await writeFile(join(ctx, 'gone.txt'), 'to be deleted\n');
    await symlink('a.txt', join(ctx, 'link'));
    await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox\nCOPY . /ctx/\nRUN cd /ctx && for f in $(find . -type f -o -type l | sort); do echo "$f=$(cat $f)"; done > /listing\n');
  });
  after(async () => {
    await d?.cleanup();
  });

  test('the first build sends every file; a rebuild with no change sends no file content and runs no RUN', async () => {
    const first = summary(await berth(d, ['build', '-t', 'inc', ctx]));
    assert.deepEqual([first.received, first.kept, first.ran], [4, 0, true]);
    const again = await berth(d, ['build', '-t', 'inc', ctx]);
    const s = summary(again);
    assert.deepEqual([s.received, s.receivedSize, s.kept, s.ran], [0, '0B', 4, false]);
    assert.match(again.stdout, /Step 3\/3 : RUN [^\n]*\n ---> Using cache/);
    assert.match(await show('inc'), /^\.\/a\.txt=aaaa\n\.\/dir\/b\.txt=bbbb\n\.\/gone\.txt=to be deleted\n\.\/link=aaaa\n$/m);
  });

  test('a file rewritten with the same size and its old mtime is sent again and rebuilt', async () => {
    const p = join(ctx, 'dir', 'b.txt');
    const before = await stat(p, { bigint: true });
    await writeFile(p, 'BBBB\n');
    await utimes(p, 1_700_000_000, 1_700_000_000);
    const now = await stat(p, { bigint: true });
    assert.deepEqual([now.mtimeNs, now.size, now.ino], [before.mtimeNs, before.size, before.ino]);
    const s = summary(await berth(d, ['build', '-t', 'inc', ctx]));
    assert.deepEqual([s.received, s.kept, s.ran], [1, 3, true]);
    assert.match(await show('inc'), /^\.\/dir\/b\.txt=BBBB$/m);
  });

  test('a deleted file is gone from the COPY, a renamed one is under its new name only, a symlink follows its new target', async () => {
    await rm(join(ctx, 'gone.txt'));
    await rename(join(ctx, 'a.txt'), join(ctx, 'renamed.txt'));
    await rm(join(ctx, 'link'));
    await symlink('dir/b.txt', join(ctx, 'link'));
    const s = summary(await berth(d, ['build', '-t', 'inc', ctx]));
    assert.deepEqual([s.received, s.kept, s.ran], [1, 2, true]);
    const listing = await show('inc');
    assert.doesNotMatch(listing, /gone\.txt|a\.txt=/);
    assert.match(listing, /^\.\/renamed\.txt=aaaa\n/m);
    assert.match(listing, /^\.\/link=BBBB$/m);
  });

  test('.dockerignore changes are honoured both ways; a Dockerfile change is seen', async () => {
    await writeFile(join(ctx, '.dockerignore'), 'renamed.txt\n');
    const s = summary(await berth(d, ['build', '-t', 'inc', ctx]));
    assert.equal(s.ran, true);
    assert.doesNotMatch(await show('inc'), /renamed\.txt=/);
    await writeFile(join(ctx, '.dockerignore'), '');
    summary(await berth(d, ['build', '-t', 'inc', ctx]));
    assert.match(await show('inc'), /^\.\/renamed\.txt=aaaa$/m);
    await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox\nCOPY . /ctx/\nRUN cd /ctx && ls > /listing\n');
    const df = summary(await berth(d, ['build', '-t', 'inc', ctx]));
    assert.deepEqual([df.received, df.ran], [1, true]);
    assert.match(await show('inc'), /^Dockerfile\ndir\nlink\nrenamed\.txt\n$/);
  });

  test('two builds of the same context at once both succeed with the right content', async () => {
    await writeFile(join(ctx, 'renamed.txt'), 'concurrent\n');
    const [x, y] = await Promise.all([berth(d, ['build', '-t', 'inc-x', ctx]), berth(d, ['build', '-t', 'inc-y', ctx])]);
    summary(x);
    summary(y);
    for (const t of ['inc-x', 'inc-y']) {
      const r = await d.docker(['run', '--rm', t, 'cat', '/ctx/renamed.txt']);
      assert.equal(r.stdout, 'concurrent\n', r.stderr);
    }
  });

  test('kept across a berthd restart; emptied by docker builder prune and berth system prune', async () => {
    await d.stop();
    await d.startDaemon();
    const kept = summary(await berth(d, ['build', '-t', 'inc', ctx]));
    assert.deepEqual([kept.received, kept.ran], [0, false]);
    const prune = await d.docker(['builder', 'prune', '-f']);
    assert.equal(prune.code, 0, prune.stderr);
    assert.deepEqual(readdirSync(join(d.dataRoot, 'build-context', 'blobs')), []);
    const after = summary(await berth(d, ['build', '-t', 'inc', ctx]));
    assert.deepEqual([after.received, after.kept], [4, 0]);
    const sys = await berth(d, ['system', 'prune', '-f']);
    assert.match(sys.stdout, /Deleted build cache objects:\n(.*\n)*context:/, sys.stderr);
    assert.deepEqual(readdirSync(join(d.dataRoot, 'build-context', 'blobs')), []);
  });
});

describe('berth build against dockerd: the context goes whole', { skip: PrivateDockerd.unavailable() ?? skip }, () => {
  let dir: string;
  let dockerd: PrivateDockerd | undefined;
  before(async () => {
    dir = await makeTempDir('berth-build-dockerd');
    await mkdir(join(dir, 'd'));
    dockerd = await PrivateDockerd.start(join(dir, 'd'));
  });
  after(async () => {
    await dockerd?.stop();
    await removeTempDir(dir);
  });

  test('the probe of /_berth/build/context is a 404 (or a closed connection); builds and -q work as with docker', async () => {
    const ctx = join(dir, 'ctx');
    await mkdir(ctx);
    await writeFile(join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY a /a\n');
    await writeFile(join(ctx, 'a'), 'hello');
    for (const args of [['build', '-t', 'whole', ctx], ['build', '-q', '-t', 'whole', ctx], ['build', '-q', '-t', 'whole', ctx]]) {
      const r = spawnSync(BERTH, ['-H', `unix://${dockerd!.socket}`, ...args], { encoding: 'utf8', timeout: 120_000 });
      assert.equal(r.status, 0, r.stderr + r.stdout);
      assert.doesNotMatch(r.stdout, /Build context:/);
      if (args.includes('-q')) assert.match(r.stdout, /^sha256:[0-9a-f]{64}\n$/);
      else assert.match(r.stdout, /Sending build context to Docker daemon/);
    }
  });
});
