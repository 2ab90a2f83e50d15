// POST /build with an incremental context (berthd only; docs/build.md, "Incremental
// contexts"): the context's manifest goes to POST /_berth/build/context, berthd answers
// which files it lacks for this context key, and POST /build?berthcontext=KEY carries the
// manifest and those files only. A daemon without the endpoint (dockerd, an older berthd)
// gets nothing but the probe: the caller sends the whole tar instead.

import type { IncomingMessage } from 'node:http';
import { MANIFEST_ENTRY, type ManifestEntry } from '../build/context/context-manifest.js';
import { contextTar, type ScannedContext } from './build-context.js';
import type { EngineClient, Query } from './client.js';
import { ApiError, ConnectionError } from './errors.js';

const MANIFEST_LIMIT = 15 * 1024 * 1024;

/** The build's response and the bytes sent; undefined when the daemon has no incremental contexts. */
export async function postIncrementalBuild(client: EngineClient, scanned: ScannedContext, key: string, query: Query): Promise<{ res: IncomingMessage; sent: () => number } | undefined> {
  const manifest: ManifestEntry[] = scanned.entries.map(({ path, type, mode, size, mtime, ctime, ino, dev, linkname }) => ({ path, type, mode, size, mtime, ctime, ino, dev, linkname }));
  const manifestJson = Buffer.from(JSON.stringify({ entries: manifest }));
  // berthd reads JSON bodies up to 16 MiB: a context of that many paths goes whole.
  if (manifestJson.length > MANIFEST_LIMIT) return undefined;
  const made = scanned.entries.filter((e) => e.data !== undefined).map((e) => e.path);
  // A second Conflict means builds of this context keep racing: the caller sends it whole.
  for (let attempt = 0; attempt < 2; attempt++) {
    let need: string[];
    try {
      need = (await client.post<{ Need: string[] }>('/_berth/build/context', { key }, { entries: manifest })).Need;
    } catch (e) {
      // dockerd answers the unknown path with a 404 without reading the body, and may close
      // the connection while it is still being written (EPIPE): both mean "send it whole"
      // (a daemon that is down fails that request the same way).
      if ((e instanceof ApiError && (e.status === 404 || e.status === 501)) || e instanceof ConnectionError) return undefined;
      throw e;
    }
    const packed = contextTar(scanned, { only: new Set([...need, ...made]), head: [{ name: MANIFEST_ENTRY, data: manifestJson }] });
    try {
      const res = await client.stream('POST', '/build', { query: { ...query, berthcontext: key }, raw: packed.tar, headers: { 'Content-Type': 'application/x-tar' } });
      return { res, sent: packed.size };
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 409 && e.message.startsWith('build context cache:'))) throw e;
    }
  }
  return undefined;
}
