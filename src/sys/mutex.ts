// One async critical section at a time: each run() starts once the previous one settled,
// whether it succeeded or failed (the stores, the snapshotter, each container, the network).

export class Mutex {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.tail.then(fn, fn);
    this.tail = p.catch(() => undefined);
    return p;
  }
}
