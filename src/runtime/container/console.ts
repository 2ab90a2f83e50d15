// A terminal in the foreground without --console-socket, as runc does it: berth-runc is its
// own console socket. It listens on a unix socket, berth-init CONNECTs to it before cloning
// and its CONSOLE op sends the pty master over it (SCM_RIGHTS) before READY; berth-runc
// takes the master when `ready` arrives, then proxies: its stdin (raw when a terminal) to the
// master, the master to its stdout, window size changes (SIGWINCH) to the master.
//
// Raw mode is cfmakeraw (through the addon), not Node's setRawMode: libuv's raw mode keeps
// ONLCR, which would turn the container's bare \n (full-screen programs move the cursor
// with it) into \r\n a second time.
//
// The master is read and written with blocking fs calls on libuv's thread pool, never with
// a libuv stream: a tty stream takes POLLHUP after a short read for end of file, which loses
// the tail of the output when the container exits; read(2) on the master returns all of
// it and then EIO, the normal end.

import { mkdtempSync, rmSync, close as closeFd, read as readFd, write as writeFd } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemError } from '../../errors.js';
import { nativeAddon } from '../../sys/native.js';
import { socketFd } from '../../sys/socket-fd.js';

/** sun_path holds 108 bytes, the terminating NUL included. */
const SUN_PATH_MAX = 107;

export interface ReceivedConsole {
  /** The pty master (close-on-exec, blocking). */
  fd: number;
  /** The pty's name in the container's devpts (`/dev/pts/0`). */
  name: string;
}

export interface ConsoleListener {
  /** The socket path to compile as the console socket. */
  path: string;
  /**
   * Takes the pty master. Call it once berth-init has reported `ready`: CONSOLE (which sends
   * the master) runs before READY, so the message is queued by then.
   */
  receive(timeoutMs?: number): Promise<ReceivedConsole>;
  /** Stops listening and removes the socket. Never throws. */
  close(): void;
}

/**
 * Listens for berth-init's console connection at `<dir>/<name>` (or in a private temp dir
 * when that path is too long for a unix socket). Node never reads from the connection
 * (pauseOnConnect): the message with the descriptor is taken with recvmsg by the addon.
 */
export async function listenConsole(dir: string, name: string): Promise<ConsoleListener> {
  let path = join(dir, name);
  let tempDir: string | undefined;
  if (Buffer.byteLength(path) > SUN_PATH_MAX) {
    tempDir = mkdtempSync(join(tmpdir(), 'berth-runc-console-'));
    path = join(tempDir, name);
  }
  const server: Server = createServer({ pauseOnConnect: true });
  let conn: Socket | undefined;
  let wake: (() => void) | undefined;
  server.on('connection', (s: Socket) => {
    if (conn) {
      s.destroy(); // one connection only: berth-init's
      return;
    }
    conn = s;
    s.on('error', () => undefined);
    wake?.();
  });
  server.on('error', () => undefined);
  let closed = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    conn?.destroy();
    server.close();
    rmSync(tempDir ?? path, { force: true, recursive: tempDir !== undefined });
  };
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (e) {
    close();
    throw systemError(`listen on the console socket ${path}: ${(e as Error).message}`, e);
  }

  const receive = async (timeoutMs = 5000): Promise<ReceivedConsole> => {
    if (!conn) {
      // berth-init connected before it cloned; Node may still have the accept to do.
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(systemError(`berth-init did not connect to the console socket ${path}`)), timeoutMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    const fd = conn && socketFd(conn);
    if (fd === undefined) throw systemError(`the console connection on ${path} has no descriptor`);
    let got: ReceivedConsole | null;
    try {
      got = nativeAddon().recvFd(fd);
    } catch (e) {
      throw systemError(`receive the pty master on ${path}: ${(e as Error).message}`, e);
    }
    if (!got) throw systemError(`berth-init reported ready before sending the pty master on ${path}`);
    close();
    return got;
  };
  return { path, receive, close };
}

export interface WinSize {
  rows: number;
  cols: number;
}

/** The size of the first of this process's stdin, stdout, stderr that is a terminal. */
export function hostWinSize(): WinSize | undefined {
  for (const fd of [0, 1, 2]) {
    try {
      const ws = nativeAddon().getWinsize(fd);
      if (ws.rows > 0 && ws.cols > 0) return ws;
    } catch {
      // not a terminal
    }
  }
  return undefined;
}

export interface ConsoleProxyOptions {
  stdin?: NodeJS.ReadableStream;
  stdout?: NodeJS.WritableStream;
  /** The fd whose terminal is made raw while the proxy runs, when it is one (default 0; -1: none). */
  rawFd?: number;
}

export interface ConsoleProxy {
  /**
   * Waits until the master reports the end (EIO: every copy of the pty's other side is
   * closed) or graceMs pass, then closes. Call it when the container's process has exited.
   */
  finish(graceMs?: number): Promise<void>;
  /** Stops copying, restores the terminal, closes the master. Idempotent, never throws. */
  close(): void;
}

const readAsync = (fd: number, buf: Buffer): Promise<number> =>
  new Promise((resolve, reject) => readFd(fd, buf, 0, buf.length, null, (e, n) => (e ? reject(e) : resolve(n))));
const writeAsync = (fd: number, buf: Buffer): Promise<number> =>
  new Promise((resolve, reject) => writeFd(fd, buf, 0, buf.length, null, (e, n) => (e ? reject(e) : resolve(n))));

/** Copies stdin → master and master → stdout, forwards window size changes, sets raw mode. */
export function proxyConsole(master: number, opts: ConsoleProxyOptions = {}): ConsoleProxy {
  const stdin = opts.stdin ?? process.stdin;
  const stdout = opts.stdout ?? process.stdout;
  let closed = false;

  const resize = (): void => {
    const ws = hostWinSize();
    if (!ws || closed) return;
    try {
      nativeAddon().setWinsize(master, ws.rows, ws.cols);
    } catch {
      // the pty is gone
    }
  };
  resize();
  process.on('SIGWINCH', resize);

  const rawFd = opts.rawFd ?? 0;
  let saved: Buffer | undefined;
  if (rawFd >= 0) {
    try {
      saved = nativeAddon().ttyMakeRaw(rawFd);
    } catch {
      // not a terminal: nothing to make raw
    }
  }
  // Also on a path that never reaches close (process.exit from elsewhere).
  const restoreOnExit = (): void => {
    if (!saved) return;
    try {
      nativeAddon().ttyRestore(rawFd, saved);
    } catch {
      // the terminal is gone
    }
    saved = undefined;
  };
  process.on('exit', restoreOnExit);

  // master → stdout, until EIO (or 0) from read(2).
  let stdoutBroken = false;
  stdout.on('error', () => {
    stdoutBroken = true;
  });
  const output = (async () => {
    const buf = Buffer.allocUnsafe(65536);
    while (!closed) {
      let n: number;
      try {
        n = await readAsync(master, buf);
      } catch {
        return; // EIO: every copy of the pty's other side is closed
      }
      if (n === 0 || closed) return;
      if (stdoutBroken) continue; // keep draining, so the container never blocks on output
      const chunk = Buffer.from(buf.subarray(0, n));
      if (!stdout.write(chunk)) await new Promise<void>((r) => stdout.once('drain', r));
    }
  })();

  // stdin → master, one write at a time; stdin waits while a write is pending.
  let writing = Promise.resolve();
  const onData = (chunk: Buffer | string): void => {
    const data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    stdin.pause();
    writing = writing.then(async () => {
      let off = 0;
      while (off < data.length && !closed) off += await writeAsync(master, data.subarray(off));
    }).catch(() => undefined).then(() => {
      if (!closed) stdin.resume();
    });
  };
  stdin.on('data', onData);
  stdin.on('error', () => undefined);
  stdin.resume();

  const close = (): void => {
    if (closed) return;
    closed = true;
    process.off('SIGWINCH', resize);
    stdin.off('data', onData);
    stdin.pause();
    restoreOnExit();
    process.off('exit', restoreOnExit);
    // A read still pending holds the file, not the number: no read is started after this.
    closeFd(master, () => undefined);
  };

  const finish = async (graceMs = 1000): Promise<void> => {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([output, new Promise<void>((r) => (timer = setTimeout(r, graceMs)))]);
    clearTimeout(timer);
    close();
  };

  return { finish, close };
}
