// Published ports through berthd with the real docker CLI: TCP and UDP, answered at 127.0.0.1
// and at another address of this host, and a port bound to one host address answered there
// only. The other address belongs to a link this test makes and removes: a veth pair
// berth-test-<hex>/berth-test-<hex>p (the CI kernel has no dummy driver) with a /32 of
// 198.18.0.0/15, the benchmarking range. The servers are echo servers started in
// the containers' network namespaces (their SandboxKey): busybox has no UDP server.
//
// Network safety: the harness's daemon has its own table, bridge and pool; traffic goes only
// to 127.0.0.1, the test link's address and the containers made here.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { promisify } from 'node:util';
import { DOCKER, TestBerthd } from '../../harness/berthd.js';
import { ok as okWith } from './clients.js';
import { ECHO_SERVER, startIn, tcpEcho, udpEcho, type Background } from '../network/helpers.js';

const run = promisify(execFile);
const skip = !existsSync(DOCKER) ? `${DOCKER} is not installed` : process.getuid?.() !== 0 ? 'needs root' : false;

/** A port free for TCP and UDP on every address now (the daemon then holds it). */
async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = createServer();
      s.once('error', reject);
      s.listen(0, '0.0.0.0', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const udpFree = await new Promise<boolean>((resolve) => {
      const u = createSocket('udp4');
      u.once('error', () => resolve(false));
      u.bind(port, '0.0.0.0', () => u.close(() => resolve(true)));
    });
    if (udpFree) return port;
  }
}

describe('docker CLI against berthd: published TCP and UDP ports, loopback and other host addresses', { skip, concurrency: false }, () => {
  let d: TestBerthd;
  const link = `berth-test-${randomBytes(2).toString('hex').slice(0, 3)}`;
  const other = `198.18.${randomInt(1, 255)}.${randomInt(1, 255)}`;
  const servers: Background[] = [];

  const ok = (args: string[]): Promise<string> => okWith(d, args);

  /** A container that sleeps, with an echo server (TCP and UDP, port 7000) in its network namespace. */
  async function echoContainer(name: string, publish: string[]): Promise<void> {
    await ok(['run', '-d', '--name', name, ...publish.flatMap((p) => ['-p', p]), 'busybox', 'sleep', '300']);
    const sandbox = (JSON.parse(await ok(['inspect', '-f', '{{json .NetworkSettings.SandboxKey}}', name])) as string);
    assert.ok(existsSync(sandbox), sandbox);
    servers.push(await startIn(sandbox, ECHO_SERVER, ['7000']));
  }

  async function removeAll(): Promise<void> {
    for (const s of servers.splice(0)) await s.stop();
    const ids = (await ok(['ps', '-aq'])).split('\n').filter(Boolean);
    if (ids.length) await ok(['rm', '-f', ...ids]);
  }

  before(async () => {
    d = await TestBerthd.start('berthd-publish');
    await run('ip', ['link', 'add', link, 'type', 'veth', 'peer', 'name', `${link}p`]);
    await run('ip', ['addr', 'add', `${other}/32`, 'dev', link]);
    await run('ip', ['link', 'set', `${link}p`, 'up']);
    await run('ip', ['link', 'set', link, 'up']);
  });

  after(async () => {
    for (const s of servers) await s.stop();
    await run('ip', ['link', 'del', link]).catch(() => undefined); // the peer goes with it
    await d?.cleanup();
  });

  test('-p PORT:7000 and -p PORT:7000/udp answer at 127.0.0.1 and at the other address; docker port lists both', async () => {
    const tcp = await freePort();
    const udp = await freePort();
    await echoContainer('echo', [`${tcp}:7000`, `${udp}:7000/udp`]);
    for (const host of ['127.0.0.1', other]) {
      assert.equal(await tcpEcho(host, tcp), 'hello', `tcp via ${host}`);
      assert.equal(await udpEcho(host, udp), 'udp:hello', `udp via ${host}`);
    }
    const ports = (await ok(['port', 'echo'])).trim().split('\n').sort();
    assert.deepEqual(ports, [`7000/tcp -> 0.0.0.0:${tcp}`, `7000/udp -> 0.0.0.0:${udp}`]);
    await removeAll();
    await assert.rejects(tcpEcho('127.0.0.1', tcp));
    await assert.rejects(udpEcho('127.0.0.1', udp), /no answer/);
  });

  test('a port published on one host address answers there and not at 127.0.0.1', async () => {
    const tcp = await freePort();
    const udp = await freePort();
    await echoContainer('bound', [`${other}:${tcp}:7000`, `${other}:${udp}:7000/udp`]);
    assert.equal(await tcpEcho(other, tcp), 'hello');
    assert.equal(await udpEcho(other, udp), 'udp:hello');
    await assert.rejects(tcpEcho('127.0.0.1', tcp));
    await assert.rejects(udpEcho('127.0.0.1', udp), /no answer/);
    assert.equal((await ok(['port', 'bound', '7000/udp'])).trim(), `${other}:${udp}`);
    await removeAll();
  });
});
