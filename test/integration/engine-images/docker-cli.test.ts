// The real docker CLI (v28) → the API server → the engine's image service → a real
// docker-registry: pull with dockerd's progress, images, inspect, history, tag, push and
// pull back byte-identical, rmi with its outputs and conflicts, prune, save | load,
// import, an unknown image, a docker.io mirror, and login.

import { describe, test, before, after } from 'node:test';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { call } from '../api/api-harness.js';
import { parseJsonMessages } from '../../../src/api/json-stream.js';
import { chainIds } from '../../../src/image/unpack.js';
import { hasDockerRegistry, hasHtpasswd, startRegistry, type TestRegistry } from '../../harness/registry.js';
import type { FixtureImage } from '../../harness/image-fixtures.js';
import { hasDocker, MANIFEST_ACCEPT, pushFixture, registryGet, startDaemon, type Daemon } from './harness.js';

const skip = !hasDocker ? 'the docker CLI is not installed' : !hasDockerRegistry() ? 'docker-registry is not installed' : process.getuid?.() !== 0 ? 'needs root' : false;

interface InspectJson {
  Id: string;
  RepoTags: string[];
  RepoDigests: string[];
  Config: { Cmd?: string[]; Env?: string[] };
  RootFS: { Type: string; Layers: string[] };
  Size: number;
  Created: string;
  Os: string;
  Architecture: string;
}

describe('docker CLI: images through berthd’s image service', { skip }, () => {
  let reg: TestRegistry;
  let d: Daemon;
  let img: FixtureImage;
  let host: string;

  before(async () => {
    reg = await startRegistry();
    host = reg.host;
    img = await pushFixture(host, ['busybox:latest', 'library/busybox:latest']);
    d = await startDaemon();
  });
  after(async () => {
    await d?.close();
    await reg?.stop();
  });

  const inspect = async (name: string): Promise<InspectJson> => {
    const r = await d.docker(['image', 'inspect', name]);
    assert.equal(r.code, 0, r.stderr);
    return (JSON.parse(r.stdout) as InspectJson[])[0]!;
  };

  test('the JSON stream of a pull: Downloading with progressDetail, Extracting', async () => {
    const r = await call(d.api.socket, 'POST', `/v1.47/images/create?fromImage=${encodeURIComponent(`${host}/library/busybox`)}&tag=latest`);
    assert.equal(r.status, 200);
    const msgs = parseJsonMessages(r.text);
    assert.deepEqual(msgs[0], { status: 'Pulling from library/busybox', id: 'latest' });
    const big = img.layers[0]!;
    const downloading = msgs.filter((m) => m.status === 'Downloading' && m.id === big.digest.slice(7, 19));
    assert.ok(downloading.length >= 1, r.text);
    assert.deepEqual(downloading.at(-1)!.progressDetail, { current: big.data.length, total: big.data.length });
    assert.ok(msgs.some((m) => m.status === 'Extracting'), r.text);
    assert.deepEqual(msgs.at(-1), { status: `Status: Downloaded newer image for ${host}/library/busybox:latest` });
    // Its only name: untagged, the image deleted, then its layers (by chain ID, top first).
    const rmi = await d.docker(['rmi', `${host}/library/busybox`]);
    assert.equal(rmi.code, 0, rmi.stderr);
    const chains = chainIds(img.layers.map((l) => l.diffId)).reverse();
    assert.equal(rmi.stdout, [`Untagged: ${host}/library/busybox:latest`, `Deleted: ${img.configDescriptor.digest}`, ...chains.map((c) => `Deleted: ${c}`)].join('\n') + '\n');
  });

  test('docker pull prints dockerd’s progress and exits 0', async () => {
    const r = await d.docker(['pull', `${host}/busybox:latest`]);
    assert.equal(r.code, 0, r.stderr);
    const layerIds = img.layers.map((l) => l.digest.slice(7, 19));
    assert.match(r.stdout, /^latest: Pulling from busybox$/m);
    for (const id of layerIds) {
      assert.match(r.stdout, new RegExp(`^${id}: Pulling fs layer$`, 'm'));
      assert.match(r.stdout, new RegExp(`^${id}: Verifying Checksum$`, 'm'));
      assert.match(r.stdout, new RegExp(`^${id}: Download complete$`, 'm'));
      assert.match(r.stdout, new RegExp(`^${id}: Pull complete$`, 'm'));
    }
    assert.match(r.stdout, new RegExp(`^Digest: ${img.target.digest}$`, 'm'));
    assert.match(r.stdout, new RegExp(`^Status: Downloaded newer image for ${host}/busybox:latest$`, 'm'));
    assert.equal(r.stdout.trim().split('\n').at(-1), `${host}/busybox:latest`);
    // Its layers were committed unsynced, and are synced right after the answer (no marks left).
    const chains = chainIds(img.layers.map((l) => l.diffId));
    const marked = async (): Promise<Record<string, string | undefined>> => {
      const meta = JSON.parse(await readFile(join(d.dataRoot, 'snapshots', 'metadata.json'), 'utf8')) as { snapshots: Record<string, { unflushed?: string }> };
      return Object.fromEntries(chains.map((c) => [c, meta.snapshots[c] ? meta.snapshots[c]!.unflushed ?? 'synced' : 'missing']));
    };
    for (let i = 0; i < 100 && Object.values(await marked()).some((m) => m !== 'synced'); i++) await new Promise((res) => setTimeout(res, 50));
    assert.deepEqual(await marked(), Object.fromEntries(chains.map((c) => [c, 'synced'])));

    const again = await d.docker(['pull', `${host}/busybox:latest`]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout, `latest: Pulling from busybox\nDigest: ${img.target.digest}\nStatus: Image is up to date for ${host}/busybox:latest\n${host}/busybox:latest\n`);
  });

  test('docker images and docker image inspect', async () => {
    const r = await d.docker(['images']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.match(lines[0]!, /^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE$/);
    const id12 = img.configDescriptor.digest.slice(7, 19);
    assert.match(r.stdout, new RegExp(`^${host.replace(/\./g, '\\.')}/busybox\\s+latest\\s+${id12}\\s+\\S.*ago\\s+\\d`, 'm'));
    const q = await d.docker(['images', '-q']);
    assert.equal(q.stdout, `${id12}\n`);
    const f = await d.docker(['images', '--filter', 'reference=*/busy*', '--format', '{{.Repository}}:{{.Tag}}']);
    assert.equal(f.stdout, `${host}/busybox:latest\n`);

    const i = await inspect(`${host}/busybox`);
    assert.equal(i.Id, img.configDescriptor.digest);
    assert.deepEqual(i.RepoTags, [`${host}/busybox:latest`]);
    assert.deepEqual(i.RepoDigests, [`${host}/busybox@${img.target.digest}`]);
    assert.deepEqual(i.Config.Cmd, ['sh']);
    assert.deepEqual(i.RootFS, { Type: 'layers', Layers: img.layers.map((l) => l.diffId) });
    assert.ok(i.Size > img.layers[0]!.data.length, `Size ${i.Size} is the unpacked size`);
    assert.equal(Date.parse(i.Created), Date.parse('2024-01-01T00:00:00Z'));
    assert.equal((await inspect(id12)).Id, i.Id);
    const missing = await d.docker(['image', 'inspect', 'nosuch']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /No such image: nosuch/);
  });

  test('docker history', async () => {
    const r = await d.docker(['history', `${host}/busybox`]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.match(lines[0]!, /^IMAGE\s+CREATED\s+CREATED BY\s+SIZE\s+COMMENT$/);
    assert.equal(lines.length, 4);
    assert.match(lines[1]!, new RegExp(`^${img.configDescriptor.digest.slice(7, 19)}\\s+.*CMD \\["sh"\\]\\s+0B`));
    assert.match(lines[2]!, /^<missing>\s+.*berth-test: motd and hello\.txt/);
    assert.match(lines[3]!, /^<missing>\s+.*berth-test: busybox rootfs/);
  });

  test('docker tag, push to another repository, pull back byte-identical', async () => {
    const t = await d.docker(['tag', `${host}/busybox`, `${host}/copy:v1`]);
    assert.equal(t.code, 0, t.stderr);
    const p = await d.docker(['push', `${host}/copy:v1`]);
    assert.equal(p.code, 0, p.stderr);
    assert.match(p.stdout, new RegExp(`^The push refers to repository \\[${host}/copy\\]$`, 'm'));
    for (const l of img.layers) {
      const id = l.diffId.slice(7, 19);
      assert.match(p.stdout, new RegExp(`^${id}: Preparing$`, 'm'));
      assert.match(p.stdout, new RegExp(`^${id}: (Mounted from busybox|Pushed|Layer already exists)$`, 'm'));
    }
    assert.match(p.stdout, new RegExp(`^v1: digest: ${img.target.digest} size: ${img.manifest.length}$`, 'm'));

    const m = await registryGet(`${reg.url}/v2/copy/manifests/v1`, { Accept: MANIFEST_ACCEPT });
    assert.equal(m.status, 200);
    assert.ok(m.body.equals(img.manifest), 'the pushed manifest is byte-identical');
    for (const l of img.layers) {
      const b = await registryGet(`${reg.url}/v2/copy/blobs/${l.digest}`);
      assert.ok(b.body.equals(l.data), `layer ${l.digest} is byte-identical`);
    }

    const rmi = await d.docker(['rmi', `${host}/copy:v1`]);
    assert.equal(rmi.stdout, `Untagged: ${host}/copy:v1\n`);
    const back = await d.docker(['pull', `${host}/copy:v1`]);
    assert.equal(back.code, 0, back.stderr);
    assert.equal((await inspect(`${host}/copy:v1`)).Id, img.configDescriptor.digest);
    assert.equal((await d.docker(['rmi', `${host}/copy:v1`])).code, 0);

    const none = await d.docker(['push', `${host}/nothing:here`]);
    assert.equal(none.code, 1);
    assert.match(none.stdout + none.stderr, new RegExp(`An image does not exist locally with the tag: ${host}/nothing`));
  });

  test('docker rmi: untag, conflicts with containers, delete', async () => {
    const id = img.configDescriptor.digest;
    assert.equal((await d.docker(['tag', `${host}/busybox`, 'other:1'])).code, 0);
    const byId = await d.docker(['rmi', id.slice(7, 19)]);
    assert.equal(byId.code, 1);
    assert.match(byId.stderr, new RegExp(`Error response from daemon: conflict: unable to delete ${id.slice(7, 19)} \\(must be forced\\) - image is referenced in multiple repositories`));
    assert.equal((await d.docker(['rmi', 'other:1'])).stdout, 'Untagged: other:1\n');

    d.users.set(id, ['c'.repeat(64)]);
    try {
      const used = await d.docker(['rmi', `${host}/busybox`]);
      assert.equal(used.code, 1);
      assert.match(used.stderr, new RegExp(`Error response from daemon: conflict: unable to remove repository reference "${host}/busybox" \\(must force\\) - container cccccccccccc is using its referenced image ${id.slice(7, 19)}`));
      d.running.add('c'.repeat(64));
      const forced = await d.docker(['rmi', '-f', id.slice(7, 19)]);
      assert.equal(forced.code, 1);
      assert.match(forced.stderr, new RegExp(`conflict: unable to delete ${id.slice(7, 19)} \\(cannot be forced\\) - image is being used by running container cccccccccccc`));
    } finally {
      d.users.delete(id);
      d.running.clear();
    }
    const gone = await d.docker(['rmi', `${host}/busybox`]);
    assert.equal(gone.code, 0, gone.stderr);
    const lines = gone.stdout.trim().split('\n');
    assert.equal(lines[0], `Untagged: ${host}/busybox:latest`);
    assert.equal(lines[1], `Deleted: ${id}`);
    assert.ok(lines.slice(2).every((l) => /^Deleted: sha256:[a-f0-9]{64}$/.test(l)), gone.stdout);
    const nosuch = await d.docker(['rmi', 'nosuch']);
    assert.equal(nosuch.code, 1);
    assert.match(nosuch.stderr, /Error response from daemon: No such image: nosuch:latest/);
  });

  test('docker image prune: dangling, then all unused', async () => {
    assert.equal((await d.docker(['pull', `${host}/busybox@${img.target.digest}`])).code, 0);
    const listed = await d.docker(['images', '--format', '{{.Repository}} {{.Tag}}']);
    assert.equal(listed.stdout, `${host}/busybox <none>\n`);
    const p = await d.docker(['image', 'prune', '-f']);
    assert.equal(p.code, 0, p.stderr);
    assert.match(p.stdout, /^Deleted Images:$/m);
    assert.match(p.stdout, new RegExp(`^untagged: ${host}/busybox@${img.target.digest}$`, 'm'));
    assert.match(p.stdout, new RegExp(`^deleted: ${img.configDescriptor.digest}$`, 'm'));
    assert.match(p.stdout, /^Total reclaimed space: [\d.]+[kM]?B$/m);

    assert.equal((await d.docker(['pull', `${host}/busybox`])).code, 0);
    const keep = await d.docker(['image', 'prune', '-f']);
    assert.equal(keep.stdout, 'Total reclaimed space: 0B\n');
    const old = await d.docker(['image', 'prune', '-a', '-f', '--filter', 'until=2020-01-01T00:00:00Z']);
    assert.equal(old.stdout, 'Total reclaimed space: 0B\n', 'created after until: kept');
    d.users.set(img.configDescriptor.digest, ['d'.repeat(64)]);
    const used = await d.docker(['image', 'prune', '-a', '-f']);
    d.users.clear();
    assert.equal(used.stdout, 'Total reclaimed space: 0B\n', 'used by a container: kept');
    const all = await d.docker(['image', 'prune', '-a', '-f', '--filter', 'until=1h']);
    assert.match(all.stdout, new RegExp(`^untagged: ${host}/busybox:latest$`, 'm'));
    assert.equal((await d.docker(['images', '-q'])).stdout, '');
    const bad = await d.docker(['image', 'prune', '-f', '--filter', 'nope=1']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /invalid filter 'nope'/);
  });

  test('docker save | docker load round trip; docker import', async () => {
    assert.equal((await d.docker(['pull', `${host}/busybox`])).code, 0);
    const saved = await d.docker(['save', `${host}/busybox:latest`]);
    assert.equal(saved.code, 0, saved.stderr);
    assert.ok(saved.out.length > img.layers[0]!.data.length);
    assert.equal((await d.docker(['rmi', `${host}/busybox`])).code, 0);
    const loaded = await d.docker(['load'], { input: saved.out });
    assert.equal(loaded.code, 0, loaded.stderr);
    assert.equal(loaded.stdout, `Loaded image: ${host}/busybox:latest\n`);
    const i = await inspect(`${host}/busybox`);
    assert.equal(i.Id, img.configDescriptor.digest);
    assert.deepEqual(i.RootFS.Layers, img.layers.map((l) => l.diffId));
    const missing = await d.docker(['save', 'nosuch:1']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /No such image: nosuch:1/);

    // docker import: the saved layer tar is a rootfs tarball.
    const imported = await d.docker(['import', '--change', 'CMD ["/bin/sh"]', '--change', 'ENV A=b', '-', 'imported:v1'], { input: await layerTar(img, 1) });
    assert.equal(imported.code, 0, imported.stderr);
    assert.match(imported.stdout, /^sha256:[a-f0-9]{64}$/m);
    const ii = await inspect('imported:v1');
    assert.equal(ii.Id, imported.stdout.trim());
    assert.deepEqual(ii.Config.Cmd, ['/bin/sh']);
    assert.deepEqual(ii.Config.Env, ['A=b']);
    const h = await d.docker(['history', '--format', '{{.Comment}}', 'imported:v1']);
    assert.equal(h.stdout, 'Imported from -\n');
    assert.equal((await d.docker(['rmi', 'imported:v1'])).code, 0);
  });

  test('a pull of an unknown image exits 1 with dockerd’s message', async () => {
    const r = await d.docker(['pull', `${host}/nosuch:latest`]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, new RegExp(`^Error response from daemon: manifest for ${host}/nosuch:latest not found: manifest unknown: manifest unknown`, 'm'));
    const tag = await d.docker(['pull', `${host}/busybox:nosuch`]);
    assert.equal(tag.code, 1);
    assert.match(tag.stderr, new RegExp(`manifest for ${host}/busybox:nosuch not found`));
  });
});

/** The uncompressed tar of a fixture layer. */
async function layerTar(img: FixtureImage, i: number): Promise<Buffer> {
  const { gunzipSync } = await import('node:zlib');
  return gunzipSync(img.layers[i]!.data);
}

describe('docker CLI: docker.io through a registry mirror', { skip }, () => {
  let reg: TestRegistry;
  let d: Daemon;
  let img: FixtureImage;

  before(async () => {
    reg = await startRegistry();
    img = await pushFixture(reg.host, ['library/busybox:latest']);
    d = await startDaemon({ registryMirrors: [reg.url] });
  });
  after(async () => {
    await d?.close();
    await reg?.stop();
  });

  test('docker pull busybox is served by the mirror', async () => {
    const r = await d.docker(['pull', 'busybox']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^latest: Pulling from library\/busybox$/m);
    assert.match(r.stdout, /^Status: Downloaded newer image for busybox:latest$/m);
    assert.equal(r.stdout.trim().split('\n').at(-1), 'docker.io/library/busybox:latest');
    const i = await d.docker(['images', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}']);
    assert.equal(i.stdout, `busybox:latest ${img.configDescriptor.digest.slice(7, 19)}\n`);
    const rootfs = await d.images.prepareRootfs('m'.repeat(64), (await d.images.resolveImage('busybox')).id);
    try {
      const { readFile } = await import('node:fs/promises');
      assert.equal(await readFile(`${rootfs}/etc/motd`, 'utf8'), 'Welcome to a Berth test image\n');
    } finally {
      await d.images.removeRootfs('m'.repeat(64));
    }
  });
});

describe('docker CLI: login and an authenticated push', { skip: skip || (!hasHtpasswd() ? 'htpasswd (apache2-utils) is not installed' : false) }, () => {
  let reg: TestRegistry;
  let d: Daemon;

  before(async () => {
    reg = await startRegistry({ htpasswd: { username: 'berth', password: 's3cret' } });
    d = await startDaemon();
  });
  after(async () => {
    await d?.close();
    await reg?.stop();
  });

  test('docker login: Login Succeeded, or 401 for a wrong password', async () => {
    const bad = await d.docker(['login', '-u', 'berth', '--password-stdin', reg.host], { input: 'wrong\n' });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, new RegExp(`Error response from daemon: login attempt to http://${reg.host}/v2/ failed with status: 401 Unauthorized`));
    const ok = await d.docker(['login', '-u', 'berth', '--password-stdin', reg.host], { input: 's3cret\n' });
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /Login Succeeded/);
  });

  test('push and pull with the credentials the CLI sends in X-Registry-Auth', async () => {
    await d.docker(['login', '-u', 'berth', '--password-stdin', reg.host], { input: 's3cret\n' });
    const img = await (await import('../../harness/image-fixtures.js')).busyboxImage('docker');
    const imported = await d.docker(['import', '-', `${reg.host}/private:1`], { input: await layerTar(img, 1) });
    assert.equal(imported.code, 0, imported.stderr);
    const p = await d.docker(['push', `${reg.host}/private:1`]);
    assert.equal(p.code, 0, p.stderr + p.stdout);
    assert.match(p.stdout, /^1: digest: sha256:[a-f0-9]{64} size: \d+$/m);
    assert.equal((await d.docker(['rmi', `${reg.host}/private:1`])).code, 0);
    assert.equal((await d.docker(['pull', `${reg.host}/private:1`])).code, 0);
    assert.equal((await d.docker(['logout', reg.host])).code, 0);
    assert.equal((await d.docker(['rmi', `${reg.host}/private:1`])).code, 0);
    const anon = await d.docker(['pull', `${reg.host}/private:1`]);
    assert.equal(anon.code, 1);
    assert.match(anon.stderr, /401|unauthorized|authentication required/i);
  });
});
