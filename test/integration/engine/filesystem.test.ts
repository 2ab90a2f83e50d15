// The real docker CLI against berthd: a container's filesystem from outside — docker cp
// both ways (with escape attempts through `..` and symlinks), docker export, docker diff,
// docker commit and a run of the committed image.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DOCKER, TestBerthd } from '../../harness/berthd.js';

const skip = !existsSync(DOCKER) ? `${DOCKER} is not installed` : process.getuid?.() !== 0 ? 'needs root' : false;

describe('docker CLI against berthd: cp, export, diff, commit', { skip }, () => {
  let d: TestBerthd;
  let host: string;
  before(async () => {
    d = await TestBerthd.start('berthd-fs');
    host = join(d.dir, 'host');
    mkdirSync(host);
  });
  after(async () => {
    await d?.cleanup();
  });

  test('docker cp from a running container: a file, a directory, its contents, a symlink', async () => {
    const r = await d.docker(['run', '-d', '--name', 'cpsrc', '--network', 'none', 'busybox', 'sh', '-c', 'mkdir -p /data/sub && echo one > /data/a && echo two > /data/sub/b && ln -s /data/a /data/link && sleep 60']);
    assert.equal(r.code, 0, r.stderr);
    for (let i = 0; i < 50 && (await d.docker(['exec', 'cpsrc', 'test', '-e', '/data/link'])).code !== 0; i++) await new Promise((res) => setTimeout(res, 100));
    const f = await d.docker(['cp', 'cpsrc:/data/a', join(host, 'a.txt')]);
    assert.equal(f.code, 0, f.stderr);
    assert.equal(readFileSync(join(host, 'a.txt'), 'utf8'), 'one\n');
    assert.equal((await d.docker(['cp', 'cpsrc:/data', join(host, 'data')])).code, 0);
    assert.equal(readFileSync(join(host, 'data', 'sub', 'b'), 'utf8'), 'two\n');
    assert.equal(readlinkSync(join(host, 'data', 'link')), '/data/a');
    mkdirSync(join(host, 'contents'));
    assert.equal((await d.docker(['cp', 'cpsrc:/data/.', join(host, 'contents')])).code, 0);
    assert.equal(readFileSync(join(host, 'contents', 'a'), 'utf8'), 'one\n');
    // -L follows the link (resolved inside the container)
    assert.equal((await d.docker(['cp', '-L', 'cpsrc:/data/link', join(host, 'followed')])).code, 0);
    assert.equal(readFileSync(join(host, 'followed'), 'utf8'), 'one\n');
    const tarOut = execFileSync(DOCKER, ['cp', 'cpsrc:/data/sub', '-'], { env: { ...process.env, DOCKER_HOST: `unix://${d.socket}` } });
    assert.ok(tarOut.includes(Buffer.from('sub/b')));
    const missing = await d.docker(['cp', 'cpsrc:/nope', join(host, 'x')]);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /Could not find the file \/nope in container cpsrc/);
  });

  test('docker cp into a container, running and stopped; escapes stay inside the rootfs', async () => {
    writeFileSync(join(host, 'in.txt'), 'into the container\n');
    mkdirSync(join(host, 'indir', 'deep'), { recursive: true });
    writeFileSync(join(host, 'indir', 'deep', 'f'), 'deep\n');
    assert.equal((await d.docker(['cp', join(host, 'in.txt'), 'cpsrc:/tmp/'])).code, 0);
    assert.equal((await d.docker(['cp', join(host, 'indir'), 'cpsrc:/tmp/indir'])).code, 0);
    assert.equal((await d.docker(['exec', 'cpsrc', 'cat', '/tmp/in.txt', '/tmp/indir/deep/f'])).stdout, 'into the container\ndeep\n');

    // A symlink to / inside the container: copying "through" it lands in the container's /.
    const victim = join(d.dir, 'host-victim');
    mkdirSync(victim);
    await d.docker(['exec', 'cpsrc', 'sh', '-c', `ln -s / /escape && ln -s ${victim} /abs-escape && ln -s ../../../../../../../.. /rel-escape`]);
    for (const dest of ['cpsrc:/escape/tmp/', `cpsrc:/abs-escape/`, 'cpsrc:/rel-escape/tmp/', 'cpsrc:/../../../../tmp/']) {
      const r = await d.docker(['cp', join(host, 'in.txt'), dest]);
      assert.ok(r.code === 0 || /Could not find|not a directory|no such directory/.test(r.stderr), `${dest}: ${r.stderr}`);
    }
    assert.equal(existsSync(join(victim, 'in.txt')), false, 'wrote through an absolute symlink onto the host');
    const reading = await d.docker(['cp', 'cpsrc:/rel-escape/etc/passwd', join(host, 'passwd')]);
    assert.equal(reading.code, 0, reading.stderr);
    assert.equal(readFileSync(join(host, 'passwd'), 'utf8'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n', 'the container’s /etc/passwd, not the host’s');

    // into a stopped container
    await d.docker(['create', '--name', 'cpstopped', 'busybox', 'cat', '/tmp/in.txt']);
    assert.equal((await d.docker(['cp', join(host, 'in.txt'), 'cpstopped:/tmp/in.txt'])).code, 0);
    assert.equal((await d.docker(['start', '-a', 'cpstopped'])).stdout, 'into the container\n');
    const notDir = await d.docker(['cp', join(host, 'indir'), 'cpstopped:/etc/passwd/x']);
    assert.notEqual(notDir.code, 0);
    await d.docker(['rm', '-f', 'cpstopped']);
  });

  test('docker cp through bind mounts and volumes, both ways; escapes stay in the container', async () => {
    const bind = join(d.dir, 'bind-src');
    const ro = join(d.dir, 'ro-src');
    const victim = join(d.dir, 'bind-victim');
    const inner = join(d.dir, 'inner-src');
    for (const dir of [bind, ro, victim, inner]) mkdirSync(dir);
    writeFileSync(join(inner, 'i.txt'), 'inner\n');
    writeFileSync(join(bind, 'b.txt'), 'from the bind\n');
    writeFileSync(join(ro, 'r.txt'), 'read only\n');
    symlinkSync('/', join(bind, 'to-root'));
    symlinkSync(victim, join(bind, 'to-victim'));
    symlinkSync('../../../../../../..', join(bind, 'up'));
    writeFileSync(join(host, 'm.txt'), 'copied in\n');
    const r = await d.docker(['run', '-d', '--name', 'cpm', '--network', 'none', '-v', `${bind}:/mnt/bind`, '-v', 'cpvol:/vol', '-v', `${ro}:/ro:ro`, '-v', `${inner}:/deep/inner`, 'busybox', 'sh', '-c', 'echo in-volume > /vol/v.txt; sleep 60']);
    assert.equal(r.code, 0, r.stderr);
    for (let i = 0; i < 50 && (await d.docker(['exec', 'cpm', 'test', '-e', '/vol/v.txt'])).code !== 0; i++) await new Promise((res) => setTimeout(res, 100));

    // out of a bind and a volume
    assert.equal((await d.docker(['cp', 'cpm:/mnt/bind/b.txt', join(host, 'b-out')])).code, 0);
    assert.equal(readFileSync(join(host, 'b-out'), 'utf8'), 'from the bind\n');
    assert.equal((await d.docker(['cp', 'cpm:/vol/v.txt', join(host, 'v-out')])).code, 0);
    assert.equal(readFileSync(join(host, 'v-out'), 'utf8'), 'in-volume\n');
    // a directory above a mount takes the mount's content with it
    const deep = await d.docker(['cp', 'cpm:/deep', join(host, 'deep-out')]);
    assert.equal(deep.code, 0, deep.stderr);
    assert.equal(readFileSync(join(host, 'deep-out', 'inner', 'i.txt'), 'utf8'), 'inner\n');
    // into a bind (seen on the host) and a volume (seen in the container)
    assert.equal((await d.docker(['cp', join(host, 'm.txt'), 'cpm:/mnt/bind/'])).code, 0);
    assert.equal(readFileSync(join(bind, 'm.txt'), 'utf8'), 'copied in\n');
    assert.equal((await d.docker(['cp', join(host, 'm.txt'), 'cpm:/vol/m.txt'])).code, 0);
    assert.equal((await d.docker(['exec', 'cpm', 'cat', '/vol/m.txt'])).stdout, 'copied in\n');
    // a read-only bind: dockerd's message; reading works
    const refused = await d.docker(['cp', join(host, 'm.txt'), 'cpm:/ro/']);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /mounted volume is marked read-only/);
    assert.equal(existsSync(join(ro, 'm.txt')), false);
    assert.equal((await d.docker(['cp', 'cpm:/ro/r.txt', join(host, 'r-out')])).code, 0);

    // escapes: links in the bind's source lead into the container, never onto the host
    for (const dest of ['cpm:/mnt/bind/to-victim/', 'cpm:/mnt/bind/to-root/tmp/', 'cpm:/mnt/bind/up/tmp/', 'cpm:/mnt/bind/../../tmp/']) {
      const e = await d.docker(['cp', join(host, 'm.txt'), dest]);
      assert.ok(e.code === 0 || /Could not find|not a directory|no such directory/.test(e.stderr), `${dest}: ${e.stderr}`);
    }
    assert.deepEqual(readdirSync(victim), [], 'wrote through a link in a bind onto the host');
    assert.equal((await d.docker(['exec', 'cpm', 'cat', '/tmp/m.txt'])).stdout, 'copied in\n');
    const passwd = await d.docker(['cp', 'cpm:/mnt/bind/up/etc/passwd', join(host, 'bind-passwd')]);
    assert.equal(passwd.code, 0, passwd.stderr);
    assert.match(readFileSync(join(host, 'bind-passwd'), 'utf8'), /^root:x:0:0:root:\/root:\/bin\/sh\nnobody:/);

    // a stopped container: its binds and volumes are still reached
    assert.equal((await d.docker(['stop', '-t', '0', 'cpm'])).code, 0);
    assert.equal((await d.docker(['cp', 'cpm:/vol/m.txt', join(host, 'stopped-out')])).code, 0);
    assert.equal(readFileSync(join(host, 'stopped-out'), 'utf8'), 'copied in\n');
    assert.equal((await d.docker(['cp', join(host, 'm.txt'), 'cpm:/mnt/bind/stopped.txt'])).code, 0);
    assert.equal(readFileSync(join(bind, 'stopped.txt'), 'utf8'), 'copied in\n');
    assert.equal((await d.docker(['rm', '-v', 'cpm'])).code, 0);
    await d.docker(['volume', 'rm', 'cpvol']);
  });

  test('docker diff lists A, C and D; docker export gives the whole rootfs', async () => {
    await d.docker(['run', '--name', 'changer', '--network', 'none', 'busybox', 'sh', '-c', 'echo new > /tmp/new; rm /hello.txt; echo more >> /etc/motd']);
    const diff = await d.docker(['diff', 'changer']);
    assert.equal(diff.code, 0, diff.stderr);
    const lines = diff.stdout.trim().split('\n');
    assert.ok(lines.includes('A /tmp/new'), diff.stdout);
    assert.ok(lines.includes('C /tmp'), diff.stdout);
    assert.ok(lines.includes('D /hello.txt'), diff.stdout);
    assert.ok(lines.includes('C /etc/motd'), diff.stdout);
    assert.ok(!lines.some((l) => /\/etc\/hosts|\/proc|\/dev/.test(l)), diff.stdout);
    const exp = execFileSync(DOCKER, ['export', 'changer'], { env: { ...process.env, DOCKER_HOST: `unix://${d.socket}` }, maxBuffer: 256 << 20 });
    const list = execFileSync('tar', ['-t'], { input: exp, maxBuffer: 64 << 20 }).toString().split('\n');
    assert.ok(list.includes('tmp/new'), 'export has the new file');
    assert.ok(list.includes('bin/busybox'));
    assert.ok(!list.includes('hello.txt'), 'export has no deleted file');
  });

  test('docker commit with --change and a message, then run the new image', async () => {
    const c = await d.docker(['commit', '-c', 'ENV COMMITTED=yes', '-c', 'CMD ["cat", "/tmp/new"]', '-m', 'a message', '-a', 'tester', 'changer', 'committed:v1']);
    assert.equal(c.code, 0, c.stderr);
    assert.match(c.stdout, /^sha256:[0-9a-f]{64}\n$/);
    const run = await d.docker(['run', '--rm', '--network', 'none', 'committed:v1']);
    assert.equal(run.stdout, 'new\n', run.stderr);
    const env = await d.docker(['run', '--rm', '--network', 'none', 'committed:v1', 'sh', '-c', 'echo $COMMITTED; test -e /hello.txt || echo gone']);
    assert.equal(env.stdout, 'yes\ngone\n');
    const hist = await d.docker(['history', '--no-trunc', '--format', '{{.Comment}}', 'committed:v1']);
    assert.match(hist.stdout, /^a message$/m);
    const insp = await d.docker(['image', 'inspect', '--format', '{{.Author}}', 'committed:v1']);
    assert.equal(insp.stdout, 'tester\n');
    await d.docker(['rm', 'changer']);
  });
});
