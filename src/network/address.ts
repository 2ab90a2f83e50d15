import { randomBytes } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import { invalidParameter } from '../errors.js';

// IPv4 and IPv6 addresses and prefixes as bigints: parse, format, contain, overlap; MAC
// addresses. Pure (randomMac takes its randomness as an argument in tests).

export type Family = 4 | 6;

export interface Prefix {
  family: Family;
  /** The network address (host bits cleared). */
  network: bigint;
  bits: number;
}

const WIDTH: Record<Family, number> = { 4: 32, 6: 128 };

export function familyOf(ip: string): Family | undefined {
  if (isIPv4(ip)) return 4;
  if (isIPv6(ip)) return 6;
  return undefined;
}

export function parseIp(ip: string): { family: Family; value: bigint } {
  if (isIPv4(ip)) {
    const v = ip.split('.').reduce((acc, p) => (acc << 8n) | BigInt(Number(p)), 0n);
    return { family: 4, value: v };
  }
  if (isIPv6(ip)) {
    let s = ip;
    // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two hex groups.
    const m = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
    if (m) {
      const v4 = parseIp(m[1]!).value;
      s = s.slice(0, m.index) + `${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
    }
    const [head = '', tail] = s.split('::');
    const h = head ? head.split(':') : [];
    const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
    const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
    return { family: 6, value: groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n) };
  }
  throw invalidParameter(`invalid IP address: ${JSON.stringify(ip)}`);
}

export function formatIp(family: Family, value: bigint): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 0xffn)).join('.');
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((value >> BigInt(i * 16)) & 0xffffn));
  // The longest run of two or more zero groups becomes "::" (RFC 5952).
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

export function normalizeIp(ip: string): string {
  const p = parseIp(ip);
  return formatIp(p.family, p.value);
}

function mask(family: Family, bits: number): bigint {
  const w = BigInt(WIDTH[family]);
  return ((1n << w) - 1n) ^ ((1n << (w - BigInt(bits))) - 1n);
}

/** Parses "10.1.0.0/16" (host bits are cleared; `strict` refuses them, as Docker does for --subnet). */
export function parsePrefix(cidr: string, opts: { strict?: boolean } = {}): Prefix {
  const slash = cidr.indexOf('/');
  if (slash < 0) throw invalidParameter(`invalid CIDR address: ${cidr}`);
  const { family, value } = parseIp(cidr.slice(0, slash));
  const bitsText = cidr.slice(slash + 1);
  const bits = Number(bitsText);
  if (!/^\d+$/.test(bitsText) || bits > WIDTH[family]) throw invalidParameter(`invalid CIDR address: ${cidr}`);
  const network = value & mask(family, bits);
  if (opts.strict && network !== value) throw invalidParameter(`invalid subnet ${cidr}: it should be ${formatIp(family, network)}/${bits}`);
  return { family, network, bits };
}

export function formatPrefix(p: Prefix): string {
  return `${formatIp(p.family, p.network)}/${p.bits}`;
}

export function prefixSize(p: Prefix): bigint {
  return 1n << BigInt(WIDTH[p.family] - p.bits);
}

export function lastAddress(p: Prefix): bigint {
  return p.network + prefixSize(p) - 1n;
}

export function contains(p: Prefix, family: Family, value: bigint): boolean {
  return family === p.family && value >= p.network && value <= lastAddress(p);
}

export function containsPrefix(outer: Prefix, inner: Prefix): boolean {
  return outer.family === inner.family && outer.bits <= inner.bits && contains(outer, inner.family, inner.network);
}

export function overlaps(a: Prefix, b: Prefix): boolean {
  return a.family === b.family && a.network <= lastAddress(b) && b.network <= lastAddress(a);
}

/** A MAC address derived from an IPv4 address as Docker does (02:42 + the four bytes). */
export function macFromIPv4(ip: string): string {
  const v = parseIp(ip).value;
  return formatMac([0x02, 0x42, ...[24n, 16n, 8n, 0n].map((s) => Number((v >> s) & 0xffn))]);
}

/** A random unicast, locally administered MAC (for a bridge: see bridge.ts). */
export function randomMac(random: Uint8Array = randomBytes(6)): string {
  return formatMac([(random[0]! & 0xfc) | 0x02, ...random.subarray(1, 6)]);
}

function formatMac(bytes: ArrayLike<number>): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(':');
}
