// Reading a channel to a monitor stopped at its libuv handle, so that what the other side
// writes wakes nobody, while what it wrote can still be read at once when asked.
//
// berthd holds a handed-over exec's exit channel for its first moments (ExitChannel.hold):
// woken by the exit line, berthd would take the CPU from the monitor's last steps, and the
// client's exec inspect, which comes right after, reads the line then (readAvailable).
//
// node's pause() does not stop a socket reading (it reads on up to the high-water mark,
// each read a wake-up): the handle itself is stopped, and its `reading` flag is left set, or
// node's stream (Socket._read, from its read-more step) would start it again. A socket held
// in the tick it was made never reaches the event loop's epoll set; one held later is still
// reported once (libuv drops a stopped descriptor from epoll when it next sees it ready).

import { readSync } from 'node:fs';
import type { Socket } from 'node:net';
import { socketFd } from '../../sys/socket-fd.js';

interface ReadableHandle {
  readStop?: () => number;
  readStart?: () => number;
}

/** Reused by readAvailable, whose reads are synchronous: a fresh page-sized buffer costs a cold process tens of µs. */
const chunk = Buffer.allocUnsafeSlow(4096);

/**
 * What the other side of `sock` has written and node has not read, read without waiting
 * (node's descriptors are non-blocking); `ended` when the other side has closed it. For
 * short lines of text: a character split across 4 KiB reads would be mangled.
 */
export function readAvailable(sock: Socket): { text: string; ended: boolean } {
  const fd = socketFd(sock);
  let text = '';
  let ended = false;
  while (fd !== undefined) {
    let n: number;
    try {
      n = readSync(fd, chunk);
    } catch {
      break; // EAGAIN: nothing (more) for now
    }
    if (n === 0) {
      ended = true;
      break;
    }
    text += chunk.toString('utf8', 0, n);
    // A short read took all there was: no second read to learn that from its EAGAIN (a
    // thrown error, tens of µs, on a client's path). The end, if it is there, comes later.
    if (n < chunk.length) break;
  }
  return { text, ended };
}

const handleOf = (sock: Socket): ReadableHandle | undefined => (sock as Socket & { _handle?: ReadableHandle })._handle ?? undefined;

export class HeldReader {
  private held = false;
  private timer: NodeJS.Timeout | undefined;

  /** Stops reading `sock` now; a socket without a readable handle is left as it is. */
  constructor(private readonly sock: Socket) {
    const h = handleOf(sock);
    if (!h?.readStop || !h.readStart) return;
    sock.pause();
    h.readStop.call(h);
    this.held = true;
  }

  get isHeld(): boolean {
    return this.held;
  }

  /**
   * What the other side has written so far, read at once, ahead of node (readAvailable). At
   * its end, reading resumes, so that the socket's own listeners see the end.
   */
  readNow(): string {
    const { text, ended } = readAvailable(this.sock);
    if (ended) this.release();
    return text;
  }

  /** Reading as usual after `ms` (not unref'd: the stopped socket keeps nothing alive, and what comes must still be read). */
  releaseAfter(ms: number): void {
    if (!this.held || this.timer) return;
    this.timer = setTimeout(() => this.release(), ms);
  }

  /** Reading as usual from now. */
  release(): void {
    if (!this.held) return;
    this.forget();
    const h = handleOf(this.sock);
    if (this.sock.destroyed || !h?.readStart) return;
    h.readStart.call(h);
    this.sock.resume();
  }

  /** No more reading at all: the socket is being closed. */
  forget(): void {
    this.held = false;
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
