// The JSON message stream shown as docker shows it: on a terminal one line per layer id,
// rewritten in place with cursor movement (ESC[nA / ESC[nB, ESC[2K); elsewhere plain lines
// with progress bars left out. An error message ends the stream with that error.

import { readJsonStream, type JsonMessage } from '../../client/json-stream.js';

export class ProgressError extends Error {}

/**
 * Shows a pull / push / load stream to its end (the daemon finishes its answer even after
 * an error message); then throws the error the stream carried, if any.
 */
export async function showProgress(stream: NodeJS.ReadableStream, write: (s: string) => void, terminal: boolean): Promise<void> {
  const display = new ProgressDisplay(write, terminal);
  let failure: Error | undefined;
  await readJsonStream(stream, (m) => {
    if (failure) return;
    try {
      display.show(m);
    } catch (e) {
      failure = e as Error;
    }
  });
  if (failure) throw failure;
}

export class ProgressDisplay {
  private ids = new Map<string, number>();

  constructor(
    private readonly write: (s: string) => void,
    private readonly terminal: boolean,
  ) {}

  show(jm: JsonMessage): void {
    if (jm.error || jm.errorDetail?.message) throw new ProgressError(jm.errorDetail?.message ?? jm.error ?? 'unknown error');
    if (jm.aux !== undefined) return;
    const hasProgress = jm.progressDetail !== undefined || jm.progress !== undefined;
    let diff = 0;
    if (jm.id && hasProgress) {
      let line = this.ids.get(jm.id);
      if (line === undefined) {
        line = this.ids.size;
        this.ids.set(jm.id, line);
        if (this.terminal) this.write('\n');
      }
      diff = this.ids.size - line;
      if (this.terminal && diff > 0) this.write(`\x1b[${diff}A`);
    } else {
      this.ids = new Map();
    }
    this.display(jm, hasProgress);
    if (jm.id && this.terminal && diff > 0) this.write(`\x1b[${diff}B`);
  }

  private display(jm: JsonMessage, hasProgress: boolean): void {
    const progress = jm.progress ?? '';
    let endl = '';
    if (this.terminal && !jm.stream && hasProgress) {
      this.write('\x1b[2K\r');
      endl = '\r';
    } else if (hasProgress && progress) {
      return;
    }
    let s = '';
    if (jm.id) s += `${jm.id}: `;
    if (typeof jm.from === 'string' && jm.from) s += `(from ${jm.from}) `;
    if (hasProgress && this.terminal) s += `${jm.status ?? ''} ${progress}${endl}`;
    else if (jm.stream) s += `${jm.stream}${endl}`;
    else s += `${jm.status ?? ''}${endl}\n`;
    this.write(s);
  }
}
