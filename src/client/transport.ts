// A small HTTP/1.1 client on node:net for the daemon's socket (unix or plain TCP): one
// connection per request (Connection: close), bodies as Content-Length or chunked, responses
// read as Content-Length, chunked or until close, and 101 / raw-stream answers handed back
// as the socket itself. node:http costs a command ~20 ms of loading and first-use
// compilation; this is what the CLI needs of it. TLS connections still use node:https.

import { connect, type Socket } from 'node:net';
import { PassThrough } from 'node:stream';

export interface RawResponse extends PassThrough {
  statusCode: number;
  headers: Record<string, string | string[]>;
}

export interface RawResult {
  res: RawResponse;
  socket: Socket;
  /** 101 Switching Protocols, or a raw stream the daemon will not frame (hijack). */
  upgraded: boolean;
  /** Bytes after the headers (upgraded answers only). */
  head: Buffer;
}

export interface RawRequest {
  target: { socketPath: string } | { host: string; port: number };
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer | NodeJS.ReadableStream;
  signal?: AbortSignal;
  /** Hand back the socket after the headers (attach, exec start). */
  hijack?: boolean;
}

const CRLF = Buffer.from('\r\n');

function parseHead(text: string): { status: number; headers: Record<string, string | string[]> } {
  const lines = text.split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
  if (!m) throw new Error(`malformed HTTP response: ${JSON.stringify(lines[0])}`);
  const headers: Record<string, string | string[]> = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    if (i <= 0) continue;
    const k = l.slice(0, i).trim().toLowerCase();
    const v = l.slice(i + 1).trim();
    const prev = headers[k];
    headers[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return { status: Number(m[1]), headers };
}

/** Decodes a chunked body into `out`; returns false once the last chunk is seen. */
class ChunkedDecoder {
  private buf: Buffer = Buffer.alloc(0);
  private remaining = -1;
  done = false;

  constructor(private readonly out: PassThrough) {}

  push(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    while (!this.done) {
      if (this.remaining < 0) {
        const nl = this.buf.indexOf('\r\n');
        if (nl < 0) return;
        const size = parseInt(this.buf.subarray(0, nl).toString().split(';')[0]!, 16);
        this.buf = this.buf.subarray(nl + 2);
        if (!size) {
          this.done = true;
          return;
        }
        this.remaining = size;
      }
      if (this.remaining > 0) {
        if (!this.buf.length) return;
        const take = Math.min(this.remaining, this.buf.length);
        this.out.write(this.buf.subarray(0, take));
        this.buf = this.buf.subarray(take);
        this.remaining -= take;
      }
      if (this.remaining === 0) {
        if (this.buf.length < 2) return;
        this.buf = this.buf.subarray(2);
        this.remaining = -1;
      }
    }
  }
}

export function rawRequest(r: RawRequest): Promise<RawResult> {
  return new Promise((resolve, reject) => {
    const socket = 'socketPath' in r.target ? connect(r.target.socketPath) : connect(r.target.port, r.target.host);
    let settled = false;
    const fail = (e: Error): void => {
      if (settled) return;
      settled = true;
      socket.destroy();
      reject(e);
    };
    if (r.signal) {
      if (r.signal.aborted) return fail(Object.assign(new Error('The operation was aborted'), { name: 'AbortError' }));
      r.signal.addEventListener('abort', () => {
        const e = Object.assign(new Error('The operation was aborted'), { name: 'AbortError' });
        if (!settled) fail(e);
        else socket.destroy();
      });
    }
    socket.on('error', fail);
    const headers = { ...r.headers };
    if (!r.hijack) headers.Connection = 'close';
    const streamed = r.body && !Buffer.isBuffer(r.body);
    if (Buffer.isBuffer(r.body)) headers['Content-Length'] = String(r.body.length);
    else if (streamed) headers['Transfer-Encoding'] = 'chunked';
    let head = `${r.method} ${r.path} HTTP/1.1\r\n`;
    for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
    socket.write(`${head}\r\n`);
    if (Buffer.isBuffer(r.body)) socket.write(r.body);
    else if (streamed) {
      const body = r.body as NodeJS.ReadableStream;
      body.on('data', (c: Buffer | string) => {
        const b = Buffer.isBuffer(c) ? c : Buffer.from(c);
        if (!b.length) return;
        // One write per chunk: size line, data and CRLF must all go, whatever the buffer holds.
        const full = socket.write(Buffer.concat([Buffer.from(`${b.length.toString(16)}\r\n`), b, CRLF]));
        if (!full) {
          body.pause();
          socket.once('drain', () => body.resume());
        }
      });
      body.on('end', () => socket.write('0\r\n\r\n'));
      body.on('error', (e: Error) => fail(e));
    }

    let buf: Buffer = Buffer.alloc(0);
    const onHeadData = (chunk: Buffer): void => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onHeadData);
      let parsed;
      try {
        parsed = parseHead(buf.subarray(0, end).toString('latin1'));
      } catch (e) {
        return fail(e as Error);
      }
      const rest = buf.subarray(end + 4);
      const res = new PassThrough() as RawResponse;
      res.statusCode = parsed.status;
      res.headers = parsed.headers;
      settled = true;
      socket.off('error', fail);
      const te = String(parsed.headers['transfer-encoding'] ?? '').toLowerCase();
      const len = parsed.headers['content-length'] !== undefined ? Number(parsed.headers['content-length']) : undefined;
      const raw = String(parsed.headers['content-type'] ?? '').includes('vnd.docker') && len === undefined && !te.includes('chunked');
      if (r.hijack && (parsed.status === 101 || (parsed.status < 300 && raw))) {
        // Hold the stream until the caller listens (it starts the container first).
        socket.pause();
        resolve({ res, socket, upgraded: true, head: rest });
        return;
      }
      res.on('close', () => socket.destroy());
      socket.on('error', (e) => res.destroy(e));
      resolve({ res, socket, upgraded: false, head: Buffer.alloc(0) });
      if (r.method === 'HEAD' || parsed.status === 204 || parsed.status === 304 || len === 0) {
        res.end();
        socket.destroy();
        return;
      }
      if (te.includes('chunked')) {
        const dec = new ChunkedDecoder(res);
        const feed = (c: Buffer): void => {
          dec.push(c);
          if (dec.done) {
            socket.off('data', feed);
            res.end();
            socket.destroy();
          }
        };
        socket.on('data', feed);
        socket.on('end', () => res.end());
        if (rest.length) feed(rest);
        return;
      }
      if (len !== undefined) {
        let left = len;
        const feed = (c: Buffer): void => {
          const take = c.subarray(0, left);
          left -= take.length;
          res.write(take);
          if (left <= 0) {
            socket.off('data', feed);
            res.end();
            socket.destroy();
          }
        };
        socket.on('data', feed);
        socket.on('end', () => res.end());
        if (rest.length) feed(rest);
        return;
      }
      if (rest.length) res.write(rest);
      socket.on('data', (c: Buffer) => res.write(c));
      socket.on('end', () => res.end());
    };
    socket.on('data', onHeadData);
    socket.on('end', () => fail(new Error('the daemon closed the connection before answering')));
  });
}
