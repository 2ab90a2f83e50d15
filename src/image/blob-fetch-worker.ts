import { parentPort, workerData } from 'node:worker_threads';
import { ContentStore } from './content/store.js';
import { fetchBlob } from './fetch-blob.js';
import { RegistryClient } from './registry/client.js';
import type { Credentials } from './registry/credentials.js';
import type { FetchThreadData, FromFetchThread, ToFetchThread } from './download-thread.js';
import { serializeError } from './download-thread.js';

// The download thread's side (see download-thread.ts): HTTP, sha256 and ingest writes of
// the blobs it is asked for, so that they never wait behind the extraction's synchronous
// file calls on the pulling thread. Credentials are asked of the pulling thread, which
// holds the lookup (config files, helpers); tokens are fetched here.

const port = parentPort!;
const data = workerData as FetchThreadData;
const post = (m: FromFetchThread): void => port.postMessage(m);

let nextAsk = 0;
const asks = new Map<number, { resolve: (c: Credentials | undefined) => void; reject: (e: Error) => void }>();
const credentials = (host: string): Promise<Credentials | undefined> =>
  new Promise((resolve, reject) => {
    const id = nextAsk++;
    asks.set(id, { resolve, reject });
    post({ type: 'credentials', id, host });
  });

const registry = new RegistryClient({ ...data.registry, ...(data.hasCredentials ? { credentials } : {}) });
const repo = registry.repository(data.ref);
const content = new ContentStore(data.dataRoot);

/** Posts how much of a blob's ingest is written: on the first report, on a rewind, and every WRITTEN_STEP bytes. */
const WRITTEN_STEP = 256 * 1024;

port.on('message', (m: ToFetchThread) => {
  if (m.type === 'credentials') {
    const ask = asks.get(m.id);
    asks.delete(m.id);
    if (m.error !== undefined) ask?.reject(new Error(m.error));
    else ask?.resolve(m.credentials);
    return;
  }
  const { desc } = m;
  let posted = -1;
  const watcher = {
    update: (n: number) => {
      if (posted < 0 || n < posted || n - posted >= WRITTEN_STEP || n === desc.size) {
        posted = n;
        post({ type: 'written', digest: desc.digest, n });
      }
    },
  };
  fetchBlob(content, repo, desc, data.attempts, (event) => post({ type: 'progress', event }), watcher).then(
    () => post({ type: 'done', digest: desc.digest }),
    (e: unknown) => post({ type: 'failed', digest: desc.digest, error: serializeError(e) }),
  );
});
