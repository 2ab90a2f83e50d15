// An exec's monitor started by the container's running monitor (MonitorOptions.via, the
// attach message MSG_SPAWN): a child of that monitor, with its own output, exit file and
// name; and the fallback to a spawn from here when the other monitor cannot start it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { readJsonLog, waitForExitFile } from '../../../src/engine/monitor/index.js';
import { waitFor } from '../../harness/wait.js';
import { makeBox, parentOf, skipUnlessRoot, startSh, waitGone } from './helpers.js';

async function logText(path: string): Promise<string> {
  let text = '';
  for await (const e of readJsonLog(path)) text += `${e.stream}:${e.log}`;
  return text;
}

test('a monitor started through another monitor\'s attach socket is its child and works as its own', { skip: skipUnlessRoot }, async () => {
  const host = await makeBox('via-host');
  const box = await makeBox('via-exec');
  try {
    const h = await startSh(host, 'exec sleep 60');
    const s = await startSh(box, 'echo out; echo err >&2; sleep 0.5; exit 4', { via: host.attachSocket });
    assert.equal(parentOf(s.monitorPid), h.monitorPid, 'started by the host\'s monitor');
    assert.equal(readFileSync(`/proc/${s.monitorPid}/comm`, 'utf8'), 'berth-monitor\n');
    const st = await waitForExitFile(box.exitFile, { timeoutMs: 10_000 });
    assert.equal(st.exitCode, 4);
    await waitGone(s.monitorPid, 'the exec\'s monitor');
    const log = await logText(box.logFile);
    assert.ok(log.includes('stdout:out\n') && log.includes('stderr:err\n'), log);
    assert.equal(readFileSync(box.monitorErr, 'utf8'), '');
    assert.equal(readFileSync(host.monitorErr, 'utf8'), '');
    // the host's monitor reaped it and runs on
    assert.ok(!/^State:\s+Z/m.test(readFileSync(`/proc/${h.monitorPid}/status`, 'utf8')));
    process.kill(h.containerPid, 'SIGKILL');
    assert.equal((await waitForExitFile(host.exitFile, { timeoutMs: 10_000 })).exitCode, 137);
    await waitGone(h.monitorPid, 'the host\'s monitor');
  } finally {
    await box.cleanup();
    await host.cleanup();
  }
});

test('when the monitor on `via` is gone or ignores the request, the monitor is spawned from here', { skip: skipUnlessRoot }, async () => {
  const box = await makeBox('via-fallback');
  // A listener that closes every connection unread, as a monitor older than MSG_SPAWN
  // discards the message and its descriptors.
  const deaf = createServer((c) => c.destroy());
  const deafPath = join(box.dir, 'deaf.sock');
  await new Promise<void>((r) => deaf.listen(deafPath, r));
  try {
    for (const [i, via] of [join(box.dir, 'missing.sock'), deafPath].entries()) {
      const exitFile = join(box.dir, `exit-${i}`);
      const s = await startSh(box, `echo run-${i}; exit ${10 + i}`, { via, exitFile, attachSocket: join(box.dir, `a-${i}.sock`) });
      assert.ok(s.monitorPid > 0);
      assert.equal((await waitForExitFile(exitFile, { timeoutMs: 10_000 })).exitCode, 10 + i);
      await waitGone(s.monitorPid, 'the monitor');
      await waitFor(`run-${i} in the log`, async () => ((await logText(box.logFile)).includes(`run-${i}`) ? true : undefined), 5_000);
    }
  } finally {
    await new Promise((r) => deaf.close(r));
    await box.cleanup();
  }
});
