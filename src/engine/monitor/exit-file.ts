// The exit file berth-monitor writes atomically when the container has exited
// (docs/monitor.md): `exited CODE NS\n` or `signaled SIGNAL NS\n`, NS the time of the
// reap in nanoseconds since the epoch.

import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { constants } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { BerthError } from '../../errors.js';

export interface ExitStatus {
  kind: 'exited' | 'signaled';
  /** The exit code (exited) or the signal number (signaled). */
  code: number;
  /** The signal's name when signaled (SIGKILL…). */
  signal: NodeJS.Signals | undefined;
  /** What Docker reports as ExitCode: the code, or 128 + the signal number. */
  exitCode: number;
  finishedAtNs: bigint;
  finishedAt: Date;
}

const signalNames = new Map<number, NodeJS.Signals>(
  Object.entries(constants.signals).map(([name, n]) => [n, name as NodeJS.Signals]),
);

/** Parses the content of an exit file; throws an InvalidParameter error naming the file. */
export function parseExitFile(text: string, path = 'exit file'): ExitStatus {
  const m = /^(exited|signaled) (\d+) (\d+)\n$/.exec(text);
  if (!m) throw new BerthError('InvalidParameter', `malformed exit file \`${path}\`: ${JSON.stringify(text)}`);
  const kind = m[1] as 'exited' | 'signaled';
  const code = Number(m[2]);
  const finishedAtNs = BigInt(m[3]!);
  return {
    kind,
    code,
    signal: kind === 'signaled' ? signalNames.get(code) : undefined,
    exitCode: kind === 'signaled' ? 128 + code : code,
    finishedAtNs,
    finishedAt: new Date(Number(finishedAtNs / 1_000_000n)),
  };
}

const readFailed = (path: string, e: unknown): BerthError =>
  new BerthError('System', `read the exit file \`${path}\`: ${(e as Error).message}`, { cause: e });

/** The container's exit status, or undefined while there is no exit file (still running). */
export async function readExitFile(path: string): Promise<ExitStatus | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw readFailed(path, e);
  }
  return parseExitFile(text, path);
}

/**
 * readExitFile without the thread pool, for a file on the exec root's tmpfs that someone
 * waits for (an exec's status ends `docker exec`): one read of a few bytes in memory costs
 * less than the four thread-pool round trips of readFile.
 */
export function readExitFileSync(path: string): ExitStatus | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw readFailed(path, e);
  }
  return parseExitFile(text, path);
}

export interface WaitExitOptions {
  signal?: AbortSignal;
  /** Give up after this long (a Unavailable error); default: wait for ever. */
  timeoutMs?: number;
  pollMs?: number;
}

/** Waits until the exit file appears and returns the status. */
export async function waitForExitFile(path: string, opts: WaitExitOptions = {}): Promise<ExitStatus> {
  const deadline = opts.timeoutMs === undefined ? Infinity : Date.now() + opts.timeoutMs;
  for (;;) {
    const st = await readExitFile(path);
    if (st) return st;
    if (Date.now() > deadline) throw new BerthError('Unavailable', `no exit file \`${path}\` after ${opts.timeoutMs} ms`);
    await sleep(opts.pollMs ?? 25, undefined, opts.signal ? { signal: opts.signal } : undefined);
  }
}
