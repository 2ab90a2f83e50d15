import { readFile, writeFile } from 'node:fs/promises';
import { systemError } from '../errors.js';
import { deleteLink, ip, ipBatch, linkExists } from '../sys/ip.js';
import { randomMac } from './address.js';

// The bridge driver's plumbing: a Linux bridge with the network's gateway addresses, and per
// container a veth pair whose host end is a port of the bridge and whose other end is created
// directly inside the container's network namespace (eth0, eth1, …) with its address, MAC,
// MTU and, on the container's primary network, the default route.

export interface BridgeSpec {
  name: string;
  /** Gateway addresses with the subnet's prefix length: 172.18.0.1/16, fd12:3456:789a::1/64. */
  addresses: string[];
  mtu: number;
}

async function sysctl(path: string, value: string): Promise<void> {
  try {
    await writeFile(`/proc/sys/${path}`, value);
  } catch (e) {
    throw systemError(`set ${path.replaceAll('/', '.')}=${value}`, e);
  }
}

/** NET_ADDR_SET in /sys/class/net/<dev>/addr_assign_type: the address was set explicitly. */
const ADDR_SET = '3';

/**
 * Creates the bridge when missing and (re)applies its addresses, MTU and settings; idempotent.
 *
 * The bridge's MAC address is set explicitly, as dockerd does. Left to the kernel, a bridge
 * takes the lowest MAC of its ports and changes it whenever a port with a lower one joins or
 * the owner of the lowest leaves; the containers' ARP entries for the gateway then name a MAC
 * that is no longer the bridge's, and what they send to the gateway (the embedded DNS server
 * lives there) is dropped until their neighbour entry expires, seconds later.
 */
export async function ensureBridge(spec: BridgeSpec): Promise<void> {
  if (!(await linkExists(spec.name))) {
    await ip(['link', 'add', 'name', spec.name, 'mtu', String(spec.mtu), 'address', randomMac(), 'type', 'bridge']);
  }
  const cmds: string[][] = [['link', 'set', 'dev', spec.name, 'mtu', String(spec.mtu)]];
  const sys = `/sys/class/net/${spec.name}`;
  if ((await readFile(`${sys}/addr_assign_type`, 'utf8')).trim() !== ADDR_SET) {
    // A bridge made by an older berthd: pin the MAC it has now, so the neighbours stay right.
    cmds.push(['link', 'set', 'dev', spec.name, 'address', (await readFile(`${sys}/address`, 'utf8')).trim()]);
  }
  for (const a of spec.addresses) {
    cmds.push(a.includes(':') ? ['addr', 'replace', a, 'dev', spec.name, 'nodad'] : ['addr', 'replace', a, 'dev', spec.name]);
  }
  cmds.push(['link', 'set', 'dev', spec.name, 'up']);
  await ipBatch(cmds);
  // DNAT of published ports from 127.0.0.1 sends loopback-sourced packets out of the bridge:
  // route_localnet lets them through (masqueraded in the postrouting chain). Forwarding is
  // enabled on the bridge itself (packets received on it may be routed); whether the host
  // forwards at all (net.ipv4.ip_forward) is the manager's decision.
  await sysctl(`net/ipv4/conf/${spec.name}/route_localnet`, '1');
  await sysctl(`net/ipv4/conf/${spec.name}/forwarding`, '1');
  if (spec.addresses.some((a) => a.includes(':'))) await sysctl(`net/ipv6/conf/${spec.name}/disable_ipv6`, '0');
}

export async function deleteBridge(name: string): Promise<void> {
  await deleteLink(name);
}

export interface EndpointSpec {
  bridge: string;
  netns: string;
  /** The name inside the namespace: eth0, eth1, … */
  ifname: string;
  hostVeth: string;
  mac: string;
  mtu: number;
  /** Addresses with prefix length. */
  addresses: string[];
  /** Gateways to install as default routes (one per family) when this is the primary network. */
  defaultRoutes: string[];
}

/** Creates the veth pair and configures both ends; on failure nothing is left. */
export async function createEndpoint(spec: EndpointSpec): Promise<void> {
  // One exec makes the pair, puts the host end on the bridge and up, and the other end in the namespace.
  await ip([
    'link', 'add', 'name', spec.hostVeth, 'mtu', String(spec.mtu), 'master', spec.bridge, 'up', 'type', 'veth',
    'peer', 'name', spec.ifname, 'mtu', String(spec.mtu), 'address', spec.mac, 'netns', spec.netns,
  ]);
  try {
    const inside: string[][] = [];
    for (const a of spec.addresses) {
      inside.push(a.includes(':') ? ['addr', 'add', a, 'dev', spec.ifname, 'nodad'] : ['addr', 'add', a, 'dev', spec.ifname]);
    }
    inside.push(['link', 'set', 'dev', spec.ifname, 'up']);
    for (const gw of spec.defaultRoutes) inside.push(['route', 'replace', 'default', 'via', gw, 'dev', spec.ifname]);
    await ipBatch(inside, { netns: spec.netns });
  } catch (e) {
    await deleteLink(spec.hostVeth).catch(() => undefined);
    throw e;
  }
}

/** Sets the default routes of a namespace through `ifname` (after the primary network changed). */
export async function setDefaultRoutes(netns: string, ifname: string, gateways: string[]): Promise<void> {
  await ipBatch(gateways.map((gw) => ['route', 'replace', 'default', 'via', gw, 'dev', ifname]), { netns });
}

export async function deleteEndpoint(hostVeth: string): Promise<void> {
  await deleteLink(hostVeth);
}

/** Sets a sysctl of the host's network stack (net.ipv4.ip_forward and the like). */
export async function setHostSysctl(name: string, value: string): Promise<void> {
  await sysctl(name.replaceAll('.', '/'), value);
}
