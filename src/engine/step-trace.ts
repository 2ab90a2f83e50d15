// Step timings of one operation (create, start, exit, removal), written to the debug log as one
// line when BERTH_TRACE=1 is in berthd's environment: where a container's run spends its
// time, measured in the daemon itself (docs/benchmarks.md, "Daemon"). Off, it costs a
// property read per step.

const ENABLED = process.env.BERTH_TRACE === '1';

export class StepTrace {
  private readonly t0 = performance.now();
  private last = this.t0;
  private readonly steps: string[] = [];

  constructor(
    private readonly what: string,
    private readonly log: (message: string) => void,
  ) {}

  /** Ends the step that began at the previous mark (or at the start). */
  mark(step: string): void {
    if (!ENABLED) return;
    const now = performance.now();
    this.steps.push(`${step} ${(now - this.last).toFixed(1)}`);
    this.last = now;
  }

  done(): void {
    if (!ENABLED) return;
    this.log(`trace ${this.what}: ${(performance.now() - this.t0).toFixed(1)} ms (${this.steps.join(', ')})`);
  }
}
