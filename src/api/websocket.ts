// The server side of RFC 6455 for GET /containers/{id}/attach/ws: the opening handshake on
// an upgraded connection and the framing both ways, as a HijackedConnection. dockerd serves
// this endpoint with golang.org/x/net/websocket: no origin check, every write of the
// container's output becomes one frame (binary from API 1.28, text before), stdout and
// stderr are not multiplexed (websocket clients cannot demultiplex), and the payloads of the
// client's data frames, in order and whatever their fragmentation, are the container's stdin.
// Small enough to keep here rather than pull a library into the daemon.

import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { PassThrough, Writable, type Duplex, type Readable } from 'node:stream';
import { errorMessage, invalidParameter } from '../errors.js';
import { closedPromise, type HijackedConnection } from './hijack.js';

const HANDSHAKE_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export const enum Opcode {
  Continuation = 0x0,
  Text = 0x1,
  Binary = 0x2,
  Close = 0x8,
  Ping = 0x9,
  Pong = 0xa,
}

/** Close status codes (RFC 6455 §7.4.1). */
export const CLOSE_NORMAL = 1000;
export const CLOSE_PROTOCOL_ERROR = 1002;
export const CLOSE_TOO_BIG = 1009;

/** The largest frame accepted from a client; stdin comes in small pieces. */
export const MAX_CLIENT_FRAME = 16 << 20;

/** Sec-WebSocket-Accept for a client's Sec-WebSocket-Key. */
export function websocketAccept(key: string): string {
  return createHash('sha1').update(key + HANDSHAKE_GUID).digest('base64');
}

/**
 * The client's key when `req` is a version-13 websocket opening handshake; a 400 naming what
 * is wrong otherwise.
 */
export function websocketKey(req: IncomingMessage): string {
  const upgrade = String(req.headers.upgrade ?? '').toLowerCase();
  const connection = String(req.headers.connection ?? '').toLowerCase();
  if (req.method !== 'GET' || !upgrade.split(/\s*,\s*/).includes('websocket') || !connection.split(/\s*,\s*/).includes('upgrade')) {
    throw invalidParameter('not websocket protocol: the request must be a GET with "Connection: Upgrade" and "Upgrade: websocket"');
  }
  const version = req.headers['sec-websocket-version'];
  if (version !== '13') throw invalidParameter(`unsupported websocket version ${JSON.stringify(version ?? '')}: only 13 is supported`);
  const key = req.headers['sec-websocket-key'];
  if (typeof key !== 'string' || Buffer.from(key, 'base64').length !== 16) throw invalidParameter('missing or malformed Sec-WebSocket-Key');
  return key;
}

/** One server frame: never masked, always final. */
export function encodeWsFrame(opcode: Opcode, payload: Buffer): Buffer {
  const n = payload.length;
  const head = n < 126 ? Buffer.alloc(2) : n < 0x10000 ? Buffer.alloc(4) : Buffer.alloc(10);
  head[0] = 0x80 | opcode;
  if (n < 126) head[1] = n;
  else if (n < 0x10000) {
    head[1] = 126;
    head.writeUInt16BE(n, 2);
  } else {
    head[1] = 127;
    head.writeBigUInt64BE(BigInt(n), 2);
  }
  return Buffer.concat([head, payload]);
}

export interface WsFrame {
  fin: boolean;
  opcode: number;
  /** Unmasked. */
  payload: Buffer;
}

export class WsProtocolError extends Error {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
  }
}

/** Incremental decoder of a client's frames (which RFC 6455 requires to be masked). */
export class WsFrameDecoder {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): WsFrame[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: WsFrame[] = [];
    for (;;) {
      const b = this.buf;
      if (b.length < 2) break;
      const fin = (b[0]! & 0x80) !== 0;
      if (b[0]! & 0x70) throw new WsProtocolError('reserved bits set without a negotiated extension', CLOSE_PROTOCOL_ERROR);
      const opcode = b[0]! & 0x0f;
      const masked = (b[1]! & 0x80) !== 0;
      if (!masked) throw new WsProtocolError('client frames must be masked', CLOSE_PROTOCOL_ERROR);
      let len = b[1]! & 0x7f;
      let off = 2;
      if (len === 126) {
        if (b.length < 4) break;
        len = b.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (b.length < 10) break;
        const big = b.readBigUInt64BE(2);
        if (big > BigInt(MAX_CLIENT_FRAME)) throw new WsProtocolError(`frame of ${big} bytes is over the limit of ${MAX_CLIENT_FRAME}`, CLOSE_TOO_BIG);
        len = Number(big);
        off = 10;
      }
      if (len > MAX_CLIENT_FRAME) throw new WsProtocolError(`frame of ${len} bytes is over the limit of ${MAX_CLIENT_FRAME}`, CLOSE_TOO_BIG);
      if (opcode >= 0x8 && (len > 125 || !fin)) throw new WsProtocolError('control frames must be final and at most 125 bytes', CLOSE_PROTOCOL_ERROR);
      if (b.length < off + 4 + len) break;
      const mask = b.subarray(off, off + 4);
      const payload = Buffer.from(b.subarray(off + 4, off + 4 + len));
      for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i & 3]!;
      out.push({ fin, opcode, payload });
      this.buf = b.subarray(off + 4 + len);
    }
    return out;
  }
}

export interface WebSocketOptions {
  /** Binary frames for output (API ≥ 1.28); text frames otherwise. */
  binary: boolean;
  /** Headers to add to the 101 (Api-Version, Server…). */
  extraHeaders?: Record<string, string>;
}

/**
 * Complete the opening handshake on an upgraded socket (after websocketKey accepted the
 * request) and hand the connection over: stdin is the client's data, stdout and stderr both
 * write frames.
 */
export function acceptWebSocket(req: IncomingMessage, socket: Duplex, opts: WebSocketOptions): HijackedConnection {
  const key = websocketKey(req);
  let head = `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${websocketAccept(key)}\r\n`;
  for (const [k, v] of Object.entries(opts.extraHeaders ?? {})) head += `${k}: ${v}\r\n`;
  socket.write(`${head}\r\n`);

  const stdin = new PassThrough();
  const closed = closedPromise(socket);
  let closeSent = false;
  let ended = false;
  const sendClose = (code: number, reason = ''): void => {
    if (closeSent || socket.destroyed) return;
    closeSent = true;
    const payload = Buffer.alloc(2 + Buffer.byteLength(reason));
    payload.writeUInt16BE(code, 0);
    payload.write(reason, 2);
    socket.write(encodeWsFrame(Opcode.Close, payload));
  };
  const endInput = (): void => {
    if (!stdin.writableEnded) stdin.end();
  };

  const decoder = new WsFrameDecoder();
  let inMessage = false;
  const onData = (chunk: Buffer): void => {
    let frames: WsFrame[];
    try {
      frames = decoder.push(chunk);
    } catch (e) {
      const code = e instanceof WsProtocolError ? e.code : CLOSE_PROTOCOL_ERROR;
      sendClose(code, errorMessage(e).slice(0, 120));
      socket.off('data', onData);
      endInput();
      socket.end();
      return;
    }
    for (const f of frames) {
      switch (f.opcode) {
        case Opcode.Text:
        case Opcode.Binary:
        case Opcode.Continuation:
          if ((f.opcode === Opcode.Continuation) !== inMessage) {
            sendClose(CLOSE_PROTOCOL_ERROR, 'unexpected continuation frame');
            endInput();
            socket.end();
            return;
          }
          inMessage = !f.fin;
          if (f.payload.length && !stdin.writableEnded && !stdin.write(f.payload)) {
            socket.pause();
            stdin.once('drain', () => socket.resume());
          }
          break;
        case Opcode.Ping:
          if (!socket.destroyed && !closeSent) socket.write(encodeWsFrame(Opcode.Pong, f.payload));
          break;
        case Opcode.Pong:
          break;
        case Opcode.Close:
          // The closing handshake: answer with a close (unless ours went first) and go; the
          // session ends when the socket closes.
          endInput();
          socket.off('data', onData);
          sendClose(f.payload.length >= 2 ? f.payload.readUInt16BE(0) : CLOSE_NORMAL);
          socket.end();
          return;
        default:
          sendClose(CLOSE_PROTOCOL_ERROR, `unknown opcode ${f.opcode}`);
          endInput();
          socket.end();
          return;
      }
    }
  };
  socket.on('data', onData);
  socket.on('end', endInput);
  socket.on('close', endInput);

  const dataOpcode = opts.binary ? Opcode.Binary : Opcode.Text;
  const output = new Writable({
    write(chunk: Buffer, _enc, cb) {
      if (chunk.length === 0 || closeSent || socket.destroyed) return cb();
      if (socket.write(encodeWsFrame(dataOpcode, chunk))) cb();
      else socket.once('drain', () => cb());
    },
  });

  return {
    stdin: stdin as Readable,
    stdout: output,
    stderr: output,
    contentType: '',
    closed,
    fail(e) {
      if (ended || socket.destroyed) return;
      output.write(`${errorMessage(e)}\r\n`);
    },
    close() {
      if (ended) return;
      ended = true;
      output.end(() => {
        sendClose(CLOSE_NORMAL);
        // Wait briefly for the client's close frame (the closing handshake), then go.
        if (stdin.writableEnded) socket.end();
        else setTimeout(() => socket.end(), 1000).unref();
      });
    },
  };
}
