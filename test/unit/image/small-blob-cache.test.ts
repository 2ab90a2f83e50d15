import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SmallBlobCache } from '../../../src/image/content/small-blob-cache.js';

const blob = (n: number, fill = 1): Buffer => Buffer.alloc(n, fill);

test('keeps small blobs, not large ones', () => {
  const c = new SmallBlobCache(1024 * 1024);
  c.remember('sha256:a', blob(100));
  c.remember('sha256:big', blob(300 * 1024));
  assert.equal(c.get('sha256:a')?.length, 100);
  assert.equal(c.get('sha256:big'), undefined);
});

test('evicts the least recently used beyond its budget', () => {
  const c = new SmallBlobCache(250);
  c.remember('a', blob(100));
  c.remember('b', blob(100));
  assert.ok(c.get('a')); // a is now the most recent
  c.remember('c', blob(100)); // over 250: b goes
  assert.ok(c.get('a'));
  assert.equal(c.get('b'), undefined);
  assert.ok(c.get('c'));
});

test('forget drops an entry and its bytes', () => {
  const c = new SmallBlobCache(200);
  c.remember('a', blob(150));
  c.forget('a');
  assert.equal(c.get('a'), undefined);
  c.remember('b', blob(150)); // fits again: the forgotten bytes no longer count
  assert.ok(c.get('b'));
});
