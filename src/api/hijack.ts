// Connection hijacking for attach and exec start. The client asks for it with
// `Connection: Upgrade` and `Upgrade: tcp`; dockerd then answers
//
//   HTTP/1.1 101 UPGRADED
//   Content-Type: application/vnd.docker.raw-stream   (multiplexed-stream without a tty, API ≥ 1.42)
//   Connection: Upgrade
//   Upgrade: tcp
//
// and the connection becomes a raw byte stream both ways: the client's stdin in, the
// container's output out (framed by stdcopy when there is no tty). A client that did not ask
// to upgrade gets `200 OK` with Content-Type application/vnd.docker.raw-stream and the same
// stream until the connection closes. The Go client and dockerode require the 101.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable, Writable, type Duplex } from 'node:stream';
import { errorMessage, invalidParameter } from '../errors.js';
import { socketFd } from '../sys/socket-fd.js';
import { createStdWriter, StreamId } from './stdcopy.js';
import { versionAtLeast } from './version.js';

export const MEDIA_TYPE_RAW_STREAM = 'application/vnd.docker.raw-stream';
export const MEDIA_TYPE_MULTIPLEXED_STREAM = 'application/vnd.docker.multiplexed-stream';

export interface HijackOptions {
  /** Frame stdout and stderr with stdcopy (no tty). */
  multiplexed: boolean;
}

export interface HijackedConnection {
  /** What the client sends (stdin). Ends when the client half-closes. */
  readonly stdin: Readable;
  /** The container's stdout: framed as stream 1 when multiplexed. */
  readonly stdout: Writable;
  /** The container's stderr: framed as stream 2 when multiplexed; stdout otherwise. */
  readonly stderr: Writable;
  readonly contentType: string;
  /** Report an error in-band: the status line has gone, so it is written to stdout. */
  fail(e: unknown): void;
  /** End Berth's side of the stream (a half-close: the client reads EOF). */
  close(): void;
  /**
   * Gives the connection to another process: once what was written so far (the 101) has
   * gone, `send` is given the socket's descriptor to pass on (SCM_RIGHTS) and says whether
   * it did; then Berth's copy is closed without a shutdown, the client's stream goes on
   * with the receiver, and close() does nothing. False, the connection untouched, where it
   * cannot be handed over (a TLS or a node:http response transport) or send said no.
   */
  handOff?(send: (fd: number) => boolean): Promise<boolean>;
  /** Resolves when the connection is gone (both sides closed, or the client vanished). */
  readonly closed: Promise<void>;
}

/** The Content-Type dockerd announces for a hijacked stream. */
export function hijackContentType(multiplexed: boolean, upgrade: boolean, apiVersion: string): string {
  return multiplexed && upgrade && versionAtLeast(apiVersion, '1.42') ? MEDIA_TYPE_MULTIPLEXED_STREAM : MEDIA_TYPE_RAW_STREAM;
}

/** Whether a request asks for the connection to be upgraded. */
export function wantsUpgrade(req: IncomingMessage): boolean {
  return req.headers.upgrade !== undefined;
}

interface Transport {
  write(chunk: Buffer): boolean;
  once(event: 'drain', cb: () => void): unknown;
}

function outputs(t: Transport, multiplexed: boolean): { stdout: Writable; stderr: Writable } {
  if (multiplexed) {
    return { stdout: createStdWriter(t as unknown as NodeJS.WritableStream, StreamId.Stdout), stderr: createStdWriter(t as unknown as NodeJS.WritableStream, StreamId.Stderr) };
  }
  const raw = new Writable({
    write(chunk: Buffer, _enc, cb) {
      if (t.write(chunk)) cb();
      else t.once('drain', () => cb());
    },
  });
  return { stdout: raw, stderr: raw };
}

/** Resolves when the socket has closed (at once when it already has). */
export function closedPromise(socket: Duplex): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed) resolve();
    else socket.once('close', () => resolve());
  });
}

/**
 * Hijack an upgraded connection: write the 101 (with `extraHeaders`, e.g. Api-Version) on the
 * raw socket and hand the socket over as stdin and output.
 */
export function hijackSocket(
  socket: Duplex,
  opts: HijackOptions & { apiVersion: string; extraHeaders?: Record<string, string> },
): HijackedConnection {
  const contentType = hijackContentType(opts.multiplexed, true, opts.apiVersion);
  let head = `HTTP/1.1 101 UPGRADED\r\nContent-Type: ${contentType}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n`;
  for (const [k, v] of Object.entries(opts.extraHeaders ?? {})) head += `${k}: ${v}\r\n`;
  socket.write(`${head}\r\n`);
  const { stdout, stderr } = outputs(socket, opts.multiplexed);
  const closed = closedPromise(socket);
  let ended = false;
  return {
    stdin: socket as unknown as Readable,
    stdout,
    stderr,
    contentType,
    closed,
    async handOff(send) {
      const fd = socketFd(socket);
      if (fd === undefined || ended) return false;
      const flushed =
        socket.writableLength === 0 ||
        (await new Promise<boolean>((resolve) => {
          socket.once('drain', () => resolve(true));
          socket.once('close', () => resolve(false));
        }));
      if (!flushed || ended || socket.destroyed || !send(fd)) return false;
      ended = true;
      socket.destroy(); // closes this descriptor only: no FIN, the receiver holds the connection
      return true;
    },
    fail(e) {
      if (ended || socket.destroyed) return;
      stdout.write(`${errorMessage(e)}\r\n`);
    },
    close() {
      if (ended) return;
      ended = true;
      // Let framed writes already queued in stdout/stderr reach the socket first.
      const finish = (): void => {
        if (!socket.destroyed) socket.end();
      };
      let pending = 2;
      const one = (): void => {
        if (--pending === 0) finish();
      };
      if (stdout === stderr) {
        pending = 1;
        stdout.end(one);
      } else {
        stdout.end(one);
        stderr.end(one);
      }
    },
  };
}

/**
 * "Hijack" a request that did not ask to upgrade: answer 200 with the raw stream media type,
 * no length and no chunking, and close the connection at the end, as dockerd does.
 * `stdin` is the request body when it has not been read.
 */
export function hijackResponse(
  req: IncomingMessage,
  res: ServerResponse,
  opts: HijackOptions & { bodyConsumed: boolean },
): HijackedConnection {
  const r = res as ServerResponse & { useChunkedEncodingByDefault: boolean };
  r.useChunkedEncodingByDefault = false;
  r.shouldKeepAlive = false;
  res.writeHead(200, { 'Content-Type': MEDIA_TYPE_RAW_STREAM });
  res.flushHeaders();
  const { stdout, stderr } = outputs(res as unknown as Transport, opts.multiplexed);
  const closed = new Promise<void>((resolve) => res.once('close', () => resolve()));
  let ended = false;
  return {
    stdin: opts.bodyConsumed ? Readable.from([]) : req,
    stdout,
    stderr,
    contentType: MEDIA_TYPE_RAW_STREAM,
    closed,
    fail(e) {
      if (ended) return;
      stdout.write(`${errorMessage(e)}\r\n`);
    },
    close() {
      if (ended) return;
      ended = true;
      let pending = stdout === stderr ? 1 : 2;
      const one = (): void => {
        if (--pending === 0) res.end();
      };
      stdout.end(one);
      if (stdout !== stderr) stderr.end(one);
    },
  };
}

/**
 * The body of an upgraded request, read from the raw socket: exactly Content-Length bytes;
 * whatever follows is the start of the client's stream and stays in the socket.
 */
export class UpgradedRequestBody {
  private consumed = false;

  constructor(
    private readonly req: IncomingMessage,
    private readonly socket: Duplex,
    head: Buffer,
  ) {
    if (head.length > 0) socket.unshift(head);
  }

  get wasConsumed(): boolean {
    return this.consumed;
  }

  async read(limit: number): Promise<Buffer> {
    if (this.consumed) return Buffer.alloc(0);
    this.consumed = true;
    if (this.req.headers['transfer-encoding'] !== undefined) {
      throw invalidParameter('a chunked request body cannot be combined with a connection upgrade');
    }
    const length = Number.parseInt(this.req.headers['content-length'] ?? '0', 10) || 0;
    if (length > limit) throw invalidParameter(`request body is larger than the limit of ${limit} bytes`);
    return readExactly(this.socket, length);
  }
}

async function readExactly(socket: Duplex, n: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let have = 0;
  while (have < n) {
    const chunk = socket.read() as Buffer | null;
    if (chunk === null) {
      if (socket.readableEnded || socket.destroyed) throw invalidParameter('unexpected EOF while reading request body');
      await new Promise<void>((resolve) => {
        const done = (): void => {
          socket.off('readable', done);
          socket.off('end', done);
          socket.off('close', done);
          resolve();
        };
        socket.on('readable', done);
        socket.on('end', done);
        socket.on('close', done);
      });
      continue;
    }
    chunks.push(chunk);
    have += chunk.length;
  }
  const all = Buffer.concat(chunks);
  if (all.length > n) socket.unshift(all.subarray(n));
  return all.subarray(0, n);
}
