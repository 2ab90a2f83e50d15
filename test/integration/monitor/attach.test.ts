import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readlinkSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { attach, demux, readJsonLog, waitForExitFile } from '../../../src/engine/monitor/index.js';
import { waitFor } from '../../harness/wait.js';
import { makeBox, processesMentioning, skipUnlessRoot, startSh, waitGone } from './helpers.js';

function collect(r: Readable): { text: () => string; done: Promise<string> } {
  let s = '';
  r.on('data', (d: Buffer) => (s += d.toString()));
  const done = new Promise<string>((resolve) => {
    r.once('end', () => resolve(s));
    r.once('close', () => resolve(s));
  });
  return { text: () => s, done };
}

const until = (what: string, f: () => boolean, ms = 10_000): Promise<true> => waitFor(what, () => (f() ? true : undefined), ms);

test('attach: two clients get stdout and stderr multiplexed; stdin reaches the container; end() closes it', { skip: skipUnlessRoot }, async () => {
  const box = await makeBox('attach');
  try {
    const s = await startSh(box, 'while read l; do echo "out $l"; echo "err $l" >&2; done; echo bye; exit 5', { stdin: true });
    const c1 = await attach(box.attachSocket);
    const c2 = await attach(box.attachSocket);
    const d1 = demux(c1);
    const d2 = demux(c2);
    const [o1, e1, o2, e2] = [collect(d1.stdout), collect(d1.stderr), collect(d2.stdout), collect(d2.stderr)];
    c1.write('hello\n');
    await until('both clients to see hello', () => o1.text() === 'out hello\n' && o2.text() === 'out hello\n' && e1.text() === 'err hello\n' && e2.text() === 'err hello\n');
    c2.write('world\n'); // any client may write
    await until('world', () => o1.text().endsWith('out world\n'));
    c1.end(); // close stdin: the loop ends
    assert.equal(await o1.done, 'out hello\nout world\nbye\n');
    assert.equal(await o2.done, 'out hello\nout world\nbye\n');
    assert.equal(await e2.done, 'err hello\nerr world\n');
    const st = await waitForExitFile(box.exitFile, { timeoutMs: 10_000 });
    assert.deepEqual([st.kind, st.code], ['exited', 5]);
    c2.destroy();
    await waitGone(s.monitorPid, 'the monitor');
    const logged: string[] = [];
    for await (const e of readJsonLog(box.logFile)) logged.push(`${e.stream} ${e.log}`);
    assert.deepEqual(logged.filter((l) => l.startsWith('stdout')), ['stdout out hello\n', 'stdout out world\n', 'stdout bye\n']);
    assert.deepEqual(processesMentioning(box.dir), []);
  } finally {
    await box.cleanup();
  }
});

test('without --stdin the container reads EOF and client input is dropped', { skip: skipUnlessRoot }, async () => {
  const box = await makeBox('nostdin');
  try {
    const go = join(box.dir, 'go');
    const s = await startSh(box, `while [ ! -e ${go} ]; do usleep 10000; done; cat; echo eof`);
    const c = await attach(box.attachSocket);
    const { stdout } = demux(c);
    const out = collect(stdout);
    c.write('ignored\n');
    writeFileSync(go, '');
    assert.equal(await out.done, 'eof\n');
    await waitForExitFile(box.exitFile, { timeoutMs: 10_000 });
    await waitGone(s.monitorPid, 'the monitor');
  } finally {
    await box.cleanup();
  }
});

test('tty: the pty master comes over the console socket; raw output, stdin and resize', { skip: skipUnlessRoot }, async () => {
  const box = await makeBox('tty');
  try {
    const s = await startSh(box, 'read l; stty size; echo "got $l"; exit 0', { stdin: true, tty: true, rows: 24, cols: 80 });
    assert.match(readlinkSync(`/proc/${s.containerPid}/fd/0`), /^\/dev\/pts\/\d+$/);
    // the console socket is gone once the master came through it
    await until('the console socket to go', () => {
      try {
        statSync(box.consoleSocket);
        return false;
      } catch {
        return true;
      }
    });
    const c = await attach(box.attachSocket);
    const out = collect(c);
    c.resize(30, 100);
    c.write('x\n');
    const text = await out.done;
    assert.match(text, /30 100\r\n/);
    assert.match(text, /got x\r\n/);
    assert.ok(!text.startsWith('\u0001\u0000\u0000\u0000'), 'raw, not framed');
    const st = await waitForExitFile(box.exitFile, { timeoutMs: 10_000 });
    assert.equal(st.code, 0);
    await waitGone(s.monitorPid, 'the monitor');
    const logged: string[] = [];
    for await (const e of readJsonLog(box.logFile)) logged.push(`${e.stream} ${e.log}`);
    assert.ok(logged.includes('stdout got x\r\n'), logged.join(''));
    assert.deepEqual(processesMentioning(box.dir), []);
  } finally {
    await box.cleanup();
  }
});

test('a slow client gets every byte: the container waits for it (backpressure), the log has the same', { skip: skipUnlessRoot }, async () => {
  const box = await makeBox('slowreader');
  try {
    const go = join(box.dir, 'go');
    const size = 2_000_000;
    await startSh(box, `while [ ! -e ${go} ]; do usleep 10000; done; head -c ${size} /dev/zero | tr '\\0' y; exit 0`, {
      log: { path: box.logFile, maxSize: 0 },
    });
    const slow = await attach(box.attachSocket);
    const out = demux(slow);
    let got = 0;
    out.stdout.on('data', (d: Buffer) => {
      got += d.length;
      // read in bursts with pauses: the monitor's socket fills again and again
      slow.pause();
      setTimeout(() => slow.resume(), 2);
    });
    writeFileSync(go, '');
    const st = await waitForExitFile(box.exitFile, { timeoutMs: 60_000 });
    assert.equal(st.code, 0);
    await until('the client to see the end', () => slow.readableEnded || slow.destroyed, 30_000);
    assert.equal(got, size, 'nothing dropped');
    let logged = 0;
    for await (const e of readJsonLog(box.logFile)) logged += e.log.length;
    assert.equal(logged, size);
  } finally {
    await box.cleanup();
  }
});

test('a client that takes nothing for --attach-stall-ms is disconnected; the container and the other clients go on; the log keeps everything', { skip: skipUnlessRoot }, async () => {
  const box = await makeBox('slow');
  try {
    const go = join(box.dir, 'go');
    const size = 4_000_000;
    const s = await startSh(box, `while [ ! -e ${go} ]; do usleep 10000; done; head -c ${size} /dev/zero | tr '\\0' y; exit 0`, {
      log: { path: box.logFile, maxSize: 0 },
      attachStallMs: 300,
    });
    const slow = await attach(box.attachSocket);
    slow.pause(); // never reads
    let slowClosed = false;
    slow.on('close', () => (slowClosed = true));
    const fast = await attach(box.attachSocket);
    const fastOut = demux(fast);
    let fastBytes = 0;
    fastOut.stdout.on('data', (d: Buffer) => (fastBytes += d.length));
    writeFileSync(go, '');
    const st = await waitForExitFile(box.exitFile, { timeoutMs: 20_000 });
    assert.equal(st.code, 0);
    await waitGone(s.monitorPid, 'the monitor');
    let logged = 0;
    for await (const e of readJsonLog(box.logFile)) logged += e.log.length;
    assert.equal(logged, size);
    await until('the fast client to see the end', () => fast.readableEnded || fast.destroyed);
    assert.equal(fastBytes, size, 'the reading client lost nothing');
    slow.resume(); // what it had been sent, then the end: a cut, never a gap
    await until('the stalled client to be disconnected', () => slowClosed || slow.readableEnded);
    fast.destroy();
    assert.deepEqual(processesMentioning(box.dir), []);
  } finally {
    await box.cleanup();
  }
});
