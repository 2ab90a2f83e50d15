// The resident monitor spawner (native/monitor/spawner.c): one small berth-monitor per
// berthd that forks container monitors on request. Forking berthd itself copies the page
// tables of a 60 MiB process and stops its event loop until the child has exec'd (4–12 ms
// per start); the spawner's fork takes microseconds. It is an optimisation only: whenever
// it is not up (starting, died, not started), startMonitor spawns from berthd as before.
// berthd starts it with its first container (a daemon that runs none does not need it).

import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import type { Socket } from 'node:net';
import { berthMonitorPath } from './monitor-path.js';

export class MonitorSpawner {
  private child: ChildProcess | undefined;
  private up = false;
  private closed = false;

  /** socketPath: where the spawner listens (berthd's exec root: a path of its own). */
  constructor(
    private readonly socketPath: string,
    private readonly log: (message: string) => void = () => undefined,
    private readonly monitorPath = berthMonitorPath(),
  ) {}

  /** Starts the spawner in the background; socket() answers once it listens. */
  start(): void {
    if (this.closed || this.child) return;
    const child = spawn(this.monitorPath, ['--spawner', this.socketPath, '--ready-fd', '3'], {
      stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
      env: {},
      argv0: 'berth-monitor',
    });
    this.child = child;
    const ready = child.stdio[3] as Socket;
    let line = '';
    ready.setEncoding('utf8');
    ready.on('data', (d: string) => {
      line += d;
      if (line.includes('\n')) {
        this.up = line.startsWith('ok ');
        if (!this.up) this.log(`monitor spawner: ${line.trim()}`);
        ready.destroy();
      }
    });
    ready.on('error', () => undefined);
    child.on('error', (e) => this.log(`monitor spawner: ${e.message}`));
    child.on('exit', (code, signal) => {
      if (this.child !== child) return;
      this.child = undefined;
      this.up = false;
      if (!this.closed) this.log(`monitor spawner exited (${signal ?? code}); monitors are spawned by berthd until it is back`);
    });
    child.unref();
    ready.unref();
  }

  /**
   * The socket of a spawner that is up, or undefined (the caller spawns the monitor itself).
   * A spawner that died is started again for the next caller.
   */
  socket(): string | undefined {
    if (this.up) return this.socketPath;
    if (!this.child) this.start();
    return undefined;
  }

  /** Stops the spawner; the monitors it started live on. */
  close(): void {
    this.closed = true;
    this.up = false;
    this.child?.kill('SIGKILL');
    this.child = undefined;
    rmSync(this.socketPath, { force: true });
  }
}
