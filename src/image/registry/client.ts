import { request as httpRequest, type IncomingMessage, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { BerthError, invalidParameter, type ErrorKind } from '../../errors.js';
import { sha256Digest } from '../content/digest.js';
import { MANIFEST_ACCEPT, sniffManifestMediaType, type Descriptor } from '../media-types.js';
import { validateDigest, type Reference } from '../reference.js';
import { parseWwwAuthenticate, repositoryScope, scopeKey, TokenCache, type Challenge, type ScopeAction, type TokenResponse } from './auth.js';
import type { CredentialLookup, Credentials } from './credentials.js';
import { endpointsFor, type Endpoint, type HostOptions } from './hosts.js';

// A client of the OCI distribution API over node:http/https: manifests, blobs (with Range
// resume), uploads (monolithic and chunked, cross-repository mount), Basic and Bearer auth
// driven by WWW-Authenticate challenges, retries with back-off for idempotent requests.

export interface RegistryClientOptions extends HostOptions {
  credentials?: CredentialLookup;
  userAgent?: string;
  /** Attempts for idempotent requests (network errors, 429, 5xx). Default 4. */
  attempts?: number;
  /** First back-off delay in ms, doubled each retry. Default 200. */
  backoffMs?: number;
  /** Socket inactivity timeout in ms. Default 60 000. */
  timeoutMs?: number;
}

export interface RegistryRequest {
  method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';
  /** `/v2/...` relative to the endpoint, or an absolute URL (upload locations). */
  path: string;
  headers?: Record<string, string>;
  body?: Buffer;
  scopes: string[];
  /** Statuses that count as success; others throw a typed error. */
  expect: number[];
}

export interface RegistryResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: IncomingMessage;
  url: string;
}

export interface FetchedManifest {
  mediaType: string;
  digest: string;
  bytes: Buffer;
}

const STATUS_KIND: Record<number, ErrorKind> = { 400: 'InvalidParameter', 401: 'Unauthorized', 403: 'Forbidden', 404: 'NotFound', 405: 'NotImplemented', 409: 'Conflict', 416: 'InvalidParameter', 429: 'Unavailable' };

function kindForStatus(status: number): ErrorKind {
  return STATUS_KIND[status] ?? (status >= 500 ? 'Unavailable' : 'System');
}

async function readAll(stream: Readable, limit = 16 * 1024 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of stream) {
    n += (c as Buffer).length;
    if (n > limit) {
      stream.destroy();
      throw invalidParameter(`response larger than ${limit} bytes`);
    }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

function registryErrorText(body: Buffer): string {
  try {
    const doc = JSON.parse(body.toString('utf8')) as { errors?: { code?: string; message?: string; detail?: unknown }[] };
    if (doc.errors?.length) return doc.errors.map((e) => [e.code, e.message].filter(Boolean).join(': ')).join('; ');
  } catch { /* not JSON */ }
  return body.toString('utf8').slice(0, 200).trim();
}

function retryable(e: unknown): boolean {
  if (e instanceof BerthError) return e.kind === 'Unavailable';
  const code = (e as NodeJS.ErrnoException).code;
  return code !== undefined && ['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'ESOCKETTIMEDOUT', 'UND_ERR_SOCKET'].includes(code);
}

export class RegistryClient {
  readonly options: RegistryClientOptions;
  private readonly tokens = new TokenCache();
  /** The last challenge each auth host answered with. */
  private readonly challenges = new Map<string, Challenge>();

  constructor(options: RegistryClientOptions = {}) {
    this.options = options;
  }

  /** A repository to pull from (mirrors first for docker.io) or push to. */
  repository(ref: Reference, forPush = false): Repository {
    return new Repository(this, ref.path, endpointsFor(ref.domain, this.options, forPush), forPush);
  }

  private async credentialsFor(host: string): Promise<Credentials | undefined> {
    return this.options.credentials ? this.options.credentials(host) : undefined;
  }

  private rawRequest(method: string, url: string, headers: Record<string, string>, body?: Buffer): Promise<IncomingMessage> {
    const u = new URL(url);
    const fn = u.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = fn(u, { method, headers: { 'User-Agent': this.options.userAgent ?? 'berth/0.1', ...headers, ...(body ? { 'Content-Length': String(body.length) } : {}) } });
      req.setTimeout(this.options.timeoutMs ?? 60_000, () => req.destroy(Object.assign(new Error(`${method} ${url}: timed out`), { code: 'ETIMEDOUT' })));
      req.on('error', reject);
      req.on('response', (res) => {
        res.setTimeout(this.options.timeoutMs ?? 60_000, () => res.destroy(Object.assign(new Error(`${method} ${url}: body timed out`), { code: 'ETIMEDOUT' })));
        resolve(res);
      });
      req.end(body);
    });
  }

  private async fetchToken(ch: Challenge, authHost: string, scopes: string[]): Promise<string> {
    const realm = ch.params.realm;
    if (!realm) throw new BerthError('Unauthorized', `${authHost}: bearer challenge without realm`);
    const key = `${realm}|${ch.params.service ?? ''}|${scopeKey(scopes)}`;
    const cached = this.tokens.get(key);
    if (cached) return cached;
    const creds = await this.credentialsFor(authHost);
    const u = new URL(realm);
    let res: IncomingMessage;
    if (creds?.identityToken) {
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: creds.identityToken, client_id: 'berth', ...(ch.params.service ? { service: ch.params.service } : {}), scope: scopes.join(' ') });
      res = await this.rawRequest('POST', u.href, { 'Content-Type': 'application/x-www-form-urlencoded' }, Buffer.from(form.toString()));
    } else {
      if (ch.params.service) u.searchParams.set('service', ch.params.service);
      for (const s of scopes) u.searchParams.append('scope', s);
      const headers: Record<string, string> = {};
      if (creds) headers.Authorization = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
      res = await this.rawRequest('GET', u.href, headers);
    }
    const body = await readAll(res);
    if (res.statusCode !== 200) {
      throw new BerthError(kindForStatus(res.statusCode === 400 ? 401 : res.statusCode ?? 500), `get token from ${realm} for ${authHost}: ${res.statusCode}: ${registryErrorText(body)}`);
    }
    let parsed: TokenResponse;
    try {
      parsed = JSON.parse(body.toString('utf8')) as TokenResponse;
    } catch {
      throw new BerthError('Unauthorized', `token server ${realm}: response is not JSON`);
    }
    try {
      return this.tokens.put(key, parsed);
    } catch (e) {
      throw new BerthError('Unauthorized', `token server ${realm}: ${(e as Error).message}`);
    }
  }

  private async authorization(ep: Endpoint, scopes: string[]): Promise<string | undefined> {
    const ch = this.challenges.get(ep.authHost);
    if (!ch) return undefined;
    if (ch.scheme === 'bearer') return `Bearer ${await this.fetchToken(ch, ep.authHost, scopes)}`;
    if (ch.scheme === 'basic') {
      const creds = await this.credentialsFor(ep.authHost);
      if (creds) return `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
    }
    return undefined;
  }

  /**
   * One request with auth (answering a 401 challenge once), redirects (GET/HEAD) and
   * retries with back-off for GET/HEAD. Throws a typed error for unexpected statuses.
   */
  async send(ep: Endpoint, req: RegistryRequest): Promise<RegistryResponse> {
    const attempts = req.method === 'GET' || req.method === 'HEAD' ? (this.options.attempts ?? 4) : 1;
    let lastErr: unknown;
    for (let attempt = 0; attempt < attempts; attempt++) {
      if (attempt > 0) {
        const base = (this.options.backoffMs ?? 200) * 2 ** (attempt - 1);
        await sleep(base / 2 + Math.random() * base);
      }
      try {
        return await this.sendOnce(ep, req);
      } catch (e) {
        lastErr = e;
        if (!retryable(e)) throw e;
      }
    }
    if (lastErr instanceof BerthError) throw lastErr;
    throw new BerthError('Unavailable', `${req.method} ${ep.base}${req.path.startsWith('/') ? req.path : ''}: ${(lastErr as Error).message}`, { cause: lastErr });
  }

  private async sendOnce(ep: Endpoint, req: RegistryRequest): Promise<RegistryResponse> {
    let url = req.path.startsWith('/') ? ep.base + req.path : new URL(req.path, ep.base).href;
    let answeredChallenge = false;
    let sameOrigin = true;
    for (let hop = 0; hop < 8; hop++) {
      const headers: Record<string, string> = { ...req.headers };
      if (sameOrigin) {
        const auth = await this.authorization(ep, req.scopes);
        if (auth) headers.Authorization = auth;
      }
      const res = await this.rawRequest(req.method, url, headers, req.body);
      const status = res.statusCode ?? 0;
      if (status === 401 && sameOrigin && !answeredChallenge && res.headers['www-authenticate']) {
        res.resume();
        const challenges = parseWwwAuthenticate(String(res.headers['www-authenticate']));
        const ch = challenges.find((c) => c.scheme === 'bearer') ?? challenges.find((c) => c.scheme === 'basic');
        if (ch) {
          const before = this.challenges.get(ep.authHost);
          this.challenges.set(ep.authHost, ch);
          // A 401 with the same challenge we already answered means the credentials are wrong;
          // a request sent before the challenge was known (a concurrent one) is answered.
          if (!(headers.Authorization && before && JSON.stringify(before) === JSON.stringify(ch) && ch.scheme === 'basic')) {
            answeredChallenge = true;
            continue;
          }
        }
      }
      if ([301, 302, 303, 307, 308].includes(status) && res.headers.location && (req.method === 'GET' || req.method === 'HEAD')) {
        res.resume();
        const next = new URL(res.headers.location, url);
        sameOrigin = sameOrigin && next.origin === new URL(url).origin;
        url = next.href;
        continue;
      }
      if (req.expect.includes(status)) return { status, headers: res.headers, body: res, url };
      const body = req.method === 'HEAD' ? Buffer.alloc(0) : await readAll(res).catch(() => Buffer.alloc(0));
      const text = registryErrorText(body);
      throw new BerthError(kindForStatus(status), `${req.method} ${url}: ${status}${text ? `: ${text}` : ''}`);
    }
    throw new BerthError('System', `${req.method} ${url}: too many redirects or auth rounds`);
  }
}

/** Operations on one repository of one registry (trying each endpoint in order for reads). */
export class Repository {
  constructor(
    readonly client: RegistryClient,
    readonly path: string,
    readonly endpoints: Endpoint[],
    /** Opened for a push: every request asks for pull and push, so one token serves them all. */
    readonly forPush = false,
  ) {}

  private scopes(actions: ScopeAction[], extra: string[] = []): string[] {
    return [repositoryScope(this.path, this.forPush ? ['pull', 'push', ...actions.filter((a) => a !== 'pull' && a !== 'push')] : actions), ...extra];
  }

  /** Runs a read against each endpoint until one succeeds; the last error is thrown. */
  private async firstEndpoint<T>(fn: (ep: Endpoint) => Promise<T>): Promise<T> {
    let last: unknown;
    for (const ep of this.endpoints) {
      try {
        return await fn(ep);
      } catch (e) {
        last = e;
      }
    }
    throw last;
  }

  private pushEndpoint(): Endpoint {
    const ep = this.endpoints.find((e) => !e.mirror);
    if (!ep) throw invalidParameter(`no push endpoint for ${this.path}`);
    return ep;
  }

  /** GET a manifest by tag or digest; the digest is computed and, for a digest, checked. */
  async getManifest(reference: string, accept: string[] = MANIFEST_ACCEPT): Promise<FetchedManifest> {
    const byDigest = reference.includes(':');
    if (byDigest) validateDigest(reference);
    return this.firstEndpoint(async (ep) => {
      const res = await this.client.send(ep, { method: 'GET', path: `/v2/${this.path}/manifests/${reference}`, headers: { Accept: accept.join(', ') }, scopes: this.scopes(['pull']), expect: [200] });
      const bytes = await readAll(res.body, 4 * 1024 * 1024);
      const digest = sha256Digest(bytes);
      if (byDigest && digest !== reference) {
        throw invalidParameter(`manifest ${this.path}@${reference} from ${ep.base}: digest mismatch: content is ${digest}`);
      }
      const header = res.headers['docker-content-digest'];
      if (!byDigest && typeof header === 'string' && header.startsWith('sha256:') && header !== digest) {
        throw invalidParameter(`manifest ${this.path}:${reference} from ${ep.base}: Docker-Content-Digest ${header} does not match content ${digest}`);
      }
      let doc: Record<string, unknown>;
      try {
        doc = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
      } catch {
        throw invalidParameter(`manifest ${this.path}:${reference}: not JSON`);
      }
      const contentType = String(res.headers['content-type'] ?? '').split(';')[0]!.trim();
      const mediaType = sniffManifestMediaType(doc) ?? contentType;
      return { mediaType, digest, bytes };
    });
  }

  /** HEAD a manifest: its descriptor, or undefined when the registry does not have it. */
  async headManifest(reference: string): Promise<Descriptor | undefined> {
    try {
      return await this.firstEndpoint(async (ep) => {
        const res = await this.client.send(ep, { method: 'HEAD', path: `/v2/${this.path}/manifests/${reference}`, headers: { Accept: MANIFEST_ACCEPT.join(', ') }, scopes: this.scopes(['pull']), expect: [200] });
        res.body.resume();
        return {
          mediaType: String(res.headers['content-type'] ?? ''),
          digest: String(res.headers['docker-content-digest'] ?? ''),
          size: Number(res.headers['content-length'] ?? 0),
        };
      });
    } catch (e) {
      if (e instanceof BerthError && e.kind === 'NotFound') return undefined;
      throw e;
    }
  }

  /** A blob's bytes from `offset` (Range); `offset` in the result is where they really start. */
  async openBlob(digest: string, offset = 0): Promise<{ stream: Readable; offset: number; size: number | undefined }> {
    validateDigest(digest);
    return this.firstEndpoint(async (ep) => {
      const headers: Record<string, string> = {};
      if (offset > 0) headers.Range = `bytes=${offset}-`;
      const res = await this.client.send(ep, { method: 'GET', path: `/v2/${this.path}/blobs/${digest}`, headers, scopes: this.scopes(['pull']), expect: [200, 206] });
      const start = res.status === 206 ? Number(/bytes (\d+)-/.exec(String(res.headers['content-range'] ?? ''))?.[1] ?? offset) : 0;
      const len = res.headers['content-length'] !== undefined ? Number(res.headers['content-length']) : undefined;
      return { stream: res.body, offset: start, size: len !== undefined ? start + len : undefined };
    });
  }

  /** The blob's size when the registry has it in this repository. */
  async blobExists(digest: string): Promise<number | undefined> {
    validateDigest(digest);
    try {
      const ep = this.pushEndpoint();
      const res = await this.client.send(ep, { method: 'HEAD', path: `/v2/${this.path}/blobs/${digest}`, scopes: this.scopes(['pull', 'push']), expect: [200] });
      res.body.resume();
      return Number(res.headers['content-length'] ?? 0);
    } catch (e) {
      if (e instanceof BerthError && e.kind === 'NotFound') return undefined;
      throw e;
    }
  }

  /**
   * Cross-repository mount from another repository of the same registry. True when the
   * registry mounted it; false when it started an ordinary upload instead (cancelled here).
   */
  async mountBlob(digest: string, fromPath: string): Promise<boolean> {
    validateDigest(digest);
    const ep = this.pushEndpoint();
    const res = await this.client.send(ep, {
      method: 'POST',
      path: `/v2/${this.path}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(fromPath)}`,
      scopes: this.scopes(['pull', 'push'], [repositoryScope(fromPath, ['pull'])]),
      expect: [201, 202],
    });
    res.body.resume();
    if (res.status === 201) return true;
    const loc = res.headers.location;
    if (loc) await this.client.send(ep, { method: 'DELETE', path: loc, scopes: this.scopes(['pull', 'push']), expect: [204, 200, 404] }).then((r) => r.body.resume()).catch(() => undefined);
    return false;
  }

  /**
   * Uploads a blob: monolithic (POST then PUT with the body) when `chunkSize` is not
   * given, else PATCH chunks of that size with Content-Range and a closing PUT.
   */
  async uploadBlob(desc: { digest: string; size: number }, data: Buffer | (() => AsyncIterable<Buffer>), chunkSize?: number): Promise<void> {
    validateDigest(desc.digest);
    const ep = this.pushEndpoint();
    const scopes = this.scopes(['pull', 'push']);
    const start = await this.client.send(ep, { method: 'POST', path: `/v2/${this.path}/blobs/uploads/`, scopes, expect: [202] });
    start.body.resume();
    let location = String(start.headers.location ?? '');
    if (!location) throw new BerthError('System', `upload to ${this.path}: registry gave no Location`);
    const withDigest = (loc: string): string => {
      const u = new URL(loc, ep.base);
      u.searchParams.set('digest', desc.digest);
      return u.href;
    };
    if (chunkSize === undefined && Buffer.isBuffer(data)) {
      const res = await this.client.send(ep, { method: 'PUT', path: withDigest(location), headers: { 'Content-Type': 'application/octet-stream' }, body: data, scopes, expect: [201] });
      res.body.resume();
      return this.checkCommitted(res, desc.digest);
    }
    const size = chunkSize ?? 8 * 1024 * 1024;
    const source = Buffer.isBuffer(data) ? (async function* () { yield data; })() : data();
    let offset = 0;
    let pending: Buffer = Buffer.alloc(0);
    const sendChunk = async (chunk: Buffer): Promise<void> => {
      const res = await this.client.send(ep, {
        method: 'PATCH',
        path: location,
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${offset}-${offset + chunk.length - 1}` },
        body: chunk,
        scopes,
        expect: [202],
      });
      res.body.resume();
      offset += chunk.length;
      if (res.headers.location) location = String(res.headers.location);
    };
    for await (const piece of source) {
      pending = pending.length ? Buffer.concat([pending, piece]) : piece;
      while (pending.length >= size) {
        await sendChunk(pending.subarray(0, size));
        pending = pending.subarray(size);
      }
    }
    if (pending.length) await sendChunk(pending);
    if (offset !== desc.size) throw invalidParameter(`upload of ${desc.digest}: sent ${offset} bytes, descriptor says ${desc.size}`);
    const res = await this.client.send(ep, { method: 'PUT', path: withDigest(location), scopes, expect: [201] });
    res.body.resume();
    return this.checkCommitted(res, desc.digest);
  }

  private checkCommitted(res: RegistryResponse, digest: string): void {
    const got = res.headers['docker-content-digest'];
    if (typeof got === 'string' && got !== '' && got !== digest) {
      throw invalidParameter(`upload of ${digest}: registry committed ${got}`);
    }
  }

  /** PUT a manifest under a tag or digest; returns the digest the registry reports. */
  async putManifest(reference: string, mediaType: string, bytes: Buffer): Promise<string> {
    const ep = this.pushEndpoint();
    const digest = sha256Digest(bytes);
    const res = await this.client.send(ep, { method: 'PUT', path: `/v2/${this.path}/manifests/${reference}`, headers: { 'Content-Type': mediaType }, body: bytes, scopes: this.scopes(['pull', 'push']), expect: [201, 200] });
    res.body.resume();
    const got = res.headers['docker-content-digest'];
    if (typeof got === 'string' && got !== '' && got !== digest) {
      throw invalidParameter(`manifest ${this.path}:${reference}: registry stored ${got}, we sent ${digest}`);
    }
    return digest;
  }
}

/** A readable of a buffer (for callers building sources). */
export function bufferSource(data: Buffer): Readable {
  return Readable.from([data]);
}
