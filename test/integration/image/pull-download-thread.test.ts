import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { ContentStore } from '../../../src/image/content/store.js';
import { RegistryClient } from '../../../src/image/registry/client.js';
import { staticCredentials } from '../../../src/image/registry/credentials.js';
import { pullImage } from '../../../src/image/pull.js';
import { pushImage } from '../../../src/image/push.js';
import { parseNormalizedReference } from '../../../src/image/reference.js';
import { VfsSnapshotter } from '../../../src/image/snapshot/snapshotter.js';
import { chainIds } from '../../../src/image/unpack.js';
import type { ProgressEvent } from '../../../src/image/progress.js';
import { isBerthError } from '../../../src/errors.js';
import { hasDockerRegistry, hasHtpasswd, startRegistry, type TestRegistry } from '../../harness/registry.js';
import { startTokenServer, type TokenServer } from '../../harness/token-server.js';
import { busyboxImage, loadFixtureImage, type FixtureImage } from '../../harness/image-fixtures.js';
import { startTcpProxy } from '../../harness/tcp-proxy.js';
import { makeTempDir, removeTempDir } from '../../harness/tmp.js';

// A pull that unpacks with `downloadThread` downloads its layers on a worker thread
// (download-thread.ts): resume
// from a partial ingest, one download for two pulls of a blob, credentials answered
// for the worker (a corrupted blob is in pull-unpack.test.ts).

const skipRegistry = hasDockerRegistry() ? false : 'docker-registry is not installed (apt-get install docker-registry)';

async function withRoot<T>(fn: (root: string) => Promise<T>): Promise<T> {
  const root = await makeTempDir('pull-thread');
  try {
    return await fn(root);
  } finally {
    await removeTempDir(root);
  }
}

async function push(img: FixtureImage, ref: string, client = new RegistryClient()): Promise<void> {
  await withRoot(async (root) => {
    const src = new ContentStore(root);
    await pushImage(client, src, parseNormalizedReference(ref), await loadFixtureImage(img, src));
  });
}

const blobGets = (requests: string[], digest: string): string[] => requests.filter((r) => r.startsWith('GET ') && r.includes(`/blobs/${digest} `));

describe('pull with unpack: downloads on a worker thread', { skip: skipRegistry }, () => {
  let reg: TestRegistry;
  let img: FixtureImage;
  before(async () => {
    reg = await startRegistry();
    img = await busyboxImage('oci');
    await push(img, `${reg.host}/thread/busybox:v1`);
  });
  after(async () => {
    await reg?.stop();
  });

  test('a partial ingest is resumed with a Range request; events per layer in order', async () => {
    const big = img.layers[0]!;
    const half = big.data.length >> 1;
    const proxy = await startTcpProxy(reg.host);
    try {
      await withRoot(async (root) => {
        const content = new ContentStore(root);
        // An earlier download that lost its connection half-way.
        async function* cut(): AsyncGenerator<Buffer> {
          yield big.data.subarray(0, half);
          throw Object.assign(new Error('connection reset'), { code: 'ECONNRESET' });
        }
        await assert.rejects(content.write({ digest: big.digest, size: big.data.length }, async () => ({ stream: Readable.from(cut()), offset: 0 })), /connection reset/);
        assert.deepEqual((await content.ingests()).map((i) => i.offset), [half]);

        const sn = new VfsSnapshotter(root);
        const events: ProgressEvent[] = [];
        const pulled = await pullImage(new RegistryClient(), content, parseNormalizedReference(`${proxy.host}/thread/busybox:v1`), { unpack: { snapshotter: sn }, downloadThread: true, onProgress: (e) => events.push(e) });
        assert.equal(pulled.chainId, chainIds(img.layers.map((l) => l.diffId)).at(-1));
        const gets = blobGets(proxy.requests, big.digest);
        assert.equal(gets.length, 1, gets.join('\n'));
        assert.match(gets[0]!, new RegExp(`\\r\\nRange: bytes=${half}-\\r\\n`, 'i'));
        assert.ok((await content.get(big.digest)).equals(big.data));
        assert.deepEqual(await content.ingests(), []);
        for (const l of img.layers) {
          const statuses = [...new Set(events.filter((e) => e.digest === l.digest).map((e) => e.status))];
          assert.deepEqual(statuses.filter((s) => s !== 'extracting'), ['waiting', 'downloading', 'verifying', 'downloaded', 'done'], statuses.join(','));
          assert.ok(statuses.includes('extracting'), statuses.join(','));
        }
        const resumed = events.filter((e) => e.digest === big.digest && e.status === 'downloading');
        assert.ok(resumed.every((e) => e.current! > half && e.total === big.data.length), JSON.stringify(resumed));
      });
    } finally {
      await proxy.stop();
    }
  });

  test('two pulls of the same image at once download each blob once', async () => {
    const proxy = await startTcpProxy(reg.host, { bytesPerMs: 2000 });
    try {
      await withRoot(async (root) => {
        const content = new ContentStore(root);
        const sn = new VfsSnapshotter(root);
        const ref = parseNormalizedReference(`${proxy.host}/thread/busybox:v1`);
        const [a, b] = await Promise.all([pullImage(new RegistryClient(), content, ref, { unpack: { snapshotter: sn }, downloadThread: true }), pullImage(new RegistryClient(), content, ref, { unpack: { snapshotter: sn }, downloadThread: true })]);
        assert.equal(a.chainId, b.chainId);
        for (const l of img.layers) assert.equal(blobGets(proxy.requests, l.digest).length, 1, `one GET of ${l.digest}`);
        assert.deepEqual((await sn.list()).filter((s) => s.kind === 'committed').map((s) => s.name).sort(), chainIds(img.layers.map((l) => l.diffId)).sort());
      });
    } finally {
      await proxy.stop();
    }
  });
});

describe('pull with unpack from registries that need credentials', { skip: skipRegistry }, () => {
  let tokens: TokenServer;
  let reg: TestRegistry;
  let img: FixtureImage;
  before(async () => {
    // No anonymous access at all: the worker's blob requests need the user's token.
    tokens = await startTokenServer({ users: { alice: { password: 'wonderland' } } });
    reg = await startRegistry({ token: { realm: tokens.realm, service: tokens.service, issuer: tokens.issuer, rootCertBundle: tokens.rootCertBundle } });
    img = await busyboxImage('oci');
  });
  after(async () => {
    await reg?.stop();
    await tokens?.stop();
  });

  test('bearer: the worker gets the credentials from the pulling thread', async () => {
    const ref = `${reg.host}/private/busybox:v1`;
    const asked: string[] = [];
    const lookup = staticCredentials({ [reg.host]: { username: 'alice', password: 'wonderland' } });
    const alice = new RegistryClient({ credentials: (host) => (asked.push(host), lookup(host)) });
    await push(img, ref, alice);
    await withRoot(async (root) => {
      const content = new ContentStore(root);
      tokens.requests.length = 0;
      asked.length = 0;
      const pulled = await pullImage(alice, content, parseNormalizedReference(ref), { unpack: { snapshotter: new VfsSnapshotter(root) }, downloadThread: true });
      assert.equal(pulled.chainId, chainIds(img.layers.map((l) => l.diffId)).at(-1));
      for (const l of img.layers) assert.ok((await content.get(l.digest)).equals(l.data));
      // This thread's token (manifest, config) and the worker's (layers), both alice's.
      assert.ok(tokens.requests.length >= 2 && tokens.requests.every((r) => r.user === 'alice' && r.status === 200), JSON.stringify(tokens.requests));
      assert.ok(asked.length >= 2 && asked.every((h) => h === reg.host), asked.join(','));
    });
  });

  test('basic: a pull with unpack works with htpasswd credentials', { skip: hasHtpasswd() ? false : 'htpasswd (apache2-utils) is not installed' }, async () => {
    const basic = await startRegistry({ htpasswd: { username: 'berth', password: 's3cret' } });
    try {
      const client = new RegistryClient({ credentials: staticCredentials({ [basic.host]: { username: 'berth', password: 's3cret' } }) });
      const ref = `${basic.host}/private/busybox:v1`;
      await push(img, ref, client);
      await withRoot(async (root) => {
        const pulled = await pullImage(client, new ContentStore(root), parseNormalizedReference(ref), { unpack: { snapshotter: new VfsSnapshotter(root) }, downloadThread: true });
        assert.equal(pulled.chainId, chainIds(img.layers.map((l) => l.diffId)).at(-1));
      });
    } finally {
      await basic.stop();
    }
  });
});
