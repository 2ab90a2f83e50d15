import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BerthError, conflict, invalidParameter, notFound } from '../errors.js';
import { atomicWriteFile } from '../sys/atomic-write.js';
import { linkExists, listRoutes } from '../sys/ip.js';
import { familyOf, macFromIPv4, normalizeIp, overlaps, parsePrefix } from './address.js';
import { setEgressRate, setIngressRate } from './bandwidth.js';
import { createEndpoint, deleteBridge, deleteEndpoint, ensureBridge, setDefaultRoutes, setHostSysctl } from './bridge.js';
import { EmbeddedDns } from './dns.js';
import { buildHosts } from './hosts.js';
import {
  allocateAddress, DEFAULT_POOLS, newSubnetState, pickSubnet, pickUlaSubnet, prefixLength, releaseOwner,
  type AddressPool,
} from './ipam.js';
import { containerIfName, DEFAULT_BRIDGE, hostVethName, userBridgeName, validateIfName, validateNetworkName } from './names.js';
import { createNetns, deleteNetns, isPinned, netnsPath } from './netns.js';
import { applyRuleset, removeTable, validTableName, type RulesetNetwork, type RulesetPort } from './nftables.js';
import { portsMap, PortReservations, type PortSpec, type PublishedPort } from './ports.js';
import { parseRate } from './rate.js';
import { buildResolvConf } from './resolv.js';
import { Mutex } from '../sys/mutex.js';
import type {
  EndpointRecord, EndpointSettings, IpamConfigEntry, NetworkInspect, NetworkRecord, NetworkSettings, NetworkState, SandboxRecord,
} from './types.js';

// The network manager: the one object the engine talks to. It owns the state on disk
// (<data-root>/network/state.json, written atomically before any kernel object is made from
// it), the bridges, the containers' namespaces and veths, the nftables table, the published
// ports' reservations, the embedded DNS servers and the bandwidth limits. docs/network.md
// describes how the engine wires it in.

export type NetworkLogger = (level: 'debug' | 'info' | 'warn' | 'error', message: string) => void;

export interface NetworkManagerOptions {
  dataRoot: string;
  execRoot: string;
  /** The nftables table (family inet); default "berth". */
  table?: string;
  /** The default network's bridge device; default "berth0". */
  defaultBridge?: string;
  /** Pools user networks (and the default one, when it has no --bip) are carved from. */
  pools?: AddressPool[];
  /** The default network's subnet (dockerd's --bip, as a subnet). */
  defaultSubnet?: string;
  /**
   * Set net.ipv4.ip_forward=1 (and IPv6 forwarding for IPv6 networks) when a non-internal
   * network is in use, as dockerd does; default true. Containers reach beyond the host only
   * with it. Tests turn it off: forwarding between Berth's own bridges is enabled per bridge.
   */
  ipForward?: boolean;
  /** Write the nftables table (NAT, published ports, isolation); default true (dockerd's --iptables). */
  nftables?: boolean;
  mtu?: number;
  /** The host's resolv.conf; default /etc/resolv.conf. */
  hostResolvConf?: string;
  /** The port of the embedded DNS servers; default 53. */
  dnsPort?: number;
  logger?: NetworkLogger;
}

export interface NetworkCreateOptions {
  name: string;
  driver?: string;
  internal?: boolean;
  attachable?: boolean;
  ipv6?: boolean;
  ipam?: IpamConfigEntry[];
  options?: Record<string, string>;
  labels?: Record<string, string>;
  /** Refuse a name that exists (dockerd always does now). */
  checkDuplicate?: boolean;
}

export interface NetworkFilters {
  name?: string[];
  id?: string[];
  driver?: string[];
  label?: string[];
  type?: string[];
  scope?: string[];
  dangling?: string[];
}

export interface AttachNetwork {
  /** Network name or id ("bridge" = the default network). */
  name: string;
  aliases?: string[];
  ipv4?: string;
  ipv6?: string;
}

export interface AttachOptions {
  /** The container's name (without "/"), its DNS name on user networks. */
  name: string;
  hostname: string;
  domainname?: string;
  /** [] = a namespace with only lo (--network none). */
  networks: AttachNetwork[];
  ports?: PortSpec[];
  /** Bits per second, or a rate like "8mbit". */
  egressRate?: number | string;
  ingressRate?: number | string;
  dns?: string[];
  dnsSearch?: string[];
  dnsOptions?: string[];
  extraHosts?: string[];
  /** ExposedPorts keys ("80/tcp"), listed in the Ports map with null. */
  exposed?: string[];
}

export interface AttachResult {
  netnsPath: string;
  settings: NetworkSettings;
  resolvConf: string;
  hosts: string;
}

const PREDEFINED = new Set(['bridge', 'host', 'none']);
const OPT = {
  bridgeName: 'com.docker.network.bridge.name',
  mtu: 'com.docker.network.driver.mtu',
  masquerade: 'com.docker.network.bridge.enable_ip_masquerade',
  icc: 'com.docker.network.bridge.enable_icc',
  hostBinding: 'com.docker.network.bridge.host_binding_ipv4',
  defaultBridge: 'com.docker.network.bridge.default_bridge',
};

const newId = (): string => randomBytes(32).toString('hex');

function boolOpt(v: string | undefined, dflt: boolean, key: string): boolean {
  if (v === undefined || v === '') return dflt;
  if (/^(1|t|true)$/i.test(v)) return true;
  if (/^(0|f|false)$/i.test(v)) return false;
  throw invalidParameter(`invalid value for option ${key}: ${JSON.stringify(v)} (true or false)`);
}

function toRate(r: number | string | undefined): number | undefined {
  if (r === undefined || r === '' || r === 0) return undefined;
  return typeof r === 'number' ? r : parseRate(r);
}

export class NetworkManager {
  private state: NetworkState = { version: 1, networks: {}, sandboxes: {} };
  private readonly dns = new Map<string, EmbeddedDns>();
  private readonly reservations = new PortReservations();
  private readonly lock = new Mutex();
  private readonly statePath: string;
  readonly table: string;
  private readonly defaultBridge: string;
  private readonly pools: AddressPool[];
  private readonly log: NetworkLogger;

  constructor(private readonly opts: NetworkManagerOptions) {
    this.table = opts.table ?? 'berth';
    if (!validTableName(this.table)) throw invalidParameter(`invalid nftables table name ${JSON.stringify(this.table)}`);
    this.defaultBridge = opts.defaultBridge ?? DEFAULT_BRIDGE;
    validateIfName(this.defaultBridge);
    this.pools = opts.pools ?? DEFAULT_POOLS;
    this.statePath = join(opts.dataRoot, 'network', 'state.json');
    this.log = opts.logger ?? (() => undefined);
  }

  /** Reads the state on disk (no kernel changes: restore() does those). */
  async load(): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.statePath, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    const s = JSON.parse(text) as NetworkState;
    if (s.version !== 1) throw new BerthError('System', `${this.statePath}: unknown state version ${String(s.version)}`);
    this.state = s;
  }

  private async save(): Promise<void> {
    await atomicWriteFile(this.statePath, `${JSON.stringify(this.state, null, 2)}\n`, 0o600);
  }

  // --- networks ------------------------------------------------------------------------

  private findNetwork(ref: string): NetworkRecord | undefined {
    const all = Object.values(this.state.networks);
    return (
      this.state.networks[ref] ??
      all.find((n) => n.name === ref) ??
      (ref.length > 0 ? (() => {
        const m = all.filter((n) => n.id.startsWith(ref));
        return m.length === 1 ? m[0] : undefined;
      })() : undefined)
    );
  }

  private network(ref: string): NetworkRecord {
    const n = this.findNetwork(ref);
    if (!n) {
      if (ref === 'host' || ref === 'none') throw invalidParameter(`network ${ref} has no endpoints of Berth's: the engine handles it without the network manager`);
      throw notFound(`network ${ref} not found`);
    }
    return n;
  }

  /** Subnets in use: the host's routes (not default routes) and every network of ours. */
  private async takenSubnets(): Promise<string[]> {
    const taken: string[] = [];
    for (const r of await listRoutes()) {
      if (r.dst === 'default' || r.dst.startsWith('fe80') || r.dst.startsWith('ff00') || r.dst === 'multicast') continue;
      const d = r.dst.includes('/') ? r.dst : `${r.dst}/${familyOf(r.dst) === 6 ? 128 : 32}`;
      try {
        parsePrefix(d);
        taken.push(d);
      } catch {
        // an unparsable route (multicast keyword…) is no subnet
      }
    }
    for (const n of Object.values(this.state.networks)) {
      taken.push(n.v4.subnet);
      if (n.v6) taken.push(n.v6.subnet);
    }
    return taken;
  }

  private bridgeSpec(n: NetworkRecord): { name: string; addresses: string[]; mtu: number } {
    const addresses = [`${n.v4.gateway}/${prefixLength(n.v4)}`];
    if (n.v6) addresses.push(`${n.v6.gateway}/${prefixLength(n.v6)}`);
    return { name: n.bridge, addresses, mtu: n.mtu };
  }

  private async ensureForwarding(n: NetworkRecord): Promise<void> {
    if (this.opts.ipForward === false || n.internal) return;
    const set = async (path: string, name: string): Promise<void> => {
      if (readFileSync(path, 'utf8').trim() !== '1') {
        await setHostSysctl(name, '1');
        this.log('info', `network: set ${name}=1 so that containers of network ${n.name} reach beyond this host`);
      }
    };
    await set('/proc/sys/net/ipv4/ip_forward', 'net.ipv4.ip_forward');
    if (n.v6) await set('/proc/sys/net/ipv6/conf/all/forwarding', 'net.ipv6.conf.all.forwarding');
  }

  private buildRecord(o: NetworkCreateOptions, taken: string[], isDefault: boolean): NetworkRecord {
    const driver = o.driver || 'bridge';
    if (driver !== 'bridge') throw invalidParameter(`network driver ${JSON.stringify(driver)} is not supported by Berth (bridge only)`);
    const options = { ...(o.options ?? {}) };
    const id = newId();
    const bridge = options[OPT.bridgeName] || (isDefault ? this.defaultBridge : userBridgeName(id));
    validateIfName(bridge);
    const mtuText = options[OPT.mtu];
    const mtu = mtuText ? Number(mtuText) : this.opts.mtu ?? 1500;
    if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) throw invalidParameter(`invalid MTU ${JSON.stringify(mtuText)}: 68 to 65535`);
    const ipam = o.ipam ?? [];
    const v4Conf = ipam.filter((c) => !c.Subnet || familyOf(c.Subnet.split('/')[0]!) === 4);
    const v6Conf = ipam.filter((c) => c.Subnet && familyOf(c.Subnet.split('/')[0]!) === 6);
    if (v4Conf.length > 1 || v6Conf.length > 1) throw invalidParameter('Berth supports one IPv4 and one IPv6 subnet per network');
    const c4 = v4Conf[0] ?? {};
    if (!c4.Subnet && (c4.Gateway || c4.IPRange)) throw invalidParameter('--gateway and --ip-range need --subnet');
    const sub4 = c4.Subnet ?? (isDefault && this.opts.defaultSubnet ? this.opts.defaultSubnet : pickSubnet(this.pools, taken));
    const p4 = parsePrefix(sub4, { strict: true });
    for (const t of Object.values(this.state.networks).flatMap((n) => [n.v4.subnet, ...(n.v6 ? [n.v6.subnet] : [])])) {
      if (overlaps(parsePrefix(t), p4)) throw conflict(`invalid pool request: Pool overlaps with other one on this address space (${sub4} and ${t})`);
    }
    const v4 = newSubnetState({ subnet: sub4, ...(c4.Gateway ? { gateway: c4.Gateway } : {}), ...(c4.IPRange ? { ipRange: c4.IPRange } : {}) });
    const c6 = v6Conf[0];
    const ipv6 = o.ipv6 === true || c6 !== undefined;
    let v6;
    if (ipv6) {
      const sub6 = c6?.Subnet ?? pickUlaSubnet(taken);
      v6 = newSubnetState({ subnet: sub6, ...(c6?.Gateway ? { gateway: c6.Gateway } : {}), ...(c6?.IPRange ? { ipRange: c6.IPRange } : {}) });
    }
    const rec: NetworkRecord = {
      id,
      name: o.name,
      driver: 'bridge',
      created: new Date().toISOString(),
      bridge,
      isDefault,
      internal: o.internal === true,
      attachable: o.attachable === true,
      ipv6,
      mtu,
      masquerade: boolOpt(options[OPT.masquerade], true, OPT.masquerade),
      icc: boolOpt(options[OPT.icc], true, OPT.icc),
      hostBindingIpv4: options[OPT.hostBinding] && options[OPT.hostBinding] !== '0.0.0.0' ? normalizeIp(options[OPT.hostBinding]!) : '',
      labels: { ...(o.labels ?? {}) },
      options,
      v4,
      ...(v6 ? { v6 } : {}),
    };
    return rec;
  }

  private async createLocked(o: NetworkCreateOptions, isDefault: boolean): Promise<NetworkRecord> {
    validateNetworkName(o.name);
    if (!isDefault && PREDEFINED.has(o.name)) throw new BerthError('Forbidden', `operation is not permitted on predefined ${o.name} network`);
    if (Object.values(this.state.networks).some((n) => n.name === o.name)) throw conflict(`network with name ${o.name} already exists`);
    const rec = this.buildRecord(o, await this.takenSubnets(), isDefault);
    if (Object.values(this.state.networks).some((n) => n.bridge === rec.bridge)) throw conflict(`bridge device ${rec.bridge} is in use by another network`);
    if (await linkExists(rec.bridge)) throw conflict(`a device named ${rec.bridge} already exists on this host`);
    this.state.networks[rec.id] = rec;
    await this.save();
    try {
      await ensureBridge(this.bridgeSpec(rec));
      await this.ensureForwarding(rec);
      await this.applyRules();
      if (!rec.isDefault) await this.startDns(rec);
    } catch (e) {
      // (startDns only warns: a network without its DNS server still works by address)
      delete this.state.networks[rec.id];
      await this.save().catch(() => undefined);
      await this.stopDns(rec.id);
      await deleteBridge(rec.bridge).catch(() => undefined);
      await this.applyRules().catch(() => undefined);
      throw e;
    }
    this.log('info', `network: created ${rec.name} (${rec.id.slice(0, 12)}) on ${rec.bridge}, ${rec.v4.subnet}${rec.v6 ? ` and ${rec.v6.subnet}` : ''}`);
    return rec;
  }

  /** The predefined "bridge" network: created on first use, on its own device (default berth0). */
  async ensureDefaultNetwork(): Promise<NetworkInspect> {
    return this.lock.run(async () => {
      const existing = Object.values(this.state.networks).find((n) => n.isDefault);
      if (existing) return this.inspect(existing);
      const rec = await this.createLocked(
        { name: 'bridge', options: { [OPT.bridgeName]: this.defaultBridge, [OPT.defaultBridge]: 'true', [OPT.icc]: 'true', [OPT.masquerade]: 'true', [OPT.hostBinding]: '0.0.0.0', [OPT.mtu]: String(this.opts.mtu ?? 1500) } },
        true,
      );
      return this.inspect(rec);
    });
  }

  async createNetwork(o: NetworkCreateOptions): Promise<{ id: string; warning: string }> {
    return this.lock.run(async () => {
      const rec = await this.createLocked(o, false);
      return { id: rec.id, warning: '' };
    });
  }

  private endpointsOf(networkId: string): { sandbox: SandboxRecord; endpoint: EndpointRecord }[] {
    const out: { sandbox: SandboxRecord; endpoint: EndpointRecord }[] = [];
    for (const sb of Object.values(this.state.sandboxes)) {
      for (const ep of sb.endpoints) if (ep.networkId === networkId) out.push({ sandbox: sb, endpoint: ep });
    }
    return out;
  }

  private inspect(n: NetworkRecord): NetworkInspect {
    const config: IpamConfigEntry[] = [];
    for (const s of [n.v4, n.v6]) {
      if (!s) continue;
      config.push({ Subnet: s.subnet, ...(s.ipRange ? { IPRange: s.ipRange } : {}), Gateway: s.gateway });
    }
    const containers: NetworkInspect['Containers'] = {};
    for (const { sandbox, endpoint } of this.endpointsOf(n.id)) {
      containers[sandbox.containerId] = {
        Name: sandbox.name,
        EndpointID: endpoint.endpointId,
        MacAddress: endpoint.mac,
        IPv4Address: `${endpoint.ipv4}/${prefixLength(n.v4)}`,
        IPv6Address: endpoint.ipv6 && n.v6 ? `${endpoint.ipv6}/${prefixLength(n.v6)}` : '',
      };
    }
    return {
      Name: n.name,
      Id: n.id,
      Created: n.created,
      Scope: 'local',
      Driver: n.driver,
      EnableIPv4: true,
      EnableIPv6: n.ipv6,
      IPAM: { Driver: 'default', Options: n.isDefault ? null : {}, Config: config },
      Internal: n.internal,
      Attachable: n.attachable,
      Ingress: false,
      ConfigFrom: { Network: '' },
      ConfigOnly: false,
      Containers: containers,
      Options: { ...n.options },
      Labels: { ...n.labels },
    };
  }

  async inspectNetwork(ref: string): Promise<NetworkInspect> {
    return this.inspect(this.network(ref));
  }

  /** Berth's bridge networks, filtered as `docker network ls` filters (the engine adds host and none). */
  async listNetworks(filters: NetworkFilters = {}): Promise<NetworkInspect[]> {
    const labelMatch = (n: NetworkRecord, f: string): boolean => {
      const i = f.indexOf('=');
      return i < 0 ? f in n.labels : n.labels[f.slice(0, i)] === f.slice(i + 1);
    };
    return Object.values(this.state.networks)
      .filter((n) => !filters.name?.length || filters.name.some((x) => n.name.includes(x)))
      .filter((n) => !filters.id?.length || filters.id.some((x) => n.id.startsWith(x)))
      .filter((n) => !filters.driver?.length || filters.driver.includes(n.driver))
      .filter((n) => !filters.label?.length || filters.label.every((f) => labelMatch(n, f)))
      .filter((n) => !filters.scope?.length || filters.scope.includes('local'))
      .filter((n) => !filters.type?.length || filters.type.includes(n.isDefault ? 'builtin' : 'custom'))
      .filter((n) => !filters.dangling?.length || filters.dangling.some((d) => boolOpt(d, true, 'dangling') === (!n.isDefault && this.endpointsOf(n.id).length === 0)))
      .sort((a, b) => a.created.localeCompare(b.created))
      .map((n) => this.inspect(n));
  }

  private async removeLocked(n: NetworkRecord): Promise<void> {
    delete this.state.networks[n.id];
    await this.save();
    await this.stopDns(n.id);
    await this.applyRules();
    await deleteBridge(n.bridge);
    this.log('info', `network: removed ${n.name} (${n.id.slice(0, 12)})`);
  }

  async removeNetwork(ref: string): Promise<void> {
    return this.lock.run(async () => {
      const n = this.network(ref);
      if (n.isDefault) throw new BerthError('Forbidden', `${n.name} is a pre-defined network and cannot be removed`);
      const eps = this.endpointsOf(n.id);
      if (eps.length) throw conflict(`error while removing network: network ${n.name} id ${n.id} has active endpoints (${eps.map((e) => e.sandbox.name).join(', ')})`);
      await this.removeLocked(n);
    });
  }

  /** Removes user networks without endpoints (filters: label, until — the engine passes what it parsed). */
  async pruneNetworks(filters: { label?: string[]; until?: Date } = {}): Promise<string[]> {
    return this.lock.run(async () => {
      const deleted: string[] = [];
      for (const n of Object.values(this.state.networks)) {
        if (n.isDefault || this.endpointsOf(n.id).length) continue;
        if (filters.until && new Date(n.created) >= filters.until) continue;
        if (filters.label?.length && !filters.label.every((f) => {
          const neg = f.startsWith('!') ? f.slice(1) : undefined;
          const want = neg ?? f;
          const i = want.indexOf('=');
          const has = i < 0 ? want in n.labels : n.labels[want.slice(0, i)] === want.slice(i + 1);
          return neg !== undefined ? !has : has;
        })) continue;
        await this.removeLocked(n);
        deleted.push(n.name);
      }
      return deleted;
    });
  }

  // --- containers ----------------------------------------------------------------------

  private sandbox(containerId: string): SandboxRecord {
    const sb = this.state.sandboxes[containerId];
    if (!sb) throw notFound(`container ${containerId} has no network sandbox`);
    return sb;
  }

  /** The pinned namespace of an attached container (for --network container:<id>). */
  netnsPath(containerId: string): string {
    return this.sandbox(containerId).netns;
  }

  /** The default network's gateway (what --add-host host-gateway means), if it exists. */
  hostGateway(): string | undefined {
    return Object.values(this.state.networks).find((n) => n.isDefault)?.v4.gateway;
  }

  private primary(sb: SandboxRecord): EndpointRecord | undefined {
    return sb.endpoints.find((e) => !this.state.networks[e.networkId]?.internal) ?? sb.endpoints[0];
  }

  private async plumbEndpoint(sb: SandboxRecord, ep: EndpointRecord, isPrimary: boolean): Promise<void> {
    const n = this.state.networks[ep.networkId]!;
    const addresses = [`${ep.ipv4}/${prefixLength(n.v4)}`];
    const routes: string[] = [];
    if (!n.internal && isPrimary) routes.push(n.v4.gateway);
    if (ep.ipv6 && n.v6) {
      addresses.push(`${ep.ipv6}/${prefixLength(n.v6)}`);
      if (!n.internal && isPrimary) routes.push(n.v6.gateway);
    }
    await createEndpoint({ bridge: n.bridge, netns: sb.netns, ifname: ep.ifname, hostVeth: ep.hostVeth, mac: ep.mac, mtu: n.mtu, addresses, defaultRoutes: routes });
  }

  /** Allocates an endpoint on `n` for `sb` (state only). */
  private allocateEndpoint(sb: SandboxRecord, n: NetworkRecord, req: AttachNetwork): EndpointRecord {
    if (sb.endpoints.some((e) => e.networkId === n.id)) throw new BerthError('Forbidden', `endpoint with name ${sb.name} already exists in network ${n.name}`);
    if ((req.ipv4 || req.ipv6 || req.aliases?.length) && n.isDefault) {
      if (req.ipv4 || req.ipv6) throw invalidParameter('user specified IP address is supported on user defined networks only');
      throw invalidParameter('network-scoped alias is supported only for containers in user defined networks');
    }
    const endpointId = newId();
    const ipv4 = allocateAddress(n.v4, endpointId, req.ipv4);
    let ipv6: string | undefined;
    try {
      if (n.v6) ipv6 = allocateAddress(n.v6, endpointId, req.ipv6);
      else if (req.ipv6) throw invalidParameter(`network ${n.name} has no IPv6 subnet for address ${req.ipv6}`);
    } catch (e) {
      releaseOwner(n.v4, endpointId);
      throw e;
    }
    const used = new Set(sb.endpoints.map((e) => e.ifname));
    let idx = 0;
    while (used.has(containerIfName(idx))) idx++;
    return {
      networkId: n.id,
      endpointId,
      ifname: containerIfName(idx),
      hostVeth: hostVethName(),
      mac: macFromIPv4(ipv4),
      ipv4,
      ...(ipv6 ? { ipv6 } : {}),
      aliases: [...new Set(req.aliases ?? [])],
      ...(req.ipv4 ? { staticIpv4: ipv4 } : {}),
      ...(req.ipv6 && ipv6 ? { staticIpv6: ipv6 } : {}),
    };
  }

  private releaseEndpoint(ep: EndpointRecord): void {
    const n = this.state.networks[ep.networkId];
    if (!n) return;
    releaseOwner(n.v4, ep.endpointId);
    if (n.v6) releaseOwner(n.v6, ep.endpointId);
  }

  /**
   * Gives a container its network: a namespace pinned at <exec-root>/netns/<id>, an endpoint
   * on each network (the first non-internal one has the default route), published ports,
   * bandwidth limits; returns the namespace's path (for setns), NetworkSettings, and the text
   * of /etc/resolv.conf and /etc/hosts.
   */
  async attach(containerId: string, o: AttachOptions): Promise<AttachResult> {
    return this.lock.run(async () => {
      if (this.state.sandboxes[containerId]) throw conflict(`container ${containerId} is already attached`);
      const egress = toRate(o.egressRate);
      const ingress = toRate(o.ingressRate);
      if ((egress || ingress) && o.networks.length === 0) throw invalidParameter('bandwidth limits need a network (not --network none)');
      const nets = o.networks.map((r) => ({ req: r, net: this.network(r.name) }));
      if (o.ports?.length && nets.length === 0) throw invalidParameter('published ports need a network (not --network none)');
      const sb: SandboxRecord = {
        containerId,
        name: o.name.replace(/^\//, ''),
        hostname: o.hostname,
        ...(o.domainname ? { domainname: o.domainname } : {}),
        netns: netnsPath(this.opts.execRoot, containerId),
        endpoints: [],
        portSpecs: o.ports ?? [],
        ports: [],
        ...(egress ? { egressRate: egress } : {}),
        ...(ingress ? { ingressRate: ingress } : {}),
        dns: o.dns ?? [],
        dnsSearch: o.dnsSearch ?? [],
        dnsOptions: o.dnsOptions ?? [],
        extraHosts: o.extraHosts ?? [],
        upstreams: [],
      };
      try {
        for (const { req, net } of nets) sb.endpoints.push(this.allocateEndpoint(sb, net, req));
        const embedded = this.embeddedDnsFor(sb);
        sb.upstreams = buildResolvConf({ host: await this.hostResolvConf(), dns: sb.dns, ...(embedded ? { embeddedDns: embedded } : {}) }).upstreams;
        for (const spec of sb.portSpecs) {
          const primary = this.primary(sb)!;
          const n = this.state.networks[primary.networkId]!;
          const s = spec.hostIp === '' && n.hostBindingIpv4 ? { ...spec, hostIp: n.hostBindingIpv4 } : spec;
          sb.ports.push(await this.reservations.reserve(s));
        }
      } catch (e) {
        for (const ep of sb.endpoints) this.releaseEndpoint(ep);
        for (const p of sb.ports) this.reservations.release(p);
        throw e;
      }
      this.state.sandboxes[containerId] = sb;
      await this.save();
      try {
        await createNetns(this.opts.execRoot, containerId);
        const primary = this.primary(sb);
        for (const ep of sb.endpoints) await this.plumbEndpoint(sb, ep, ep === primary);
        // A new veth has no qdisc to remove: tc runs only for a limit (two tc runs fewer per start).
        if (sb.egressRate || sb.ingressRate) await this.applyRates(sb);
        if (sb.ports.length) await this.applyRules();
      } catch (e) {
        await this.teardownSandbox(sb).catch(() => undefined);
        throw e;
      }
      this.log('debug', `network: attached ${sb.name} (${containerId.slice(0, 12)}) to ${nets.map((x) => x.net.name).join(', ') || 'none'}`);
      return this.result(sb);
    });
  }

  private async applyRates(sb: SandboxRecord): Promise<void> {
    const primary = this.primary(sb);
    if (!primary) return;
    await setEgressRate(sb.netns, primary.ifname, sb.egressRate);
    await setIngressRate(primary.hostVeth, sb.ingressRate);
  }

  /** Changes a running container's bandwidth limits (berth update); undefined or 0 removes one. */
  async setRates(containerId: string, rates: { egressRate?: number | string; ingressRate?: number | string }): Promise<NetworkSettings> {
    return this.lock.run(async () => {
      const sb = this.sandbox(containerId);
      if ('egressRate' in rates) {
        const r = toRate(rates.egressRate);
        if (r) sb.egressRate = r;
        else delete sb.egressRate;
      }
      if ('ingressRate' in rates) {
        const r = toRate(rates.ingressRate);
        if (r) sb.ingressRate = r;
        else delete sb.ingressRate;
      }
      await this.save();
      await this.applyRates(sb);
      return this.settings(sb);
    });
  }

  private async teardownSandbox(sb: SandboxRecord): Promise<void> {
    for (const p of sb.ports) this.reservations.release(p);
    for (const ep of sb.endpoints) {
      await deleteEndpoint(ep.hostVeth).catch((e) => this.log('warn', `network: ${String(e)}`));
      this.releaseEndpoint(ep);
    }
    delete this.state.sandboxes[sb.containerId];
    await this.save();
    if (sb.ports.length) await this.applyRules();
    await deleteNetns(sb.netns);
  }

  /** Removes everything of a container's network: rules, veths, namespace, addresses. Idempotent. */
  async detach(containerId: string): Promise<void> {
    return this.lock.run(async () => {
      const sb = this.state.sandboxes[containerId];
      if (!sb) return;
      await this.teardownSandbox(sb);
      this.log('debug', `network: detached ${sb.name} (${containerId.slice(0, 12)})`);
    });
  }

  /** Connects an attached (running) container to one more network. */
  async connect(containerId: string, req: AttachNetwork): Promise<NetworkSettings> {
    return this.lock.run(async () => {
      const sb = this.sandbox(containerId);
      const n = this.network(req.name);
      const hadPrimary = this.primary(sb);
      const ep = this.allocateEndpoint(sb, n, req);
      sb.endpoints.push(ep);
      await this.save();
      const isPrimary = this.primary(sb) === ep && (!hadPrimary || this.state.networks[hadPrimary.networkId]?.internal === true);
      try {
        await this.plumbEndpoint(sb, ep, isPrimary);
      } catch (e) {
        sb.endpoints = sb.endpoints.filter((x) => x !== ep);
        this.releaseEndpoint(ep);
        await this.save();
        throw e;
      }
      return this.settings(sb);
    });
  }

  /** Disconnects a container from a network; its default route moves to another network when needed. */
  async disconnect(containerId: string, networkRef: string): Promise<NetworkSettings> {
    return this.lock.run(async () => {
      const sb = this.sandbox(containerId);
      const n = this.network(networkRef);
      const ep = sb.endpoints.find((e) => e.networkId === n.id);
      if (!ep) throw new BerthError('Forbidden', `container ${sb.name} is not connected to network ${n.name}`);
      const wasPrimary = this.primary(sb) === ep;
      sb.endpoints = sb.endpoints.filter((e) => e !== ep);
      this.releaseEndpoint(ep);
      const portsGone = wasPrimary && sb.ports.length > 0;
      if (sb.endpoints.length === 0) {
        for (const p of sb.ports) this.reservations.release(p);
        sb.ports = [];
      }
      await this.save();
      await deleteEndpoint(ep.hostVeth);
      const next = this.primary(sb);
      if (wasPrimary && next) {
        const nn = this.state.networks[next.networkId]!;
        if (!nn.internal) await setDefaultRoutes(sb.netns, next.ifname, [nn.v4.gateway, ...(next.ipv6 && nn.v6 ? [nn.v6.gateway] : [])]);
        if (sb.egressRate || sb.ingressRate) await this.applyRates(sb);
      }
      if (portsGone) await this.applyRules();
      return this.settings(sb);
    });
  }

  /**
   * NetworkSettings of an attached container, as container inspect shows them; undefined
   * when it has no sandbox (no error is built: inspect asks often).
   */
  containerSettingsIfAttached(containerId: string): NetworkSettings | undefined {
    const sb = this.state.sandboxes[containerId];
    return sb ? this.settings(sb) : undefined;
  }

  private settings(sb: SandboxRecord): NetworkSettings {
    const networks: Record<string, EndpointSettings> = {};
    for (const ep of sb.endpoints) {
      const n = this.state.networks[ep.networkId];
      if (!n) continue;
      networks[n.name] = {
        IPAMConfig: ep.staticIpv4 || ep.staticIpv6 ? { ...(ep.staticIpv4 ? { IPv4Address: ep.staticIpv4 } : {}), ...(ep.staticIpv6 ? { IPv6Address: ep.staticIpv6 } : {}) } : null,
        Links: null,
        Aliases: n.isDefault ? null : ep.aliases,
        MacAddress: ep.mac,
        DriverOpts: null,
        NetworkID: n.id,
        EndpointID: ep.endpointId,
        Gateway: n.v4.gateway,
        IPAddress: ep.ipv4,
        IPPrefixLen: prefixLength(n.v4),
        IPv6Gateway: n.v6?.gateway ?? '',
        GlobalIPv6Address: ep.ipv6 ?? '',
        GlobalIPv6PrefixLen: ep.ipv6 && n.v6 ? prefixLength(n.v6) : 0,
        DNSNames: n.isDefault ? null : [sb.name, ...ep.aliases, sb.containerId.slice(0, 12)],
      };
    }
    // The top-level fields describe the default network only, as dockerd's do.
    const def = sb.endpoints.find((e) => this.state.networks[e.networkId]?.isDefault);
    const dn = def ? this.state.networks[def.networkId] : undefined;
    return {
      Bridge: '',
      SandboxID: sb.containerId,
      SandboxKey: sb.netns,
      HairpinMode: false,
      LinkLocalIPv6Address: '',
      LinkLocalIPv6PrefixLen: 0,
      Ports: portsMap(sb.ports),
      SecondaryIPAddresses: null,
      SecondaryIPv6Addresses: null,
      EndpointID: def?.endpointId ?? '',
      Gateway: dn?.v4.gateway ?? '',
      GlobalIPv6Address: def?.ipv6 ?? '',
      GlobalIPv6PrefixLen: def?.ipv6 && dn?.v6 ? prefixLength(dn.v6) : 0,
      IPAddress: def?.ipv4 ?? '',
      IPPrefixLen: dn ? prefixLength(dn.v4) : 0,
      IPv6Gateway: dn?.v6?.gateway ?? '',
      MacAddress: def?.mac ?? '',
      Networks: networks,
      ...(sb.egressRate ? { EgressRate: sb.egressRate } : {}),
      ...(sb.ingressRate ? { IngressRate: sb.ingressRate } : {}),
    };
  }

  private async hostResolvConf(): Promise<string> {
    return readFile(this.opts.hostResolvConf ?? '/etc/resolv.conf', 'utf8').catch(() => '');
  }

  /** The embedded DNS address for a container: the gateway of its first user-defined network. */
  private embeddedDnsFor(sb: SandboxRecord): string | undefined {
    for (const ep of sb.endpoints) {
      const n = this.state.networks[ep.networkId];
      if (n && !n.isDefault) return n.v4.gateway;
    }
    return undefined;
  }

  private async result(sb: SandboxRecord): Promise<AttachResult> {
    const embedded = this.embeddedDnsFor(sb);
    const ipv6 = sb.endpoints.some((e) => e.ipv6);
    const resolv = buildResolvConf({
      host: await this.hostResolvConf(), dns: sb.dns, dnsSearch: sb.dnsSearch, dnsOptions: sb.dnsOptions, ipv6,
      ...(embedded ? { embeddedDns: embedded } : {}),
    });
    const gw = this.hostGateway();
    const hosts = buildHosts({
      hostname: sb.hostname,
      ...(sb.domainname ? { domainname: sb.domainname } : {}),
      addresses: sb.endpoints.flatMap((e) => [e.ipv4, ...(e.ipv6 ? [e.ipv6] : [])]),
      extraHosts: sb.extraHosts,
      ...(gw ? { hostGateway: gw } : {}),
    });
    return { netnsPath: sb.netns, settings: this.settings(sb), resolvConf: resolv.content, hosts };
  }

  // --- DNS -----------------------------------------------------------------------------

  private sandboxByIp(ip: string): SandboxRecord | undefined {
    return Object.values(this.state.sandboxes).find((sb) => sb.endpoints.some((e) => e.ipv4 === ip || e.ipv6 === ip));
  }

  private dnsLookup(networkId: string, name: string, clientIp: string): string[] | undefined {
    // The networks whose names the client sees: every user network it shares with the server's.
    const client = this.sandboxByIp(clientIp);
    const nets = new Set(client ? client.endpoints.map((e) => e.networkId) : [networkId]);
    nets.add(networkId);
    const found: string[] = [];
    let known = false;
    for (const nid of nets) {
      const n = this.state.networks[nid];
      if (!n || n.isDefault) continue;
      const suffix = `.${n.name.toLowerCase()}`;
      const bare = name.endsWith(suffix) ? name.slice(0, -suffix.length) : name;
      for (const { sandbox, endpoint } of this.endpointsOf(nid)) {
        const names = [sandbox.name, ...endpoint.aliases, sandbox.containerId.slice(0, 12)].map((x) => x.toLowerCase());
        if (names.includes(bare) || names.includes(name)) {
          known = true;
          found.push(endpoint.ipv4, ...(endpoint.ipv6 ? [endpoint.ipv6] : []));
        }
      }
    }
    return known ? [...new Set(found)] : undefined;
  }

  private dnsReverse(networkId: string, ip: string): string | undefined {
    for (const { sandbox, endpoint } of this.endpointsOf(networkId)) {
      if (endpoint.ipv4 === ip || endpoint.ipv6 === ip) return `${sandbox.name}.${this.state.networks[networkId]!.name}`;
    }
    return undefined;
  }

  /** Starts the network's DNS server; a failure (port 53 of the gateway taken) is a warning. */
  private async startDns(n: NetworkRecord): Promise<void> {
    if (this.dns.has(n.id)) return;
    const server = new EmbeddedDns({
      address: n.v4.gateway,
      port: this.opts.dnsPort ?? 53,
      book: {
        lookup: (name, clientIp) => this.dnsLookup(n.id, name, clientIp),
        reverse: (ip) => this.dnsReverse(n.id, ip),
        upstreams: (clientIp) => (n.internal ? [] : this.sandboxByIp(clientIp)?.upstreams ?? []),
      },
      onError: (e) => this.log('warn', `network: embedded DNS of ${n.name}: ${String(e)}`),
    });
    try {
      await server.start();
    } catch (e) {
      this.log('warn', `network: ${n.name} has no embedded DNS: ${String((e as Error).message)}`);
      return;
    }
    this.dns.set(n.id, server);
  }

  private async stopDns(networkId: string): Promise<void> {
    const s = this.dns.get(networkId);
    this.dns.delete(networkId);
    await s?.close();
  }

  // --- rules ---------------------------------------------------------------------------

  private async applyRules(): Promise<void> {
    if (this.opts.nftables === false) return;
    const networks: RulesetNetwork[] = Object.values(this.state.networks).map((n) => ({
      bridge: n.bridge,
      subnets: [n.v4.subnet, ...(n.v6 ? [n.v6.subnet] : [])],
      internal: n.internal,
      masquerade: n.masquerade,
      icc: n.icc,
    }));
    const ports: RulesetPort[] = [];
    for (const sb of Object.values(this.state.sandboxes)) {
      const primary = this.primary(sb);
      if (!primary) continue;
      for (const p of sb.ports) {
        const v6 = familyOf(p.hostIp) === 6;
        const containerIp = v6 ? primary.ipv6 : primary.ipv4;
        if (!containerIp) continue;
        ports.push({ proto: p.proto, hostIp: p.hostIp, hostPort: p.hostPort, containerIp, containerPort: p.containerPort });
      }
    }
    await applyRuleset(this.table, networks, ports);
  }

  // --- life cycle ----------------------------------------------------------------------

  /** The kernel objects this manager owns now (for diagnostics and leak checks). */
  ownedObjects(): { table: string; bridges: string[]; veths: string[]; netns: string[] } {
    const sbs = Object.values(this.state.sandboxes);
    return {
      table: this.table,
      bridges: Object.values(this.state.networks).map((n) => n.bridge),
      veths: sbs.flatMap((sb) => sb.endpoints.map((e) => e.hostVeth)),
      netns: sbs.map((sb) => sb.netns),
    };
  }

  /**
   * On daemon start: bridges re-made where missing, containers whose namespace is gone (a
   * reboot emptied the exec root) released, published ports held again, the table rebuilt,
   * the DNS servers started. Containers that are still running keep their addresses.
   */
  async restore(): Promise<void> {
    return this.lock.run(async () => {
      for (const n of Object.values(this.state.networks)) {
        await ensureBridge(this.bridgeSpec(n));
        await this.ensureForwarding(n);
      }
      for (const sb of Object.values(this.state.sandboxes)) {
        if (!isPinned(sb.netns)) {
          this.log('info', `network: ${sb.name} (${sb.containerId.slice(0, 12)}) lost its namespace; releasing its addresses`);
          for (const ep of sb.endpoints) {
            await deleteEndpoint(ep.hostVeth).catch(() => undefined);
            this.releaseEndpoint(ep);
          }
          delete this.state.sandboxes[sb.containerId];
          continue;
        }
        for (const ep of sb.endpoints) {
          if (!(await linkExists(ep.hostVeth))) this.log('warn', `network: ${sb.name}: veth ${ep.hostVeth} is missing`);
        }
        for (const p of sb.ports) {
          if (!(await this.reservations.adopt(p))) this.log('warn', `network: ${sb.name}: host port ${p.hostIp || '0.0.0.0'}:${p.hostPort}/${p.proto} is taken by another program`);
        }
      }
      await this.save();
      await this.applyRules();
      for (const n of Object.values(this.state.networks)) if (!n.isDefault) await this.startDns(n);
    });
  }

  /** Stops serving (DNS, port reservations); every kernel object stays for the next start. */
  async close(): Promise<void> {
    return this.lock.run(async () => {
      for (const id of [...this.dns.keys()]) await this.stopDns(id);
      this.reservations.releaseAll();
    });
  }

  /**
   * Removes everything this manager made: containers' namespaces and veths, bridges (the
   * default one too), the nftables table; the state on disk is emptied. For tests and for an
   * uninstall, never on a normal stop.
   */
  async teardown(): Promise<void> {
    const errors: unknown[] = [];
    await this.lock.run(async () => {
      for (const sb of Object.values(this.state.sandboxes)) await this.teardownSandbox(sb).catch((e) => errors.push(e));
      for (const id of [...this.dns.keys()]) await this.stopDns(id);
      for (const n of Object.values(this.state.networks)) {
        delete this.state.networks[n.id];
        await deleteBridge(n.bridge).catch((e) => errors.push(e));
      }
      this.reservations.releaseAll();
      await this.save().catch((e) => errors.push(e));
      await removeTable(this.table).catch((e) => errors.push(e));
    });
    if (errors.length) throw errors[0];
  }
}

/** Loads the state under <data-root>/network; call restore() before use after a daemon start. */
export async function createNetworkManager(opts: NetworkManagerOptions): Promise<NetworkManager> {
  const m = new NetworkManager(opts);
  await m.load();
  return m;
}

