// Small blobs (manifests, indexes, configs) kept in memory by digest. A digest names its
// bytes for good, so an entry is never stale; the cache only bounds its size, dropping the
// least recently used first.

const MAX_BLOB = 256 * 1024;

export class SmallBlobCache {
  private readonly entries = new Map<string, Buffer>();
  private bytes = 0;

  constructor(private readonly maxBytes = 8 * 1024 * 1024) {}

  get(digest: string): Buffer | undefined {
    const b = this.entries.get(digest);
    if (b) {
      this.entries.delete(digest); // to the most recent end
      this.entries.set(digest, b);
    }
    return b;
  }

  /** Keeps data under digest when it is small enough; evicts the oldest beyond the budget. */
  remember(digest: string, data: Buffer): void {
    if (data.length > MAX_BLOB || this.entries.has(digest)) return;
    this.entries.set(digest, data);
    this.bytes += data.length;
    for (const [d, b] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(d);
      this.bytes -= b.length;
    }
  }

  forget(digest: string): void {
    const b = this.entries.get(digest);
    if (!b) return;
    this.entries.delete(digest);
    this.bytes -= b.length;
  }
}
