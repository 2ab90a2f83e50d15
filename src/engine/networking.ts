// Bridge networking for berthd's containers: the engine's side of the network library
// (src/network, docs/network.md). It turns a container's HostConfig and NetworkingConfig into
// the library's attach() request at start, writes the /etc files attach() returns, detaches at
// exit and removal, shapes NetworkSettings for inspect and list, applies Berth's own bandwidth
// fields (HostConfig.BerthEgressRate/BerthIngressRate), and serves the /networks endpoints
// (the predefined "host" and "none" networks are the engine's; the bridges are the library's).

import { writeFile } from 'node:fs/promises';
import type { Filters } from '../api/body.js';
import type { ContainerRecord, ContainerPaths } from './record.js';
import type { EndpointSettings as ApiEndpointSettings, NetworkConnectRequest, NetworkCreateRequest, NetworkCreateResponse, NetworkDisconnectRequest, NetworkInspect as ApiNetworkInspect, NetworkPruneReport } from '../api/types/network.js';
import type { HostConfig, NetworkingConfig, Port } from '../api/types/container.js';
import { BerthError, errorMessage, invalidParameter } from '../errors.js';
import { fromPortBindings, parseRate, type AttachNetwork, type NetworkInspect, type NetworkManager, type NetworkSettings, type PortSpec } from '../network/index.js';
import { buildHosts } from '../network/hosts.js';

/** What the networking needs of the engine: its records, without owning them. */
export interface NetworkingHost {
  paths: ContainerPaths;
  /** A container by name or id (NotFound otherwise). */
  lookup(ref: string): ContainerRecord;
  isRunning(id: string): boolean;
  records(): ContainerRecord[];
  save(rec: ContainerRecord): Promise<void>;
  log(level: 'debug' | 'info' | 'warn' | 'error', message: string): void;
}

/** The network endpoints, bound onto the engine. */
export const NETWORK_METHODS = ['networkList', 'networkInspect', 'networkCreate', 'networkRemove', 'networkPrune', 'networkConnect', 'networkDisconnect'] as const;

const BUILTIN_OTHER = ['host', 'none'] as const;

/** The network a container's NetworkMode puts it on, or undefined for none/host/container:. */
export function bridgeNetworkOf(hc: HostConfig): string | undefined {
  const mode = hc.NetworkMode || 'default';
  if (mode === 'none' || mode === 'host' || mode.startsWith('container:')) return undefined;
  return mode === 'default' ? 'bridge' : mode;
}

/** Validates a rate field of HostConfig ("8mbit"); '', '0' or absent = no limit. */
function rateOf(v: string | undefined, field: string): number | undefined {
  if (v === undefined || v === null || v === '' || v === '0') return undefined;
  if (typeof v !== 'string') throw invalidParameter(`${field}: expected a rate like "8mbit"`);
  try {
    return parseRate(v);
  } catch (e) {
    throw invalidParameter(`${field}: ${errorMessage(e)}`);
  }
}

/** Docker's shape for a network that is not attached now (a stopped container's networks). */
function emptyEndpoint(networkId: string, cfg: ApiEndpointSettings | null | undefined): Record<string, unknown> {
  return {
    IPAMConfig: cfg?.IPAMConfig ?? null, Links: null, Aliases: cfg?.Aliases ?? null, MacAddress: '', DriverOpts: null, NetworkID: networkId, EndpointID: '',
    Gateway: '', IPAddress: '', IPPrefixLen: 0, IPv6Gateway: '', GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0, DNSNames: null,
  };
}

function predefined(name: 'host' | 'none', containers: NetworkInspect['Containers']): ApiNetworkInspect {
  return {
    Name: name,
    // dockerd's ids are random; these are stable per name so clients can match them.
    Id: (name === 'host' ? 'b' : 'c').repeat(64),
    Created: '0001-01-01T00:00:00Z',
    Scope: 'local',
    Driver: name === 'host' ? 'host' : 'null',
    EnableIPv4: true,
    EnableIPv6: false,
    IPAM: { Driver: 'default', Options: null, Config: [] },
    Internal: false,
    Attachable: false,
    Ingress: false,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Containers: containers,
    Options: {},
    Labels: {},
  };
}

export class ContainerNetworking {
  constructor(
    readonly manager: NetworkManager,
    private readonly host: NetworkingHost,
  ) {}

  // --- containers ------------------------------------------------------------------------

  /**
   * At create: the networks exist, rates and addresses parse, and nothing is asked of a
   * container:<ref> mode that the other container's stack and files decide (dockerd's checks
   * and wording; `config` is the request's, before the image's defaults are merged).
   */
  async validate(hc: HostConfig, nc: NetworkingConfig | undefined, config: { Hostname?: string; ExposedPorts?: Record<string, unknown> | null } = {}): Promise<void> {
    rateOf(hc.BerthEgressRate, 'BerthEgressRate');
    rateOf(hc.BerthIngressRate, 'BerthIngressRate');
    if ((hc.NetworkMode ?? '').startsWith('container:')) {
      if (config.Hostname) throw invalidParameter('conflicting options: hostname and the network mode');
      if (hc.Dns?.length) throw invalidParameter('conflicting options: dns and the network mode');
      if (hc.ExtraHosts?.length) throw invalidParameter('conflicting options: custom host-to-IP mapping and the network mode');
      if (Object.keys(hc.PortBindings ?? {}).length || hc.PublishAllPorts) throw invalidParameter('conflicting options: port publishing and the container type network mode');
      if (Object.keys(config.ExposedPorts ?? {}).length) throw invalidParameter('conflicting options: port exposing and the container type network mode');
    }
    const primary = bridgeNetworkOf(hc);
    if (primary) await this.manager.inspectNetwork(primary);
    for (const name of Object.keys(nc?.EndpointsConfig ?? {})) {
      if (name === primary || name === 'default' || (BUILTIN_OTHER as readonly string[]).includes(name)) continue;
      if (!primary) throw invalidParameter(`container cannot be connected to network ${name}: its network mode is ${hc.NetworkMode}`);
      await this.manager.inspectNetwork(name);
    }
    if (!primary && (hc.BerthEgressRate || hc.BerthIngressRate)) throw invalidParameter(`bandwidth limits need a bridge network (network mode ${hc.NetworkMode})`);
    fromPortBindings(hc.PortBindings ?? {});
  }

  /** The host ports a start asks for: PortBindings, and with PublishAllPorts every exposed port not bound. */
  private portSpecs(rec: ContainerRecord): PortSpec[] {
    const hc = rec.hostConfig;
    const specs = fromPortBindings(hc.PortBindings ?? {});
    if (hc.PublishAllPorts) {
      for (const key of Object.keys(rec.config.ExposedPorts ?? {})) {
        const [p = '', proto = 'tcp'] = key.split('/');
        const containerPort = Number(p);
        const pr = proto.toLowerCase();
        if (!containerPort || (pr !== 'tcp' && pr !== 'udp')) continue;
        if (specs.some((s) => s.containerPort === containerPort && s.proto === pr)) continue;
        specs.push({ proto: pr, containerPort, hostIp: '', hostPort: 0 });
      }
    }
    return specs;
  }

  private attachNetworks(rec: ContainerRecord, primary: string): AttachNetwork[] {
    const eps = rec.networkingConfig?.EndpointsConfig ?? {};
    const one = (name: string, cfg: ApiEndpointSettings | null | undefined): AttachNetwork => ({
      name,
      ...(cfg?.Aliases?.length ? { aliases: cfg.Aliases } : {}),
      ...(cfg?.IPAMConfig?.IPv4Address ? { ipv4: cfg.IPAMConfig.IPv4Address } : {}),
      ...(cfg?.IPAMConfig?.IPv6Address ? { ipv6: cfg.IPAMConfig.IPv6Address } : {}),
    });
    const out = [one(primary, eps[primary] ?? (primary === 'bridge' ? eps.default : undefined))];
    for (const [name, cfg] of Object.entries(eps)) {
      if (name === primary || name === 'default' || (BUILTIN_OTHER as readonly string[]).includes(name)) continue;
      out.push(one(name, cfg));
    }
    return out;
  }

  /**
   * At start, before the spec is built: the container's namespace, endpoints, ports and
   * limits; /etc/resolv.conf and /etc/hosts rewritten. Returns the namespace's path to join,
   * or undefined when the network mode is not a bridge (none, host, container:).
   */
  async attach(rec: ContainerRecord): Promise<string | undefined> {
    const primary = bridgeNetworkOf(rec.hostConfig);
    if (!primary) return undefined;
    const hc = rec.hostConfig;
    // Whatever a crash left of an earlier run is stale: the container is not running.
    await this.manager.detach(rec.id);
    const egress = rateOf(hc.BerthEgressRate, 'BerthEgressRate');
    const ingress = rateOf(hc.BerthIngressRate, 'BerthIngressRate');
    const res = await this.manager.attach(rec.id, {
      name: rec.name.replace(/^\//, ''),
      hostname: rec.config.Hostname || rec.id.slice(0, 12),
      ...(rec.config.Domainname ? { domainname: rec.config.Domainname } : {}),
      networks: this.attachNetworks(rec, primary),
      ports: this.portSpecs(rec),
      ...(egress ? { egressRate: egress } : {}),
      ...(ingress ? { ingressRate: ingress } : {}),
      dns: hc.Dns ?? [],
      dnsSearch: hc.DnsSearch ?? [],
      dnsOptions: hc.DnsOptions ?? [],
      extraHosts: hc.ExtraHosts ?? [],
      exposed: Object.keys(rec.config.ExposedPorts ?? {}),
    });
    try {
      await writeFile(this.host.paths.resolvConf(rec.id), res.resolvConf, { mode: 0o644 });
      await writeFile(this.host.paths.hosts(rec.id), res.hosts, { mode: 0o644 });
    } catch (e) {
      await this.manager.detach(rec.id).catch(() => undefined);
      throw e;
    }
    return res.netnsPath;
  }

  /** At exit and removal: the veths, rules, namespace pin and addresses go. Never throws. */
  async detach(id: string): Promise<void> {
    await this.manager.detach(id).catch((e: unknown) => this.host.log('warn', `detach network of ${id}: ${errorMessage(e)}`));
  }

  /** After recovery: sandboxes of containers that do not run are stale. */
  async reconcile(): Promise<void> {
    for (const rec of this.host.records()) if (!this.host.isRunning(rec.id)) await this.detach(rec.id);
  }

  /** POST /containers/{id}/update with Berth's rate fields: applied at once when running. */
  async updateRates(rec: ContainerRecord, update: { BerthEgressRate?: string; BerthIngressRate?: string }, running: boolean): Promise<void> {
    const egress = rateOf(update.BerthEgressRate, 'BerthEgressRate');
    const ingress = rateOf(update.BerthIngressRate, 'BerthIngressRate');
    if (!running || !bridgeNetworkOf(rec.hostConfig)) {
      if ((egress || ingress) && !bridgeNetworkOf(rec.hostConfig)) throw invalidParameter(`bandwidth limits need a bridge network (network mode ${rec.hostConfig.NetworkMode})`);
      return;
    }
    await this.manager.setRates(rec.id, {
      ...(update.BerthEgressRate !== undefined ? { egressRate: egress ?? 0 } : {}),
      ...(update.BerthIngressRate !== undefined ? { ingressRate: ingress ?? 0 } : {}),
    });
  }

  /** The default network's gateway, for --add-host host-gateway. */
  hostGateway(): string | undefined {
    return this.manager.hostGateway();
  }

  private attached(id: string): NetworkSettings | undefined {
    return this.manager.containerSettingsIfAttached(id);
  }

  /** NetworkSettings for container inspect, as dockerd shapes them. */
  settings(rec: ContainerRecord, running: boolean): Record<string, unknown> {
    const live = running ? this.attached(rec.id) : undefined;
    if (live) return { ...live } as unknown as Record<string, unknown>;
    const networks: Record<string, Record<string, unknown>> = {};
    const mode = rec.hostConfig.NetworkMode || 'default';
    if (!mode.startsWith('container:')) {
      const primary = bridgeNetworkOf(rec.hostConfig) ?? mode;
      const eps = rec.networkingConfig?.EndpointsConfig ?? {};
      for (const name of new Set([primary, ...Object.keys(eps).filter((n) => n !== 'default')])) {
        networks[name] = emptyEndpoint('', eps[name]);
      }
    }
    return {
      Bridge: '', SandboxID: '', SandboxKey: '', Ports: {}, HairpinMode: false, LinkLocalIPv6Address: '', LinkLocalIPv6PrefixLen: 0,
      SecondaryIPAddresses: null, SecondaryIPv6Addresses: null, EndpointID: '', Gateway: '', GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0,
      IPAddress: '', IPPrefixLen: 0, IPv6Gateway: '', MacAddress: '',
      Networks: networks,
    };
  }

  /** The Ports column of docker ps: published ports, then exposed ones not published. */
  summaryPorts(rec: ContainerRecord, running: boolean): Port[] {
    const out: Port[] = [];
    const live = running ? this.attached(rec.id) : undefined;
    const published = new Set<string>();
    for (const [key, list] of Object.entries(live?.Ports ?? {})) {
      const [p = '', proto = 'tcp'] = key.split('/');
      for (const b of list ?? []) {
        out.push({ IP: b.HostIp || '0.0.0.0', PrivatePort: Number(p), PublicPort: Number(b.HostPort), Type: proto as Port['Type'] });
        published.add(key);
      }
    }
    for (const key of Object.keys(rec.config.ExposedPorts ?? {})) {
      if (published.has(key)) continue;
      const [p = '', proto = 'tcp'] = key.split('/');
      out.push({ PrivatePort: Number(p), Type: proto as Port['Type'] });
    }
    return out;
  }

  // --- /networks -------------------------------------------------------------------------

  private predefinedContainers(mode: 'host' | 'none'): NetworkInspect['Containers'] {
    const out: NetworkInspect['Containers'] = {};
    for (const rec of this.host.records()) {
      if ((rec.hostConfig.NetworkMode || 'default') !== mode || !this.host.isRunning(rec.id)) continue;
      out[rec.id] = { Name: rec.name.replace(/^\//, ''), EndpointID: '', MacAddress: '', IPv4Address: '', IPv6Address: '' };
    }
    return out;
  }

  private isPredefined(ref: string): 'host' | 'none' | undefined {
    for (const name of BUILTIN_OTHER) if (ref === name || (ref.length >= 12 && predefined(name, {}).Id.startsWith(ref))) return name;
    return undefined;
  }

  async networkList(filters: Filters): Promise<ApiNetworkInspect[]> {
    const bridges = (await this.manager.listNetworks(filters)) as unknown as ApiNetworkInspect[];
    const others: ApiNetworkInspect[] = [];
    for (const name of BUILTIN_OTHER) {
      const n = predefined(name, this.predefinedContainers(name));
      if (filters.name?.length && !filters.name.some((x) => name.includes(x))) continue;
      if (filters.id?.length && !filters.id.some((x) => n.Id.startsWith(x))) continue;
      if (filters.driver?.length && !filters.driver.includes(n.Driver)) continue;
      if (filters.label?.length) continue;
      if (filters.type?.length && !filters.type.includes('builtin')) continue;
      if (filters.dangling?.length && filters.dangling.some((d) => /^(1|t|true)$/i.test(d))) continue;
      others.push(n);
    }
    return [...bridges, ...others];
  }

  async networkInspect(ref: string, _opts: { verbose: boolean; scope?: string }): Promise<ApiNetworkInspect> {
    const p = this.isPredefined(ref);
    if (p) return predefined(p, this.predefinedContainers(p));
    return (await this.manager.inspectNetwork(ref)) as unknown as ApiNetworkInspect;
  }

  async networkCreate(req: NetworkCreateRequest): Promise<NetworkCreateResponse> {
    if ((BUILTIN_OTHER as readonly string[]).includes(req.Name) || req.Name === 'bridge') {
      throw new BerthError('Forbidden', `operation is not permitted on predefined ${req.Name} network `);
    }
    if (req.IPAM?.Driver && req.IPAM.Driver !== 'default') throw invalidParameter(`IPAM driver "${req.IPAM.Driver}" is not supported (default only)`);
    const r = await this.manager.createNetwork({
      name: req.Name,
      ...(req.Driver ? { driver: req.Driver } : {}),
      internal: req.Internal === true,
      attachable: req.Attachable === true,
      ipv6: req.EnableIPv6 === true,
      ipam: (req.IPAM?.Config ?? []).map((c) => ({ ...(c.Subnet ? { Subnet: c.Subnet } : {}), ...(c.IPRange ? { IPRange: c.IPRange } : {}), ...(c.Gateway ? { Gateway: c.Gateway } : {}) })),
      options: req.Options ?? {},
      labels: req.Labels ?? {},
      checkDuplicate: true,
    });
    return { Id: r.id, Warning: r.warning };
  }

  async networkRemove(ref: string): Promise<void> {
    const p = this.isPredefined(ref);
    if (p) throw new BerthError('Forbidden', `${p} is a pre-defined network and cannot be removed`);
    await this.manager.removeNetwork(ref);
  }

  async networkPrune(filters: Filters): Promise<NetworkPruneReport> {
    const untilS = filters.until?.[0];
    let until: Date | undefined;
    if (untilS) {
      until = /^\d+(\.\d+)?$/.test(untilS) ? new Date(Number(untilS) * 1000) : new Date(untilS);
      if (Number.isNaN(until.getTime())) throw invalidParameter(`invalid until filter: ${untilS}`);
    }
    // A network named in a stopped container's configuration stays, as dockerd keeps it.
    const deleted = await this.manager.pruneNetworks({ ...(filters.label ? { label: filters.label } : {}), ...(until ? { until } : {}) });
    return { NetworksDeleted: deleted.length ? deleted : null };
  }

  /** /etc/hosts of a running container again after its networks changed. */
  private async rewriteHosts(rec: ContainerRecord, s: NetworkSettings): Promise<void> {
    const gw = this.hostGateway();
    const addresses = Object.values(s.Networks).flatMap((e) => [e.IPAddress, ...(e.GlobalIPv6Address ? [e.GlobalIPv6Address] : [])]).filter(Boolean);
    const text = buildHosts({
      hostname: rec.config.Hostname || rec.id.slice(0, 12),
      ...(rec.config.Domainname ? { domainname: rec.config.Domainname } : {}),
      addresses,
      extraHosts: rec.hostConfig.ExtraHosts ?? [],
      ...(gw ? { hostGateway: gw } : {}),
    });
    await writeFile(this.host.paths.hosts(rec.id), text, { mode: 0o644 });
  }

  async networkConnect(ref: string, req: NetworkConnectRequest): Promise<void> {
    if (this.isPredefined(ref)) throw new BerthError('Forbidden', `container cannot be disconnected from host network or connected to host network`);
    const net = await this.manager.inspectNetwork(ref);
    const rec = this.host.lookup(req.Container);
    if (!bridgeNetworkOf(rec.hostConfig)) throw invalidParameter(`container sharing network namespace with another container or host cannot be connected to any other network`);
    const eps = { ...(rec.networkingConfig?.EndpointsConfig ?? {}) };
    const primary = bridgeNetworkOf(rec.hostConfig)!;
    if (eps[net.Name] !== undefined || primary === net.Name || primary === net.Id) {
      if (!this.host.isRunning(rec.id) || this.attached(rec.id)?.Networks[net.Name]) {
        throw new BerthError('Forbidden', `endpoint with name ${rec.name.replace(/^\//, '')} already exists in network ${net.Name}`);
      }
    }
    const cfg = req.EndpointConfig ?? {};
    if (this.host.isRunning(rec.id)) {
      const s = await this.manager.connect(rec.id, {
        name: net.Id,
        ...(cfg.Aliases?.length ? { aliases: cfg.Aliases } : {}),
        ...(cfg.IPAMConfig?.IPv4Address ? { ipv4: cfg.IPAMConfig.IPv4Address } : {}),
        ...(cfg.IPAMConfig?.IPv6Address ? { ipv6: cfg.IPAMConfig.IPv6Address } : {}),
      });
      await this.rewriteHosts(rec, s);
    }
    if (primary !== net.Name) eps[net.Name] = { ...(cfg.Aliases ? { Aliases: cfg.Aliases } : {}), ...(cfg.IPAMConfig ? { IPAMConfig: cfg.IPAMConfig } : {}) };
    rec.networkingConfig = { ...rec.networkingConfig, EndpointsConfig: eps };
    await this.host.save(rec);
  }

  async networkDisconnect(ref: string, req: NetworkDisconnectRequest): Promise<void> {
    if (this.isPredefined(ref)) throw new BerthError('Forbidden', `container cannot be disconnected from host network or connected to host network`);
    const net = await this.manager.inspectNetwork(ref);
    const rec = this.host.lookup(req.Container);
    const eps = { ...(rec.networkingConfig?.EndpointsConfig ?? {}) };
    const primary = bridgeNetworkOf(rec.hostConfig);
    const configured = eps[net.Name] !== undefined || primary === net.Name || (primary === 'bridge' && net.Name === 'bridge');
    const live = this.host.isRunning(rec.id) ? this.attached(rec.id) : undefined;
    if (!configured && !live?.Networks[net.Name]) throw new BerthError('Forbidden', `container ${rec.id} is not connected to network ${net.Name}`);
    if (live?.Networks[net.Name]) {
      const s = await this.manager.disconnect(rec.id, net.Id);
      await this.rewriteHosts(rec, s);
    }
    delete eps[net.Name];
    rec.networkingConfig = { ...rec.networkingConfig, EndpointsConfig: eps };
    // Disconnected from the network of its mode: the next start joins none of the bridges.
    if (primary === net.Name) {
      const next = Object.keys(eps).find((n) => n !== 'default');
      rec.hostConfig = { ...rec.hostConfig, NetworkMode: next ?? 'none' };
      if (next) delete eps[next];
    }
    await this.host.save(rec);
  }

}
