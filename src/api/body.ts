// Request bodies and query strings: reading JSON with a size limit, and the query helpers
// dockerd's handlers use (booleans as dockerd accepts them, integers with errors naming the
// parameter, JSON-encoded `filters` in both the map and the legacy list form).

import type { Readable } from 'node:stream';
import { invalidParameter } from '../errors.js';
import { findJsonSyntaxError } from './json-syntax.js';

/** Bodies of JSON requests are small; anything larger than this is refused. */
export const JSON_BODY_LIMIT = 16 * 1024 * 1024;

/**
 * Read a stream to its end, refusing more than `limit` bytes. With listeners, not an async
 * iterator: a request body mostly comes whole with its headers, and the iterator's machinery
 * (and the code it touches) costs every request a cold daemon serves more than the read.
 */
export function readAll(stream: Readable, limit: number = JSON_BODY_LIMIT): Promise<Buffer> {
  if (stream.readableEnded) return Promise.resolve(Buffer.alloc(0));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (): void => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onError);
      stream.off('close', onClose);
    };
    const onData = (chunk: Buffer | string): void => {
      const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
      size += b.length;
      if (size > limit) {
        done();
        stream.destroy();
        reject(invalidParameter(`request body is larger than the limit of ${limit} bytes`));
        return;
      }
      chunks.push(b);
    };
    const onEnd = (): void => {
      done();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
    };
    const onError = (e: Error): void => {
      done();
      reject(e);
    };
    // closed before its end: the client went away mid-body
    const onClose = (): void => {
      done();
      reject(Object.assign(new Error('premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
    };
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('error', onError);
    stream.once('close', onClose);
  });
}

/**
 * dockerd accepts a JSON body only as `application/json` (parameters allowed); a request
 * without a body may omit the header.
 */
export function checkJsonContentType(contentType: string | undefined, hasBody: boolean): void {
  if (contentType === undefined || contentType === '') {
    if (!hasBody) return;
    // dockerd refuses a body without a content type, with this wording.
    throw invalidParameter('malformed Content-Type header (): mime: no media type');
  }
  const media = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  if (!/^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/.test(media)) {
    throw invalidParameter(`malformed Content-Type header (${contentType}): mime: no media type`);
  }
  if (media !== 'application/json') {
    throw invalidParameter(`unsupported Content-Type header (${contentType}): must be 'application/json'`);
  }
}

/**
 * Parse a JSON body. An empty body is `undefined` (not an error, as with dockerd); a body of
 * only whitespace, malformed JSON or trailing content is a 400 naming the problem and where.
 */
export function parseJsonBody(body: Buffer): unknown {
  if (body.length === 0) return undefined;
  const text = body.toString('utf8');
  if (text.trim() === '') throw invalidParameter('invalid JSON: got EOF while reading request body');
  try {
    return JSON.parse(text);
  } catch (e) {
    throw invalidParameter(`invalid JSON: ${describeJsonError(text, e)}`);
  }
}

function describeJsonError(text: string, e: unknown): string {
  const found = findJsonSyntaxError(text);
  if (found === undefined) return e instanceof Error ? e.message : String(e);
  if (found.message === 'unexpected end of JSON input') return found.message;
  return `${found.message} at line ${found.line}, column ${found.column}`;
}

// --- query parameters ---------------------------------------------------------------------

/** dockerd's boolean: absent, "", "0", "no", "false" and "none" are false; anything else true. */
export function boolValue(query: URLSearchParams, key: string): boolean {
  const v = query.get(key);
  if (v === null) return false;
  switch (v.trim().toLowerCase()) {
    case '':
    case '0':
    case 'no':
    case 'false':
    case 'none':
      return false;
    default:
      return true;
  }
}

/** The default when the parameter is absent, else dockerd's boolean. */
export function boolValueOrDefault(query: URLSearchParams, key: string, def: boolean): boolean {
  return query.has(key) ? boolValue(query, key) : def;
}

/** An integer parameter, or `def` when absent or empty; a 400 naming the parameter otherwise. */
export function intValue(query: URLSearchParams, key: string): number | undefined;
export function intValue(query: URLSearchParams, key: string, def: number): number;
export function intValue(query: URLSearchParams, key: string, def?: number): number | undefined {
  const v = query.get(key);
  if (v === null || v === '') return def;
  if (!/^[+-]?\d+$/.test(v)) throw invalidParameter(`invalid value for "${key}": ${JSON.stringify(v)} is not an integer`);
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw invalidParameter(`invalid value for "${key}": ${JSON.stringify(v)} is out of range`);
  return n;
}

/** A required unsigned 32-bit parameter, as for resize `h` and `w`. */
export function uint32Value(query: URLSearchParams, key: string, what: string = key): number {
  const v = query.get(key) ?? '';
  if (!/^-?\d+$/.test(v)) throw invalidParameter(`invalid ${what} ${JSON.stringify(v)}: invalid syntax`);
  const n = Number(v);
  if (n < 0 || n > 0xffffffff) throw invalidParameter(`invalid ${what} ${JSON.stringify(v)}: value out of range`);
  return n;
}

// --- filters ------------------------------------------------------------------------------

/**
 * Filters as plain data: each key with its set of values (sorted, no duplicates).
 * `{"status":{"running":true}}` (the current form) and `{"status":["running"]}` (the
 * legacy form) both become `{ status: ['running'] }`.
 */
export type Filters = Record<string, string[]>;

function invalidFilter(key?: string, values?: string[]): Error {
  let msg = 'invalid filter';
  if (key !== undefined) {
    msg += ` '${key}`;
    if (values !== undefined) msg += `=[${values.join(' ')}]`;
    msg += `'`;
  }
  return invalidParameter(msg);
}

/** Decode the `filters` query parameter; empty or absent is no filter. */
export function parseFilters(raw: string | null | undefined): Filters {
  if (raw === null || raw === undefined || raw === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw invalidFilter();
  }
  if (parsed === null) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) throw invalidFilter();
  const entries = Object.entries(parsed as Record<string, unknown>);
  const modern = entries.every(([, v]) => v === null || (typeof v === 'object' && !Array.isArray(v) && Object.values(v as object).every((b) => typeof b === 'boolean')));
  const legacy = entries.every(([, v]) => v === null || (Array.isArray(v) && v.every((s) => typeof s === 'string')));
  if (!modern && !legacy) throw invalidFilter();
  // Object.fromEntries defines own properties, so a key such as `__proto__` stays data.
  return Object.fromEntries(
    entries.map(([k, v]) => {
      const values = v === null ? [] : Array.isArray(v) ? (v as string[]) : Object.keys(v as object);
      return [k, [...new Set(values)].sort()];
    }),
  );
}

/** Refuse keys outside `accepted`, with dockerd's message (`invalid filter 'foo'`). */
export function validateFilters(filters: Filters, accepted: readonly string[]): void {
  for (const k of Object.keys(filters)) {
    if (!accepted.includes(k)) throw invalidFilter(k);
  }
}

/**
 * A boolean filter such as `dangling=true`: the default when absent; a 400 when the values
 * are neither or both of true/false.
 */
export function filterBool(filters: Filters, key: string, def: boolean): boolean {
  const values = filters[key];
  if (values === undefined) return def;
  const isFalse = values.includes('0') || values.includes('false');
  const isTrue = values.includes('1') || values.includes('true');
  if (isFalse === isTrue) throw invalidFilter(key, values);
  return isTrue;
}

/** Encode filters in the current map form (for clients and tests). */
export function encodeFilters(filters: Filters): string {
  const obj: Record<string, Record<string, boolean>> = {};
  for (const [k, vs] of Object.entries(filters)) obj[k] = Object.fromEntries(vs.map((v) => [v, true]));
  return JSON.stringify(obj);
}
