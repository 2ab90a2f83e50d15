// berthd's copy of the context directories `berth build` sends, kept between builds so that
// a rebuild sends only what changed (BuildKit's file sync, done over two HTTP requests;
// docs/build.md, "Incremental contexts"). Per context key (chosen by the client) the last
// manifest is kept with the sha256 of each file's content; contents are blobs named by
// digest, shared between keys.
//
//   <data-root>/build-context/keys/<key>.json   the manifest with digests (last use: mtime)
//   <data-root>/build-context/blobs/<sha256>    file contents
//   <data-root>/build-context/tmp/              blobs being received
//
// A build pins the blobs its context uses until its cleanup; garbage collection (after a
// build that received files, after eviction, on prune) removes blobs no key and no build
// holds. Receiving a blob, pinning reused ones and collecting run under one mutex, so a blob
// is never removed between being found and being pinned. Keys are bounded in number and in
// the bytes of the blobs they hold (least recently used first out).

import { createHash, randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { chmod, copyFile, link, mkdir, open, readdir, readFile, rename, rm, stat, symlink, unlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { conflict, invalidParameter } from '../../errors.js';
import { readTar } from '../../image/layer/tar-reader.js';
import { Mutex } from '../../sys/mutex.js';
import type { BuildContext, ContextOptions } from './context.js';
import { indexedContext } from './context.js';
import { MANIFEST_ENTRY, parseManifest, sameFile, type ManifestEntry } from './context-manifest.js';
import { ContextIndex, plainTar, safeEntryName, type IndexedEntry } from './tar-context.js';

const KEY_RE = /^[A-Za-z0-9_.-]{1,128}$/;

interface CachedEntry extends ManifestEntry {
  digest?: string;
}

interface KeyRecord {
  entries: Map<string, CachedEntry>;
  used: number;
}

export interface ContextCacheLimits {
  /** Context keys kept (default 32). */
  maxKeys?: number;
  /** Bytes of blobs kept over all keys (default 4 GiB); the key being built is always kept. */
  maxBytes?: number;
}

export interface ReceiveStats {
  filesReceived: number;
  bytesReceived: number;
  filesReused: number;
  bytesReused: number;
}

/** Checks a client's context key (the `berthcontext` parameter). */
export function checkContextKey(key: string): string {
  if (!KEY_RE.test(key) || key.startsWith('.')) throw invalidParameter(`invalid build context key ${JSON.stringify(key)}: 1 to 128 characters of A-Z a-z 0-9 _ . - (not starting with a dot)`);
  return key;
}

export class ContextCache {
  readonly dir: string;
  private readonly keysDir: string;
  private readonly blobsDir: string;
  private readonly tmpDir: string;
  private readonly maxKeys: number;
  private readonly maxBytes: number;
  private readonly records = new Map<string, KeyRecord>();
  private readonly pins = new Map<string, number>();
  /** Blobs hard-linked into a build's context right now (their inode carries that build's mode and mtime). */
  private readonly linked = new Set<string>();
  private readonly mutex = new Mutex();
  private loaded?: Promise<void>;

  constructor(dataRoot: string, limits: ContextCacheLimits = {}) {
    this.dir = join(dataRoot, 'build-context');
    this.keysDir = join(this.dir, 'keys');
    this.blobsDir = join(this.dir, 'blobs');
    this.tmpDir = join(this.dir, 'tmp');
    this.maxKeys = limits.maxKeys ?? 32;
    this.maxBytes = limits.maxBytes ?? 4 * 1024 ** 3;
  }

  private blob(digest: string): string {
    return join(this.blobsDir, digest);
  }

  /** Reads the records a previous berthd left; entries whose blob is missing or of another size are forgotten (their files are asked for again). */
  private load(): Promise<void> {
    return (this.loaded ??= (async () => {
      await rm(this.tmpDir, { recursive: true, force: true });
      await Promise.all([this.keysDir, this.blobsDir, this.tmpDir].map((d) => mkdir(d, { recursive: true, mode: 0o700 })));
      const sizes = new Map<string, number | undefined>();
      for (const name of await readdir(this.keysDir)) {
        if (!name.endsWith('.json') || !KEY_RE.test(name.slice(0, -5))) continue;
        const path = join(this.keysDir, name);
        try {
          const list = JSON.parse(await readFile(path, 'utf8')) as CachedEntry[];
          const rec: KeyRecord = { entries: new Map(), used: (await stat(path)).mtimeMs };
          for (const e of list) {
            if (e.digest !== undefined) {
              if (!/^[0-9a-f]{64}$/.test(e.digest)) continue;
              if (!sizes.has(e.digest)) sizes.set(e.digest, await stat(this.blob(e.digest)).then((s) => s.size, () => undefined));
              if (sizes.get(e.digest) !== e.size) continue;
            }
            rec.entries.set(e.path, e);
          }
          this.records.set(name.slice(0, -5), rec);
        } catch {
          await rm(path, { force: true }); // a record torn by a crash: that key starts anew
        }
      }
      await this.collect();
    })());
  }

  /** The file paths of a manifest whose content the daemon does not hold for this key. */
  async need(key: string, manifest: unknown): Promise<string[]> {
    checkContextKey(key);
    const entries = parseManifest(manifest);
    await this.load();
    const rec = this.records.get(key);
    return entries.filter((e) => {
      if (e.type !== 'file') return false;
      const c = rec?.entries.get(e.path);
      return !c?.digest || !sameFile(c, e);
    }).map((e) => e.path);
  }

  /**
   * Receives an incremental context tar (the manifest, then the files the daemon asked for)
   * into `staging` (created; removed by cleanup()). Files not sent come from the key's copy;
   * one the daemon no longer holds (another build of the key changed it meanwhile, a blob
   * lost) is a Conflict: the client asks again and sends it.
   */
  async receive(key: string, input: AsyncIterable<Buffer | Uint8Array>, staging: string, opts: ContextOptions = {}): Promise<{ context: BuildContext; stats: ReceiveStats }> {
    checkContextKey(key);
    await this.load();
    await mkdir(staging, { recursive: true });
    const pinned: string[] = [];
    const linked: string[] = [];
    const release = (): void => {
      for (const d of linked.splice(0)) this.linked.delete(d);
      for (const d of pinned.splice(0)) {
        const n = (this.pins.get(d) ?? 1) - 1;
        if (n > 0) this.pins.set(d, n);
        else this.pins.delete(d);
      }
    };
    const pin = (d: string): void => {
      this.pins.set(d, (this.pins.get(d) ?? 0) + 1);
      pinned.push(d);
    };
    const cleanup = async (): Promise<void> => {
      await rm(staging, { recursive: true, force: true });
      release();
    };
    try {
      const stats: ReceiveStats = { filesReceived: 0, bytesReceived: 0, filesReused: 0, bytesReused: 0 };
      let manifest: Map<string, CachedEntry> | undefined;
      for await (const entry of readTar(plainTar(input))) {
        const h = entry.header;
        if (!manifest) {
          if (h.name !== MANIFEST_ENTRY || h.type !== 'file') throw invalidParameter(`incremental build context: the first tar entry must be ${MANIFEST_ENTRY}`);
          const chunks: Buffer[] = [];
          for await (const c of entry.body) chunks.push(c);
          let v: unknown;
          try {
            v = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          } catch (e) {
            throw invalidParameter(`incremental build context: ${MANIFEST_ENTRY} is not JSON: ${(e as Error).message}`);
          }
          manifest = new Map(parseManifest(v).map((e) => {
            if (safeEntryName(e.path) !== e.path) throw invalidParameter(`build context manifest: path ${JSON.stringify(e.path)} is not clean (want ${JSON.stringify(safeEntryName(e.path))})`);
            return [e.path, { ...e }];
          }));
          continue;
        }
        const rel = safeEntryName(h.name);
        const m = manifest.get(rel);
        if ((h.type !== 'file' && h.type !== 'contiguous-file') || m?.type !== 'file') throw invalidParameter(`incremental build context: tar entry "${h.name}" is not a file of the manifest`);
        if (m.digest !== undefined) throw invalidParameter(`incremental build context: "${h.name}" was sent twice`);
        if (h.size !== m.size) throw invalidParameter(`incremental build context: "${h.name}" has ${h.size} bytes, the manifest says ${m.size}`);
        m.digest = await this.receiveBlob(entry.body, pin);
        stats.filesReceived++;
        stats.bytesReceived += m.size;
      }
      if (!manifest) throw invalidParameter(`incremental build context: the tar is empty (the first entry must be ${MANIFEST_ENTRY})`);
      const rec = this.records.get(key);
      await this.mutex.run(async () => {
        const reused: CachedEntry[] = [];
        for (const m of manifest!.values()) {
          if (m.type !== 'file' || m.digest !== undefined) continue;
          const c = rec?.entries.get(m.path);
          if (!c?.digest || !sameFile(c, m)) throw conflict(`build context cache: berthd holds no copy of "${m.path}" as listed; ask again (POST /_berth/build/context) and send it`);
          m.digest = c.digest;
          pin(c.digest);
          reused.push(m);
        }
        const missing = (await Promise.all(reused.map(async (m) => ((await stat(this.blob(m.digest!)).catch(() => undefined))?.size === m.size ? undefined : m)))).filter((m) => m !== undefined);
        if (missing.length) {
          for (const m of missing) rec?.entries.delete(m.path);
          throw conflict(`build context cache: berthd lost its copy of "${missing[0]!.path}"; ask again (POST /_berth/build/context) and send it`);
        }
        stats.filesReused = reused.length;
        stats.bytesReused = reused.reduce((n, m) => n + m.size, 0);
      });
      const index = await this.remember(key, manifest, stats.filesReceived > 0, staging);
      return { context: await this.contextOf(manifest, index, staging, opts, cleanup, linked), stats };
    } catch (e) {
      await cleanup();
      throw e;
    }
  }

  /** Stores one file's content as a blob (hashed as it streams), pinned; its digest. */
  private async receiveBlob(body: AsyncIterable<Buffer>, pin: (d: string) => void): Promise<string> {
    const tmp = join(this.tmpDir, randomBytes(8).toString('hex'));
    const hash = createHash('sha256');
    const fh = await open(tmp, 'wx', 0o600);
    try {
      for await (const c of body) {
        hash.update(c);
        for (let off = 0; off < c.length; ) off += (await fh.write(c, off, c.length - off)).bytesWritten;
      }
    } catch (e) {
      await fh.close();
      await rm(tmp, { force: true });
      throw e;
    }
    await fh.close();
    const digest = hash.digest('hex');
    await this.mutex.run(async () => {
      pin(digest);
      await rename(tmp, this.blob(digest));
    });
    return digest;
  }

  /** Makes the manifest (with digests) the key's record, evicting what the limits say; the context's index. */
  private async remember(key: string, manifest: Map<string, CachedEntry>, received: boolean, staging: string): Promise<ContextIndex> {
    // The staging directory was made as extraction makes implied directories: its mode is theirs.
    const index = new ContextIndex((await stat(staging)).mode & 0o7777);
    const dirMode = index.entries.get('.')!.mode;
    for (const m of manifest.values()) index.add(m.path, m.path, { type: m.type, mode: m.mode, size: m.size, linkname: m.linkname, ...(m.digest ? { digest: m.digest } : {}) }, dirMode);
    const old = this.records.get(key);
    const unchanged = old !== undefined && old.entries.size === manifest.size && [...manifest.values()].every((m) => {
      const c = old.entries.get(m.path);
      return c !== undefined && c.digest === m.digest && sameFile(c, m);
    });
    const path = join(this.keysDir, `${key}.json`);
    const now = Date.now();
    if (unchanged) {
      old.used = now;
      await utimes(path, now / 1000, now / 1000).catch(() => undefined);
      return index;
    }
    this.records.set(key, { entries: manifest, used: now });
    // Not fsync'd: a record lost or torn by a crash only makes that key start anew (load()).
    const tmp = join(this.tmpDir, `${key}.json.${randomBytes(4).toString('hex')}`);
    await writeFile(tmp, JSON.stringify([...manifest.values()]), { mode: 0o600 });
    await rename(tmp, path);
    const evicted = await this.evict(key);
    if (received || evicted || old) await this.mutex.run(() => this.collect());
    return index;
  }

  /** Drops least recently used keys (never `keep`) beyond the limits; whether any went. */
  private async evict(keep: string): Promise<boolean> {
    const sizes = (): number => {
      const seen = new Map<string, number>();
      for (const r of this.records.values()) for (const e of r.entries.values()) if (e.digest) seen.set(e.digest, e.size);
      let n = 0;
      for (const s of seen.values()) n += s;
      return n;
    };
    let any = false;
    const order = [...this.records.entries()].filter(([k]) => k !== keep).sort((a, b) => a[1].used - b[1].used);
    while (order.length && (this.records.size > this.maxKeys || sizes() > this.maxBytes)) {
      const [k] = order.shift()!;
      this.records.delete(k);
      await rm(join(this.keysDir, `${k}.json`), { force: true });
      any = true;
    }
    return any;
  }

  /** Removes blobs no key and no build holds (call under the mutex, or from load()). */
  private async collect(): Promise<number> {
    const held = new Set(this.pins.keys());
    for (const r of this.records.values()) for (const e of r.entries.values()) if (e.digest) held.add(e.digest);
    let freed = 0;
    for (const name of await readdir(this.blobsDir).catch(() => [] as string[])) {
      if (held.has(name)) continue;
      const p = this.blob(name);
      freed += (await stat(p).catch(() => ({ size: 0 }))).size;
      await unlink(p).catch(() => undefined);
    }
    return freed;
  }

  /** Forgets every key (`POST /build/prune`); blobs in use by running builds stay until they end. */
  async prune(): Promise<{ keys: string[]; space: number }> {
    await this.load();
    const keys = [...this.records.keys()];
    this.records.clear();
    for (const k of keys) await rm(join(this.keysDir, `${k}.json`), { force: true });
    return { keys, space: await this.mutex.run(() => this.collect()) };
  }

  /** The BuildContext over the received manifest: the Dockerfile and .dockerignore read from their blobs; materialize() copies the blobs out. */
  private async contextOf(manifest: Map<string, CachedEntry>, index: ContextIndex, staging: string, opts: ContextOptions, cleanup: () => Promise<void>, linked: string[]): Promise<BuildContext> {
    const root = join(staging, 'root');
    const readIndexed = async (rel: string): Promise<string | undefined> => {
      const r = index.resolve(rel, true);
      const e = r === undefined ? undefined : index.entries.get(r);
      return e?.type === 'file' && e.digest ? readFile(this.blob(e.digest), 'utf8') : undefined;
    };
    let done: Promise<void> | undefined;
    const materialize = (): Promise<void> => (done ??= this.materialize(manifest, index, root, linked));
    return indexedContext({ root, index, cleanup, materialize }, readIndexed, opts);
  }

  /**
   * Writes the context at `root` as extracting its tar would (mtimes in whole seconds, as a
   * tar holds them). A file is a hard link to its blob when no other path of this context
   * and no other build's context links that blob (the inode takes this file's mode and
   * mtime; a context is only read, never written, by the steps), else a copy: a cold build
   * then writes the context's bytes once, into the layer.
   */
  private async materialize(manifest: Map<string, CachedEntry>, index: ContextIndex, root: string, linked: string[]): Promise<void> {
    await mkdir(root, { recursive: true });
    const uses = new Map<string, number>();
    for (const e of index.entries.values()) if (e.type === 'file' && e.digest) uses.set(e.digest, (uses.get(e.digest) ?? 0) + 1);
    const mine = new Set<string>();
    for (const [d, n] of uses) {
      if (n !== 1 || this.linked.has(d)) continue;
      this.linked.add(d);
      linked.push(d);
      mine.add(d);
    }
    const dirs: [string, number, number | undefined][] = [];
    for (const [rel, e] of index.entries) {
      if (rel === '.') continue;
      const dest = join(root, rel);
      const m = manifest.get(rel);
      const mtime = m ? Number(BigInt(m.mtime) / 1_000_000_000n) : undefined;
      if (e.type === 'directory') {
        await mkdir(dest);
        dirs.push([dest, e.mode, mtime]);
      } else if (e.type === 'symlink') {
        await symlink(e.linkname, dest);
      } else {
        // Else a reflink where the filesystem has them, a copy elsewhere.
        if (mine.has(e.digest!)) await link(this.blob(e.digest!), dest);
        else await copyFile(this.blob(e.digest!), dest, constants.COPYFILE_FICLONE);
        await chmod(dest, e.mode);
        if (mtime !== undefined) await utimes(dest, mtime, mtime);
      }
    }
    for (const [d, mode, mtime] of dirs.reverse()) {
      await chmod(d, mode);
      if (mtime !== undefined) await utimes(d, mtime, mtime);
    }
  }
}
