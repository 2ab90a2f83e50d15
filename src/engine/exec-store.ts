// Exec instances on disk, so that an exec started before berthd is killed can still be
// inspected after a restart (dockerd keeps them in memory only and forgets them).
//
// One journal per container, <data-root>/containers/<id>/execs.jsonl: a JSON line per
// state an exec reaches (started with its pids, then exited with its code), appended; an
// exec's last line is its state. An append makes no file: the per-exec files of earlier
// versions (execs/<exec id>.json, temp file and rename per write, still read) made a new
// inode per write, 0.2–0.6 ms each on a file system that looks for free inodes (ext4
// without a journal skips recently freed ones), twice per `docker exec`. The journal is
// rewritten atomically, one line per exec, once it holds more than twice as many lines as
// execs. A line torn by a crash is cut off before the next append (so that it cannot take
// the next line with it) and skipped when read.
//
// Not fsynced: an exec does not outlive a reboot (its runtime dir is on the exec root's
// tmpfs) and a berthd crash keeps the page cache, so a sync would only add its
// milliseconds to every `docker exec`. Execs that were created but never started are not
// written: they cost nothing to make again, and health checks (which never start one a
// client could see) stay off the disk. The writes are synchronous: a small append costs the
// event loop less than the promise and thread-pool round trips would, right when the exec's
// output and exit come in.

import { closeSync, ftruncateSync, openSync, readFileSync, renameSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExecCreateRequest } from '../api/types/exec.js';

export interface StoredExec {
  id: string;
  containerId: string;
  config: ExecCreateRequest;
  running: boolean;
  exitCode: number | null;
  pid: number;
  /** The exec's berth-monitor while it runs (re-adopted after a restart). */
  monitorPid: number;
  /** Its runtime dir under the exec root (exit file, attach socket). */
  dir: string;
}

/** Lines a journal may hold beyond twice its execs before it is rewritten. */
const COMPACT_SLACK = 64;
const EXEC_ID = /^[0-9a-f]{64}$/;

/** What berthd knows of a container's journal since it first wrote or read it. */
interface Journal {
  lines: number;
  ids: Set<string>;
}

/** The execs of a journal's text, last line of each winning; torn or foreign lines go to onBad. */
function parseJournal(text: string, containerId: string, onBad: (line: number, e: unknown) => void): { execs: Map<string, StoredExec>; lines: number } {
  const execs = new Map<string, StoredExec>();
  const rows = text.split('\n');
  if (rows[rows.length - 1] === '') rows.pop();
  rows.forEach((row, i) => {
    try {
      const e = JSON.parse(row) as StoredExec;
      if (typeof e.id !== 'string' || !EXEC_ID.test(e.id) || e.containerId !== containerId) throw new Error('not an exec of this container');
      execs.delete(e.id); // a later state goes last
      execs.set(e.id, e);
    } catch (err) {
      onBad(i + 1, err);
    }
  });
  return { execs, lines: rows.length };
}

export class ExecStore {
  private readonly journals = new Map<string, Journal>();

  constructor(private readonly containersDir: string) {}

  private journalPath(containerId: string): string {
    return join(this.containersDir, containerId, 'execs.jsonl');
  }

  /** Appends the exec's state to its container's journal; throws ENOENT when the container's directory is gone. */
  save(e: StoredExec): void {
    const path = this.journalPath(e.containerId);
    const j = this.journals.get(e.containerId) ?? this.open(e.containerId, path);
    const fd = openSync(path, 'a', 0o600);
    try {
      writeSync(fd, `${JSON.stringify(e)}\n`);
    } finally {
      closeSync(fd);
    }
    j.lines++;
    j.ids.add(e.id);
    if (j.lines > 2 * j.ids.size + COMPACT_SLACK) this.compact(e.containerId, path, j);
  }

  /** Counts a journal written by an earlier berthd, and cuts off a line a crash tore. */
  private open(containerId: string, path: string): Journal {
    let text = '';
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const end = text.lastIndexOf('\n') + 1;
    if (end < text.length) {
      const fd = openSync(path, 'r+');
      try {
        ftruncateSync(fd, Buffer.byteLength(text.slice(0, end)));
      } finally {
        closeSync(fd);
      }
    }
    const { execs, lines } = parseJournal(text.slice(0, end), containerId, () => undefined);
    const j: Journal = { lines, ids: new Set(execs.keys()) };
    this.journals.set(containerId, j);
    return j;
  }

  /** Rewrites the journal with each exec's last line (temp file, rename). */
  private compact(containerId: string, path: string, j: Journal): void {
    const { execs } = parseJournal(readFileSync(path, 'utf8'), containerId, () => undefined);
    this.rewrite(path, execs);
    j.lines = execs.size;
    j.ids = new Set(execs.keys());
  }

  /** Writes one line per exec into a temp file and renames it over the journal. */
  private rewrite(path: string, execs: Map<string, StoredExec>): void {
    const tmp = `${path}.tmp`;
    try {
      writeFileSync(tmp, [...execs.values()].map((e) => `${JSON.stringify(e)}\n`).join(''), { mode: 0o600 });
      renameSync(tmp, path);
    } catch (err) {
      try {
        unlinkSync(tmp);
      } catch {
        // never made
      }
      throw err;
    }
  }

  /**
   * Takes the given execs out of the container's journal (rewritten without them) and
   * removes their files of earlier versions. A container already removed has nothing to drop.
   */
  drop(containerId: string, ids: ReadonlySet<string>): void {
    const path = this.journalPath(containerId);
    for (const id of ids) {
      try {
        unlinkSync(join(this.containersDir, containerId, 'execs', `${id}.json`));
      } catch {
        // none, or already gone
      }
    }
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    const { execs } = parseJournal(text, containerId, () => undefined);
    for (const id of ids) execs.delete(id);
    this.rewrite(path, execs);
    this.journals.set(containerId, { lines: execs.size, ids: new Set(execs.keys()) });
  }

  /** Forgets what it knows of the container's journal (removed with the container). */
  forget(containerId: string): void {
    this.journals.delete(containerId);
  }

  /**
   * The container's stored execs: the files of earlier versions, then the journal (later
   * states win); unreadable files and torn lines are skipped (`onBad` says which).
   */
  async load(containerId: string, onBad: (where: string, e: unknown) => void = () => undefined): Promise<StoredExec[]> {
    const out = new Map<string, StoredExec>();
    const legacy = join(this.containersDir, containerId, 'execs');
    for (const n of await readdir(legacy).catch(() => [] as string[])) {
      if (!/^[0-9a-f]{64}\.json$/.test(n)) continue;
      try {
        const e = JSON.parse(await readFile(join(legacy, n), 'utf8')) as StoredExec;
        if (e.id === n.slice(0, 64) && e.containerId === containerId) out.set(e.id, e);
      } catch (err) {
        onBad(join(legacy, n), err);
      }
    }
    const path = this.journalPath(containerId);
    const text = await readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') onBad(path, err);
      return '';
    });
    const { execs } = parseJournal(text, containerId, (line, err) => onBad(`${path}:${line}`, err));
    for (const [id, e] of execs) out.set(id, e);
    return [...out.values()];
  }
}
