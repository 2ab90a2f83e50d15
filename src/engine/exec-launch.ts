// An exec's monitor and berth-init (docs/monitor.md), started before the exec's program is
// known: berth-init waits on its program pipe and does nothing until it has the program.
//
// berthd keeps one started ahead for a container that has had an exec (ExecLaunches), so that
// the next exec's start only sends its program (kept from an earlier exec of the same command,
// or compiled when the exec was created): the monitor's spawn through the container's
// monitor, the exec directory and the compile are no longer between
// `POST /exec/{id}/start` and the process. A launch made for another run of
// the container, or not used in time, is cancelled: berth-init reads a truncated program and
// ends before any op, in the host's namespaces, and its monitor with it.

import { mkdirSync, writeSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { sealedInitPath } from '../runtime/init-runner.js';
import type { Socket } from 'node:net';
import type { ExitStatus } from './monitor/exit-file.js';
import { nativeAddon } from '../sys/native.js';
import { socketFd } from '../sys/socket-fd.js';
import { encodeFrame, MSG_HANDOFF, MSG_HOLD, MSG_RELEASE, startMonitor, waitForExitFile, type ExitChannel, type MonitorStarted } from './monitor/index.js';

/**
 * The name of an exec's pid file in its directory: the monitor's, written by berth-init
 * (the program's PIDFILE_DIR ".": berth-init starts in that directory) before it leaves.
 */
export const EXEC_PID_FILE = 'pid';

/** Where the monitor of an exec with a tty waits for the pty master (its program's CONSOLE op). */
export const execConsoleSocket = (dir: string): string => join(dir, 'console.sock');

export interface ExecLaunchOptions {
  /** The exec's runtime directory (pid, exit and socket files), made here. */
  dir: string;
  tty: boolean;
  stdin: boolean;
  /** The container monitor's attach socket: it starts the exec's monitor as its child. */
  via: string;
  /** Hand back an attach connection that gets all the output (the monitor's `--attach-fd`). */
  attached: boolean;
  /** The first part of a program prepared ahead (compileExecAhead): berth-init runs it at once. */
  prelude?: Buffer;
  onStep?: (step: 'spawned' | 'monitor ready') => void;
}

export class ExecLaunch {
  /** Set when the monitor failed before it was handed a program: start again from scratch. */
  failed = false;
  private sent = false;
  /** The monitor holds the output for a hand-over (holdOutput). */
  private held = false;
  /** The monitor said it was ready: it writes an exit file when berth-init ends. */
  private monitorUp = false;
  /** berthd's attach connection to the monitor (attached launches). */
  private attach: Socket | undefined;
  /** The monitor's ready channel, which gets its exit line (`--ready-exit`). */
  private exitChannel: ExitChannel | undefined;
  private readonly program: { resolve: (b: Buffer) => void; reject: (e: unknown) => void };
  readonly started: Promise<MonitorStarted>;

  private constructor(
    readonly opts: ExecLaunchOptions,
    initPath: string,
  ) {
    let resolve!: (b: Buffer) => void;
    let reject!: (e: unknown) => void;
    const program = new Promise<Buffer>((res, rej) => ((resolve = res), (reject = rej)));
    program.catch(() => undefined);
    this.program = { resolve, reject };
    const consoleSocket = this.consoleSocket;
    this.started = startMonitor({
      program,
      ...(opts.prelude ? { prelude: opts.prelude } : {}),
      pidFile: join(opts.dir, EXEC_PID_FILE),
      exitFile: join(opts.dir, 'exit'),
      attachSocket: join(opts.dir, 'attach.sock'),
      ...(consoleSocket ? { consoleSocket } : {}),
      stdin: opts.stdin,
      stderrPath: join(opts.dir, 'monitor.err'),
      initPath,
      connectAttach: opts.attached,
      onAttach: (s) => (this.attach = s),
      readyExit: true,
      onExitChannel: (ch) => (this.exitChannel = ch),
      onStep: (step) => {
        if (step === 'monitor ready') this.monitorUp = true;
        opts.onStep?.(step);
      },
      via: opts.via,
    });
    this.started.catch(() => {
      if (!this.sent) this.failed = true;
    });
  }

  /** Makes the directory and starts the monitor; berth-init then waits for send(). */
  static async start(opts: ExecLaunchOptions): Promise<ExecLaunch> {
    // On the exec root's tmpfs: no thread-pool round trip. The container's runtime directory
    // is there while it runs; a recursive mkdir would stat every level above.
    try {
      mkdirSync(opts.dir, { mode: 0o700 });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
      else if (code !== 'EEXIST') throw e;
    }
    return new ExecLaunch(opts, await sealedInitPath());
  }

  /** Started with a prelude: its program must be the matching main part. */
  get prepared(): boolean {
    return this.opts.prelude !== undefined;
  }

  get consoleSocket(): string | undefined {
    return this.opts.tty ? execConsoleSocket(this.opts.dir) : undefined;
  }

  /** The descriptor of berthd's attach connection to the monitor, while it has one. */
  private get ownFd(): number | undefined {
    return this.attach && socketFd(this.attach);
  }

  /**
   * Before send() or while the output is held: gives the monitor `fd` (a client's connection)
   * in place of berthd's attach connection (MSG_HANDOFF), so the output goes straight to that
   * client and the monitor's end is the stream's end. False when it could not be sent:
   * berthd's connection stays.
   */
  handOff(fd: number): boolean {
    const own = this.ownFd;
    if ((this.sent && !this.held) || own === undefined) return false;
    try {
      nativeAddon().sendFds(own, encodeFrame(MSG_HANDOFF), [fd]);
    } catch {
      return false;
    }
    this.held = false;
    return true;
  }

  /**
   * Before send(): the monitor reads none of the output until handOff() or releaseOutput()
   * (MSG_HOLD), so the program can go first and the hand-over follow. Written at once, ahead
   * of the program, so the monitor has it before the process can write. False when it could
   * not be sent: hand over before send(), or not at all.
   */
  holdOutput(): boolean {
    const own = this.ownFd;
    if (this.sent || own === undefined) return false;
    const frame = encodeFrame(MSG_HOLD);
    try {
      // 8 bytes into a unix stream socket berthd has written nothing else to: all or nothing
      if (writeSync(own, frame) !== frame.length) return false;
    } catch {
      return false;
    }
    this.held = true;
    return true;
  }

  /** Ends a hold without a hand-over: the output comes to berthd's attach connection. */
  releaseOutput(): void {
    if (!this.held) return;
    this.held = false;
    const own = this.ownFd;
    try {
      if (own !== undefined) writeSync(own, encodeFrame(MSG_RELEASE));
    } catch {
      this.attach?.destroy(); // the monitor drops the holder, which ends the hold as well
    }
  }

  /** ExitChannel.hold: the exit line is read when asked (exitNow) or after `ms`. */
  holdExit(ms: number): void {
    this.exitChannel?.hold(ms);
  }

  /** The exit status if the monitor has reported it, read at once. */
  exitNow(): ExitStatus | undefined {
    return this.exitChannel?.exitNow();
  }

  /** Hands berth-init its program (once); `started` then follows it to `ready`. */
  send(program: Buffer): void {
    this.sent = true;
    this.program.resolve(program);
  }

  /**
   * Ends berth-init before its first op (a truncated program) and waits for its monitor to
   * record that, then removes the directory. Only for a launch that was not sent a program.
   */
  async cancel(): Promise<void> {
    if (this.sent) return;
    this.sent = true;
    this.program.reject(new Error('cancelled'));
    await this.started.catch(() => undefined);
    if (this.monitorUp) await waitForExitFile(join(this.opts.dir, 'exit'), { timeoutMs: 2000, pollMs: 5 }).catch(() => undefined);
    await rm(this.opts.dir, { recursive: true, force: true }).catch(() => undefined);
  }
}

/** What a launch's monitor was started for besides the container: a tty, a stdin to keep. */
export interface LaunchShape {
  tty: boolean;
  stdin: boolean;
  /** A privileged exec runs without the container's seccomp profile, which a prepared launch has loaded. */
  privileged: boolean;
}

interface Kept {
  launch: ExecLaunch;
  containerId: string;
  /** The container process it was started for: another run of the container needs another. */
  containerPid: number;
  shape: LaunchShape;
  timer: NodeJS.Timeout;
}

/** How many launches may wait at once, and for how long before they are cancelled. */
export const LAUNCHES_MAX = 16;
export const LAUNCH_TTL_MS = 30_000;

/**
 * Launches started ahead of the execs that will use them. After an exec, berthd starts a
 * spare for the container (its exec id chosen now); the next exec created there with the
 * same shape takes that id and the launch, and its start only sends the program. Spares
 * and claimed launches not started within the TTL are cancelled, as are a container's when
 * it stops.
 */
export class ExecLaunches {
  private readonly spares = new Map<string, Kept & { execId: string }>();
  private readonly claimed = new Map<string, Kept>();
  private readonly cancelling = new Set<Promise<void>>();

  constructor(
    private readonly max = LAUNCHES_MAX,
    private readonly ttlMs = LAUNCH_TTL_MS,
  ) {}

  get size(): number {
    return this.spares.size + this.claimed.size;
  }

  /** Whether a spare for the container is wanted: none yet, and room for one. */
  wantsSpare(containerId: string): boolean {
    return !this.spares.has(containerId) && this.size < this.max;
  }

  /** Keeps `launch`, started in execId's directory, as the container's spare. */
  addSpare(containerId: string, execId: string, launch: ExecLaunch, containerPid: number, shape: LaunchShape): void {
    if (!this.wantsSpare(containerId)) {
      this.track(launch.cancel());
      return;
    }
    const timer = setTimeout(() => this.cancelSpare(containerId), this.ttlMs);
    timer.unref();
    this.spares.set(containerId, { launch, containerId, containerPid, shape, timer, execId });
  }

  /**
   * The exec id of the container's spare when its shape is `shape`: the new exec takes it,
   * and the launch is kept for that exec's start. A spare of another shape is cancelled.
   */
  claim(containerId: string, shape: LaunchShape): string | undefined {
    const s = this.spares.get(containerId);
    if (!s) return undefined;
    this.spares.delete(containerId);
    clearTimeout(s.timer);
    if (s.launch.failed || s.shape.tty !== shape.tty || s.shape.stdin !== shape.stdin || s.shape.privileged !== shape.privileged) {
      this.track(s.launch.cancel());
      return undefined;
    }
    const timer = setTimeout(() => this.cancel(s.execId), this.ttlMs);
    timer.unref();
    this.claimed.set(s.execId, { launch: s.launch, containerId, containerPid: s.containerPid, shape, timer });
    return s.execId;
  }

  /**
   * The launch kept for execId, no longer kept: the caller sends it a program, or cancels
   * it when it was made for another run of the container (containerPid) or has failed.
   */
  take(execId: string): { launch: ExecLaunch; containerPid: number } | undefined {
    const k = this.claimed.get(execId);
    if (!k) return undefined;
    this.claimed.delete(execId);
    clearTimeout(k.timer);
    return { launch: k.launch, containerPid: k.containerPid };
  }

  /** Whether the launch execId has claimed was prepared ahead (its program is a main part). */
  prepared(execId: string): boolean {
    return this.claimed.get(execId)?.launch.prepared ?? false;
  }

  cancel(execId: string): void {
    const k = this.take(execId);
    if (k) this.track(k.launch.cancel());
  }

  /** Cancels the container's spare and the launches its created execs hold. */
  cancelContainer(containerId: string): void {
    this.cancelSpare(containerId);
    for (const [id, k] of this.claimed) if (k.containerId === containerId) this.cancel(id);
  }

  /** Cancels every launch, and waits until their monitors have ended. */
  async close(): Promise<void> {
    for (const id of [...this.spares.keys()]) this.cancelSpare(id);
    for (const id of [...this.claimed.keys()]) this.cancel(id);
    await Promise.allSettled([...this.cancelling]);
  }

  private cancelSpare(containerId: string): void {
    const s = this.spares.get(containerId);
    if (!s) return;
    this.spares.delete(containerId);
    clearTimeout(s.timer);
    this.track(s.launch.cancel());
  }

  private track(p: Promise<void>): void {
    this.cancelling.add(p);
    void p.finally(() => this.cancelling.delete(p));
  }
}
