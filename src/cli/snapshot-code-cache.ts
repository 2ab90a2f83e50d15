// Takes Node's code cache of its own built-in modules out of a startup snapshot blob
// (`node --build-snapshot`), keeping the heap as it is. scripts/build-cli.sh runs it on
// dist/src/cli/berth.blob: `node dist/src/cli/snapshot-code-cache.js BLOB`.
//
// Why: Node 20 appends to every user snapshot a code cache of all ~320 built-in modules
// (~2.8 MB of the 5.3 MB blob), used only to compile a built-in first required after the
// start. The CLI's snapshot already holds the built-ins it uses, compiled; the cache only
// costs: node reads the blob into one buffer and copies its parts into others, and every
// fresh 4 KB page of those copies is a page fault (~1,300 of them, ~12 ms of CPU here).
// `--build-snapshot-config` with `withoutCodeCache` leaves it out too, but also drops the
// compiled bytecode of the heap (V8's kClear), which costs more than it saves.
//
// The blob's layout (src/node_snapshotable.cc, SnapshotSerializer; integers little-endian,
// lengths and vector sizes as 8-byte size_t): u32 magic 0x0143da19; metadata (u8 type,
// strings node version, arch, platform, u32 V8 cache tag, u32 flags); V8's startup data
// (i32 size + bytes); the isolate's and the environment's serialised state; last, the code
// cache: a vector of { string id, vector<u8> data }. An empty vector is a size of 0, what
// a blob built without a code cache holds there.

import { readFileSync, renameSync, writeFileSync } from 'node:fs';

const MAGIC = 0x0143da19;
/** Node's SnapshotFlags::kWithoutCodeCache: the blob has no code cache to take out. */
const WITHOUT_CODE_CACHE = 1;

export class SnapshotFormatError extends Error {}

/** A reader that throws SnapshotFormatError instead of reading past the end. */
class Cursor {
  constructor(
    private readonly b: Buffer,
    public at = 0,
  ) {}

  private need(n: number, what: string): void {
    if (this.at + n > this.b.length) throw new SnapshotFormatError(`snapshot blob ends inside ${what} at byte ${this.at}`);
  }

  u8(what: string): number {
    this.need(1, what);
    return this.b.readUInt8(this.at++);
  }

  u32(what: string): number {
    this.need(4, what);
    const v = this.b.readUInt32LE(this.at);
    this.at += 4;
    return v;
  }

  size(what: string): number {
    this.need(8, what);
    const v = this.b.readBigUInt64LE(this.at);
    this.at += 8;
    if (v > BigInt(this.b.length)) throw new SnapshotFormatError(`snapshot blob: ${what} of ${v} bytes at byte ${this.at - 8} is larger than the blob`);
    return Number(v);
  }

  bytes(n: number, what: string): Buffer {
    this.need(n, what);
    const v = this.b.subarray(this.at, this.at + n);
    this.at += n;
    return v;
  }
}

/** Where V8's startup data ends and the blob's flags, checking the header on the way. */
function readHeader(blob: Buffer): { flags: number; v8End: number } {
  const c = new Cursor(blob);
  const magic = c.u32('the magic number');
  if (magic !== MAGIC) throw new SnapshotFormatError(`not a Node.js snapshot blob (magic 0x${magic.toString(16)}, expected 0x${MAGIC.toString(16)})`);
  c.u8('the metadata type');
  for (const what of ['the Node.js version', 'the architecture', 'the platform']) c.bytes(c.size(what), what);
  c.u32('the V8 cache tag');
  const flags = c.u32('the snapshot flags');
  const v8Size = c.u32('the size of the V8 startup data');
  c.bytes(v8Size, 'the V8 startup data');
  return { flags, v8End: c.at };
}

/** A built-in module id as Node writes them: `internal/fs/utils`, `node:sea`, `v8`. */
const MODULE_ID = /^[a-z_][\w/:.-]*$/i;

/** The size of a code cache vector that starts at `at` and ends exactly at the blob's end, else -1. */
function codeCacheAt(blob: Buffer, at: number): number {
  try {
    const c = new Cursor(blob, at);
    const count = c.size('the code cache size');
    if (count === 0 || count > 10_000) return -1;
    for (let i = 0; i < count; i++) {
      const id = c.bytes(c.size('a module id'), 'a module id').toString('latin1');
      if (!MODULE_ID.test(id)) return -1;
      c.bytes(c.size('a code cache'), 'a code cache');
    }
    return c.at === blob.length ? count : -1;
  } catch (e) {
    if (e instanceof SnapshotFormatError) return -1;
    throw e;
  }
}

/**
 * The blob with an empty code cache, or the blob itself when it has none. The environment's
 * state before the cache has no length of its own, so the cache is found as the one place
 * after V8's data where a whole vector of { id, data } ends exactly at the end of the blob.
 */
export function dropCodeCache(blob: Buffer): { blob: Buffer; modules: number } {
  const { flags, v8End } = readHeader(blob);
  if (flags & WITHOUT_CODE_CACHE) return { blob, modules: 0 };
  for (let at = v8End; at + 8 <= blob.length; at++) {
    const modules = codeCacheAt(blob, at);
    if (modules > 0) {
      const out = Buffer.alloc(at + 8);
      blob.copy(out, 0, 0, at);
      return { blob: out, modules };
    }
  }
  if (blob.readBigUInt64LE(blob.length - 8) === 0n) return { blob, modules: 0 };
  throw new SnapshotFormatError('snapshot blob: no code cache found after the V8 startup data (an unknown blob layout)');
}

function main(path: string): void {
  const before = readFileSync(path);
  const { blob, modules } = dropCodeCache(before);
  if (blob === before) return;
  writeFileSync(`${path}.tmp`, blob);
  renameSync(`${path}.tmp`, path);
  console.log(`${path}: dropped the code cache of ${modules} built-in modules (${before.length} → ${blob.length} bytes)`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    main(process.argv[2] ?? '');
  } catch (e) {
    console.error(`snapshot-code-cache: ${(e as Error).message}`);
    process.exitCode = 1;
  }
}
