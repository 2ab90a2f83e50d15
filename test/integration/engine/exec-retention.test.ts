// Ended execs are forgotten after --exec-retention (src/engine/engine.ts, sweepEndedExecs),
// as dockerd forgets them 5 to 10 minutes after their end: from berthd's memory and from the
// container's exec journal. A running exec and one created but never started stay.

import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { TestBerthd } from '../../harness/berthd.js';

let d: TestBerthd;
before(async () => {
  d = await TestBerthd.start('exec-retention', { extraArgs: ['--exec-retention', '2s'] });
});
after(async () => {
  await d.cleanup();
});

test('an ended exec is inspectable for the retention, then gone from memory and journal; running and unstarted ones stay', { timeout: 60_000 }, async () => {
  const run = await d.docker(['run', '-d', '--network', 'none', '--name', 'kept', 'busybox', 'sleep', '600']);
  assert.equal(run.code, 0, run.stderr);
  const cid = run.stdout.trim();
  const journal = join(d.dataRoot, 'containers', cid, 'execs.jsonl');

  const create = async (cmd: string[]): Promise<string> => {
    const r = await d.api('POST', '/containers/kept/exec', { Cmd: cmd, AttachStdout: true, AttachStderr: true });
    assert.equal(r.status, 201, JSON.stringify(r.json));
    return r.json.Id as string;
  };
  const ended = await create(['sh', '-c', 'exit 7']);
  const runningExec = await create(['sleep', '600']);
  const unstarted = await create(['true']);
  for (const id of [ended, runningExec]) assert.equal((await d.api('POST', `/exec/${id}/start`, { Detach: true })).status, 200);

  let endedAt = 0;
  for (let i = 0; i < 250 && !endedAt; i++) {
    const j = (await d.api('GET', `/exec/${ended}/json`)).json;
    if (j.Running === false && j.ExitCode === 7) endedAt = Date.now();
    else await sleep(20);
  }
  assert.ok(endedAt, 'the exec ended with 7');
  await sleep(500);
  assert.equal((await d.api('GET', `/exec/${ended}/json`)).status, 200, 'still there within the retention');

  let gone: { status: number; json: Record<string, unknown> } | undefined;
  while (Date.now() - endedAt < 8_000) {
    const r = await d.api('GET', `/exec/${ended}/json`);
    if (r.status !== 200) {
      gone = r;
      break;
    }
    await sleep(100);
  }
  assert.ok(gone, 'forgotten within a few seconds after the 2 s retention');
  assert.ok(Date.now() - endedAt >= 1_900, 'not before the retention');
  assert.equal(gone.status, 404);
  assert.equal(gone.json.message, `No such exec instance: ${ended}`);

  const text = readFileSync(journal, 'utf8');
  assert.ok(!text.includes(ended), 'the journal no longer holds the ended exec');
  assert.ok(text.includes(runningExec), 'the running exec is still on record');
  const r = (await d.api('GET', `/exec/${runningExec}/json`)).json;
  assert.equal(r.Running, true);
  assert.equal((await d.api('GET', `/exec/${unstarted}/json`)).status, 200, 'an exec never started stays, as in dockerd');
  const ids = ((await d.api('GET', '/containers/kept/json')).json.ExecIDs as string[]).sort();
  assert.deepEqual(ids, [runningExec, unstarted].sort());

  // berthd restarted: what the journal still holds comes back, and nothing forgotten returns
  await d.restart();
  assert.equal((await d.api('GET', `/exec/${ended}/json`)).status, 404);
  assert.equal((await d.api('GET', `/exec/${runningExec}/json`)).json.Running, true);
  assert.equal((await d.docker(['rm', '-f', 'kept'])).code, 0);
});
