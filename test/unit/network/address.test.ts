import { test } from 'node:test';
import assert from 'node:assert/strict';
import { contains, formatIp, formatPrefix, macFromIPv4, normalizeIp, overlaps, parseIp, parsePrefix, randomMac } from '../../../src/network/address.js';
import { isBerthError } from '../../../src/errors.js';

test('IPv4 and IPv6 addresses parse and format', () => {
  assert.equal(parseIp('172.17.0.2').value, 0xac110002n);
  assert.equal(formatIp(4, 0xac110002n), '172.17.0.2');
  assert.equal(normalizeIp('fd00:0:0:0:0:0:0:1'), 'fd00::1');
  assert.equal(normalizeIp('2001:db8:0:1:0:0:0:0'), '2001:db8:0:1::');
  assert.equal(normalizeIp('::'), '::');
  assert.equal(normalizeIp('1:0:0:2:0:0:0:3'), '1:0:0:2::3');
  assert.equal(normalizeIp('::ffff:1.2.3.4'), '::ffff:102:304');
  assert.throws(() => parseIp('300.1.1.1'), (e) => isBerthError(e, 'InvalidParameter'));
});

test('prefixes: host bits, containment, overlap', () => {
  assert.equal(formatPrefix(parsePrefix('10.1.2.3/16')), '10.1.0.0/16');
  assert.throws(() => parsePrefix('10.1.2.3/16', { strict: true }), /should be 10\.1\.0\.0\/16/);
  assert.throws(() => parsePrefix('10.0.0.0/33'));
  const p = parsePrefix('192.168.16.0/20');
  assert.ok(contains(p, 4, parseIp('192.168.31.255').value));
  assert.ok(!contains(p, 4, parseIp('192.168.32.0').value));
  assert.ok(overlaps(parsePrefix('172.16.0.0/12'), parsePrefix('172.17.0.0/16')));
  assert.ok(!overlaps(parsePrefix('172.17.0.0/16'), parsePrefix('172.18.0.0/16')));
  assert.ok(!overlaps(parsePrefix('fd00::/64'), parsePrefix('10.0.0.0/8')));
  assert.equal(formatPrefix(parsePrefix('fd12:3456:789a:1::5/64')), 'fd12:3456:789a:1::/64');
});

test('MAC addresses derive from IPv4 addresses as dockerd derives them', () => {
  assert.equal(macFromIPv4('172.17.0.2'), '02:42:ac:11:00:02');
});

test('a random bridge MAC is unicast and locally administered', () => {
  assert.equal(randomMac(Uint8Array.from([0xff, 1, 2, 3, 4, 0xab])), 'fe:01:02:03:04:ab');
  assert.equal(randomMac(Uint8Array.from([0x01, 0, 0, 0, 0, 0])), '02:00:00:00:00:00');
  for (let i = 0; i < 50; i++) assert.equal(parseInt(randomMac().slice(0, 2), 16) & 0x03, 0x02);
});
