import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFile, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { buildEnv } from './harness.js';
import { makeTempDir, removeTempDir } from '../../harness/tmp.js';

test('multi-stage: compile in busybox, copy the result into scratch; cache hits and misses', async () => {
  const env = await buildEnv();
  try {
    await env.files({
      Dockerfile: [
        'FROM busybox AS build',
        'WORKDIR /src',
        'COPY main.src ./',
        'RUN mkdir -p /out && tr a-z A-Z < main.src > /out/app && chmod 755 /out/app && echo compiled $(wc -c < /out/app) bytes',
        'FROM scratch',
        'COPY --from=build /out/app /app',
        'LABEL stage=final',
        'CMD ["/app"]',
      ].join('\n'),
      'main.src': 'hello world\n',
      'notes.txt': 'not used\n',
      '.dockerignore': 'notes.txt\n',
    });
    const r1 = await env.build({ tags: ['app:1', 'app:latest'] });
    assert.equal(r1.runsExecuted, 1);
    assert.match(r1.log, /Step 1\/8 : FROM busybox AS build/);
    assert.match(r1.log, /compiled 12 bytes/);
    assert.match(r1.log, /Successfully tagged app:1/);
    const img = await env.images.resolve('app:1');
    assert.equal(img.id, r1.imageId);
    assert.deepEqual(img.config.config?.Cmd, ['/app']);
    assert.deepEqual(img.config.config?.Labels, { stage: 'final' });
    assert.equal(img.manifestDoc.layers.length, 1);
    const files = await env.layerFiles(img.manifestDoc.layers[0]!.digest);
    assert.deepEqual([...files.keys()], ['app']);
    assert.equal(files.get('app'), 'HELLO WORLD\n');
    assert.deepEqual(img.config.history?.map((h) => [h.created_by, h.empty_layer ?? false]), [
      [`/bin/sh -c #(nop) COPY ${img.config.history![0]!.created_by!.split(' ')[4]} in /app `, false],
      ['/bin/sh -c #(nop)  LABEL stage=final', true],
      ['/bin/sh -c #(nop)  CMD ["/app"]', true],
    ]);
    // Nothing changed: no RUN, same image.
    const r2 = await env.build({ tags: ['app:1'] });
    assert.equal(r2.runsExecuted, 0);
    assert.equal(r2.imageId, r1.imageId);
    assert.match(r2.log, /Using cache/);
    // An ignored file changing changes nothing.
    await env.files({ 'notes.txt': 'changed\n' });
    assert.equal((await env.build()).runsExecuted, 0);
    // The COPY source changing invalidates from the COPY on.
    await env.files({ 'main.src': 'new source\n' });
    const r3 = await env.build({ tags: ['app:1'] });
    assert.equal(r3.runsExecuted, 1);
    assert.notEqual(r3.imageId, r1.imageId);
    assert.equal((await env.layerFiles((await env.images.resolve('app:1')).manifestDoc.layers[0]!.digest)).get('app'), 'NEW SOURCE\n');
    // --no-cache runs it again; --target stops at the first stage.
    assert.equal((await env.build({ noCache: true })).runsExecuted, 1);
    const t = await env.build({ target: 'build', tags: ['builder:1'] });
    assert.equal(t.runsExecuted, 0);
    assert.equal((await env.images.resolve('builder:1')).config.config?.WorkingDir, '/src');
    assert.deepEqual(await env.leftovers(), []);
  } finally {
    await env.close();
  }
});

test('.dockerignore excludes files from COPY . (with exceptions)', async () => {
  const env = await buildEnv();
  try {
    await env.files({
      Dockerfile: 'FROM busybox\nCOPY . /ctx/\n',
      '.dockerignore': '**/*.log\nsecret\nbuild\n!build/keep.txt\n',
      'a.txt': 'a',
      'logs/x.log': 'x',
      'deep/er/y.log': 'y',
      'deep/er/z.txt': 'z',
      secret: 's',
      'build/drop.o': 'o',
      'build/keep.txt': 'k',
    });
    const r = await env.build({ tags: ['ctx:1'] });
    const img = await env.images.resolve('ctx:1');
    const files = await env.layerFiles(img.manifestDoc.layers.at(-1)!.digest);
    const names = [...files.keys()].filter((n) => n.startsWith('ctx/')).sort();
    assert.deepEqual(names, ['ctx/.dockerignore', 'ctx/Dockerfile', 'ctx/a.txt', 'ctx/build', 'ctx/build/keep.txt', 'ctx/deep', 'ctx/deep/er', 'ctx/deep/er/z.txt', 'ctx/logs']);
    assert.equal(r.runsExecuted, 0);
  } finally {
    await env.close();
  }
});

test('a failing RUN fails the build and leaves nothing behind', async () => {
  const env = await buildEnv();
  try {
    await env.files({ Dockerfile: 'FROM busybox\nRUN echo before > /f\nRUN echo failing; sleep 30 & exit 3\n' });
    let log = '';
    await assert.rejects(env.build({ onOutput: (t) => (log += t) }), /The command '\/bin\/sh -c echo failing; sleep 30 & exit 3' returned a non-zero code: 3/);
    assert.match(log, /failing/);
    assert.deepEqual(await env.leftovers(), []);
    // A command that does not exist fails the same way, and cleanly.
    await env.files({ Dockerfile: 'FROM scratch\nRUN /nothing\n' });
    await assert.rejects(env.build());
    assert.deepEqual(await env.leftovers(), []);
  } finally {
    await env.close();
  }
});

test('RUN runs as a container does: /etc/hosts, hostname, resolv.conf, lo up, Docker\'s seccomp profile; none of it in the layer', async () => {
  const env = await buildEnv();
  try {
    await env.files({
      Dockerfile: [
        'FROM busybox',
        // /etc/hosts has localhost, the hostname is the step's, resolv.conf has a name server
        'RUN grep -q "127.0.0.1\tlocalhost" /etc/hosts && [ "$(hostname)" = "$(cat /etc/hostname)" ] && grep -q "^nameserver " /etc/resolv.conf && echo etc-ok',
        // lo is up: a ping of 127.0.0.1 is answered
        'RUN ping -c1 -W2 127.0.0.1 >/dev/null && echo lo-ok',
        // a seccomp filter is installed, and Docker\'s profile refuses unshare(CLONE_NEWUSER) without CAP_SYS_ADMIN
        'RUN grep -q "^Seccomp:[[:space:]]*2" /proc/self/status && ! unshare -U true 2>/dev/null && echo seccomp-ok',
        // masked paths: /proc/kcore is bound to /dev/null
        'RUN [ ! -s /proc/kcore ] && echo masked-ok',
      ].join('\n'),
    });
    const r = await env.build({ tags: ['sandbox:1'] });
    for (const m of ['etc-ok', 'lo-ok', 'seccomp-ok', 'masked-ok']) assert.match(r.log, new RegExp(`^${m}$`, 'm'), r.log);
    // The files bound over /etc are not in the layers (busybox's image has no /etc/hosts).
    const img = await env.images.resolve('sandbox:1');
    for (const l of img.manifestDoc.layers.slice(-4)) {
      const names = [...(await env.layerFiles(l.digest)).keys()];
      assert.ok(!names.some((n) => /^etc\/(hosts|hostname|resolv\.conf)$/.test(n)), `layer has ${names.join(', ')}`);
    }
    assert.deepEqual(await env.leftovers(), []);
  } finally {
    await env.close();
  }
});

test('COPY --link makes a layer of its own, reused when the base changes; FROM --platform; # syntax= warned about', async () => {
  const env = await buildEnv();
  try {
    const df = (base: string): string => [
      '# syntax=docker/dockerfile:1',
      'FROM --platform=$BUILDPLATFORM busybox',
      'ARG TARGETARCH',
      `RUN echo ${base} > /base && mkdir -m 700 /opt`,
      'COPY --link app.txt /opt/app/',
      'RUN echo "$TARGETARCH" > /arch && echo "on $(cat /base): $(cat /opt/app/app.txt) $(stat -c %a /opt)"',
    ].join('\n');
    await env.files({ Dockerfile: df('one'), 'app.txt': 'app\n' });
    const r1 = await env.build({ tags: ['link:1'] });
    assert.equal(r1.runsExecuted, 2);
    assert.match(r1.log, /\[Warning\] # syntax=docker\/dockerfile:1: BuildKit frontends are not run by Berth/);
    // the linked layer was applied onto the stage; the directories it made carry their own metadata (as BuildKit's do)
    assert.match(r1.log, /^on one: app 755$/m);
    const img1 = await env.images.resolve('link:1');
    const linked1 = img1.manifestDoc.layers.at(-2)!;
    // made without the layers below: the parents it needs, the file, nothing else
    assert.deepEqual([...(await env.layerFiles(linked1.digest)).entries()], [['opt', ''], ['opt/app', ''], ['opt/app/app.txt', 'app\n']]);
    const arch = (await env.layerFiles(img1.manifestDoc.layers.at(-1)!.digest)).get('arch');
    assert.equal(arch, `${process.arch === 'x64' ? 'amd64' : process.arch}\n`);
    // Another base: the linked layer comes from the cache, the RUN after it runs again.
    await env.files({ Dockerfile: df('two') });
    const r2 = await env.build({ tags: ['link:2'] });
    assert.equal(r2.runsExecuted, 2);
    const img2 = await env.images.resolve('link:2');
    assert.equal(img2.manifestDoc.layers.at(-2)!.digest, linked1.digest);
    assert.match(r2.log, /COPY --link app.txt \/opt\/app\/\n ---> Using cache/);
    assert.match(r2.log, /^on two: app 755$/m);
    // An image of another platform is refused (Berth does not emulate).
    const other = process.arch === 'arm64' ? 'linux/amd64' : 'linux/arm64';
    await env.files({ Dockerfile: `FROM --platform=${other} busybox\nRUN true\n` });
    await assert.rejects(env.build(), new RegExp(`does not match the specified platform: wanted ${other}`));
    assert.deepEqual(await env.leftovers(), []);
  } finally {
    await env.close();
  }
});

test('RUN sees ENV, ARG, WORKDIR, USER and SHELL; metadata lands in the config', async () => {
  const env = await buildEnv();
  try {
    await env.files({
      Dockerfile: [
        'ARG BASE=busybox',
        'FROM $BASE',
        'ARG GREETING=hi',
        'ENV NAME=berth',
        'WORKDIR /work/dir',
        'RUN echo "$GREETING $NAME from $(pwd) as $(id -u)" > /out.txt',
        'USER 1000:1000',
        'RUN id -u > /tmp/uid || true',
        'USER root',
        'SHELL ["/bin/sh", "-ec"]',
        'RUN <<EOF',
        'echo heredoc line one >> /out.txt',
        'echo heredoc $NAME >> /out.txt',
        'EOF',
        'COPY --chown=1000:1000 --chmod=640 <<FILE /etc/conf.txt',
        'name=$NAME',
        'FILE',
        'EXPOSE 8080',
        'VOLUME /data',
        'HEALTHCHECK --interval=5s CMD true',
        'STOPSIGNAL SIGINT',
        'ENTRYPOINT ["/bin/sh"]',
      ].join('\n'),
    });
    const r = await env.build({ tags: ['meta:1'], buildArgs: { GREETING: 'hello', UNUSED: 'x' } });
    assert.equal(r.runsExecuted, 3);
    assert.deepEqual(r.unusedBuildArgs, ['UNUSED']);
    const img = await env.images.resolve('meta:1');
    const layers = img.manifestDoc.layers;
    const out = (await env.layerFiles(layers.at(-2)!.digest)).get('out.txt');
    assert.equal(out, 'hello berth from /work/dir as 0\nheredoc line one\nheredoc berth\n');
    const conf = await env.layerFiles(layers.at(-1)!.digest);
    assert.equal(conf.get('etc/conf.txt'), 'name=berth\n');
    const c = img.config.config!;
    assert.deepEqual(c.Env, ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'NAME=berth']);
    assert.equal(c.WorkingDir, '/work/dir');
    assert.equal(c.User, 'root');
    assert.deepEqual(c.ExposedPorts, { '8080/tcp': {} });
    assert.deepEqual(c.Volumes, { '/data': {} });
    assert.equal(c.StopSignal, 'SIGINT');
    assert.deepEqual(c.Entrypoint, ['/bin/sh']);
    assert.equal(c.Cmd, null);
    const runHistory = img.config.history!.filter((h) => !h.empty_layer).map((h) => h.created_by);
    assert.ok(runHistory.includes('|1 GREETING=hello /bin/sh -c echo "$GREETING $NAME from $(pwd) as $(id -u)" > /out.txt'), runHistory.join('\n'));
    assert.deepEqual(await env.leftovers(), []);
  } finally {
    await env.close();
  }
});

test('ADD: local tar auto-extraction, URL with --checksum from a 127.0.0.1 server, iidfile', async () => {
  const env = await buildEnv();
  const payload = Buffer.from('downloaded payload\n');
  const server = createServer((req, res) => {
    if (req.url === '/files/payload.txt') res.end(payload);
    else {
      res.statusCode = 404;
      res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  const tmp = await makeTempDir('build-tar');
  try {
    await env.files({ 'src/inner/file.txt': 'in a tar\n' });
    execFileSync('tar', ['-czf', join(env.contextDir, 'bundle.tar.gz'), '-C', join(env.contextDir, 'src'), '.']);
    await rm(join(env.contextDir, 'src'), { recursive: true });
    // A symlink to an archive outside the context is copied as a symlink, never opened.
    execFileSync('cp', [join(env.contextDir, 'bundle.tar.gz'), join(tmp, 'outside.tar.gz')]);
    await symlink(join(tmp, 'outside.tar.gz'), join(env.contextDir, 'outside.tar.gz'));
    const sum = `sha256:${createHash('sha256').update(payload).digest('hex')}`;
    await env.files({ Dockerfile: `FROM scratch\nADD bundle.tar.gz /opt/\nADD --checksum=${sum} http://127.0.0.1:${port}/files/payload.txt /dl/\nCOPY bundle.tar.gz /raw/\nADD outside.tar.gz /ext/\n` });
    const iid = join(tmp, 'iid');
    const r = await env.build({ tags: ['add:1'], iidfile: iid });
    assert.equal(await readFile(iid, 'utf8'), r.imageId);
    const img = await env.images.resolve('add:1');
    const [l1, l2, l3] = img.manifestDoc.layers;
    assert.equal((await env.layerFiles(l1!.digest)).get('opt/inner/file.txt'), 'in a tar\n');
    assert.equal((await env.layerFiles(l2!.digest)).get('dl/payload.txt'), 'downloaded payload\n');
    assert.ok((await env.layerFiles(l3!.digest)).has('raw/bundle.tar.gz'));
    const ext = await env.layerFiles(img.manifestDoc.layers[3]!.digest);
    assert.equal(ext.get('ext/outside.tar.gz'), `-> ${join(tmp, 'outside.tar.gz')}`);
    assert.ok(!ext.has('ext/inner/file.txt'));
    await env.files({ Dockerfile: `FROM scratch\nADD --checksum=sha256:${'0'.repeat(64)} http://127.0.0.1:${port}/files/payload.txt /dl/\n` });
    await assert.rejects(env.build(), /digest mismatch/);
    assert.deepEqual(await env.leftovers(), []);
  } finally {
    server.close();
    await removeTempDir(tmp);
    await env.close();
  }
});
