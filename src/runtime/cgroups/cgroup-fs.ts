// File effects on cgroupfs: interface-file reads and writes with errors that name the file and
// the OCI field, directory creation that records what it made, removal that retries EBUSY.
// Directory creation and removal, reads and most writes are synchronous: on cgroupfs they
// are in-kernel bookkeeping of microseconds, less than the thread-pool round trip of the
// async calls (which, on a loaded host, costs milliseconds each, ~20 of them per container
// start on cgroup v1, and three per write: open, write, close). The writes that can take
// long stay asynchronous: memory limits (lowering one reclaims memory in the write), moving
// processes (cgroup.procs, tasks: migration waits for RCU) and the freezer.

import { closeSync, constants, mkdirSync, openSync, readdirSync, readFileSync, rmdirSync, statSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { BerthError, systemError } from '../../errors.js';

/** One interface-file write planned from LinuxResources (see resources-v1.ts, resources-v2.ts). */
export interface CgroupWrite {
  /** The controller (v1 hierarchy) or the file's prefix on v2; "" for core files. */
  controller: string;
  file: string;
  value: string;
  /** The OCI field the value came from, e.g. "linux.resources.memory.limit". */
  field: string;
  /** Files tried in order when `file` does not exist, each with its own value. */
  alternatives?: { file: string; value: string }[];
  /** Skip silently when the file (and every alternative) does not exist. */
  optional?: boolean;
}

const errnoOf = (e: unknown): string | undefined => (e as NodeJS.ErrnoException | undefined)?.code;

const SLOW_WRITE = /^(memory\.|cgroup\.procs$|cgroup\.threads$|tasks$|freezer\.state$|cgroup\.freeze$|cgroup\.kill$)/;

/** Writes value in one write(2), without creating the file (interface files exist or not). */
export async function writeInterfaceFile(path: string, value: string): Promise<void> {
  if (!SLOW_WRITE.test(posix.basename(path))) {
    const fd = openSync(path, constants.O_WRONLY | constants.O_TRUNC);
    try {
      writeSync(fd, value);
    } finally {
      closeSync(fd);
    }
    return;
  }
  const fh = await open(path, constants.O_WRONLY | constants.O_TRUNC);
  try {
    await fh.write(value);
  } finally {
    await fh.close();
  }
}

/** The file's text, or undefined when it does not exist. */
export async function readInterfaceFile(path: string): Promise<string | undefined> {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    if (errnoOf(e) === 'ENOENT') return undefined;
    throw systemError(`read ${path}: ${(e as Error).message}`, e);
  }
}

export async function pathExists(path: string): Promise<boolean> {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Performs one planned write in dir. A value the kernel rejects becomes InvalidParameter
 * naming the field and the file; a missing file with no alternative is InvalidParameter too
 * (the controller is not there), unless the write is optional.
 */
export async function performWrite(dir: string, w: CgroupWrite, write = writeInterfaceFile): Promise<void> {
  const candidates = [{ file: w.file, value: w.value }, ...(w.alternatives ?? [])];
  for (const [i, c] of candidates.entries()) {
    const path = join(dir, c.file);
    try {
      await write(path, c.value);
      return;
    } catch (e) {
      const code = errnoOf(e);
      if (code === 'ENOENT' && i < candidates.length - 1) continue;
      if (code === 'ENOENT' && w.optional) return;
      if (code === 'EACCES' || code === 'EROFS') {
        throw systemError(`${w.field}: write "${c.value}" to ${path}: ${(e as Error).message}`, e);
      }
      const why =
        code === 'ENOENT'
          ? `${candidates.map((x) => x.file).join(' / ')} does not exist in ${dir} (is the ${w.controller || 'needed'} controller available?)`
          : `the kernel rejected "${c.value}" written to ${path}: ${(e as Error).message}`;
      throw new BerthError('InvalidParameter', `${w.field}: ${why}`, { cause: e, ...(code ? { code } : {}) });
    }
  }
}

/**
 * mkdir -p of `rel` under `base`, returning the directories this call made, shallowest
 * first (so the caller knows exactly what it may remove later).
 */
export async function mkdirTracked(base: string, rel: string, makeDir: (dir: string) => Promise<unknown> = async (dir) => mkdirSync(dir)): Promise<string[]> {
  const made: string[] = [];
  let cur = base;
  for (const part of rel.split('/').filter(Boolean)) {
    cur = posix.join(cur, part);
    try {
      await makeDir(cur);
      made.push(cur);
    } catch (e) {
      if (errnoOf(e) !== 'EEXIST') throw systemError(`create cgroup ${cur}: ${(e as Error).message}`, e);
    }
  }
  return made;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * rmdir(2) a cgroup directory. EBUSY (processes still exiting) is retried for up to
 * `retryMs`; with retryMs 0 it reports false instead (a parent that still has children).
 * ENOENT counts as removed. Returns whether the directory is gone.
 */
export async function removeCgroupDir(dir: string, retryMs = 2000): Promise<boolean> {
  const deadline = Date.now() + retryMs;
  let delay = 5;
  for (;;) {
    try {
      rmdirSync(dir);
      return true;
    } catch (e) {
      const code = errnoOf(e);
      if (code === 'ENOENT') return true;
      if ((code === 'EBUSY' || code === 'ENOTEMPTY') && retryMs === 0) return false;
      if (code === 'EBUSY' && Date.now() < deadline) {
        await sleep(delay);
        delay = Math.min(delay * 2, 100);
        continue;
      }
      throw systemError(`remove cgroup ${dir}: ${(e as Error).message}`, e);
    }
  }
}

/** Reads the pids in cgroup.procs of dir and of every cgroup below it. */
export async function readProcsRecursive(dir: string): Promise<number[]> {
  const out: number[] = [];
  const text = await readInterfaceFile(join(dir, 'cgroup.procs'));
  if (text === undefined) return out;
  for (const l of text.split('\n')) if (l.trim()) out.push(Number(l));
  let entries: import('node:fs').Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    if (errnoOf(e) === 'ENOENT') return out;
    throw systemError(`read ${dir}: ${(e as Error).message}`, e);
  }
  for (const d of entries) if (d.isDirectory()) out.push(...(await readProcsRecursive(join(dir, d.name))));
  return out;
}

/** Sub-directories (child cgroups) of dir, deepest first, for removal. */
export async function childCgroupsDeepestFirst(dir: string): Promise<string[]> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const d of entries) {
    if (!d.isDirectory()) continue;
    const child = join(dir, d.name);
    out.push(...(await childCgroupsDeepestFirst(child)), child);
  }
  return out;
}

export { sleep };
