// GET /containers/{id}/attach/ws against a harness-started berthd, with the `ws` library as
// an independent RFC 6455 client: stdin sent as websocket messages reaches the container,
// its stdout and stderr come back as raw frames (no stdcopy header), binary from API 1.28
// and text before, logs=1 replays the log, and a request that is not a handshake is a 400.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import WebSocket from 'ws';
import { TestBerthd } from '../../harness/berthd.js';

const skip = process.getuid?.() !== 0 ? 'needs root' : false;

interface Received {
  text: () => string;
  binary: boolean[];
  closed: Promise<number>;
}

function open(d: TestBerthd, path: string): Promise<{ ws: WebSocket; got: Received }> {
  const ws = new WebSocket(`ws+unix://${d.socket}:${path}`);
  let text = '';
  const binary: boolean[] = [];
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    text += data.toString();
    binary.push(isBinary);
  });
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ ws, got: { text: () => text, binary, closed } }));
    ws.once('error', reject);
  });
}

async function until(what: string, cond: () => boolean, ms = 15_000, poll?: () => Promise<void>): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    await poll?.();
    if (cond()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function plainGet(d: TestBerthd, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: d.socket, path }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('websocket attach', { skip }, () => {
  let d: TestBerthd;
  before(async () => {
    d = await TestBerthd.start('berthd-attach-ws');
    const r = await d.docker(['run', '-d', '-i', '--network', 'none', '--name', 'echo', 'busybox', 'sh', '-c', 'echo ready; while read l; do echo "out $l"; echo "err $l" >&2; done']);
    assert.equal(r.code, 0, r.stderr);
    // `ready` is in the log, so berth-monitor has read it: an attach from now on must not get it.
    let log = '';
    await until('the container to print ready', () => log.includes('ready'), 15_000, async () => {
      log = (await d.docker(['logs', 'echo'])).stdout;
    });
  });
  after(async () => {
    await d?.cleanup();
  });

  test('stdin in, stdout and stderr out as raw binary frames', async () => {
    const { ws, got } = await open(d, '/v1.47/containers/echo/attach/ws?stream=1&stdin=1&stdout=1&stderr=1');
    ws.send(Buffer.from('hello\n'));
    // A message fragmented into two frames is one piece of stdin.
    ws.send(Buffer.from('wor'), { fin: false, binary: true });
    ws.send(Buffer.from('ld\n'), { fin: true, binary: true });
    await until('both lines', () => got.text().includes('err world\n'));
    assert.equal(got.text().replace('err hello\n', '').replace('out hello\n', '').replace('out world\n', '').replace('err world\n', ''), '', `unexpected output ${JSON.stringify(got.text())}`);
    assert.ok(got.binary.every((b) => b), 'frames are binary from API 1.28');
    ws.close();
    assert.equal(await got.closed, 1000);
    // The container goes on after the client leaves.
    const inspect = await d.docker(['inspect', '-f', '{{.State.Running}}', 'echo']);
    assert.equal(inspect.stdout.trim(), 'true');
  });

  test('text frames before API 1.28; only the streams asked for', async () => {
    const { ws, got } = await open(d, '/v1.27/containers/echo/attach/ws?stream=1&stdin=1&stdout=1');
    ws.send('text\n');
    await until('stdout line', () => got.text().includes('out text\n'));
    // stderr was not asked for: give it the time stdout had, then check it never came
    ws.send('again\n');
    await until('second stdout line', () => got.text().includes('out again\n'));
    assert.ok(!got.text().includes('err '), got.text());
    assert.ok(got.binary.length > 0 && got.binary.every((b) => !b), 'frames are text before API 1.28');
    ws.terminate();
  });

  test('logs=1 without stream replays the log, then the server closes', async () => {
    const { got } = await open(d, '/v1.47/containers/echo/attach/ws?logs=1&stdout=1');
    assert.equal(await got.closed, 1000);
    assert.match(got.text(), /^ready\nout hello\nout world\n/);
    assert.ok(!got.text().includes('err '));
  });

  test('not a handshake is a 400; no such container is a 404', async () => {
    const plain = await plainGet(d, '/v1.47/containers/echo/attach/ws?stream=1');
    assert.equal(plain.status, 400);
    assert.match(plain.body, /not websocket protocol/);
    await assert.rejects(open(d, '/v1.47/containers/nosuch/attach/ws?stream=1'), /404/);
  });
});
