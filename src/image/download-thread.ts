import type { Worker } from 'node:worker_threads';
import { BerthError, type ErrorKind } from '../errors.js';
import type { ContentStore } from './content/store.js';
import type { WriteWatcher } from './fetch-blob.js';
import type { Descriptor } from './media-types.js';
import { progressEvent, type ProgressEvent, type ProgressListener } from './progress.js';
import type { Reference } from './reference.js';
import type { RegistryClient, RegistryClientOptions } from './registry/client.js';
import type { Credentials } from './registry/credentials.js';

// Layer downloads on a worker thread, for a pull that unpacks as it downloads. Extraction
// makes one synchronous file call after another on the pulling thread; a download on that
// same thread (HTTP parsing, sha256, ingest writes) only moves when extraction yields, so
// it finished with the extraction and the extraction waited for its bytes. On its own
// thread the download runs at the network's pace and extraction follows the ingest file
// (BlobFollower) from the page cache. The worker runs fetchBlob against the same content
// store, so resume, verification before commit and retries are the same code; what stays
// here: one write per digest in this process (ContentStore.writeOnce), the credentials
// lookup (answered for the worker), and progress events (relayed). Opt-in
// (PullOptions.downloadThread): on a loaded 2-CPU machine the pull was CPU-bound and the
// download's burst on its own thread took CPU from the extraction (docs/benchmarks.md).

export interface FetchThreadData {
  dataRoot: string;
  /** The client's options without the credential lookup, which cannot cross threads. */
  registry: Omit<RegistryClientOptions, 'credentials'>;
  hasCredentials: boolean;
  ref: Reference;
  attempts: number;
}

export type ToFetchThread =
  | { type: 'fetch'; desc: Descriptor }
  | { type: 'credentials'; id: number; credentials?: Credentials; error?: string };

export type FromFetchThread =
  | { type: 'progress'; event: ProgressEvent }
  | { type: 'written'; digest: string; n: number }
  | { type: 'done'; digest: string }
  | { type: 'failed'; digest: string; error: SerializedError }
  | { type: 'credentials'; id: number; host: string };

export interface SerializedError {
  message: string;
  kind?: ErrorKind;
  code?: string;
}

/** An error as it can cross threads (a structured clone keeps neither class nor kind). */
export function serializeError(e: unknown): SerializedError {
  const out: SerializedError = { message: e instanceof Error ? e.message : String(e) };
  if (e instanceof BerthError) out.kind = e.kind;
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === 'string') out.code = code;
  return out;
}

export function deserializeError(s: SerializedError): Error {
  if (s.kind) return new BerthError(s.kind, s.message, s.code ? { code: s.code } : undefined);
  return Object.assign(new Error(s.message), s.code ? { code: s.code } : {});
}

interface Job {
  onProgress: ProgressListener | undefined;
  watcher: WriteWatcher | undefined;
  resolve: () => void;
  reject: (e: Error) => void;
}

export class DownloadThread {
  private worker: Worker | undefined;
  private readonly jobs = new Map<string, Job>();
  /** Why the worker is gone, once it is. */
  private dead: Error | undefined;

  constructor(
    private readonly registry: RegistryClient,
    private readonly content: ContentStore,
    private readonly ref: Reference,
    private readonly attempts: number,
  ) {}

  /** Starts the worker now rather than at the first fetch (a fetch starts it anyway). */
  start(): void {
    this.ensureWorker();
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const { credentials, ...registry } = this.registry.options;
    const data: FetchThreadData = { dataRoot: this.content.dataRoot, registry, hasCredentials: credentials !== undefined, ref: this.ref, attempts: this.attempts };
    // worker_threads loaded with the first thread, not with the module (berthd's RSS at rest)
    const { Worker: WorkerThread } = process.getBuiltinModule('node:worker_threads');
    const w = new WorkerThread(new URL('./blob-fetch-worker.js', import.meta.url), { workerData: data });
    w.on('message', (m: FromFetchThread) => this.receive(m));
    const die = (e: Error): void => {
      this.dead ??= e;
      for (const job of this.jobs.values()) job.reject(this.dead);
      this.jobs.clear();
    };
    w.on('error', (e) => die(new BerthError('System', `download thread failed: ${e.message}`, { cause: e })));
    w.on('exit', (code) => die(new BerthError('System', `download thread exited (code ${code})`)));
    this.worker = w;
    return w;
  }

  private receive(m: FromFetchThread): void {
    if (m.type === 'credentials') {
      const lookup = this.registry.options.credentials;
      const answer = (reply: ToFetchThread): void => this.worker?.postMessage(reply);
      Promise.resolve(lookup?.(m.host)).then(
        (credentials) => answer({ type: 'credentials', id: m.id, ...(credentials ? { credentials } : {}) }),
        (e: unknown) => answer({ type: 'credentials', id: m.id, error: e instanceof Error ? e.message : String(e) }),
      );
      return;
    }
    const job = this.jobs.get(m.type === 'progress' ? m.event.digest : m.digest);
    if (!job) return;
    if (m.type === 'progress') job.onProgress?.(m.event);
    else if (m.type === 'written') job.watcher?.update(m.n);
    else {
      this.jobs.delete(m.digest);
      if (m.type === 'done') job.resolve();
      else job.reject(deserializeError(m.error));
    }
  }

  /**
   * fetchBlob on the worker: the blob downloaded, verified and committed into the store,
   * or the download's error. A blob already stored or being written in this process is
   * not downloaded again.
   */
  async fetch(desc: Descriptor, onProgress?: ProgressListener, watcher?: WriteWatcher): Promise<void> {
    if (await this.content.has(desc.digest)) {
      onProgress?.(progressEvent(desc.digest, 'exists', desc.size, desc.size));
      return;
    }
    let mine = false;
    await this.content.writeOnce(desc.digest, async () => {
      mine = true;
      if (this.dead) throw this.dead;
      const w = this.ensureWorker();
      await new Promise<void>((resolve, reject) => {
        this.jobs.set(desc.digest, { onProgress, watcher, resolve, reject });
        w.postMessage({ type: 'fetch', desc: { mediaType: desc.mediaType, digest: desc.digest, size: desc.size } } satisfies ToFetchThread);
      });
      return this.content.info(desc.digest);
    });
    if (!mine) onProgress?.(progressEvent(desc.digest, 'downloaded', desc.size, desc.size));
  }

  /** Stops the worker (call once no fetch is in flight). */
  async close(): Promise<void> {
    const w = this.worker;
    if (!w) return;
    this.dead ??= new BerthError('System', 'download thread closed');
    await w.terminate();
  }
}
