// berthd's HTTP server: node:http over a unix socket (mode 0660, group `berth` when it
// exists) and, optionally, TCP with TLS. Every request goes through the same steps as in
// dockerd: strip and record the `/v1.NN` prefix, find the route (unknown path or method →
// 404 "page not found"), set the version headers, refuse versions outside [min, max], run
// the handler, and map any error it throws to a status in one place (errors.ts).

import { chmod, chown, lstat, mkdir, readFile, rename, unlink } from 'node:fs/promises';
import { createServer as createHttpServer, ServerResponse, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { dirname } from 'node:path';
import { Readable, type Duplex } from 'node:stream';
import { BerthError, invalidParameter, systemError } from '../errors.js';
import type { EngineBackend } from './backend.js';
import { checkJsonContentType, JSON_BODY_LIMIT, parseJsonBody, readAll } from './body.js';
import type { RequestContext } from './context.js';
import { PAGE_NOT_FOUND, statusForError, writeError } from './errors.js';
import { hijackResponse, hijackSocket, UpgradedRequestBody, type HijackedConnection, type HijackOptions } from './hijack.js';
import { acceptWebSocket, websocketKey, type WebSocketOptions } from './websocket.js';
import { Router, splitVersionPrefix, type Route } from './router.js';
import { allRoutes } from './routes/index.js';
import { API_VERSION, BERTH_VERSION, MIN_API_VERSION, unsupportedVersionMessage, versionLessThan } from './version.js';

export interface ApiLogger {
  (level: 'debug' | 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>): void;
}

export interface ApiServerOptions {
  /** Berth's version for the `Server` header (`Berth/<version> (linux)`). */
  version?: string;
  /** Sent as `Docker-Experimental`. */
  experimental?: boolean;
  /** The highest API version served (default 1.47). */
  maxApiVersion?: string;
  /** The lowest API version accepted (default 1.24). */
  minApiVersion?: string;
  /** Group owning unix sockets; default `berth` when it exists; null for none. */
  socketGroup?: string | null;
  /** Mode of unix sockets; default 0o660. */
  socketMode?: number;
  /** Routes to serve instead of the standard tables (tests, later the CRI shim). */
  routes?: Route[];
  logger?: ApiLogger;
}

export interface TlsOptions {
  cert: string | Buffer;
  key: string | Buffer;
  /** CA bundle; when set, clients must present a certificate it signed (--tlsverify). */
  ca?: string | Buffer;
}

export interface TcpListenOptions {
  host: string;
  port: number;
  tls?: TlsOptions;
}

export type ListenTarget = string | TcpListenOptions;

export interface ListenAddress {
  /** `unix:///run/berth/berth.sock` or `tcp://127.0.0.1:2376`. */
  url: string;
  path?: string;
  host?: string;
  port?: number;
}

export interface ApiServer {
  /** Listen on a unix socket path (or `unix://…`) or on TCP (TLS when `tls` is given). */
  listen(target: ListenTarget): Promise<ListenAddress>;
  /** Stop listening, end hijacked and idle connections, remove unix sockets. */
  close(): Promise<void>;
  readonly router: Router;
}

const noopLogger: ApiLogger = () => {};

export function createApiServer(backend: EngineBackend, opts: ApiServerOptions = {}): ApiServer {
  const router = new Router(opts.routes ?? allRoutes(backend));
  const log = opts.logger ?? noopLogger;
  const maxVersion = opts.maxApiVersion ?? API_VERSION;
  const minVersion = opts.minApiVersion ?? MIN_API_VERSION;
  const commonHeaders: Record<string, string> = {
    Server: `Berth/${opts.version ?? BERTH_VERSION} (linux)`,
    'Api-Version': maxVersion,
    Ostype: 'linux',
    'Docker-Experimental': opts.experimental ? 'true' : 'false',
  };
  const servers: { server: Server; unixPath?: string }[] = [];
  const sockets = new Set<Duplex>();

  async function dispatch(req: IncomingMessage, res: ServerResponse, upgrade?: { socket: Duplex; head: Buffer }): Promise<void> {
    const method = req.method ?? 'GET';
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const rawPath = q === -1 ? rawUrl : rawUrl.slice(0, q);
    const query = new URLSearchParams(q === -1 ? '' : rawUrl.slice(q + 1));
    let decoded: string;
    try {
      decoded = decodeURIComponent(rawPath);
    } catch {
      writeError(res, invalidParameter(`invalid URL escape in ${JSON.stringify(rawPath)}`));
      return;
    }
    const { version: requestedVersion, path } = splitVersionPrefix(decoded);
    const match = router.match(method, path);
    if (!match) {
      writeError(res, new BerthError('NotFound', PAGE_NOT_FOUND));
      return;
    }
    for (const [k, v] of Object.entries(commonHeaders)) res.setHeader(k, v);
    const apiVersion = requestedVersion ?? maxVersion;
    const started = Date.now();

    // The signal is made when a handler asks for it: most requests never do.
    let abort: AbortController | undefined;
    let gone = false;
    const goneNow = (): void => {
      gone = true;
      abort?.abort();
    };
    if (upgrade) upgrade.socket.once('close', goneNow);
    else res.once('close', () => !res.writableFinished && goneNow());

    const upgradedBody = upgrade ? new UpgradedRequestBody(req, upgrade.socket, upgrade.head) : undefined;
    let bodyConsumed = false;
    let hijacked: HijackedConnection | undefined;

    const readBody = async (limit: number): Promise<Buffer> => {
      if (bodyConsumed) return Buffer.alloc(0);
      bodyConsumed = true;
      return upgradedBody ? upgradedBody.read(limit) : readAll(req, limit);
    };

    // The response lets go of an upgraded socket the handler takes over; close() ends it.
    const adopt = (socket: Duplex): void => {
      res.detachSocket(socket as Socket);
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    };

    const ctx: RequestContext = {
      req,
      res,
      method,
      path,
      params: match.params,
      query,
      apiVersion,
      requestedVersion,
      get signal() {
        if (!abort) {
          abort = new AbortController();
          if (gone) abort.abort();
        }
        return abort.signal;
      },
      upgrade: upgrade !== undefined,
      body: (limit = JSON_BODY_LIMIT) => readBody(limit),
      bodyStream: () => {
        if (upgradedBody) {
          const r = new Readable({ read() {} });
          readBody(JSON_BODY_LIMIT).then(
            (b) => {
              r.push(b);
              r.push(null);
            },
            (e: unknown) => r.destroy(e as Error),
          );
          return r;
        }
        bodyConsumed = true;
        return req;
      },
      json: async () => {
        const length = req.headers['content-length'];
        const hasBody = req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
        checkJsonContentType(req.headers['content-type'], hasBody);
        if (!hasBody) return undefined;
        return parseJsonBody(await readBody(JSON_BODY_LIMIT));
      },
      hijack: (hopts: HijackOptions) => {
        if (hijacked) throw new Error('connection already hijacked');
        if (upgrade) {
          adopt(upgrade.socket);
          hijacked = hijackSocket(upgrade.socket, { ...hopts, apiVersion, extraHeaders: commonHeaders });
        } else {
          hijacked = hijackResponse(req, res, { ...hopts, bodyConsumed });
        }
        return hijacked;
      },
      websocket: (wopts: Omit<WebSocketOptions, 'extraHeaders'>) => {
        if (hijacked) throw new Error('connection already hijacked');
        websocketKey(req); // a 400 before anything is written when it is not a handshake
        if (!upgrade) throw invalidParameter('not websocket protocol: the request must be a GET with "Connection: Upgrade" and "Upgrade: websocket"');
        adopt(upgrade.socket);
        hijacked = acceptWebSocket(req, upgrade.socket, { ...wopts, extraHeaders: commonHeaders });
        return hijacked;
      },
      get hijacked() {
        return hijacked !== undefined;
      },
    };

    try {
      const unsupported = unsupportedVersionMessage(apiVersion, minVersion, maxVersion);
      if (unsupported !== undefined) throw invalidParameter(unsupported);
      if (match.route.minVersion !== undefined && versionLessThan(apiVersion, match.route.minVersion)) {
        throw invalidParameter(`${match.route.method} ${match.route.pattern} requires minimum API version ${match.route.minVersion}`);
      }
      await match.route.handler(ctx);
      if (hijacked) {
        hijacked.close();
      } else if (!res.writableEnded) {
        if (!res.headersSent) res.writeHead(200);
        res.end();
      }
    } catch (e) {
      const status = statusForError(e);
      if (status >= 500) {
        log('error', `handler for ${method} ${match.route.pattern} returned error`, { url: rawUrl, status, error: String(e) });
      }
      if (gone) return;
      if (hijacked) {
        hijacked.fail(e);
        hijacked.close();
      } else {
        writeError(res, e, requestedVersion);
      }
    } finally {
      log('debug', `${method} ${rawUrl}`, { ms: Date.now() - started });
    }
  }

  function onRequest(req: IncomingMessage, res: ServerResponse): void {
    void dispatch(req, res).catch((e: unknown) => {
      log('error', 'request failed', { error: String(e) });
      res.destroy();
    });
  }

  function onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    // node:http hands upgrade requests over without a response object: make one on the
    // socket, so every route answers the same way whether or not the client asked to upgrade.
    const res = new ServerResponse(req);
    res.shouldKeepAlive = false;
    res.assignSocket(socket as Socket);
    res.once('finish', () => {
      if (res.socket) res.detachSocket(res.socket);
      socket.end();
    });
    socket.on('error', () => socket.destroy());
    void dispatch(req, res, { socket, head }).catch((e: unknown) => {
      log('error', 'request failed', { error: String(e) });
      socket.destroy();
    });
  }

  /** node:https (and tls) is loaded only for a TLS listener: ~3.5 MiB a daemon on a socket does not need. */
  async function newServer(tls?: TlsOptions): Promise<Server> {
    const server = tls
      ? (await import('node:https')).createServer(
          {
            cert: tls.cert,
            key: tls.key,
            minVersion: 'TLSv1.2',
            ...(tls.ca !== undefined ? { ca: tls.ca, requestCert: true, rejectUnauthorized: true } : {}),
          },
          onRequest,
        )
      : createHttpServer(onRequest);
    server.on('upgrade', onUpgrade);
    // dockerd has no request timeouts: uploads (image load, archive) and long polls can be slow.
    server.requestTimeout = 0;
    server.on('connection', (s: Socket) => {
      sockets.add(s);
      s.once('close', () => sockets.delete(s));
    });
    server.on('secureConnection', (s: Socket) => {
      sockets.add(s);
      s.once('close', () => sockets.delete(s));
    });
    server.on('clientError', (_e, s: Duplex) => {
      if (s.writable) s.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      else s.destroy();
    });
    return server;
  }

  async function listenUnix(path: string): Promise<ListenAddress> {
    await mkdir(dirname(path), { recursive: true, mode: 0o755 });
    await removeStaleSocket(path);
    // Listen on a temporary name and rename once mode and group are set, so the socket is
    // never reachable with the umask's permissions.
    const tmp = `${path}.${process.pid}.tmp`;
    await removeStaleSocket(tmp);
    const server = await newServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(tmp, () => {
        server.off('error', reject);
        resolve();
      });
    });
    try {
      await chmod(tmp, opts.socketMode ?? 0o660);
      const group = opts.socketGroup === undefined ? 'berth' : opts.socketGroup;
      if (group !== null) {
        const gid = await lookupGroup(group);
        if (gid !== undefined) await chown(tmp, -1, gid);
        else if (opts.socketGroup !== undefined) log('warn', `group ${group} not found; ${path} keeps its owner's group`);
      }
      await rename(tmp, path);
    } catch (e) {
      server.close();
      throw systemError(`set up API socket ${path}: ${(e as Error).message}`, e);
    }
    servers.push({ server, unixPath: path });
    return { url: `unix://${path}`, path };
  }

  async function listenTcp(t: TcpListenOptions): Promise<ListenAddress> {
    const server = await newServer(t.tls);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(t.port, t.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    servers.push({ server });
    const addr = server.address() as AddressInfo;
    const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    return { url: `tcp://${host}:${addr.port}`, host: addr.address, port: addr.port };
  }

  return {
    router,
    listen(target) {
      if (typeof target === 'string') return listenUnix(target.replace(/^unix:\/\//, ''));
      return listenTcp(target);
    },
    async close() {
      const closing = servers.splice(0).map(
        ({ server, unixPath }) =>
          new Promise<void>((resolve) => {
            server.close(() => resolve());
            server.closeIdleConnections();
          }).then(async () => {
            if (unixPath !== undefined) await unlink(unixPath).catch(() => {});
          }),
      );
      for (const s of sockets) s.destroy();
      sockets.clear();
      await Promise.all(closing);
    },
  };
}

async function removeStaleSocket(path: string): Promise<void> {
  let st;
  try {
    st = await lstat(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw systemError(`stat ${path}: ${(e as Error).message}`, e);
  }
  if (!st.isSocket()) throw invalidParameter(`${path} exists and is not a socket`);
  await unlink(path);
}

/** The gid of a group in /etc/group, or undefined. */
export async function lookupGroup(name: string, groupFile = '/etc/group'): Promise<number | undefined> {
  let text: string;
  try {
    text = await readFile(groupFile, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const [n, , gid] = line.split(':');
    if (n === name && gid !== undefined && /^\d+$/.test(gid)) return Number(gid);
  }
  return undefined;
}
