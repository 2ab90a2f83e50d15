import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { JSONMessage } from '../../../src/api/json-stream.js';
import { humanSize, progressBar, PullProgress, PushProgress } from '../../../src/engine/images/progress-messages.js';
import { progressEvent } from '../../../src/image/progress.js';

const A = `sha256:${'a'.repeat(64)}`;
const B = `sha256:${'b'.repeat(64)}`;
const HEADER: JSONMessage = { status: 'Pulling from library/busybox', id: 'latest' };

function clock(): { now: () => number; advance: (ms: number) => void } {
  let t = 0;
  return { now: () => t, advance: (ms) => (t += ms) };
}

test('humanSize and progressBar as docker renders them', () => {
  assert.equal(humanSize(0), '0B');
  assert.equal(humanSize(999), '999B');
  assert.equal(humanSize(1056423), '1.06MB');
  assert.equal(humanSize(2_130_432), '2.13MB');
  assert.equal(progressBar(500, 1000), `[${'='.repeat(25)}>${' '.repeat(25)}] ${'500B'.padStart(8)}/1kB`);
  assert.equal(progressBar(1000, 1000), `[${'='.repeat(50)}>] ${'1kB'.padStart(8)}/1kB`);
  assert.equal(progressBar(2_130_432), '  2.13MB');
});

test('a pull: header first, then per-layer messages in dockerd’s words', () => {
  const out: JSONMessage[] = [];
  const c = clock();
  const p = new PullProgress((m) => out.push(m), HEADER, c.now);
  p.download(progressEvent(A, 'waiting', 0, 100));
  p.download(progressEvent(B, 'waiting', 0, 50));
  assert.equal(out.length, 0, 'nothing before the first layer starts');
  p.download(progressEvent(A, 'downloading', 10, 100));
  p.download(progressEvent(A, 'downloading', 20, 100)); // throttled
  c.advance(150);
  p.download(progressEvent(A, 'downloading', 100, 100));
  p.download(progressEvent(A, 'verifying', 100, 100));
  p.download(progressEvent(A, 'downloaded', 100, 100));
  p.download(progressEvent(B, 'exists', 50, 50));
  p.download(progressEvent(A, 'done', 100, 100));
  p.extract(progressEvent(A, 'extracting', 0, 100));
  p.extract(progressEvent(A, 'extracting', 300));
  p.extract(progressEvent(A, 'done'));
  p.extract(progressEvent(B, 'done'));
  p.finish('sha256:feed', 'busybox:latest', true);
  const short = (m: JSONMessage): string => `${m.id ?? ''}|${m.status ?? ''}|${m.progressDetail ? JSON.stringify(m.progressDetail) : ''}`;
  assert.deepEqual(out.map(short), [
    'latest|Pulling from library/busybox|',
    'aaaaaaaaaaaa|Pulling fs layer|{}',
    'bbbbbbbbbbbb|Pulling fs layer|{}',
    'aaaaaaaaaaaa|Downloading|{"current":10,"total":100}',
    'aaaaaaaaaaaa|Downloading|{"current":100,"total":100}',
    'aaaaaaaaaaaa|Verifying Checksum|{}',
    'aaaaaaaaaaaa|Download complete|{}',
    'bbbbbbbbbbbb|Already exists|{}',
    'aaaaaaaaaaaa|Extracting|{"current":300}',
    'aaaaaaaaaaaa|Pull complete|{}',
    '|Digest: sha256:feed|',
    '|Status: Downloaded newer image for busybox:latest|',
  ]);
  assert.match(out[3]?.progress ?? '', /^\[=====>\s+\]\s+10B\/100B$/);
});

test('a pull with nothing to download: no layer lines, "Image is up to date"', () => {
  const out: JSONMessage[] = [];
  const p = new PullProgress((m) => out.push(m), HEADER);
  for (const d of [A, B]) p.download(progressEvent(d, 'waiting', 0, 1));
  for (const d of [A, B]) p.download(progressEvent(d, 'exists', 1, 1));
  for (const d of [A, B]) p.extract(progressEvent(d, 'done'));
  p.finish('sha256:feed', 'busybox:latest', false);
  assert.deepEqual(out, [HEADER, { status: 'Digest: sha256:feed' }, { status: 'Status: Image is up to date for busybox:latest' }]);
});

test('the unpack may finish a layer it already has before the download reports it: still "Image is up to date"', () => {
  const out: JSONMessage[] = [];
  const p = new PullProgress((m) => out.push(m), HEADER);
  for (const d of [A, B]) p.download(progressEvent(d, 'waiting', 0, 1));
  for (const d of [A, B]) p.extract(progressEvent(d, 'done'));
  for (const d of [A, B]) p.download(progressEvent(d, 'exists', 1, 1));
  p.finish('sha256:feed', 'busybox:latest', false);
  assert.deepEqual(out, [HEADER, { status: 'Digest: sha256:feed' }, { status: 'Status: Image is up to date for busybox:latest' }]);
});

test('an unpack done before its download reported shows "Pull complete" after "Download complete"', () => {
  const out: JSONMessage[] = [];
  const p = new PullProgress((m) => out.push(m), HEADER);
  p.download(progressEvent(A, 'waiting', 0, 1));
  p.extract(progressEvent(A, 'done'));
  p.download(progressEvent(A, 'downloaded', 1, 1));
  assert.deepEqual(out.map((m) => m.status), [HEADER.status, 'Pulling fs layer', 'Download complete', 'Pull complete']);
});

test('a failure before any layer message leaves the stream unstarted', () => {
  const out: JSONMessage[] = [];
  const p = new PullProgress((m) => out.push(m), HEADER);
  p.download(progressEvent(A, 'waiting', 0, 1));
  assert.equal(out.length, 0);
});

test('a push: Preparing by diff ID, then Pushed / Layer already exists / Mounted from, then the digest line and aux', () => {
  const out: JSONMessage[] = [];
  const layers = new Map([
    [A, `sha256:${'1'.repeat(64)}`],
    [B, `sha256:${'2'.repeat(64)}`],
  ]);
  const p = new PushProgress((m) => out.push(m), layers, 'library/busybox');
  p.prepare();
  p.event(progressEvent('sha256:' + 'c'.repeat(64), 'pushed', 1, 1)); // the config: not shown
  p.event(progressEvent(A, 'uploading', 0, 10));
  p.event(progressEvent(A, 'pushed', 10, 10));
  p.event(progressEvent(B, 'mounted', 5, 5));
  p.finish('latest', 'sha256:feed', 527);
  assert.deepEqual(out, [
    { status: 'Preparing', progressDetail: {}, id: '111111111111' },
    { status: 'Preparing', progressDetail: {}, id: '222222222222' },
    { status: 'Pushing', progressDetail: { current: 0, total: 10 }, progress: `[>${' '.repeat(50)}] ${'0B'.padStart(8)}/10B`, id: '111111111111' },
    { status: 'Pushed', progressDetail: {}, id: '111111111111' },
    { status: 'Mounted from library/busybox', progressDetail: {}, id: '222222222222' },
    { status: 'latest: digest: sha256:feed size: 527' },
    { progressDetail: {}, aux: { Tag: 'latest', Digest: 'sha256:feed', Size: 527 } },
  ]);
});
