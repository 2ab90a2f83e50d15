// What a route handler gets: the request with its path parameters, query and negotiated API
// version, a signal for the client going away, the body (as bytes, JSON or a stream), the
// hijack of the connection for attach and exec, and the small helpers that write responses
// the way dockerd does.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { HijackOptions, HijackedConnection } from './hijack.js';
import type { WebSocketOptions } from './websocket.js';

export interface RequestContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly method: string;
  /** The path without its `/v1.NN` prefix, percent-decoded. */
  readonly path: string;
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  /** The version the client asked for in the path, or the server's default. */
  readonly apiVersion: string;
  /** The version in the path, when there was one. */
  readonly requestedVersion: string | undefined;
  /** Aborted when the client closes the connection before the response is complete. */
  readonly signal: AbortSignal;
  /** The client sent `Connection: Upgrade` / `Upgrade: tcp` (hijack requests). */
  readonly upgrade: boolean;
  /** The whole body as bytes, refused beyond `limit`. */
  body(limit?: number): Promise<Buffer>;
  /** The body as a stream (image load, archive upload, build context). */
  bodyStream(): Readable;
  /**
   * The JSON body, `undefined` when empty; 400 for a content type other than
   * application/json or malformed JSON (with the problem and where it is).
   */
  json(): Promise<unknown>;
  /** Take over the connection for a raw or multiplexed stream (attach, exec start). */
  hijack(opts: HijackOptions): HijackedConnection;
  /** Take over the connection as a websocket (attach/ws); 400 unless the request opened one. */
  websocket(opts: Omit<WebSocketOptions, 'extraHeaders'>): HijackedConnection;
  /** Whether the connection has been hijacked. */
  readonly hijacked: boolean;
}

/** A JSON response as dockerd writes it (one value, then a newline). */
export function writeJson(res: ServerResponse, status: number, value: unknown): void {
  const body = `${JSON.stringify(value)}\n`;
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

export function writeNoContent(res: ServerResponse): void {
  res.writeHead(204);
  res.end();
}

/**
 * Start a streaming response: headers are sent at once so the client knows the request was
 * accepted (dockerd flushes before the first event or progress message).
 */
export function startStream(res: ServerResponse, contentType: string, status = 200): void {
  res.writeHead(status, { 'Content-Type': contentType });
  res.flushHeaders();
}

/** Write to a streaming response, waiting for the client when its buffer is full. */
export async function writeChunk(res: ServerResponse, chunk: string | Buffer, signal?: AbortSignal): Promise<void> {
  if (res.write(chunk)) return;
  if (signal?.aborted) return;
  await new Promise<void>((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/**
 * Coalesces many small writes to a streaming response into few large ones: what is pending
 * goes out once it reaches `limit` bytes, or on the next turn of the event loop (as soon as
 * the producer waits for anything), so a follower still sees each piece at once.
 */
export class BatchedWriter {
  private parts: Buffer[] = [];
  private size = 0;
  private scheduled: NodeJS.Immediate | undefined;

  constructor(
    private readonly res: ServerResponse,
    private readonly signal?: AbortSignal,
    private readonly limit = 64 * 1024,
  ) {}

  async write(data: Buffer): Promise<void> {
    this.parts.push(data);
    this.size += data.length;
    if (this.size >= this.limit) return this.flush();
    this.scheduled ??= setImmediate(() => {
      this.scheduled = undefined;
      void this.flush();
    });
  }

  async flush(): Promise<void> {
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    if (this.size === 0) return;
    const data = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.size);
    this.parts = [];
    this.size = 0;
    await writeChunk(this.res, data, this.signal);
  }
}
