// A node socket's file descriptor, from its libuv handle (node has no public accessor): for
// passing the connection to another process (SCM_RIGHTS), or reading it while node does not.

import type { Duplex } from 'node:stream';

/** The descriptor of a plain (not TLS) socket; undefined when it has none (closed, TLS, a pipe stream of another kind). */
export function socketFd(socket: Duplex): number | undefined {
  if ((socket as { encrypted?: boolean }).encrypted) return undefined;
  const fd = (socket as { _handle?: { fd?: unknown } })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}
