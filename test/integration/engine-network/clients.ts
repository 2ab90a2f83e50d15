import assert from 'node:assert/strict';
import type { TestBerthd } from '../../harness/berthd.js';

// The network tests' way of running a client against the harness's berthd: the real docker
// CLI or Berth's own, a non-zero exit failing the test with what the client printed.

export type Client = 'docker' | 'berth';

/** Runs `client args`, asserts exit 0; stdout. */
export async function ok(d: TestBerthd, args: string[], opts: { client?: Client; timeoutMs?: number } = {}): Promise<string> {
  const client = opts.client ?? 'docker';
  const r = await d[client](args, opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {});
  assert.equal(r.code, 0, `${client} ${args.join(' ')}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** `inspect <name>`, parsed: the one object. */
export async function inspect(d: TestBerthd, name: string, client: Client = 'docker'): Promise<Record<string, any>> {
  return (JSON.parse(await ok(d, ['inspect', name], { client })) as Record<string, any>[])[0]!;
}
