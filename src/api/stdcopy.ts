// The multiplexed stream framing of attach, logs and exec without a tty
// (application/vnd.docker.multiplexed-stream): each frame is an 8-byte header — the stream
// id (0 stdin, 1 stdout, 2 stderr, 3 system error), three zero bytes, the payload size as a
// big-endian uint32 — followed by the payload.

import { Writable } from 'node:stream';

export enum StreamId {
  Stdin = 0,
  Stdout = 1,
  Stderr = 2,
  /** An error from the daemon in the middle of a stream (the client prints it and fails). */
  SystemErr = 3,
}

export const FRAME_HEADER_SIZE = 8;
const MAX_FRAME = 0xffffffff;

export interface Frame {
  stream: StreamId;
  data: Buffer;
}

/** Frame one payload; payloads over 4 GiB - 1 are split into several frames. */
export function encodeFrame(stream: StreamId, data: Buffer | string): Buffer {
  const payload = typeof data === 'string' ? Buffer.from(data) : data;
  if (payload.length <= MAX_FRAME) {
    const header = Buffer.alloc(FRAME_HEADER_SIZE);
    header[0] = stream;
    header.writeUInt32BE(payload.length, 4);
    return Buffer.concat([header, payload]);
  }
  const parts: Buffer[] = [];
  for (let off = 0; off < payload.length; off += MAX_FRAME) {
    parts.push(encodeFrame(stream, payload.subarray(off, Math.min(off + MAX_FRAME, payload.length))));
  }
  return Buffer.concat(parts);
}

/**
 * Frames many payloads into one buffer (with no buffer per payload: a log of 100k lines is
 * 100k frames). Text is encoded as UTF-8 in place. Raw (unframed) when stream is undefined.
 */
export function encodeFrames(frames: readonly { stream: StreamId | undefined; data: Buffer | string }[]): Buffer {
  let total = 0;
  const sizes = frames.map((f) => {
    const n = typeof f.data === 'string' ? Buffer.byteLength(f.data) : f.data.length;
    if (n > MAX_FRAME) throw new RangeError(`a payload of ${n} bytes is more than a frame holds`);
    total += n + (f.stream === undefined ? 0 : FRAME_HEADER_SIZE);
    return n;
  });
  const out = Buffer.allocUnsafe(total);
  let off = 0;
  frames.forEach((f, i) => {
    const n = sizes[i]!;
    if (f.stream !== undefined) {
      out.writeUInt32BE(f.stream * 0x1000000, off); // id, then three zero bytes
      out.writeUInt32BE(n, off + 4);
      off += FRAME_HEADER_SIZE;
    }
    off += typeof f.data === 'string' ? out.write(f.data, off, 'utf8') : f.data.copy(out, off);
  });
  return out;
}

/**
 * A Writable that frames everything written to it for one stream id and writes the frames
 * to `out`. Ending it does not end `out`: stdout and stderr share the connection.
 */
export function createStdWriter(out: NodeJS.WritableStream, stream: StreamId): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      if (chunk.length === 0) return cb();
      const ok = out.write(encodeFrame(stream, chunk));
      if (ok) cb();
      else out.once('drain', () => cb());
    },
  });
}

/**
 * Incremental decoder: feed it chunks as they arrive, get whole frames back. A header with a
 * stream id outside 0–3 or non-zero padding is a framing error (the peer is not sending a
 * multiplexed stream).
 */
export class FrameDecoder {
  private buffered: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Frame[] {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    const frames: Frame[] = [];
    for (;;) {
      if (this.buffered.length < FRAME_HEADER_SIZE) break;
      const id = this.buffered[0] as number;
      if (id > 3 || this.buffered[1] !== 0 || this.buffered[2] !== 0 || this.buffered[3] !== 0) {
        throw new Error(`unrecognized stream header: ${this.buffered.subarray(0, FRAME_HEADER_SIZE).toString('hex')}`);
      }
      const size = this.buffered.readUInt32BE(4);
      if (this.buffered.length < FRAME_HEADER_SIZE + size) break;
      frames.push({ stream: id as StreamId, data: this.buffered.subarray(FRAME_HEADER_SIZE, FRAME_HEADER_SIZE + size) });
      this.buffered = this.buffered.subarray(FRAME_HEADER_SIZE + size);
    }
    return frames;
  }

  /** Bytes of an incomplete frame still waiting for the rest. */
  get pending(): number {
    return this.buffered.length;
  }
}

/** Decode a whole multiplexed buffer; a truncated last frame is an error. */
export function decodeFrames(data: Buffer): Frame[] {
  const d = new FrameDecoder();
  const frames = d.push(data);
  if (d.pending !== 0) throw new Error(`truncated stream: ${d.pending} bytes of an incomplete frame`);
  return frames;
}

/**
 * Demultiplex a stream into stdout and stderr (docker's StdCopy): resolves at the end of the
 * input; rejects on a framing error or when a system-error frame arrives (its payload is the
 * message).
 */
export async function demultiplex(
  input: AsyncIterable<Buffer | string>,
  stdout: NodeJS.WritableStream,
  stderr: NodeJS.WritableStream,
): Promise<{ stdout: number; stderr: number }> {
  const d = new FrameDecoder();
  const written = { stdout: 0, stderr: 0 };
  for await (const chunk of input) {
    for (const f of d.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk)) {
      switch (f.stream) {
        case StreamId.Stdin:
        case StreamId.Stdout:
          stdout.write(f.data);
          written.stdout += f.data.length;
          break;
        case StreamId.Stderr:
          stderr.write(f.data);
          written.stderr += f.data.length;
          break;
        case StreamId.SystemErr:
          throw new Error(`error from daemon in stream: ${f.data.toString()}`);
      }
    }
  }
  if (d.pending !== 0) throw new Error(`truncated stream: ${d.pending} bytes of an incomplete frame`);
  return written;
}
