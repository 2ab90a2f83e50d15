// The JSON message stream of pull, push, build, load and import (docker's jsonmessage):
// one JSON object per line, each ending in "\r\n" as dockerd writes them.
//
//   {"status":"Pulling from library/busybox","id":"latest"}
//   {"status":"Downloading","progressDetail":{"current":1024,"total":2048},"id":"a3ed95caeb02"}
//   {"errorDetail":{"message":"manifest unknown"},"error":"manifest unknown"}
//
// An error ends the stream: the response status is already 200 when it happens, so the
// client learns of the failure from the errorDetail line.

import { errorMessage } from '../errors.js';

export interface JSONProgressDetail {
  current?: number;
  total?: number;
  /** Unix seconds when the operation started. */
  start?: number;
  hidecounts?: boolean;
  units?: string;
}

export interface JSONErrorDetail {
  code?: number;
  message: string;
}

export interface JSONMessage {
  stream?: string;
  status?: string;
  progressDetail?: JSONProgressDetail;
  /** Pre-rendered progress bar; deprecated by docker, the CLI renders progressDetail. */
  progress?: string;
  id?: string;
  from?: string;
  time?: number;
  timeNano?: number;
  errorDetail?: JSONErrorDetail;
  /** Deprecated duplicate of errorDetail.message, still sent by dockerd. */
  error?: string;
  aux?: unknown;
}

export const JSON_STREAM_NEWLINE = '\r\n';

export function encodeJsonMessage(msg: JSONMessage): string {
  return JSON.stringify(msg) + JSON_STREAM_NEWLINE;
}

/** An error that carries a code for errorDetail (dockerd puts a failed RUN's exit status there; the docker CLI exits with it). */
export interface CodedError {
  jsonCode: number;
}

/** The message that reports a failure in the stream. */
export function errorMessageLine(e: unknown): JSONMessage {
  const message = errorMessage(e);
  const code = (e as Partial<CodedError> | null)?.jsonCode;
  return { errorDetail: { ...(typeof code === 'number' && code > 0 ? { code } : {}), message }, error: message };
}

interface Sink {
  write(chunk: string): unknown;
}

/** Writes JSON messages to a response (or any sink). */
export class JsonMessageWriter {
  private ended = false;

  constructor(private readonly out: Sink) {}

  write(msg: JSONMessage): void {
    if (this.ended) return;
    this.out.write(encodeJsonMessage(msg));
  }

  status(status: string, id?: string): void {
    this.write(id === undefined ? { status } : { status, id });
  }

  progress(id: string, status: string, current?: number, total?: number): void {
    const progressDetail: JSONProgressDetail = {};
    if (current !== undefined) progressDetail.current = current;
    if (total !== undefined) progressDetail.total = total;
    this.write({ status, progressDetail, id });
  }

  /** Build output text. */
  stream(text: string): void {
    this.write({ stream: text });
  }

  aux(value: unknown): void {
    this.write({ aux: value });
  }

  /** Report a failure; nothing is written after it. */
  error(e: unknown): void {
    this.write(errorMessageLine(e));
    this.ended = true;
  }
}

/** Split a stream of JSON messages into messages (tolerates "\n" and "\r\n"). */
export class JsonMessageDecoder {
  private rest = '';

  push(chunk: Buffer | string): JSONMessage[] {
    this.rest += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    const lines = this.rest.split('\n');
    this.rest = lines.pop() ?? '';
    return lines.map((l) => l.trim()).filter((l) => l !== '').map((l) => JSON.parse(l) as JSONMessage);
  }

  end(): JSONMessage[] {
    const rest = this.rest.trim();
    this.rest = '';
    return rest === '' ? [] : [JSON.parse(rest) as JSONMessage];
  }
}

export function parseJsonMessages(text: string): JSONMessage[] {
  const d = new JsonMessageDecoder();
  return [...d.push(text), ...d.end()];
}
