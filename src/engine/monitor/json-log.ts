// Reading the json-file log berth-monitor writes (dockerd's format, one entry a line):
//   {"log":"hello\n","stream":"stdout","time":"2024-05-01T12:34:56.123456789Z"}
// across its rotated files FILE.(N-1) … FILE.1, FILE, optionally following it.

import { open, readFile, stat, type FileHandle } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';
import { setTimeout as sleep } from 'node:timers/promises';

export interface LogEntry {
  stream: 'stdout' | 'stderr';
  /** The text, with its trailing "\n" unless it was a partial line. */
  log: string;
  /** RFC 3339 with nanoseconds, as written. */
  time: string;
}

export interface ReadLogOptions {
  /** Keep reading new entries (across rotation) until stopWhen or signal says stop. */
  follow?: boolean;
  /** Only the last n entries of what is already there (then new ones when following). */
  tail?: number;
  /** Only entries at or after this time (a Date, or nanoseconds since the epoch). */
  since?: Date | bigint;
  /** Only entries before this time. */
  until?: Date | bigint;
  /** Following ends after a last read once this returns true (for instance: the exit file exists). */
  stopWhen?: () => boolean | Promise<boolean>;
  signal?: AbortSignal;
  /** How often to look for new data when following (ms). */
  pollMs?: number;
}

const toNs = (t: Date | bigint): bigint => (typeof t === 'bigint' ? t : BigInt(t.getTime()) * 1_000_000n);

/** Nanoseconds since the epoch of an RFC 3339 time with up to 9 fraction digits. */
export function parseRfc3339Nano(time: string): bigint {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/.exec(time);
  if (!m) return -1n;
  const ms = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(ms)) return -1n;
  return BigInt(ms) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
}

const ENTRY_HEAD = '{"log":"';
const STREAM_KEY = '","stream":"';
const TIME_KEY = '","time":"';

/**
 * The entry of a line as berth-monitor writes it (keys in this order, the text escaped by
 * JSON rules): the text is sliced out when its only escape is the final `\n`, the common
 * case, which costs a fraction of JSON.parse (100k lines: ~60 ms instead of ~400). Anything
 * else is left to JSON.parse.
 */
function parseMonitorLine(line: string): LogEntry | undefined {
  if (!line.startsWith(ENTRY_HEAD)) return undefined;
  // An unescaped quote ends the text; a quote inside it would need a backslash.
  const end = line.indexOf(STREAM_KEY, ENTRY_HEAD.length);
  if (end < 0) return undefined;
  const slash = line.indexOf('\\', ENTRY_HEAD.length);
  let log: string;
  if (slash < 0 || slash > end) log = line.slice(ENTRY_HEAD.length, end);
  else if (slash === end - 2 && line.charCodeAt(end - 1) === 110 /* n */) log = `${line.slice(ENTRY_HEAD.length, end - 2)}\n`;
  else return undefined;
  const s = end + STREAM_KEY.length;
  const stream = line.startsWith('stdout', s) ? 'stdout' : line.startsWith('stderr', s) ? 'stderr' : undefined;
  if (!stream || !line.startsWith(TIME_KEY, s + 6) || !line.endsWith('"}')) return undefined;
  const time = line.slice(s + 6 + TIME_KEY.length, -2);
  if (time.includes('"') || time.includes('\\')) return undefined;
  return { log, stream, time };
}

/** One line of the log; undefined for a line that is not an entry. */
export function parseLogLine(line: string): LogEntry | undefined {
  const fast = parseMonitorLine(line);
  if (fast) return fast;
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return undefined;
  }
  const o = v as { log?: unknown; stream?: unknown; time?: unknown };
  if (typeof o?.log !== 'string' || (o.stream !== 'stdout' && o.stream !== 'stderr') || typeof o.time !== 'string') return undefined;
  return { log: o.log, stream: o.stream, time: o.time };
}

/** The rotated files that exist, oldest first: FILE.k … FILE.1 (stops at the first gap). */
async function rotatedFiles(path: string): Promise<string[]> {
  const files: string[] = [];
  for (let i = 1; ; i++) {
    const st = await stat(`${path}.${i}`).catch(() => undefined);
    if (!st) break;
    files.unshift(`${path}.${i}`);
  }
  return files;
}

const READ_SIZE = 256 * 1024;
const BATCH = 1024;

/** The current file, read incrementally; complete lines only. */
class Cursor {
  private pos = 0;
  private buf: Buffer | undefined;
  private rest = '';
  private decoder = new StringDecoder('utf8');
  private constructor(
    readonly fh: FileHandle,
    readonly ino: number,
  ) {}

  static async open(path: string): Promise<Cursor | undefined> {
    const fh = await open(path, 'r').catch(() => undefined);
    if (!fh) return undefined;
    return new Cursor(fh, (await fh.stat()).ino);
  }

  /** The complete lines written since the last call. */
  async lines(): Promise<string[]> {
    const st = await this.fh.stat();
    if (st.size < this.pos) {
      // truncated in place (rotation with one file): start again
      this.pos = 0;
      this.rest = '';
      this.decoder = new StringDecoder('utf8');
    }
    const out: string[] = [];
    if (st.size === this.pos) return out;
    this.buf ??= Buffer.allocUnsafe(READ_SIZE);
    for (;;) {
      const { bytesRead } = await this.fh.read(this.buf, 0, this.buf.length, this.pos);
      if (bytesRead === 0) break;
      this.pos += bytesRead;
      this.rest += this.decoder.write(this.buf.subarray(0, bytesRead));
      const parts = this.rest.split('\n');
      this.rest = parts.pop()!;
      for (const part of parts) out.push(part);
    }
    return out;
  }

  close(): Promise<void> {
    return this.fh.close();
  }
}

/** Reads the log's entries, oldest first. */
export async function* readJsonLog(path: string, opts: ReadLogOptions = {}): AsyncGenerator<LogEntry> {
  for await (const batch of readJsonLogBatches(path, opts)) yield* batch;
}

/**
 * Reads the log's entries, oldest first, in batches of what was there at once: a reader of
 * 100k lines then pays for a few iterations instead of 100k (each costs microseconds).
 */
export async function* readJsonLogBatches(path: string, opts: ReadLogOptions = {}): AsyncGenerator<LogEntry[]> {
  const since = opts.since === undefined ? undefined : toNs(opts.since);
  const until = opts.until === undefined ? undefined : toNs(opts.until);
  const keep = (e: LogEntry | undefined): e is LogEntry => {
    if (e === undefined) return false;
    if (since === undefined && until === undefined) return true;
    const ns = parseRfc3339Nano(e.time);
    return (since === undefined || ns >= since) && (until === undefined || ns < until);
  };

  // What is there now: open the current file first, so that a rotation meanwhile shows up as
  // a rotated file with the inode of ours (skipped: it is read through the cursor).
  let cur = await Cursor.open(path);
  const backlog: LogEntry[] = [];
  for (const f of await rotatedFiles(path)) {
    const st = await stat(f).catch(() => undefined);
    if (!st || (cur && st.ino === cur.ino)) continue;
    const text = await readFile(f, 'utf8').catch(() => '');
    for (const line of text.split('\n')) {
      const e = parseLogLine(line);
      if (keep(e)) backlog.push(e);
    }
  }
  const fromCursor = async (): Promise<LogEntry[]> => {
    const out: LogEntry[] = [];
    for (const line of cur ? await cur.lines() : []) {
      const e = parseLogLine(line);
      if (keep(e)) out.push(e);
    }
    return out;
  };
  // Batches of at most BATCH entries: what a reader builds from one (messages, frames) is
  // garbage soon, but a 100k-entry batch would grow the heap for good.
  const nonEmpty = (b: LogEntry[]): LogEntry[][] => {
    const out: LogEntry[][] = [];
    for (let i = 0; i < b.length; i += BATCH) out.push(b.length <= BATCH ? b : b.slice(i, i + BATCH));
    return out;
  };
  try {
    for (const e of await fromCursor()) backlog.push(e);
    const start = opts.tail === undefined ? 0 : Math.max(0, backlog.length - opts.tail);
    yield* nonEmpty(start === 0 ? backlog : backlog.slice(start));
    if (!opts.follow) return;

    let stopping = false;
    for (;;) {
      if (opts.signal?.aborted) return;
      yield* nonEmpty(await fromCursor());
      // rotated away (renamed, then a new file) or not there yet: move to the file at path
      const st = await stat(path).catch(() => undefined);
      if (st && (!cur || st.ino !== cur.ino)) {
        if (cur) {
          yield* nonEmpty(await fromCursor()); // the end of the old file
          await cur.close();
        }
        cur = await Cursor.open(path);
        continue;
      }
      if (stopping) return;
      if (opts.stopWhen && (await opts.stopWhen())) {
        stopping = true; // one more pass: the last writes before the stop
        continue;
      }
      try {
        await sleep(opts.pollMs ?? 50, undefined, opts.signal ? { signal: opts.signal } : undefined);
      } catch {
        return; // aborted
      }
    }
  } finally {
    await cur?.close();
  }
}
