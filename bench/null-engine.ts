// The null engine: a Docker API server that does no container work, for bench/engine-run.ts.
// It answers what the docker CLI sends for `run [--rm|-d] …`, `exec …` and `rm -f …` at once,
// so that the CLI's time against it is the floor of any engine driven by that CLI: the CLI's
// own start, its requests on the socket and its stream handling, with an engine that takes
// no time. node:http on a unix socket, nothing else.
//
// Its model of a container is just enough for those commands to exit 0: a started container
// exits with status 0 at once (its attach streams end, its waits are answered, `--rm`
// removes it), except `sleep …`, which runs until it is removed with force, so that `exec`
// finds it running; an exec prints nothing and exits 0.
//
// It runs as a process of its own, because the benchmark times the CLI with spawnSync,
// which blocks the benchmark's own event loop: NullEngine.start() spawns
// `node dist/bench/null-engine.js <socket>` and waits for its "ready" line.

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { hijackResponse, hijackSocket, UpgradedRequestBody, type HijackedConnection } from '../src/api/hijack.js';
import { API_VERSION, MIN_API_VERSION } from '../src/api/version.js';

type WaitCondition = 'not-running' | 'next-exit' | 'removed';

interface Container {
  id: string;
  name: string;
  image: string;
  cmd: string[];
  tty: boolean;
  autoRemove: boolean;
  status: 'created' | 'running' | 'exited' | 'removed';
  created: string;
  /** Hijacked attach connections, ended when the container exits. */
  attaches: Set<HijackedConnection>;
  waiters: { res: ServerResponse; condition: WaitCondition }[];
}

interface Exec {
  id: string;
  container: Container;
  running: boolean;
  exitCode: number | null;
}

/** What the client sent, the version prefix taken off the path. */
interface Call {
  method: string;
  path: string;
  query: URLSearchParams;
  apiVersion: string;
}

class NotFound extends Error {}
class Conflict extends Error {}

const HEADERS = { Server: 'null-engine', 'Api-Version': API_VERSION, Ostype: 'linux', 'Docker-Experimental': 'false' };

function parseCall(req: IncomingMessage): Call {
  const url = new URL(req.url ?? '/', 'http://null');
  const m = /^\/v(\d+\.\d+)(\/.*)$/.exec(url.pathname);
  return { method: req.method ?? 'GET', path: m ? m[2]! : url.pathname, query: url.searchParams, apiVersion: m ? m[1]! : API_VERSION };
}

function send(res: ServerResponse, status: number, body?: unknown): void {
  const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  res.writeHead(status, { ...HEADERS, ...(data ? { 'Content-Type': 'application/json', 'Content-Length': data.length } : {}) });
  res.end(data);
}

/** The engine's headers on a response that another module writes the head of. */
function withHeaders(res: ServerResponse): ServerResponse {
  for (const [k, v] of Object.entries(HEADERS)) res.setHeader(k, v);
  return res;
}

const fail = (res: ServerResponse, status: number, message: string): void => send(res, status, { message });

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return parseJson(Buffer.concat(chunks));
}

function parseJson(b: Buffer): Record<string, unknown> {
  if (b.length === 0) return {};
  const v: unknown = JSON.parse(b.toString());
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new SyntaxError('the request body is not a JSON object');
  return v as Record<string, unknown>;
}

export class NullEngineServer {
  private readonly containers = new Map<string, Container>();
  private readonly execs = new Map<string, Exec>();
  private readonly server = createServer((req, res) => {
    this.request(req, res).catch((e: unknown) => {
      if (!res.headersSent) fail(res, e instanceof NotFound ? 404 : e instanceof Conflict ? 409 : e instanceof SyntaxError ? 400 : 500, (e as Error).message);
      else res.destroy();
    });
  });

  constructor() {
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      this.upgrade(req, socket, head).catch((e: unknown) => {
        const status = e instanceof NotFound ? '404 Not Found' : e instanceof Conflict ? '409 Conflict' : e instanceof SyntaxError ? '400 Bad Request' : '500 Internal Server Error';
        const body = JSON.stringify({ message: (e as Error).message });
        socket.end(`HTTP/1.1 ${status}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
      });
    });
  }

  listen(socket: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(socket, () => resolve());
    });
  }

  close(): void {
    for (const c of this.containers.values()) for (const h of c.attaches) h.close();
    this.server.closeAllConnections();
    this.server.close();
  }

  private find(ref: string): Container {
    const c = this.containers.get(ref) ?? [...this.containers.values()].find((x) => x.name === ref || (ref.length >= 3 && x.id.startsWith(ref)));
    if (!c) throw new NotFound(`No such container: ${ref}`);
    return c;
  }

  private findExec(id: string): Exec {
    const e = this.execs.get(id);
    if (!e) throw new NotFound(`No such exec instance: ${id}`);
    return e;
  }

  private async request(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { method, path, query, apiVersion } = parseCall(req);
    let m: RegExpExecArray | null;
    if (path === '/_ping' && (method === 'GET' || method === 'HEAD')) {
      res.writeHead(200, { ...HEADERS, 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': 2, 'Cache-Control': 'no-cache, no-store, must-revalidate' });
      res.end(method === 'HEAD' ? undefined : 'OK');
    } else if (path === '/version' && method === 'GET') {
      send(res, 200, { Version: '0.0.0-null', ApiVersion: API_VERSION, MinAPIVersion: MIN_API_VERSION, Os: 'linux', Arch: 'amd64', KernelVersion: '', GitCommit: '', GoVersion: '', BuildTime: '', Components: [] });
    } else if (path === '/containers/create' && method === 'POST') {
      this.create(res, query.get('name') ?? '', await readJson(req));
    } else if ((m = /^\/containers\/([^/]+)\/json$/.exec(path)) && method === 'GET') {
      send(res, 200, this.inspect(this.find(m[1]!)));
    } else if ((m = /^\/containers\/([^/]+)\/start$/.exec(path)) && method === 'POST') {
      req.resume();
      this.start(res, this.find(m[1]!));
    } else if ((m = /^\/containers\/([^/]+)\/wait$/.exec(path)) && method === 'POST') {
      req.resume();
      this.wait(res, this.find(m[1]!), query.get('condition') ?? 'not-running');
    } else if ((m = /^\/containers\/([^/]+)\/attach$/.exec(path)) && method === 'POST') {
      // Not upgraded: dockerd's 200 with the raw stream until the connection closes.
      const c = this.find(m[1]!);
      this.attach(c, hijackResponse(req, withHeaders(res), { multiplexed: !c.tty, bodyConsumed: false }));
    } else if ((m = /^\/containers\/([^/]+)$/.exec(path)) && method === 'DELETE') {
      this.remove(res, this.find(m[1]!), query.get('force') === '1' || query.get('force') === 'true');
    } else if ((m = /^\/containers\/([^/]+)\/exec$/.exec(path)) && method === 'POST') {
      this.execCreate(res, this.find(m[1]!), await readJson(req));
    } else if ((m = /^\/exec\/([^/]+)\/start$/.exec(path)) && method === 'POST') {
      const e = this.findExec(m[1]!);
      const body = await readJson(req);
      if (e.container.status !== 'running') throw new Conflict(`container ${e.container.id} is not running`);
      if (body.Detach === true) return this.execRun(e, () => send(res, 200));
      const h = hijackResponse(req, withHeaders(res), { multiplexed: body.Tty !== true, bodyConsumed: true });
      this.execRun(e, () => h.close());
    } else if ((m = /^\/exec\/([^/]+)\/json$/.exec(path)) && method === 'GET') {
      const e = this.findExec(m[1]!);
      send(res, 200, { ID: e.id, ContainerID: e.container.id, Running: e.running, ExitCode: e.exitCode, Pid: 0, OpenStdin: false, OpenStdout: true, OpenStderr: true, CanRemove: false, DetachKeys: '', ProcessConfig: { tty: false, entrypoint: 'true', arguments: [], privileged: false } });
    } else {
      req.resume();
      fail(res, 404, `page not found (null engine: ${method} ${path}, API ${apiVersion})`);
    }
  }

  /** Hijacked attach and exec start: the 101, then the (empty) stream until the process ends. */
  private async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const { method, path, apiVersion } = parseCall(req);
    const body = new UpgradedRequestBody(req, socket, head);
    let m: RegExpExecArray | null;
    const switched = (tty: boolean): HijackedConnection => hijackSocket(socket, { multiplexed: !tty, apiVersion, extraHeaders: HEADERS });
    if ((m = /^\/containers\/([^/]+)\/attach$/.exec(path)) && method === 'POST') {
      const c = this.find(m[1]!);
      await body.read(1 << 20);
      this.attach(c, switched(c.tty));
    } else if ((m = /^\/exec\/([^/]+)\/start$/.exec(path)) && method === 'POST') {
      const e = this.findExec(m[1]!);
      const opts = parseJson(await body.read(1 << 20));
      if (e.container.status !== 'running') throw new Conflict(`container ${e.container.id} is not running`);
      const h = switched(opts.Tty === true);
      this.execRun(e, () => h.close());
    } else {
      throw new NotFound(`page not found (null engine: upgrade of ${method} ${path})`);
    }
  }

  private create(res: ServerResponse, name: string, body: Record<string, unknown>): void {
    if (typeof body.Image !== 'string' || body.Image === '') return fail(res, 400, 'Image: expected the image name (a string)');
    if (name !== '' && !/^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name)) return fail(res, 400, `Invalid container name (${name})`);
    const host = (body.HostConfig ?? {}) as Record<string, unknown>;
    const id = randomBytes(32).toString('hex');
    const finalName = name.replace(/^\//, '') || `null_${id.slice(0, 12)}`;
    if ([...this.containers.values()].some((c) => c.name === finalName)) return fail(res, 409, `Conflict. The container name "/${finalName}" is already in use`);
    const cmd = Array.isArray(body.Cmd) ? (body.Cmd as unknown[]).map(String) : [];
    this.containers.set(id, { id, name: finalName, image: body.Image, cmd, tty: body.Tty === true, autoRemove: host.AutoRemove === true, status: 'created', created: new Date().toISOString(), attaches: new Set(), waiters: [] });
    send(res, 201, { Id: id, Warnings: [] });
  }

  private inspect(c: Container): unknown {
    const running = c.status === 'running';
    return {
      Id: c.id,
      Name: `/${c.name}`,
      Created: c.created,
      Path: c.cmd[0] ?? '',
      Args: c.cmd.slice(1),
      State: { Status: c.status === 'removed' ? 'exited' : c.status, Running: running, Paused: false, Restarting: false, OOMKilled: false, Dead: false, Pid: running ? 1 : 0, ExitCode: 0, Error: '', StartedAt: c.created, FinishedAt: c.created },
      Image: c.image,
      Config: { Image: c.image, Cmd: c.cmd, Tty: c.tty, AttachStdout: true, AttachStderr: true, OpenStdin: false },
      HostConfig: { AutoRemove: c.autoRemove, NetworkMode: 'none' },
      Mounts: [],
      NetworkSettings: { Networks: {} },
    };
  }

  private start(res: ServerResponse, c: Container): void {
    if (c.status === 'running') return send(res, 304);
    if (c.status !== 'created' && c.status !== 'exited') return fail(res, 409, `container ${c.id} is ${c.status}`);
    c.status = 'running';
    send(res, 204);
    // `sleep` runs until removed with force; anything else exits 0 once the 204 has gone.
    if (c.cmd[0] !== 'sleep') setImmediate(() => this.exited(c));
  }

  private exited(c: Container): void {
    c.status = 'exited';
    for (const h of c.attaches) h.close();
    c.attaches.clear();
    this.answerWaits(c, (w) => w !== 'removed');
    if (c.autoRemove) this.removed(c);
  }

  private removed(c: Container): void {
    c.status = 'removed';
    this.containers.delete(c.id);
    for (const h of c.attaches) h.close();
    c.attaches.clear();
    this.answerWaits(c, () => true);
  }

  private answerWaits(c: Container, which: (w: WaitCondition) => boolean): void {
    const left: Container['waiters'] = [];
    for (const w of c.waiters) {
      if (which(w.condition)) w.res.end(`${JSON.stringify({ Error: null, StatusCode: 0 })}\n`);
      else left.push(w);
    }
    c.waiters = left;
  }

  private wait(res: ServerResponse, c: Container, condition: string): void {
    if (condition !== 'not-running' && condition !== 'next-exit' && condition !== 'removed') return fail(res, 400, `condition: expected not-running, next-exit or removed, got ${JSON.stringify(condition)}`);
    // As dockerd: the status line at once, the body when the condition is met.
    res.writeHead(200, { ...HEADERS, 'Content-Type': 'application/json' });
    res.flushHeaders();
    c.waiters.push({ res, condition });
    if (condition === 'not-running' && c.status !== 'running') this.answerWaits(c, (w) => w === 'not-running');
  }

  private attach(c: Container, h: HijackedConnection): void {
    if (c.status === 'exited' || c.status === 'removed') return h.close();
    c.attaches.add(h);
    void h.closed.then(() => c.attaches.delete(h));
    h.stdin.resume(); // stdin, if any: nothing reads it
  }

  private remove(res: ServerResponse, c: Container, force: boolean): void {
    if (c.status === 'running' && !force) return fail(res, 409, `You cannot remove a running container ${c.id}. Stop the container before attempting removal or force remove`);
    for (const [id, e] of this.execs) if (e.container === c) this.execs.delete(id);
    this.removed(c);
    send(res, 204);
  }

  private execCreate(res: ServerResponse, c: Container, body: Record<string, unknown>): void {
    if (!Array.isArray(body.Cmd) || body.Cmd.length === 0) return fail(res, 400, 'Cmd: expected a non-empty array of strings');
    if (c.status !== 'running') return fail(res, 409, `container ${c.id} is not running`);
    const id = randomBytes(32).toString('hex');
    this.execs.set(id, { id, container: c, running: false, exitCode: null });
    send(res, 201, { Id: id });
  }

  /** The exec's process (its container checked running): it exits 0 before `done` ends the stream. */
  private execRun(e: Exec, done: () => void): void {
    e.running = false;
    e.exitCode = 0;
    done();
  }
}

/** The null engine in a process of its own, listening on `<dir>/null-engine.sock`. */
export class NullEngine {
  private constructor(
    readonly socket: string,
    private readonly child: ChildProcess,
  ) {}

  static async start(dir: string, timeoutMs = 30_000): Promise<NullEngine> {
    const socket = join(dir, 'null-engine.sock');
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), socket], { stdio: ['ignore', 'pipe', 'inherit'] });
    const engine = new NullEngine(socket, child);
    let timer: NodeJS.Timeout | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        let out = '';
        child.stdout!.on('data', (c: Buffer) => {
          out += c.toString();
          if (out.includes('ready\n')) resolve();
        });
        child.once('exit', (code, signal) => reject(new Error(`null engine exited (${code ?? signal}) before it was ready`)));
        timer = setTimeout(() => reject(new Error(`null engine: not ready on ${socket} after ${timeoutMs} ms`)), timeoutMs);
      });
    } catch (e) {
      await engine.stop();
      throw e;
    } finally {
      clearTimeout(timer);
    }
    return engine;
  }

  async stop(): Promise<void> {
    const c = this.child;
    if (c.exitCode === null && c.signalCode === null) {
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      await exited;
    }
    rmSync(this.socket, { force: true });
  }
}

async function serve(socket: string): Promise<void> {
  rmSync(socket, { force: true });
  const server = new NullEngineServer();
  await server.listen(socket);
  process.once('SIGTERM', () => {
    server.close();
    rmSync(socket, { force: true });
    process.exit(0);
  });
  process.stdout.write('ready\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const socket = process.argv[2];
  if (!socket) {
    console.error('usage: node dist/bench/null-engine.js <unix socket path>');
    process.exit(2);
  }
  await serve(socket);
}
