import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, writeSync } from 'node:fs';
import { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { HeldReader, readAvailable } from '../../../src/engine/monitor/held-reader.js';
import { nativeAddon } from '../../../src/sys/native.js';

/** A socket pair: berthd's end as node makes it, the other end a bare descriptor. */
function pair(): { sock: Socket; peer: number } {
  const [ours, peer] = nativeAddon().socketPair();
  return { sock: new Socket({ fd: ours, readable: true, writable: true }), peer };
}

test('readAvailable takes what is there at once, and tells the end', async () => {
  const { sock, peer } = pair();
  const held = new HeldReader(sock); // node reads nothing meanwhile
  try {
    assert.deepEqual(readAvailable(sock), { text: '', ended: false }, 'nothing yet: no wait');
    writeSync(peer, 'exited 0 1\n');
    assert.deepEqual(readAvailable(sock), { text: 'exited 0 1\n', ended: false });
    const big = 'x'.repeat(10_000);
    writeSync(peer, big);
    assert.equal(readAvailable(sock).text, big, 'more than one read');
    closeSync(peer);
    assert.deepEqual(readAvailable(sock), { text: '', ended: true });
  } finally {
    held.forget();
    sock.destroy();
  }
});

test('a held socket gets nothing until released; readNow reads ahead of it', async () => {
  const { sock, peer } = pair();
  const got: string[] = [];
  sock.setEncoding('utf8');
  const held = new HeldReader(sock);
  sock.on('data', (d: string) => got.push(d));
  try {
    assert.equal(held.isHeld, true);
    writeSync(peer, 'one\n');
    await sleep(30);
    assert.deepEqual(got, [], 'held: not read');
    assert.equal(held.readNow(), 'one\n');
    writeSync(peer, 'two\n');
    held.releaseAfter(20);
    await sleep(80);
    assert.equal(held.isHeld, false);
    assert.deepEqual(got, ['two\n'], 'released: read as usual, without what readNow took');
    const ended = new Promise((r) => sock.once('end', r));
    closeSync(peer);
    await ended;
  } finally {
    sock.destroy();
  }
});

test('readNow at the end releases the socket, so its listeners see the end', async () => {
  const { sock, peer } = pair();
  const held = new HeldReader(sock);
  const closed = new Promise((r) => sock.once('close', r));
  sock.resume();
  writeSync(peer, 'last\n');
  closeSync(peer);
  assert.equal(held.readNow(), 'last\n');
  assert.equal(held.readNow(), '');
  assert.equal(held.isHeld, false);
  await closed;
});
