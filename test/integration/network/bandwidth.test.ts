import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tcJson } from '../../../src/sys/tc.js';
import { nodeIn, startIn, testNet, type Background } from './helpers.js';

// Egress and ingress limits hold within 10 % in a measured transfer between two namespaces on
// one network (8mbit for 3 s), and can be changed and removed while the container runs. The
// rate is the median of 250 ms windows (see RECEIVER).

/**
 * Counts the bytes of each connection in 250 ms windows and prints, at its end, the median
 * window's rate in bit/s: on a loaded machine the sender or receiver is now and then off the
 * CPU for a moment, which lowers or raises single windows (and any average), while the
 * shaped rate is what most windows see. The first 500 ms (the qdisc's burst) are left out.
 */
const RECEIVER = `
import { createServer } from 'node:net';
const WINDOW = 250;
createServer((c) => {
  let start = 0;
  const windows = [];
  c.on('data', (d) => {
    const now = performance.now();
    if (!start) start = now;
    const i = Math.floor((now - start) / WINDOW);
    windows[i] = (windows[i] ?? 0) + d.length;
  });
  c.on('end', () => {
    const full = Array.from(windows.slice(500 / WINDOW, -1), (b) => b ?? 0).sort((a, b) => a - b);
    const median = full.length ? full[Math.floor(full.length / 2)] : 0;
    console.log(String((median * 8 * 1000) / WINDOW));
    c.end();
  });
}).listen(Number(process.argv[1]), '0.0.0.0', () => console.log('ready'));
`;

/** Sends as fast as the socket takes for argv[3] seconds. */
const SENDER = `
import { connect } from 'node:net';
const [host, port, secs] = process.argv.slice(1);
const chunk = Buffer.alloc(64 * 1024, 120);
const c = connect({ host, port: Number(port) });
const stopAt = performance.now() + Number(secs) * 1000;
c.on('connect', function pump() {
  while (performance.now() < stopAt) { if (!c.write(chunk)) { c.once('drain', pump); return; } }
  c.end();
});
c.on('close', () => process.exit(0));
`;

async function measure(recv: Background, from: string, to: string, port: number): Promise<number> {
  const before = recv.lines.length;
  await nodeIn(from, SENDER, [to, String(port), '3'], 30_000);
  const deadline = Date.now() + 15_000;
  while (recv.lines.length === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  return Number(recv.lines[recv.lines.length - 1]);
}

test('egress and ingress rates hold within 10% (8mbit over 3 s), updatable', async (ctx) => {
  const t = await testNet('net-rate', '10.234.0.0/16');
  const bg: Background[] = [];
  try {
    const m = t.manager;
    await m.createNetwork({ name: 'shaped' });
    const limited = await m.attach('111111111111aaaa', { name: 'limited', hostname: 'limited', networks: [{ name: 'shaped' }], egressRate: '8mbit' });
    const peer = await m.attach('222222222222bbbb', { name: 'peer', hostname: 'peer', networks: [{ name: 'shaped' }] });
    assert.equal(limited.settings.EgressRate, 8_000_000);
    const ipL = limited.settings.Networks.shaped!.IPAddress;
    const ipP = peer.settings.Networks.shaped!.IPAddress;
    const recvPeer = await startIn(peer.netnsPath, RECEIVER, ['9000']);
    bg.push(recvPeer);
    const recvLimited = await startIn(limited.netnsPath, RECEIVER, ['9000']);
    bg.push(recvLimited);

    // Egress: what "limited" sends.
    const up = await measure(recvPeer, limited.netnsPath, ipP, 9000);
    ctx.diagnostic(`egress ${(up / 1e6).toFixed(3)} Mbit/s`);
    assert.ok(Math.abs(up - 8e6) / 8e6 < 0.1, `egress ${(up / 1e6).toFixed(2)} Mbit/s, expected 8 ±10%`);

    // Ingress: switch the limit to the other direction while running.
    const s2 = await m.setRates('111111111111aaaa', { egressRate: undefined, ingressRate: '8mbit' });
    assert.equal(s2.EgressRate, undefined);
    assert.equal(s2.IngressRate, 8_000_000);
    const qdiscs = await tcJson<{ kind: string }>(['qdisc', 'show', 'dev', 'eth0'], { netns: limited.netnsPath });
    assert.ok(!qdiscs.some((q) => q.kind === 'tbf'), 'the egress qdisc is gone');
    const down = await measure(recvLimited, peer.netnsPath, ipL, 9000);
    ctx.diagnostic(`ingress ${(down / 1e6).toFixed(3)} Mbit/s`);
    assert.ok(Math.abs(down - 8e6) / 8e6 < 0.1, `ingress ${(down / 1e6).toFixed(2)} Mbit/s, expected 8 ±10%`);

    // Unlimited, the same path is much faster than the limit (so the limit is what held it).
    await m.setRates('111111111111aaaa', { ingressRate: undefined });
    const free = await measure(recvLimited, peer.netnsPath, ipL, 9000);
    ctx.diagnostic(`unlimited ${(free / 1e6).toFixed(0)} Mbit/s`);
    assert.ok(free > 5 * 8e6, `unlimited ${(free / 1e6).toFixed(0)} Mbit/s`);

    await assert.rejects(m.setRates('111111111111aaaa', { egressRate: 'fast' }), /invalid rate/);
  } finally {
    for (const b of bg) await b.stop();
    await t.cleanup();
  }
});
