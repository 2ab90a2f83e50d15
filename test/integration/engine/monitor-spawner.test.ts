// berthd's monitor spawner (native/monitor/spawner.c, src/engine/monitor/spawner.ts): the
// resident process that starts container monitors, from berthd's first container on.
// Containers start through it, still start when it is gone (berthd spawns the monitor itself
// and starts a new spawner), and neither its death nor berthd's takes a running container
// with it; a berthd restarted with running containers starts one at once.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { TestBerthd } from '../../harness/berthd.js';

/** Pids of processes named `comm` whose command line mentions `needle`. */
function processes(comm: string, needle: string): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (readFileSync(`/proc/${e}/comm`, 'utf8').trim() !== comm) continue;
      if (readFileSync(`/proc/${e}/cmdline`, 'utf8').includes(needle)) out.push(Number(e));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

async function poll(what: string, fn: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe('monitor spawner', () => {
  let d: TestBerthd;
  const spawners = (): number[] => processes('berth-spawner', d.execRoot);
  before(async () => {
    d = await TestBerthd.start('spawner');
  });
  after(async () => {
    await d.cleanup();
  });

  test('starts with the first container, then starts the containers\' monitors', async () => {
    assert.deepEqual(spawners(), [], 'no spawner while berthd has no container');
    const first = await d.docker(['run', '--rm', '--network', 'none', 'busybox', 'true']);
    assert.equal(first.code, 0, first.stderr);
    await poll('a spawner', () => spawners().length === 1);
    const r = await d.docker(['run', '--rm', '--network', 'none', 'busybox', 'echo', 'through the spawner']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'through the spawner\n');
  });

  test('a killed spawner: containers still start, and a new spawner comes', async () => {
    const [old] = spawners();
    assert.ok(old);
    process.kill(old, 'SIGKILL');
    await poll('the spawner gone', () => !spawners().includes(old));
    const r = await d.docker(['run', '--rm', '--network', 'none', 'busybox', 'echo', 'without it']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'without it\n');
    await poll('a new spawner', () => spawners().length === 1 && !spawners().includes(old));
    const again = await d.docker(['run', '--rm', '--network', 'none', 'busybox', 'true']);
    assert.equal(again.code, 0, again.stderr);
  });

  test('berthd killed: its spawner goes, the containers it started stay', async () => {
    await poll('a spawner', () => spawners().length === 1);
    const run = await d.docker(['run', '-d', '--network', 'none', '--name', 'stays', 'busybox', 'sleep', '600']);
    assert.equal(run.code, 0, run.stderr);
    const monitors = processes('berth-monitor', d.execRoot);
    assert.ok(monitors.length >= 1, 'the container has a monitor');
    await d.kill9();
    await poll('the spawner gone with berthd', () => spawners().length === 0);
    for (const m of monitors) assert.ok(processes('berth-monitor', d.execRoot).includes(m), `monitor ${m} still runs`);
    await d.startDaemon();
    await poll('a spawner for the containers that run', () => spawners().length === 1);
    const ps = await d.docker(['ps', '--filter', 'name=stays', '--format', '{{.Status}}']);
    assert.match(ps.stdout, /^Up /);
    const exec = await d.docker(['exec', 'stays', 'echo', 'adopted']);
    assert.equal(exec.stdout, 'adopted\n', exec.stderr);
  });
});
