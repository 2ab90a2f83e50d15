// Attach to a running container through its monitor's attach socket (docs/monitor.md).
//
// From the monitor: [stream, 0, 0, 0, size BE32] + payload per chunk (1 stdout, 2 stderr),
// or raw bytes when the container has a tty. To the monitor: [type, 0, 0, 0, size BE32] +
// payload, type 0 stdin data, 1 close stdin, 2 resize (rows BE16, cols BE16), 3 start a monitor,
// 4 hand over to another connection, 5 hold the output until a hand-over, 6 release it.

import { connect, type Socket } from 'node:net';
import { Duplex, PassThrough, type Readable } from 'node:stream';
import { BerthError } from '../../errors.js';

export const STREAM_STDIN = 0;
export const STREAM_STDOUT = 1;
export const STREAM_STDERR = 2;

const MSG_STDIN = 0;
const MSG_CLOSE_STDIN = 1;
const MSG_RESIZE = 2;
/** Start another berth-monitor (an exec's): argv, NUL-terminated; fds by SCM_RIGHTS (start-monitor.ts). */
export const MSG_SPAWN = 3;
/** No payload, one fd by SCM_RIGHTS: a connection that takes this one's place (exec-launch.ts). */
export const MSG_HANDOFF = 4;
/** No payload: the monitor reads no output until this connection hands over, releases or goes. */
export const MSG_HOLD = 5;
/** No payload: ends this connection's MSG_HOLD; the output flows to it and the others. */
export const MSG_RELEASE = 6;

/** One frame: the 8-byte header of dockerd's multiplexed streams, then the payload. */
export function encodeFrame(type: number, payload: Uint8Array = Buffer.alloc(0)): Buffer {
  const b = Buffer.alloc(8 + payload.length);
  b[0] = type;
  b.writeUInt32BE(payload.length, 4);
  b.set(payload, 8);
  return b;
}

export interface Frame {
  stream: number;
  payload: Buffer;
}

/** Splits a multiplexed byte stream into frames; feed it chunks in order. */
export class FrameDecoder {
  private pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Frame[] {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const frames: Frame[] = [];
    while (this.pending.length >= 8) {
      const size = this.pending.readUInt32BE(4);
      if (this.pending.length < 8 + size) break;
      frames.push({ stream: this.pending[0]!, payload: this.pending.subarray(8, 8 + size) });
      this.pending = this.pending.subarray(8 + size);
    }
    return frames;
  }

  /** Bytes of an unfinished frame. */
  get buffered(): number {
    return this.pending.length;
  }
}

/** Splits a multiplexed stream (not a tty's) into stdout and stderr. */
export function demux(source: Readable): { stdout: PassThrough; stderr: PassThrough } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const dec = new FrameDecoder();
  source.on('data', (chunk: Buffer) => {
    for (const f of dec.push(chunk)) {
      if (f.stream === STREAM_STDOUT) stdout.write(f.payload);
      else if (f.stream === STREAM_STDERR) stderr.write(f.payload);
    }
  });
  const end = (): void => {
    stdout.end();
    stderr.end();
  };
  source.once('end', end);
  source.once('close', end);
  return { stdout, stderr };
}

/**
 * An attach connection. Reading gives what the monitor sends (frames, or raw tty output;
 * see demux); writing sends stdin. end() closes the container's stdin (Docker's
 * StdinOnce) and keeps receiving output until the container exits; destroy() detaches.
 */
export class AttachConnection extends Duplex {
  constructor(private readonly socket: Socket) {
    super({ allowHalfOpen: true });
    socket.on('data', (d: Buffer) => {
      if (!this.push(d)) socket.pause();
    });
    socket.on('end', () => this.push(null));
    socket.on('error', (e) => this.destroy(e));
  }

  override _read(): void {
    this.socket.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.socket.write(encodeFrame(MSG_STDIN, chunk), cb);
  }

  override _final(cb: (e?: Error | null) => void): void {
    this.socket.end(encodeFrame(MSG_CLOSE_STDIN), () => cb());
  }

  override _destroy(err: Error | null, cb: (e: Error | null) => void): void {
    this.socket.destroy();
    cb(err);
  }

  /** Sets the pty's window size (TIOCSWINSZ); ignored when the container has no tty. */
  resize(rows: number, cols: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt16BE(rows, 0);
    b.writeUInt16BE(cols, 2);
    this.socket.write(encodeFrame(MSG_RESIZE, b));
  }
}

/** Connects to a monitor's attach socket; live output from now on, stdin if it keeps one. */
export function attach(socketPath: string): Promise<AttachConnection> {
  return new Promise((resolve, reject) => {
    const s = connect(socketPath);
    s.once('connect', () => {
      s.removeAllListeners('error');
      resolve(new AttachConnection(s));
    });
    s.once('error', (e: NodeJS.ErrnoException) => {
      const kind = e.code === 'ENOENT' || e.code === 'ECONNREFUSED' ? 'NotFound' : 'System';
      reject(new BerthError(kind, `attach to \`${socketPath}\`: ${e.message}`, { cause: e, ...(e.code ? { code: e.code } : {}) }));
    });
  });
}
