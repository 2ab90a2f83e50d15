// The Engine API client: HTTP/1.1 over a unix socket or TCP (+TLS), API version negotiated
// with /_ping (the lower of the daemon's and ours, or DOCKER_API_VERSION), JSON requests,
// streamed responses and hijacked connections (attach, exec start).

import type { ClientRequest, IncomingHttpHeaders, IncomingMessage, RequestOptions } from 'node:http';
import type { Duplex } from 'node:stream';
import { builtin } from './builtin.js';
import { rawRequest } from './transport.js';
import type { ConnectionTarget } from './connection.js';
import { ApiError, ConnectionError, messageOfBody } from './errors.js';

/** The newest Engine API version this client speaks. */
export const CLIENT_API_VERSION = '1.47';

export type Query = Record<string, string | number | boolean | undefined | null | string[]>;

export interface RequestParams {
  query?: Query;
  body?: unknown;
  /** A raw body (tar archives): streamed as is. */
  raw?: NodeJS.ReadableStream | Buffer;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Do not prefix the path with /v<version>. */
  unversioned?: boolean;
}

export interface Ping {
  apiVersion?: string;
  osType?: string;
  headers: IncomingHttpHeaders;
}

export interface Hijacked {
  socket: Duplex;
  /** Bytes that arrived with the response headers. */
  head: Buffer;
  /** The media type: raw (tty) or multiplexed. */
  contentType: string;
}

function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d) return d;
  }
  return 0;
}

export function encodeQuery(q: Query | undefined): string {
  if (!q) return '';
  const parts: string[] = [];
  for (const [k, v] of Object.entries(q)) {
    if (v === undefined || v === null) continue;
    const vals = Array.isArray(v) ? v : [v];
    for (const x of vals) parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(typeof x === 'boolean' ? (x ? '1' : '0') : String(x))}`);
  }
  return parts.length ? `?${parts.join('&')}` : '';
}

export class EngineClient {
  private version: string | undefined;
  private negotiated: Promise<void> | undefined;
  private tlsOptions: Promise<Record<string, unknown>> | undefined;

  constructor(
    readonly target: ConnectionTarget,
    opts: { version?: string; userAgent?: string } = {},
  ) {
    if (opts.version) this.version = opts.version;
    this.userAgent = opts.userAgent ?? 'Berth-Client/0.1.0 (linux)';
  }

  private readonly userAgent: string;

  get apiVersion(): string {
    return this.version ?? CLIENT_API_VERSION;
  }

  /** GET /_ping; records the daemon's API version once. */
  async ping(): Promise<Ping> {
    const res = await this.send('GET', '/_ping', { unversioned: true });
    const body = await readAll(res);
    if (res.statusCode !== 200) throw new ApiError(res.statusCode ?? 500, messageOfBody(body.toString(), res.statusCode ?? 500));
    const apiVersion = header(res.headers['api-version']);
    const osType = header(res.headers.ostype);
    const p: Ping = { headers: res.headers };
    if (apiVersion) p.apiVersion = apiVersion;
    if (osType) p.osType = osType;
    return p;
  }

  /** Agrees on a version with the daemon (once): the lower of its and ours. */
  negotiate(): Promise<void> {
    if (this.version) return Promise.resolve();
    this.negotiated ??= this.ping().then((p) => {
      if (!this.version) this.version = p.apiVersion && compareVersions(p.apiVersion, CLIENT_API_VERSION) < 0 ? p.apiVersion : CLIENT_API_VERSION;
    });
    return this.negotiated;
  }

  private async options(method: string, path: string, p: RequestParams): Promise<RequestOptions> {
    const headers: Record<string, string> = { 'User-Agent': this.userAgent, ...(p.headers ?? {}) };
    const full = `${p.unversioned ? '' : `/v${this.apiVersion}`}${path}${encodeQuery(p.query)}`;
    const o: RequestOptions = { method, path: full, headers };
    if (this.target.kind === 'unix') {
      o.socketPath = this.target.socketPath;
      headers.Host = 'api.moby.localhost';
    } else {
      o.host = this.target.hostname;
      o.port = this.target.port;
      if (this.target.tls) Object.assign(o, await this.tls());
    }
    if (p.signal) o.signal = p.signal;
    return o;
  }

  private tls(): Promise<Record<string, unknown>> {
    const t = this.target.kind === 'tcp' ? this.target.tls : undefined;
    this.tlsOptions ??= (async () => {
      const { readFile } = builtin<typeof import('node:fs/promises')>('node:fs/promises');
      const o: Record<string, unknown> = { rejectUnauthorized: Boolean(t?.verify) };
      const load = async (f: string | undefined): Promise<Buffer | undefined> => {
        if (!f) return undefined;
        try {
          return await readFile(f);
        } catch (e) {
          if (t?.verify) throw new ConnectionError(`could not read TLS file ${f}: ${(e as Error).message}`);
          return undefined;
        }
      };
      const [ca, cert, key] = await Promise.all([load(t?.ca), load(t?.cert), load(t?.key)]);
      if (ca) o.ca = ca;
      if (cert) o.cert = cert;
      if (key) o.key = key;
      return o;
    })();
    return this.tlsOptions;
  }

  private async makeRequest(o: RequestOptions): Promise<ClientRequest> {
    if (this.target.kind === 'tcp' && this.target.tls) {
      const https = builtin<typeof import('node:https')>('node:https');
      return https.request(o);
    }
    const http = builtin<typeof import('node:http')>('node:http');
    return http.request(o);
  }

  /** Plain sockets go through the small transport; TLS through node:https. */
  private get raw(): boolean {
    return !(this.target.kind === 'tcp' && this.target.tls);
  }

  private rawTarget(): { socketPath: string } | { host: string; port: number } {
    return this.target.kind === 'unix' ? { socketPath: this.target.socketPath } : { host: this.target.hostname, port: this.target.port };
  }

  private describeTarget(): string {
    return this.target.host;
  }

  connectionError(e: NodeJS.ErrnoException): ConnectionError {
    const where = this.describeTarget();
    if (e.code === 'ENOENT' || e.code === 'ECONNREFUSED')
      return new ConnectionError(`Cannot connect to the Berth daemon at ${where}. Is the daemon running?`, e.code);
    if (e.code === 'EACCES')
      return new ConnectionError(`permission denied while trying to connect to the daemon socket at ${where}: run as root or join the berth group`, e.code);
    return new ConnectionError(`error during connect: ${e.message} (${where})`, e.code);
  }

  /** Sends a request; resolves with the response whatever its status. */
  async send(method: string, path: string, p: RequestParams = {}): Promise<IncomingMessage> {
    const o = await this.options(method, path, p);
    let body: Buffer | undefined;
    if (p.body !== undefined) {
      body = Buffer.from(JSON.stringify(p.body));
      (o.headers as Record<string, string>)['Content-Type'] = 'application/json';
      (o.headers as Record<string, string>)['Content-Length'] = String(body.length);
    } else if (Buffer.isBuffer(p.raw)) {
      (o.headers as Record<string, string>)['Content-Length'] = String(p.raw.length);
    }
    if (this.raw) {
      const b = body ?? p.raw;
      try {
        const r = await rawRequest({ target: this.rawTarget(), method, path: o.path!, headers: o.headers as Record<string, string>, ...(b ? { body: b } : {}), ...(p.signal ? { signal: p.signal } : {}) });
        return r.res as unknown as IncomingMessage;
      } catch (e) {
        throw (e as Error).name === 'AbortError' ? e : this.connectionError(e as NodeJS.ErrnoException);
      }
    }
    const req = await this.makeRequest(o);
    return new Promise((resolve, reject) => {
      req.on('response', resolve);
      req.on('error', (e: NodeJS.ErrnoException) => reject(e.name === 'AbortError' ? e : this.connectionError(e)));
      if (body) req.end(body);
      else if (Buffer.isBuffer(p.raw)) req.end(p.raw);
      else if (p.raw) {
        (p.raw as NodeJS.ReadableStream).on('error', (e) => req.destroy(e));
        (p.raw as NodeJS.ReadableStream).pipe(req);
      } else req.end();
    });
  }

  /** A request whose error statuses become ApiError; the response is returned unread. */
  async stream(method: string, path: string, p: RequestParams = {}): Promise<IncomingMessage> {
    await this.negotiate();
    const res = await this.send(method, path, p);
    const status = res.statusCode ?? 500;
    if (status >= 400) {
      const text = (await readAll(res)).toString();
      throw new ApiError(status, messageOfBody(text, status));
    }
    return res;
  }

  /** A JSON answer (or undefined for 204 / empty bodies). */
  async json<T>(method: string, path: string, p: RequestParams = {}): Promise<T> {
    const res = await this.stream(method, path, p);
    const text = (await readAll(res)).toString();
    if (!text.trim()) return undefined as T;
    return JSON.parse(text) as T;
  }

  get<T>(path: string, query?: Query): Promise<T> {
    return this.json<T>('GET', path, query ? { query } : {});
  }

  post<T>(path: string, query?: Query, body?: unknown): Promise<T> {
    const p: RequestParams = {};
    if (query) p.query = query;
    if (body !== undefined) p.body = body;
    return this.json<T>('POST', path, p);
  }

  delete<T>(path: string, query?: Query): Promise<T> {
    return this.json<T>('DELETE', path, query ? { query } : {});
  }

  /** attach / exec start: asks for `Upgrade: tcp` and hands back the raw socket. */
  async hijack(method: string, path: string, p: RequestParams = {}): Promise<Hijacked> {
    await this.negotiate();
    const o = await this.options(method, path, p);
    const headers = o.headers as Record<string, string>;
    headers.Connection = 'Upgrade';
    headers.Upgrade = 'tcp';
    let body: Buffer | undefined;
    if (p.body !== undefined) {
      body = Buffer.from(JSON.stringify(p.body));
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = String(body.length);
    }
    if (this.raw) {
      let r;
      try {
        r = await rawRequest({ target: this.rawTarget(), method, path: o.path!, headers, ...(body ? { body } : {}), hijack: true });
      } catch (e) {
        throw this.connectionError(e as NodeJS.ErrnoException);
      }
      if (r.upgraded) return { socket: r.socket, head: r.head, contentType: header(r.res.headers['content-type']) ?? '' };
      const status = r.res.statusCode;
      const text = (await readAll(r.res)).toString();
      throw new ApiError(status, messageOfBody(text, status));
    }
    const req = await this.makeRequest(o);
    return new Promise((resolve, reject) => {
      req.on('upgrade', (res: IncomingMessage, socket: Duplex, head: Buffer) => {
        resolve({ socket, head, contentType: header(res.headers['content-type']) ?? '' });
      });
      req.on('response', (res: IncomingMessage) => {
        const status = res.statusCode ?? 500;
        if (status >= 400) {
          readAll(res).then((b) => reject(new ApiError(status, messageOfBody(b.toString(), status))), reject);
          return;
        }
        // A daemon that does not upgrade: the response body is the output stream.
        resolve({ socket: res as unknown as Duplex, head: Buffer.alloc(0), contentType: header(res.headers['content-type']) ?? '' });
      });
      req.on('error', (e: NodeJS.ErrnoException) => reject(this.connectionError(e)));
      req.end(body);
    });
  }
}

function header(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

export function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}
