// Berth's bandwidth limits from its own CLI: `berth run --egress-rate/--ingress-rate` and
// `berth update` on a running container, shown by `berth inspect`, and holding within 10 % in a
// measured transfer between two containers of a user network (tbf on the container's veth,
// docs/network.md). The daemon is the harness's, with its own bridge, table and pool; traffic
// stays between the two containers.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { DOCKER, TestBerthd } from '../../harness/berthd.js';
import { inspect as inspectWith, ok } from './clients.js';

const skip = !existsSync(DOCKER) ? `${DOCKER} is not installed` : process.getuid?.() !== 0 ? 'needs root' : false;

/** 4 MB: 4 s at 8mbit, long enough for tbf's burst and TCP's start to stay within a few %. */
const SIZE = 4_000_000;
const SERVE = ['sh', '-c', `mkdir -p /www && dd if=/dev/zero of=/www/big bs=1000 count=${SIZE / 1000} 2>/dev/null && exec httpd -f -p 80 -h /www`];

describe('berth CLI: --egress-rate/--ingress-rate on run and update', { skip, concurrency: false }, () => {
  let d: TestBerthd;

  const berth = (args: string[]): Promise<string> => ok(d, args, { client: 'berth', timeoutMs: 60_000 });
  const inspect = (name: string): Promise<Record<string, any>> => inspectWith(d, name, 'berth');

  /** Seconds `wget` in `client` takes for the file of the server at `host` (busybox's time). */
  async function transfer(client: string, host: string): Promise<number> {
    const r = await d.berth(['exec', client, 'sh', '-c', `time wget -q -O /dev/null http://${host}/big`], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    const m = /real\s+(\d+)m\s*([\d.]+)s/.exec(r.stderr);
    assert.ok(m, r.stderr);
    return Number(m[1]) * 60 + Number(m[2]);
  }

  function assertRate(secs: number, bits: number): void {
    const measured = (SIZE * 8) / secs;
    assert.ok(Math.abs(measured - bits) / bits < 0.1, `measured ${(measured / 1e6).toFixed(2)} mbit/s over ${secs}s, limit ${bits / 1e6} mbit/s`);
  }

  before(async () => {
    d = await TestBerthd.start('berthd-rates');
  });

  after(async () => {
    await d?.cleanup();
  });

  test('the flags are in help and completion', async () => {
    for (const cmd of ['run', 'create', 'update']) {
      const help = await berth([cmd, '--help']);
      assert.match(help, /--egress-rate rate/);
      assert.match(help, /--ingress-rate rate/);
    }
    const bash = await berth(['completion', 'bash']);
    for (const cmd of ['run', 'update']) assert.match(bash, new RegExp(`"${cmd}"\\) flags="[^"]*--egress-rate [^"]*--ingress-rate`));
  });

  test('run sets a rate, inspect shows it, update changes and removes it on the running container', async (t) => {
    t.after(async () => {
      await d.berth(['rm', '-f', 'srv', 'cli']);
      await d.berth(['network', 'rm', 'shaped']);
    });
    await berth(['network', 'create', 'shaped']);
    await berth(['run', '-d', '--name', 'srv', '--network', 'shaped', '--egress-rate', '2mbit', 'busybox', ...SERVE]);
    await berth(['run', '-d', '--name', 'cli', '--network', 'shaped', 'busybox', 'sleep', '300']);
    let srv = await inspect('srv');
    assert.equal(srv.HostConfig.BerthEgressRate, '2mbit');
    assert.equal(srv.HostConfig.BerthIngressRate, undefined);
    assert.equal(srv.NetworkSettings.EgressRate, 2_000_000);

    // Changed while it runs: inspect and the measured transfer follow the new rate.
    await berth(['update', '--egress-rate', '8mbit', 'srv']);
    srv = await inspect('srv');
    assert.equal(srv.HostConfig.BerthEgressRate, '8mbit');
    assert.equal(srv.NetworkSettings.EgressRate, 8_000_000);
    const limited = await transfer('cli', 'srv');
    assertRate(limited, 8e6);

    // 0 removes the limit: far faster.
    await berth(['update', '--egress-rate', '0', 'srv']);
    assert.equal((await inspect('srv')).NetworkSettings.EgressRate, undefined);
    assert.ok((await transfer('cli', 'srv')) < limited / 2, 'unlimited is far faster');

    // Ingress on the receiving side.
    await berth(['update', '--ingress-rate', '8mbit', 'cli']);
    const cli = await inspect('cli');
    assert.equal(cli.HostConfig.BerthIngressRate, '8mbit');
    assert.equal(cli.NetworkSettings.IngressRate, 8_000_000);
    assertRate(await transfer('cli', 'srv'), 8e6);
  });

  test('bad rates are refused naming the field; no container is left', async () => {
    const r = await d.berth(['run', '--rm', '--ingress-rate', 'fast', 'busybox', 'true']);
    assert.equal(r.code, 125, r.stderr);
    assert.match(r.stderr, /BerthIngressRate: invalid rate "fast"/);
    const none = await d.berth(['run', '--rm', '--network', 'none', '--egress-rate', '1mbit', 'busybox', 'true']);
    assert.equal(none.code, 125, none.stderr);
    assert.match(none.stderr, /bandwidth limits need a bridge network/);
    assert.equal((await berth(['ps', '-aq', '--filter', 'ancestor=busybox'])).trim(), '');
  });
});
