// Timing traces for latency work: with BERTH_TRACE=1 in berthd's environment, each step of a
// traced operation is written to berthd's stderr as `trace <op> <step> +<ms since the op
// began> (<ms since the previous step>)`. Off (the default), a span costs one branch.

export interface TraceSpan {
  /** Marks one step of the operation. */
  step(name: string): void;
}

const NO_SPAN: TraceSpan = { step: () => undefined };
const enabled = process.env.BERTH_TRACE === '1';

/** A span for one operation (e.g. `exec 3b73ee82`). */
export function traceSpan(op: string): TraceSpan {
  if (!enabled) return NO_SPAN;
  const t0 = performance.now();
  let last = t0;
  return {
    step(name) {
      const now = performance.now();
      process.stderr.write(`trace ${op} ${name} +${(now - t0).toFixed(1)} (${(now - last).toFixed(1)})\n`);
      last = now;
    },
  };
}
