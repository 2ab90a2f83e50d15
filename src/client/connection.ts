// Where the daemon is: -H/--host, then BERTH_HOST, then DOCKER_HOST, then the default socket
// (berth.sock under BERTH_EXEC_ROOT, which berthd honours too, else under /run/berth);
// parsed into a unix socket path or a TCP address with TLS settings (docker's --tls,
// --tlsverify, --tlscacert/--tlscert/--tlskey, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH).

import { join } from 'node:path';

export const DEFAULT_SOCKET = '/run/berth/berth.sock';
export const DEFAULT_HOST = `unix://${DEFAULT_SOCKET}`;

/** berthd's socket when it runs with its default exec root (BERTH_EXEC_ROOT or /run/berth). */
export function defaultSocket(env: Record<string, string | undefined>): string {
  return env.BERTH_EXEC_ROOT ? join(env.BERTH_EXEC_ROOT, 'berth.sock') : DEFAULT_SOCKET;
}

export interface TlsOptions {
  verify: boolean;
  ca?: string;
  cert?: string;
  key?: string;
}

export type ConnectionTarget =
  | { kind: 'unix'; socketPath: string; host: string }
  | { kind: 'tcp'; hostname: string; port: number; tls?: TlsOptions; host: string };

export interface HostSource {
  /** -H / --host values (docker takes one). */
  hosts?: string[];
  env: Record<string, string | undefined>;
}

export interface ResolvedHost {
  host: string;
  /** Which setting gave it: flag, BERTH_HOST, DOCKER_HOST or default. */
  from: 'flag' | 'BERTH_HOST' | 'DOCKER_HOST' | 'default';
}

export function resolveHost(src: HostSource): ResolvedHost {
  const flag = src.hosts?.filter(Boolean) ?? [];
  if (flag.length > 1) throw new Error('specify only one -H');
  if (flag.length === 1) return { host: flag[0]!, from: 'flag' };
  if (src.env.BERTH_HOST) return { host: src.env.BERTH_HOST, from: 'BERTH_HOST' };
  if (src.env.DOCKER_HOST) return { host: src.env.DOCKER_HOST, from: 'DOCKER_HOST' };
  return { host: `unix://${defaultSocket(src.env)}`, from: 'default' };
}

export interface TlsFlags {
  tls?: boolean;
  tlsverify?: boolean;
  tlscacert?: string;
  tlscert?: string;
  tlskey?: string;
}

/** Parses a host string as docker does (unix://path, tcp://host:port, a bare path, host:port). */
export function parseHost(host: string, tlsFlags: TlsFlags = {}, env: Record<string, string | undefined> = {}): ConnectionTarget {
  const h = host.trim();
  if (h.startsWith('unix://')) {
    const path = h.slice('unix://'.length);
    if (!path) throw new Error(`invalid host: ${host}: empty socket path`);
    return { kind: 'unix', socketPath: path, host: h };
  }
  if (h.startsWith('/')) return { kind: 'unix', socketPath: h, host: `unix://${h}` };
  let rest: string;
  if (h.startsWith('tcp://')) rest = h.slice('tcp://'.length);
  else if (h.startsWith('http://') || h.startsWith('https://')) rest = h.replace(/^https?:\/\//, '');
  else if (/^[a-z]+:\/\//.test(h)) throw new Error(`invalid host: ${host}: unsupported protocol (use unix:// or tcp://)`);
  else rest = h;
  rest = rest.replace(/\/+$/, '');
  const m = /^(\[[^\]]+\]|[^:/]*)(?::(\d+))?$/.exec(rest);
  if (!m) throw new Error(`invalid host: ${host}`);
  const hostname = (m[1] || '127.0.0.1').replace(/^\[|\]$/g, '');
  const verify = Boolean(tlsFlags.tlsverify) || (tlsFlags.tlsverify === undefined && Boolean(env.DOCKER_TLS_VERIFY));
  const useTls = verify || Boolean(tlsFlags.tls) || h.startsWith('https://');
  const port = m[2] ? Number(m[2]) : useTls ? 2376 : 2375;
  const target: ConnectionTarget = { kind: 'tcp', hostname, port, host: `tcp://${m[1] || '127.0.0.1'}:${port}` };
  if (useTls) {
    const certDir = env.DOCKER_CERT_PATH || (env.HOME ? join(env.HOME, '.docker') : undefined);
    const pick = (flag: string | undefined, file: string): string | undefined => flag ?? (certDir && verify ? join(certDir, file) : undefined);
    const tls: TlsOptions = { verify };
    const ca = pick(tlsFlags.tlscacert, 'ca.pem');
    const cert = pick(tlsFlags.tlscert, 'cert.pem');
    const key = pick(tlsFlags.tlskey, 'key.pem');
    if (ca) tls.ca = ca;
    if (cert) tls.cert = cert;
    if (key) tls.key = key;
    target.tls = tls;
  }
  return target;
}
