// ExecLaunches (src/engine/exec-launch.ts): which exec gets a container's spare launch, and
// when spares and claimed launches are cancelled. The launches here are stand-ins that count
// their cancels; the real ones are driven in test/integration/engine/exec-launch.test.ts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { ExecLaunches, type ExecLaunch } from '../../../src/engine/exec-launch.js';

function launch(): ExecLaunch & { cancels: number } {
  const l = { failed: false, cancels: 0, cancel: async () => void l.cancels++ };
  return l as unknown as ExecLaunch & { cancels: number };
}

const plain = { tty: false, stdin: false, privileged: false };

test('the next exec of the same shape takes the spare (its id), the launch is kept for its start', () => {
  const ls = new ExecLaunches();
  const l = launch();
  assert.equal(ls.wantsSpare('c1'), true);
  ls.addSpare('c1', 'e1', l, 100, plain);
  assert.equal(ls.wantsSpare('c1'), false);
  assert.equal(ls.claim('c2', plain), undefined, 'another container has none');
  assert.equal(ls.claim('c1', plain), 'e1');
  assert.equal(ls.claim('c1', plain), undefined, 'taken once');
  assert.deepEqual(ls.take('e1'), { launch: l, containerPid: 100 });
  assert.equal(ls.take('e1'), undefined);
  assert.equal(l.cancels, 0);
  assert.equal(ls.size, 0);
});

test('a spare of another shape, or a failed one, is cancelled instead of taken', () => {
  const ls = new ExecLaunches();
  const tty = launch();
  ls.addSpare('c1', 'e1', tty, 100, { tty: true, stdin: true, privileged: false });
  assert.equal(ls.claim('c1', plain), undefined);
  assert.equal(tty.cancels, 1);
  const prepared = launch();
  ls.addSpare('c1', 'e0', prepared, 100, plain);
  assert.equal(ls.claim('c1', { ...plain, privileged: true }), undefined, 'a privileged exec runs without the profile a prepared spare has loaded');
  assert.equal(prepared.cancels, 1);
  const failed = launch();
  (failed as { failed: boolean }).failed = true;
  ls.addSpare('c1', 'e2', failed, 100, plain);
  assert.equal(ls.claim('c1', plain), undefined);
  assert.equal(failed.cancels, 1);
});

test('at most `max` launches wait: one more is cancelled at once; a second spare for a container too', () => {
  const ls = new ExecLaunches(2);
  const [a, b, c, d] = [launch(), launch(), launch(), launch()];
  ls.addSpare('c1', 'e1', a, 1, plain);
  ls.addSpare('c1', 'e2', b, 1, plain);
  assert.equal(b.cancels, 1, 'the container has one already');
  ls.addSpare('c2', 'e3', c, 2, plain);
  assert.equal(ls.wantsSpare('c3'), false);
  ls.addSpare('c3', 'e4', d, 3, plain);
  assert.equal(d.cancels, 1, 'over the limit');
  assert.equal(ls.size, 2);
});

test('the container\'s end cancels its spare and the launches its execs claimed; close cancels all', async () => {
  const ls = new ExecLaunches();
  const [a, b, c] = [launch(), launch(), launch()];
  ls.addSpare('c1', 'e1', a, 1, plain);
  assert.equal(ls.claim('c1', plain), 'e1');
  ls.addSpare('c1', 'e2', b, 1, plain);
  ls.addSpare('c2', 'e3', c, 2, plain);
  ls.cancelContainer('c1');
  assert.deepEqual([a.cancels, b.cancels, c.cancels], [1, 1, 0]);
  await ls.close();
  assert.deepEqual([a.cancels, b.cancels, c.cancels], [1, 1, 1]);
  assert.equal(ls.size, 0);
});

test('spares and claimed launches not used within the TTL are cancelled', async () => {
  const ls = new ExecLaunches(16, 30);
  const [a, b] = [launch(), launch()];
  ls.addSpare('c1', 'e1', a, 1, plain);
  ls.addSpare('c2', 'e2', b, 2, plain);
  assert.equal(ls.claim('c2', plain), 'e2');
  await sleep(80);
  assert.deepEqual([a.cancels, b.cancels], [1, 1]);
  assert.equal(ls.take('e2'), undefined);
  assert.equal(ls.size, 0);
});
