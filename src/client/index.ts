export { EngineClient, CLIENT_API_VERSION, encodeQuery, readAll } from './client.js';
export type { Hijacked, Ping, Query, RequestParams } from './client.js';
export { ApiError, ConnectionError } from './errors.js';
export { DEFAULT_HOST, DEFAULT_SOCKET, defaultSocket, parseHost, resolveHost } from './connection.js';
export type { ConnectionTarget, TlsFlags, TlsOptions } from './connection.js';
export { StdcopyDecoder } from './stdcopy.js';
export { readJsonStream } from './json-stream.js';
export type { JsonMessage } from './json-stream.js';
