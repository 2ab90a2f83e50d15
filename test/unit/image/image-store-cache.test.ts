// images.json is kept in memory between reads while the file is unchanged: a change made by
// another ImageStore on the same data root (another process) must still be seen.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ContentStore } from '../../../src/image/content/store.js';
import { ImageStore } from '../../../src/image/store.js';

test('a store sees names another store on the same data root wrote', async () => {
  const root = await mkdtemp(join(tmpdir(), 'berth-unit-images-'));
  try {
    const content = new ContentStore(root);
    const blob = await content.put(Buffer.from('{}'));
    const target = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: blob.digest, size: blob.size };
    const a = new ImageStore(root, content);
    const b = new ImageStore(root, new ContentStore(root));
    await a.put('one:latest', target);
    assert.deepEqual((await b.records()).map((r) => r.name), ['docker.io/library/one:latest']);
    await a.put('two:latest', target);
    assert.deepEqual((await b.records()).map((r) => r.name).sort(), ['docker.io/library/one:latest', 'docker.io/library/two:latest']);
    await b.untag('one:latest');
    assert.deepEqual((await a.records()).map((r) => r.name), ['docker.io/library/two:latest']);
    // what a caller does to the records it got does not reach the store's copy
    (await a.records())[0]!.name = 'changed';
    assert.deepEqual((await a.records()).map((r) => r.name), ['docker.io/library/two:latest']);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
