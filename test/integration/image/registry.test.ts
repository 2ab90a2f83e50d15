import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { readdir, readFile, writeFile, mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ContentStore } from '../../../src/image/content/store.js';
import { RegistryClient } from '../../../src/image/registry/client.js';
import { dockerConfigCredentials, staticCredentials } from '../../../src/image/registry/credentials.js';
import { pullImage } from '../../../src/image/pull.js';
import { pushImage } from '../../../src/image/push.js';
import { parseNormalizedReference } from '../../../src/image/reference.js';
import type { ProgressEvent } from '../../../src/image/progress.js';
import { isBerthError } from '../../../src/errors.js';
import { hasDockerRegistry, hasHtpasswd, startRegistry, type TestRegistry } from '../../harness/registry.js';
import { busyboxImage, loadFixtureImage, type FixtureImage } from '../../harness/image-fixtures.js';
import { makeTempDir, removeTempDir } from '../../harness/tmp.js';
import { startTcpProxy } from '../../harness/tcp-proxy.js';

const run = promisify(execFile);
const skipRegistry = hasDockerRegistry() ? false : 'docker-registry is not installed (apt-get install docker-registry)';

async function withStore<T>(fn: (content: ContentStore, root: string) => Promise<T>): Promise<T> {
  const root = await makeTempDir('image-store');
  try {
    return await fn(new ContentStore(root), root);
  } finally {
    await removeTempDir(root);
  }
}

async function assertSameImage(content: ContentStore, img: FixtureImage): Promise<void> {
  assert.deepEqual(await content.get(img.target.digest), img.manifest);
  assert.deepEqual(await content.get(img.configDescriptor.digest), img.config);
  for (const l of img.layers) assert.ok((await content.get(l.digest)).equals(l.data), `layer ${l.digest}`);
}

function registryBlobPath(reg: TestRegistry, digest: string): string {
  const hex = digest.slice('sha256:'.length);
  return join(reg.storage, 'docker', 'registry', 'v2', 'blobs', 'sha256', hex.slice(0, 2), hex, 'data');
}

describe('registry push and pull (no auth)', { skip: skipRegistry }, () => {
  let reg: TestRegistry;
  let oci: FixtureImage;
  let docker: FixtureImage;
  before(async () => {
    reg = await startRegistry();
    oci = await busyboxImage('oci');
    docker = await busyboxImage('docker');
  });
  after(async () => {
    await reg?.stop();
  });

  test('push (monolithic) then pull into a fresh store gives the same bytes', async () => {
    const client = new RegistryClient();
    const ref = parseNormalizedReference(`${reg.host}/berth/busybox:v1`);
    await withStore(async (src) => {
      const target = await loadFixtureImage(oci, src);
      const events: ProgressEvent[] = [];
      const digest = await pushImage(client, src, ref, target, { onProgress: (e) => events.push(e) });
      assert.equal(digest, oci.target.digest);
      assert.ok(events.some((e) => e.status === 'pushed'));
      // A second push finds every blob already there.
      const again: ProgressEvent[] = [];
      await pushImage(client, src, ref, target, { onProgress: (e) => again.push(e) });
      assert.ok(again.length > 0 && again.every((e) => e.status === 'exists'));
    });
    await withStore(async (dst) => {
      const events: ProgressEvent[] = [];
      const pulled = await pullImage(client, dst, ref, { onProgress: (e) => events.push(e) });
      assert.equal(pulled.target.digest, oci.target.digest);
      assert.equal(pulled.layers.length, 2);
      assert.deepEqual(pulled.imageConfig.config?.Cmd, ['sh']);
      await assertSameImage(dst, oci);
      for (const l of oci.layers) {
        const statuses = events.filter((e) => e.digest === l.digest).map((e) => e.status);
        assert.equal(statuses[0], 'waiting');
        assert.ok(statuses.includes('downloading') && statuses.includes('verifying') && statuses.at(-1) === 'done', statuses.join(','));
      }
      // By digest too.
      const byDigest = await pullImage(client, dst, parseNormalizedReference(`${reg.host}/berth/busybox@${oci.target.digest}`));
      assert.equal(byDigest.manifest.digest, oci.target.digest);
      assert.ok(events.length > 0);
    });
  });

  test('chunked upload of a Docker v2.2 image, and a cross-repository mount', async () => {
    const client = new RegistryClient();
    const ref = parseNormalizedReference(`${reg.host}/berth/chunked:v2`);
    await withStore(async (src) => {
      const target = await loadFixtureImage(docker, src);
      await pushImage(client, src, ref, target, { chunkSize: 64 * 1024 });
      const events: ProgressEvent[] = [];
      await pushImage(client, src, parseNormalizedReference(`${reg.host}/other/mounted:v2`), target, { mountFrom: ['berth/chunked'], onProgress: (e) => events.push(e) });
      assert.ok(events.filter((e) => e.status === 'mounted').length >= 2, events.map((e) => e.status).join(','));
    });
    for (const name of ['berth/chunked:v2', 'other/mounted:v2']) {
      await withStore(async (dst) => {
        const pulled = await pullImage(client, dst, parseNormalizedReference(`${reg.host}/${name}`));
        assert.equal(pulled.target.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
        await assertSameImage(dst, docker);
      });
    }
  });

  test('an unknown tag is NotFound', async () => {
    await withStore(async (dst) => {
      await assert.rejects(pullImage(new RegistryClient(), dst, parseNormalizedReference(`${reg.host}/berth/busybox:nope`)), (e: unknown) => isBerthError(e, 'NotFound'));
    });
  });

  test('a corrupted blob and a wrong manifest digest are rejected', async () => {
    const client = new RegistryClient({ attempts: 1 });
    await withStore(async (src) => {
      await pushImage(client, src, parseNormalizedReference(`${reg.host}/bad/blob:v1`), await loadFixtureImage(oci, src));
    });
    // Corrupt the top layer's bytes in the registry's storage (it serves them unchecked).
    const top = oci.layers[1]!;
    const path = registryBlobPath(reg, top.digest);
    const original = await readFile(path);
    const bad = Buffer.from(original);
    bad[bad.length - 10] = bad[bad.length - 10]! ^ 0xff;
    await writeFile(path, bad);
    try {
      await withStore(async (dst, root) => {
        await assert.rejects(pullImage(client, dst, parseNormalizedReference(`${reg.host}/bad/blob:v1`), { attempts: 1 }),
          (e: unknown) => isBerthError(e, 'InvalidParameter') && /digest mismatch/.test((e as Error).message));
        assert.equal(await dst.has(top.digest), false);
        const names = await readdir(join(root, 'content', 'blobs', 'sha256'));
        assert.ok(!names.includes(top.digest.slice(7)));
      });
      // A manifest whose bytes do not match the digest the registry announces.
      const mpath = registryBlobPath(reg, oci.target.digest);
      const mOriginal = await readFile(mpath);
      await writeFile(mpath, Buffer.from(mOriginal.toString().replace('"schemaVersion": 2', '"schemaVersion":2 ')));
      try {
        await withStore(async (dst) => {
          await assert.rejects(pullImage(client, dst, parseNormalizedReference(`${reg.host}/bad/blob:v1`)), /does not match content/);
          await assert.rejects(pullImage(client, dst, parseNormalizedReference(`${reg.host}/bad/blob@${oci.target.digest}`)), /digest mismatch/);
          assert.equal(await dst.has(oci.target.digest), false);
        });
      } finally {
        await writeFile(mpath, mOriginal);
      }
    } finally {
      await writeFile(path, original);
    }
  });

  test('a pull killed mid-layer resumes from its partial ingest', async () => {
    await withStore(async (src) => {
      await pushImage(new RegistryClient(), src, parseNormalizedReference(`${reg.host}/berth/resume:v1`), await loadFixtureImage(oci, src));
    });
    // A slow TCP proxy in front of the registry (about 1 MB/s), recording the requests it forwards.
    const proxy = await startTcpProxy(reg.host, { bytesPerMs: 1000 });
    const requests = proxy.requests;
    try {
      await withStore(async (dst, root) => {
        const ref = `${proxy.host}/berth/resume:v1`;
        const mod = (p: string): string => JSON.stringify(new URL(p, import.meta.url).href);
        const script = `
          import { ContentStore } from ${mod('../../../src/image/content/store.js')};
          import { RegistryClient } from ${mod('../../../src/image/registry/client.js')};
          import { pullImage } from ${mod('../../../src/image/pull.js')};
          import { parseNormalizedReference } from ${mod('../../../src/image/reference.js')};
          await pullImage(new RegistryClient(), new ContentStore(${JSON.stringify(root)}), parseNormalizedReference(${JSON.stringify(ref)}), { concurrency: 1 });
        `;
        const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: 'inherit' });
        const exited = new Promise((r) => child.once('exit', r));
        const big = oci.layers[0]!;
        const cs = new ContentStore(root);
        let partial = 0;
        for (let i = 0; i < 400 && partial < 100_000; i++) {
          await sleep(25);
          partial = (await cs.ingests()).find((s) => s.expected === big.digest)?.offset ?? 0;
        }
        child.kill('SIGKILL');
        await exited;
        const left = (await cs.ingests()).find((s) => s.expected === big.digest);
        assert.ok(left && left.offset > 0 && left.offset < big.data.length, `partial ingest ${left?.offset} of ${big.data.length}`);
        assert.equal(await cs.has(big.digest), false);
        requests.length = 0;
        await pullImage(new RegistryClient(), cs, parseNormalizedReference(ref));
        await assertSameImage(cs, oci);
        const ranged = requests.filter((r) => r.includes(`/blobs/${big.digest}`) && /\r\nRange: bytes=\d+-/i.test(r));
        assert.equal(ranged.length, 1, 'the big layer was fetched with a Range request');
        assert.deepEqual(await cs.ingests(), []);
      });
    } finally {
      await proxy.stop();
    }
  });

  test('skopeo reads what Berth pushed, and Berth pulls what skopeo pushed', { skip: existsSync('/usr/bin/skopeo') ? false : 'skopeo is not installed' }, async () => {
    const client = new RegistryClient();
    await withStore(async (src) => {
      await pushImage(client, src, parseNormalizedReference(`${reg.host}/interop/busybox:v1`), await loadFixtureImage(oci, src));
    });
    const dir = await makeTempDir('skopeo');
    try {
      const layout = join(dir, 'layout');
      await run('skopeo', ['--insecure-policy', 'copy', '--src-tls-verify=false', `docker://${reg.host}/interop/busybox:v1`, `oci:${layout}:v1`]);
      const blobs = await readdir(join(layout, 'blobs', 'sha256'));
      for (const l of oci.layers) assert.ok(blobs.includes(l.digest.slice(7)), `skopeo has layer ${l.digest}`);
      assert.ok(blobs.includes(oci.target.digest.slice(7)), 'skopeo kept the manifest byte for byte');
      // Back the other way, with a format skopeo chooses.
      await run('skopeo', ['--insecure-policy', 'copy', '--dest-tls-verify=false', `oci:${layout}:v1`, `docker://${reg.host}/interop/from-skopeo:v1`]);
      await withStore(async (dst) => {
        const pulled = await pullImage(client, dst, parseNormalizedReference(`${reg.host}/interop/from-skopeo:v1`));
        for (const l of pulled.layers) assert.ok(await dst.has(l.digest));
        assert.equal(pulled.layers.length, 2);
      });
    } finally {
      await removeTempDir(dir);
    }
  });
});

describe('registry with htpasswd basic auth', { skip: skipRegistry || (hasHtpasswd() ? false : 'htpasswd (apache2-utils) is not installed') }, () => {
  let reg: TestRegistry;
  let oci: FixtureImage;
  before(async () => {
    reg = await startRegistry({ htpasswd: { username: 'berth', password: 's3cret' } });
    oci = await busyboxImage('oci');
  });
  after(async () => {
    await reg?.stop();
  });

  test('anonymous is refused; credentials from a table or ~/.docker/config.json work', async () => {
    const ref = parseNormalizedReference(`${reg.host}/private/busybox:v1`);
    await withStore(async (src) => {
      await assert.rejects(pushImage(new RegistryClient(), src, ref, await loadFixtureImage(oci, src)), (e: unknown) => isBerthError(e, 'Unauthorized'));
      const wrong = new RegistryClient({ credentials: staticCredentials({ [reg.host]: { username: 'berth', password: 'nope' } }) });
      await assert.rejects(pushImage(wrong, src, ref, oci.target), (e: unknown) => isBerthError(e, 'Unauthorized'));
      const ok = new RegistryClient({ credentials: staticCredentials({ [reg.host]: { username: 'berth', password: 's3cret' } }) });
      await pushImage(ok, src, ref, oci.target);
    });
    const cfgDir = await makeTempDir('docker-config');
    try {
      await mkdir(cfgDir, { recursive: true });
      const cfg = join(cfgDir, 'config.json');
      await writeFile(cfg, JSON.stringify({ auths: { [reg.host]: { auth: Buffer.from('berth:s3cret').toString('base64') } } }));
      await withStore(async (dst) => {
        await assert.rejects(pullImage(new RegistryClient(), dst, ref), (e: unknown) => isBerthError(e, 'Unauthorized'));
        await pullImage(new RegistryClient({ credentials: dockerConfigCredentials(cfg) }), dst, ref);
        await assertSameImage(dst, oci);
      });
    } finally {
      await removeTempDir(cfgDir);
    }
  });

  test('requests sent at once by a new client are all answered when the challenge comes back', async () => {
    const ref = parseNormalizedReference(`${reg.host}/private/concurrent:v1`);
    const creds = staticCredentials({ [reg.host]: { username: 'berth', password: 's3cret' } });
    await withStore(async (src) => {
      await pushImage(new RegistryClient({ credentials: creds }), src, ref, await loadFixtureImage(oci, src));
    });
    // Each request meets the 401 before any of them has learned the challenge.
    const repo = new RegistryClient({ credentials: creds }).repository(ref);
    const blobs = await Promise.all(oci.layers.map(async (l) => {
      const { stream } = await repo.openBlob(l.digest);
      const chunks: Buffer[] = [];
      for await (const c of stream) chunks.push(c as Buffer);
      return Buffer.concat(chunks);
    }));
    oci.layers.forEach((l, i) => assert.ok(blobs[i]!.equals(l.data)));
    const wrong = new RegistryClient({ credentials: staticCredentials({ [reg.host]: { username: 'berth', password: 'nope' } }) }).repository(ref);
    const results = await Promise.allSettled(oci.layers.map((l) => wrong.openBlob(l.digest)));
    assert.ok(results.every((r) => r.status === 'rejected' && isBerthError(r.reason, 'Unauthorized')));
  });
});
