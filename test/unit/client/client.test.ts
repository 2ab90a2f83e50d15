import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { EngineClient, encodeQuery } from '../../../src/client/client.js';
import { DEFAULT_HOST, parseHost, resolveHost } from '../../../src/client/connection.js';
import { ApiError, ConnectionError } from '../../../src/client/errors.js';
import { StdcopyDecoder } from '../../../src/client/stdcopy.js';
import { makeTempDir, removeTempDir } from '../../harness/tmp.js';

test('host resolution: -H, then BERTH_HOST, then DOCKER_HOST, then the default socket', () => {
  assert.deepEqual(resolveHost({ hosts: ['unix:///a'], env: { BERTH_HOST: 'unix:///b', DOCKER_HOST: 'unix:///c' } }), { host: 'unix:///a', from: 'flag' });
  assert.deepEqual(resolveHost({ env: { BERTH_HOST: 'unix:///b', DOCKER_HOST: 'unix:///c' } }), { host: 'unix:///b', from: 'BERTH_HOST' });
  assert.deepEqual(resolveHost({ env: { DOCKER_HOST: 'unix:///c' } }), { host: 'unix:///c', from: 'DOCKER_HOST' });
  assert.deepEqual(resolveHost({ hosts: [], env: {} }), { host: DEFAULT_HOST, from: 'default' });
  assert.deepEqual(resolveHost({ env: { BERTH_EXEC_ROOT: '/tmp/x' } }), { host: 'unix:///tmp/x/berth.sock', from: 'default' });
  assert.throws(() => resolveHost({ hosts: ['a', 'b'], env: {} }), /only one -H/);
});

test('host parsing: unix, tcp with default ports, TLS files from DOCKER_CERT_PATH', () => {
  assert.deepEqual(parseHost('unix:///run/x.sock'), { kind: 'unix', socketPath: '/run/x.sock', host: 'unix:///run/x.sock' });
  assert.deepEqual(parseHost('/run/x.sock'), { kind: 'unix', socketPath: '/run/x.sock', host: 'unix:///run/x.sock' });
  assert.deepEqual(parseHost('tcp://10.0.0.1'), { kind: 'tcp', hostname: '10.0.0.1', port: 2375, host: 'tcp://10.0.0.1:2375' });
  const t = parseHost('tcp://h:2376', { tlsverify: true }, { DOCKER_CERT_PATH: '/certs' });
  assert.deepEqual(t.kind === 'tcp' && t.tls, { verify: true, ca: '/certs/ca.pem', cert: '/certs/cert.pem', key: '/certs/key.pem' });
  const u = parseHost('tcp://[::1]', { tls: true, tlscacert: '/x/ca.pem' });
  assert.equal(u.kind === 'tcp' && u.port, 2376);
  assert.equal(u.kind === 'tcp' && u.hostname, '::1');
  assert.throws(() => parseHost('ssh://host'), /unsupported protocol/);
});

test('queries: booleans as 1/0, lists repeated, undefined left out', () => {
  assert.equal(encodeQuery({ all: true, size: false, names: ['a', 'b'], x: undefined, f: '{"a":1}' }), '?all=1&size=0&names=a&names=b&f=%7B%22a%22%3A1%7D');
});

test('stdcopy frames split at every byte', () => {
  const frame = (id: number, s: string): Buffer => {
    const h = Buffer.alloc(8);
    h[0] = id;
    h.writeUInt32BE(Buffer.byteLength(s), 4);
    return Buffer.concat([h, Buffer.from(s)]);
  };
  const all = Buffer.concat([frame(1, 'out'), frame(2, 'err'), frame(3, 'boom')]);
  for (let cut = 0; cut <= all.length; cut++) {
    let out = '';
    let err = '';
    let sys = '';
    const d = new StdcopyDecoder({ stdout: (b) => (out += b), stderr: (b) => (err += b), error: (m) => (sys += m) });
    d.push(all.subarray(0, cut));
    d.push(all.subarray(cut));
    assert.deepEqual([out, err, sys, d.pending], ['out', 'err', 'boom', 0]);
  }
});

test('version negotiation, JSON errors with the daemon\'s message, unreachable daemon', async () => {
  const dir = await makeTempDir('client');
  const sock = join(dir, 'api.sock');
  const seen: string[] = [];
  const srv = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    if (req.url === '/_ping') {
      res.writeHead(200, { 'Api-Version': '1.41' });
      res.end('OK');
    } else if (req.url?.endsWith('/containers/nosuch/json')) {
      res.writeHead(404, { 'Content-Type': 'application/json' });
      res.end('{"message":"No such container: nosuch"}');
    } else {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end('{"ok":true}');
    }
  });
  await new Promise<void>((r) => srv.listen(sock, r));
  try {
    const c = new EngineClient(parseHost(`unix://${sock}`));
    assert.deepEqual(await c.get('/info'), { ok: true });
    assert.equal(c.apiVersion, '1.41');
    await assert.rejects(c.get('/containers/nosuch/json'), (e: unknown) => e instanceof ApiError && e.status === 404 && e.message === 'No such container: nosuch');
    assert.deepEqual(seen, ['GET /_ping', 'GET /v1.41/info', 'GET /v1.41/containers/nosuch/json']);
    const gone = new EngineClient(parseHost(`unix://${join(dir, 'none.sock')}`));
    await assert.rejects(gone.get('/info'), (e: unknown) => e instanceof ConnectionError && /Cannot connect to the Berth daemon at unix:\/\/.*none.sock\. Is the daemon running\?/.test((e as Error).message));
  } finally {
    await new Promise((r) => srv.close(r));
    await removeTempDir(dir);
  }
});

test('a streamed body (load, import, build context) arrives whole, in order, however the socket buffers', async () => {
  const dir = await makeTempDir('client');
  const sock = join(dir, 'api.sock');
  let got: Buffer = Buffer.alloc(0);
  const srv = createServer((req, res) => {
    if (req.url === '/_ping') {
      res.writeHead(200, { 'Api-Version': '1.41' });
      res.end('OK');
      return;
    }
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      got = Buffer.concat(parts);
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end('{"stream":"done"}\n');
    });
  });
  await new Promise<void>((r) => srv.listen(sock, r));
  try {
    // 4 MiB in 64 KiB pieces: far more than the socket takes at once, so writes see backpressure.
    const data = Buffer.alloc(4 << 20);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7 + (i >> 16)) & 0xff;
    const c = new EngineClient(parseHost(`unix://${sock}`));
    const res = await c.stream('POST', '/images/load', { raw: Readable.from(Array.from({ length: 64 }, (_x, i) => data.subarray(i << 16, (i + 1) << 16))), headers: { 'Content-Type': 'application/x-tar' } });
    res.resume();
    await new Promise((r) => res.on('end', r));
    assert.equal(got.length, data.length);
    assert.ok(got.equals(data), 'the body the server read differs from what was sent');
  } finally {
    await new Promise((r) => srv.close(r));
    await removeTempDir(dir);
  }
});
