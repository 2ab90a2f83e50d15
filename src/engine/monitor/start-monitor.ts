// Starting berth-monitor (docs/monitor.md): spawn it with the init program on a pipe and a
// sync socket to berth-init, read its ready line, then follow berth-init's sync protocol
// (docs/init-program.md) until `ready`. An exec's monitor can instead be started by the
// container's running monitor (`via`): no fork of this large process on its event loop.

import { spawn, type StdioOptions } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { Socket } from 'node:net';
import { BerthError, errorMessage } from '../../errors.js';
import { berthInitPath } from '../../runtime/paths.js';
import { nativeAddon } from '../../sys/native.js';
import { encodeFrame, MSG_SPAWN } from './attach.js';
import { parseExitFile, type ExitStatus } from './exit-file.js';
import { HeldReader, readAvailable } from './held-reader.js';
import { berthMonitorPath } from './monitor-path.js';

export interface MonitorLogOptions {
  path: string;
  /** Rotate once the file has reached this many bytes (0 or absent: never). */
  maxSize?: number;
  /** Files kept, the current one included: FILE, FILE.1 … FILE.(maxFiles-1). Default 1. */
  maxFiles?: number;
}

export interface MonitorOptions {
  /**
   * The encoded init program; it must end its setup with READY. A promise lets the monitor
   * and berth-init start while the caller still compiles (berth-init waits on the pipe);
   * when it rejects, berth-init reads a truncated program and fails before any op.
   */
  program: Buffer | Promise<Buffer>;
  /**
   * A first program that ends in AWAIT_PROGRAM, written at once: berth-init runs it while
   * `program` is not known yet (a launch prepared ahead, compile/exec.ts).
   */
  prelude?: Buffer;
  /** Where the program's CHILD_PIDFILE op writes the container's pid (absolute). */
  pidFile: string;
  /** Where the monitor writes the exit status (absolute). */
  exitFile: string;
  /** The json-file log; absent: output only goes to attach clients. */
  log?: MonitorLogOptions;
  /** The attach socket path (absolute). */
  attachSocket?: string;
  /** A tty: the monitor listens here for the pty master the program's CONSOLE op sends. */
  consoleSocket?: string;
  /** Keep the container's stdin open for attach clients. */
  stdin?: boolean;
  /**
   * How long an attach client that takes no output may hold the container's output back
   * before the monitor disconnects it (`--attach-stall-ms`; the monitor's default: 60 s).
   */
  attachStallMs?: number;
  /**
   * Hand back an attach connection made before berth-init starts (`--attach-fd`): all the
   * output from the first byte, without a sync point in the program to connect at.
   */
  connectAttach?: boolean;
  /** With connectAttach: given that connection at once, before the monitor is even up. */
  onAttach?: (attach: Socket) => void;
  /** With readyExit: given the exit channel at once (to hold it from the start of a process). */
  onExitChannel?: (channel: ExitChannel) => void;
  /**
   * Keep the monitor's ready channel for its exit line (`--ready-exit`): `exit` resolves
   * with the status as soon as the monitor has it, before its exit file is written.
   */
  readyExit?: boolean;
  /** Host fds passed to berth-init as its fds 3, 4, … (preserved fds); the sync fd follows. */
  extraFds?: number[];
  /** Called on `sync NAME`; berth-init is answered `go` when it resolves. */
  onSync?: (name: string) => Promise<void>;
  /**
   * Called once the monitor's ready line and berth-init's `pid N` have both come, that is
   * just after berth-init made the container's process and before that process sets up
   * its rootfs: what berthd records about the run can be written while it does.
   */
  onPid?: (pids: StartedPids) => void;
  /** The monitor's own error output goes to this file (appended); default: nowhere. */
  stderrPath?: string;
  monitorPath?: string;
  initPath?: string;
  /** Told when the monitor is spawned and when it is ready (step timings, engine/step-trace.ts). */
  onStep?: (step: 'spawned' | 'monitor ready') => void;
  /**
   * The attach socket of a running berth-monitor (the container's, for an exec) that starts
   * this one as its child, from its own binary. When that monitor cannot (gone, or a binary
   * older than the request), the monitor is spawned from here as usual.
   */
  via?: string;
  /**
   * The socket of berthd's monitor spawner (MonitorSpawner): a container's monitor started
   * by it, in the background as usual. When it cannot, the monitor is spawned from here.
   */
  spawner?: string;
}

export interface StartedPids {
  monitorPid: number;
  initPid: number;
  containerPid: number;
}

export interface MonitorStarted {
  monitorPid: number;
  initPid: number;
  /** From `pid N` (CHILD_REPORT), else the pid file, else berth-init's pid (no CLONE). */
  containerPid: number;
  /** berth-init's sync fd number (3 + extraFds.length). */
  syncFd: number;
  /** With connectAttach: the monitor's end is an attach client (wrap it in AttachConnection). */
  attach?: Socket;
  /**
   * With readyExit: the status the monitor reports when the process has ended; undefined
   * when the channel closed without one (the monitor died: only its exit file, if any, tells).
   */
  exit?: Promise<ExitStatus | undefined>;
}

/**
 * Reads newline-terminated lines from a socket; calls onLine for each, onEnd at EOF. Returns
 * the function that takes its data, for text read from the socket behind node's back.
 */
function readLines(sock: Socket, onLine: (line: string) => void, onEnd: () => void): (text: string) => void {
  let buf = '';
  const feed = (text: string): void => {
    buf += text;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      onLine(line);
    }
  };
  sock.setEncoding('utf8');
  sock.on('data', feed);
  sock.on('error', () => undefined);
  sock.on('close', onEnd);
  return feed;
}

const monitorError = (message: string, cause?: unknown): BerthError =>
  new BerthError('System', message, cause === undefined ? undefined : { cause });

/** The monitor's ready descriptor closed without a line: it never ran (or died at once). */
class NoReadyLine extends BerthError {
  constructor() {
    super('System', 'berth-monitor exited before it was ready');
  }
}

/** The monitor's ready channel after `ok`, kept for its exit line (`--ready-exit`). */
export interface ExitChannel {
  /**
   * Stops reading the channel for `ms` once `ok` has come: the exit line then wakes nobody
   * (a wake-up right as the process ends takes the CPU from the monitor's last steps), and
   * is read by exitNow() when someone asks, or when the time is up.
   */
  hold(ms: number): void;
  /** The exit status, read at once if the monitor has sent it; undefined while it runs. */
  exitNow(): ExitStatus | undefined;
}

interface ReadyLines extends ExitChannel {
  /** The monitor's `ok MONITOR INIT` line. */
  ready: Promise<{ monitorPid: number; initPid: number }>;
  /** With keepForExit: the exit line that follows `ok` (other lines, its warnings, are skipped). */
  exit: Promise<ExitStatus | undefined>;
}

function readyLines(sock: Socket, keepForExit: boolean): ReadyLines {
  let exitDone!: (st: ExitStatus | undefined) => void;
  const exit = new Promise<ExitStatus | undefined>((r) => (exitDone = r));
  let resolveReady!: (pids: { monitorPid: number; initPid: number }) => void;
  let rejectReady!: (e: unknown) => void;
  const ready = new Promise<{ monitorPid: number; initPid: number }>((res, rej) => ((resolveReady = res), (rejectReady = rej)));
  let ok = false;
  let done = false;
  let status: ExitStatus | undefined;
  let holdMs = 0;
  let held: HeldReader | undefined;
  const finish = (st: ExitStatus | undefined): void => {
    if (done) return;
    done = true;
    status = st;
    held?.forget();
    exitDone(st);
    // Closed after this turn: exitNow() runs while a client waits for its answer.
    setImmediate(() => sock.destroy());
  };
  const startHold = (): void => {
    held = new HeldReader(sock);
    held.releaseAfter(holdMs);
  };
  const onLine = (line: string): void => {
    if (done) return;
    if (ok) {
      if (!/^(exited|signaled) /.test(line)) return;
      try {
        finish(parseExitFile(`${line}\n`, 'exit line'));
      } catch {
        finish(undefined); // malformed: the exit file decides
      }
      return;
    }
    const m = /^ok (\d+) (\d+)$/.exec(line);
    if (m) resolveReady({ monitorPid: Number(m[1]), initPid: Number(m[2]) });
    else rejectReady(monitorError(line.startsWith('error ') ? `berth-monitor: ${line.slice(6)}` : `berth-monitor said ${JSON.stringify(line)}`));
    ok = m !== null;
    if (!ok || !keepForExit) finish(undefined);
    else if (holdMs) startHold();
  };
  const consume = readLines(sock, onLine, () => {
    if (!ok && !done) rejectReady(new NoReadyLine());
    finish(undefined);
  });
  return {
    ready,
    exit,
    hold(ms) {
      if (!keepForExit || done || holdMs) return;
      holdMs = ms;
      if (ok) startHold();
    },
    exitNow() {
      if (done || !ok) return status;
      const text = held ? held.readNow() : readAvailable(sock).text;
      if (text) consume(text);
      return status;
    },
  };
}

/** Follows the sync protocol to `ready`; resolves with the pid of `pid N`, if any. */
function followSync(sock: Socket, opts: Pick<MonitorOptions, 'onSync' | 'onPid'>, monitorReady: Promise<{ monitorPid: number; initPid: number }>): Promise<number | undefined> {
  const { onSync, onPid } = opts;
  return new Promise((resolve, reject) => {
    let pid: number | undefined;
    let done = false;
    const finish = (e?: BerthError): void => {
      if (done) return;
      done = true;
      if (e) reject(e);
      else resolve(pid);
      sock.destroy();
    };
    readLines(
      sock,
      (line) => {
        if (done) return;
        const sp = line.indexOf(' ');
        const verb = sp < 0 ? line : line.slice(0, sp);
        const rest = sp < 0 ? '' : line.slice(sp + 1);
        if (verb === 'pid') {
          const containerPid = Number(rest);
          pid = containerPid;
          if (onPid) monitorReady.then((m) => !done && onPid({ ...m, containerPid }), () => undefined);
        } else if (verb === 'ready') finish();
        else if (verb === 'error') finish(monitorError(rest));
        else if (verb === 'sync') {
          (onSync ? onSync(rest) : Promise.resolve()).then(
            () => {
              if (!done) sock.write('go\n');
            },
            (e: unknown) => finish(monitorError(`sync \`${rest}\`: ${errorMessage(e)}`, e)),
          );
        }
      },
      () => finish(monitorError('berth-init exited before it was ready')),
    );
  });
}

async function readPidFile(path: string): Promise<number | undefined> {
  const text = await readFile(path, 'utf8').catch(() => undefined);
  const n = Number(text?.trim());
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

/** The monitor's three channels: berth-init's sync socket, the program pipe, the ready pipe. */
interface Launched {
  sync: Socket;
  programPipe: Socket;
  ready: Socket;
  attach?: Socket;
  /** Resolves once the monitor process exists (spawn), rejects when it could not be made. */
  spawned: Promise<void>;
}

/** Spawns the monitor as a child of this process, the channels at fds syncFd, +1, +2 (+3). */
function spawnHere(opts: MonitorOptions, args: string[], syncFd: number): Launched {
  const extra = opts.extraFds ?? [];
  const errFd = opts.stderrPath ? openSync(opts.stderrPath, 'a', 0o640) : undefined;
  const channels: StdioOptions = opts.connectAttach ? ['pipe', 'pipe', 'pipe', 'pipe'] : ['pipe', 'pipe', 'pipe'];
  const stdio: StdioOptions = ['ignore', 'ignore', errFd ?? 'ignore', ...extra, ...channels];
  let child;
  try {
    child = spawn(opts.monitorPath ?? berthMonitorPath(), args, { stdio, env: {}, detached: true, argv0: 'berth-monitor' });
  } finally {
    if (errFd !== undefined) closeSync(errFd);
  }
  const spawned = new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (e) => reject(monitorError(`spawn berth-monitor: ${e.message}`, e)));
  });
  child.unref();
  const attach = opts.connectAttach ? { attach: child.stdio[syncFd + 3] as Socket } : {};
  return { sync: child.stdio[syncFd] as Socket, programPipe: child.stdio[syncFd + 1] as Socket, ready: child.stdio[syncFd + 2] as Socket, ...attach, spawned };
}

/**
 * Asks the monitor listening on `via` to start this one (attach message MSG_SPAWN, the
 * descriptors by SCM_RIGHTS: stderr, then the channels at 3, 4, 5, 6). Throws when the request
 * cannot be delivered; a monitor that ignores it closes the descriptors (NoReadyLine).
 */
function spawnVia(via: string, opts: MonitorOptions, args: string[]): Launched {
  const pairs: [number, number][] = [];
  const errFd = openSync(opts.stderrPath ?? '/dev/null', 'a', 0o640);
  try {
    for (let i = opts.connectAttach ? 4 : 3; i > 0; i--) pairs.push(nativeAddon().socketPair());
    const argv = Buffer.from(['berth-monitor', ...args].map((a) => `${a}\0`).join(''));
    nativeAddon().sendFds(via, encodeFrame(MSG_SPAWN, argv), [errFd, ...pairs.map((p) => p[1])]);
  } catch (e) {
    for (const p of pairs) closeSync(p[0]);
    throw e;
  } finally {
    closeSync(errFd);
    for (const p of pairs) closeSync(p[1]); // the new monitor's copies are its own
  }
  const [sync, programPipe, ready, attach] = pairs.map(([fd]) => new Socket({ fd, readable: true, writable: true }));
  return { sync: sync!, programPipe: programPipe!, ready: ready!, ...(attach ? { attach } : {}), spawned: Promise.resolve() };
}

/**
 * Starts a monitor for one container and returns once berth-init reported `ready`. The
 * monitor runs on in the background, whatever happens to this process; its exit status
 * goes to opts.exitFile. On failure the monitor still records berth-init's exit there.
 */
export async function startMonitor(opts: MonitorOptions): Promise<MonitorStarted> {
  const via = opts.via ?? opts.spawner;
  if (via && !opts.extraFds?.length) {
    let launched: Launched | undefined;
    try {
      launched = spawnVia(via, opts, opts.via ? [...monitorArgs(opts, 3), '--foreground'] : monitorArgs(opts, 3));
    } catch {
      // that monitor is gone or busy: spawn from here
    }
    if (launched) {
      try {
        return await follow(opts, launched, 3);
      } catch (e) {
        if (!(e instanceof NoReadyLine)) throw e;
      }
    }
  }
  const syncFd = 3 + (opts.extraFds?.length ?? 0);
  return follow(opts, spawnHere(opts, monitorArgs(opts, syncFd), syncFd), syncFd);
}

/** berth-monitor's command line (argv[0] apart), its channels at syncFd, +1, +2. */
function monitorArgs(opts: MonitorOptions, syncFd: number): string[] {
  const programFd = syncFd + 1;
  const readyFd = syncFd + 2;
  const args = [
    '--init', opts.initPath ?? berthInitPath(),
    '--program', `/proc/self/fd/${programFd}`,
    '--pid-file', opts.pidFile,
    '--exit-file', opts.exitFile,
    '--sync-fd', String(syncFd),
    '--ready-fd', String(readyFd),
  ];
  if (opts.log) {
    args.push('--log', opts.log.path);
    if (opts.log.maxSize) args.push('--log-max-size', String(opts.log.maxSize));
    if (opts.log.maxFiles) args.push('--log-max-files', String(opts.log.maxFiles));
  }
  if (opts.attachSocket) args.push('--attach-socket', opts.attachSocket);
  if (opts.consoleSocket) args.push('--console-socket', opts.consoleSocket);
  if (opts.stdin) args.push('--stdin');
  if (opts.attachStallMs !== undefined) args.push('--attach-stall-ms', String(opts.attachStallMs));
  if (opts.connectAttach) args.push('--attach-fd', String(readyFd + 1));
  if (opts.readyExit) args.push('--ready-exit');
  return args;
}

/** Sends the program, waits for the monitor's ready line and follows the sync protocol. */
async function follow(opts: MonitorOptions, launched: Launched, syncFd: number): Promise<MonitorStarted> {
  const { sync, programPipe, ready, attach, spawned } = launched;
  if (attach) opts.onAttach?.(attach);
  programPipe.on('error', () => undefined); // berth-init failed before reading: its error tells why
  if (opts.prelude) programPipe.write(opts.prelude);
  // berthd's end goes once the program is out: berth-init closing its end would otherwise
  // wake berthd just as berth-init starts on the program.
  Promise.resolve(opts.program).then(
    (p) => programPipe.end(p, () => programPipe.destroy()),
    () => programPipe.destroy(),
  );
  const lines = readyLines(ready, opts.readyExit === true);
  lines.ready.catch(() => undefined);
  if (opts.readyExit) opts.onExitChannel?.(lines);
  const monitorReady = spawned.then(() => {
    opts.onStep?.('spawned');
    return lines.ready;
  });
  monitorReady.catch(() => undefined);
  const synced = followSync(sync, opts, monitorReady);
  synced.catch(() => undefined);
  try {
    const started = await monitorReady;
    opts.onStep?.('monitor ready');
    const reported = await synced;
    const containerPid = reported ?? (await readPidFile(opts.pidFile)) ?? started.initPid;
    return { ...started, containerPid, syncFd, ...(attach ? { attach } : {}), ...(opts.readyExit ? { exit: lines.exit } : {}) };
  } catch (e) {
    sync.destroy();
    programPipe.destroy();
    ready.destroy();
    attach?.destroy();
    throw e;
  }
}
