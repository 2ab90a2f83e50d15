// berth-monitor's --ready-exit (the exit line on the ready channel, before the exit file),
// MSG_HANDOFF (a connection given in place of the starter's attach connection: the output
// goes straight to it, framed, and its end is the stream's end) and MSG_HOLD / MSG_RELEASE
// (no output is read until the holder hands over, releases or goes).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, existsSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { encodeFrame, FrameDecoder, MSG_HANDOFF, MSG_HOLD, MSG_RELEASE, waitForExitFile, type ExitChannel } from '../../../src/engine/monitor/index.js';
import { nativeAddon } from '../../../src/sys/native.js';
import { makeBox, processesMentioning, skipUnlessRoot, startSh, waitGone } from './helpers.js';

const fdOf = (s: Socket): number => (s as Socket & { _handle: { fd: number } })._handle.fd;

/** Everything a socket receives until its end, and whether it ended. */
function drain(s: Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  s.on('data', (d: Buffer) => chunks.push(d));
  return new Promise((resolve) => s.once('end', () => resolve(Buffer.concat(chunks))));
}

/** Hands `own`'s place over to a new connection (MSG_HANDOFF): its far end, and what it receives until its end. */
function handOver(own: Socket): { client: Socket; received: Promise<Buffer> } {
  const [mine, theirs] = nativeAddon().socketPair();
  const client = new Socket({ fd: mine, readable: true, writable: true });
  const received = drain(client);
  nativeAddon().sendFds(fdOf(own), encodeFrame(MSG_HANDOFF), [theirs]);
  closeSync(theirs); // the monitor holds it now
  return { client, received };
}

const framesOf = (b: Buffer): string[] => new FrameDecoder().push(b).map((f) => `${f.stream} ${f.payload.toString()}`);

test('--ready-exit: the status comes on the ready channel, and the exit file says the same', { skip: skipUnlessRoot, timeout: 60_000 }, async () => {
  const box = await makeBox('ready-exit');
  try {
    const s = await startSh(box, 'exit 7', { readyExit: true });
    assert.ok(s.exit, 'an exit promise with readyExit');
    const st = await s.exit;
    assert.deepEqual([st?.kind, st?.code, st?.exitCode], ['exited', 7, 7]);
    const file = await waitForExitFile(box.exitFile, { timeoutMs: 10_000 });
    assert.equal(file.finishedAtNs, st?.finishedAtNs);
    await waitGone(s.monitorPid, 'the monitor');
  } finally {
    await box.cleanup();
  }
});

test('--ready-exit: a signal, and a monitor killed before the end (no line: undefined)', { skip: skipUnlessRoot, timeout: 60_000 }, async () => {
  const box = await makeBox('ready-exit-sig');
  try {
    const s = await startSh(box, 'kill -TERM $$; sleep 5', { readyExit: true });
    const st = await s.exit;
    assert.deepEqual([st?.kind, st?.signal, st?.exitCode], ['signaled', 'SIGTERM', 143]);
    const killed = await startSh(box, 'sleep 30', { readyExit: true });
    process.kill(killed.monitorPid, 'SIGKILL');
    assert.equal(await killed.exit, undefined);
    process.kill(killed.containerPid, 'SIGKILL');
    await waitGone(killed.containerPid, 'the orphaned container process');
  } finally {
    await box.cleanup();
  }
});

test('a held exit channel is not read until asked (exitNow), or until the hold ends', { skip: skipUnlessRoot, timeout: 60_000 }, async () => {
  const box = await makeBox('ready-exit-hold');
  try {
    let ch: ExitChannel | undefined;
    const started = startSh(box, 'exit 5', { readyExit: true, onExitChannel: (c) => (ch = c) });
    ch!.hold(60_000);
    const s = await started;
    await waitForExitFile(box.exitFile, { timeoutMs: 10_000 });
    const seen = await Promise.race([s.exit, sleep(200).then(() => 'not read')]);
    assert.equal(seen, 'not read', 'the line waits in the socket');
    assert.equal(ch!.exitNow()?.exitCode, 5);
    assert.equal((await s.exit)?.exitCode, 5, 'exitNow settles the exit promise too');
    assert.equal(ch!.exitNow()?.exitCode, 5, 'and answers again');

    let ch2: ExitChannel | undefined;
    const started2 = startSh(box, 'exit 6', { readyExit: true, onExitChannel: (c) => (ch2 = c) });
    ch2!.hold(300);
    const s2 = await started2;
    assert.equal((await s2.exit)?.exitCode, 6, 'read by itself once the hold is over');
    await waitGone(s2.monitorPid, 'the monitor');
  } finally {
    await box.cleanup();
  }
});

test('MSG_HANDOFF: the given connection gets the framed output and the end; the starter\'s connection none', { skip: skipUnlessRoot, timeout: 60_000 }, async () => {
  const box = await makeBox('handoff');
  try {
    const go = join(box.dir, 'go');
    let own: Socket | undefined;
    const started = startSh(box, `while [ ! -e ${go} ]; do usleep 10000; done; echo out; echo err >&2; cat; exit 3`, {
      connectAttach: true,
      readyExit: true,
      onAttach: (s) => (own = s),
    });
    assert.ok(own, 'the attach connection is given at once');
    const ownData = drain(own);
    const { client, received } = handOver(own);
    const s = await started;
    client.write('not a message: dropped, and not stdin either\n');
    writeFileSync(go, '');
    const frames = framesOf(await received);
    assert.deepEqual(frames, ['1 out\n', '2 err\n'], 'stdout and stderr, framed; `cat` read no input');
    assert.equal((await ownData).length, 0, 'the starter\'s connection got no output and was closed');
    assert.deepEqual([(await s.exit)?.exitCode], [3]);
    await waitForExitFile(box.exitFile, { timeoutMs: 10_000 });
    await waitGone(s.monitorPid, 'the monitor');
    assert.equal(existsSync(box.attachSocket), false);
    assert.deepEqual(processesMentioning(box.dir), []);
    client.destroy();
  } finally {
    await box.cleanup();
  }
});

test('MSG_HANDOFF without a descriptor: refused, the starter is disconnected, the container goes on', { skip: skipUnlessRoot, timeout: 60_000 }, async () => {
  const box = await makeBox('handoff-bad');
  try {
    let own: Socket | undefined;
    const s = await startSh(box, 'sleep 0.3; exit 4', { connectAttach: true, readyExit: true, onAttach: (a) => (own = a) });
    const ended = drain(own!);
    own!.write(encodeFrame(MSG_HANDOFF));
    await ended;
    assert.equal((await s.exit)?.exitCode, 4);
    await waitGone(s.monitorPid, 'the monitor');
  } finally {
    await box.cleanup();
  }
});

/** Starts `script` with the attach connection holding the output from before the program. */
function startHeld(box: Awaited<ReturnType<typeof makeBox>>, script: string): { started: ReturnType<typeof startSh>; own: () => Socket } {
  let own: Socket | undefined;
  const started = startSh(box, script, {
    connectAttach: true,
    readyExit: true,
    onAttach: (s) => {
      own = s;
      writeSync(fdOf(s), encodeFrame(MSG_HOLD)); // before the program goes out (a microtask later)
    },
  });
  return { started, own: () => own! };
}

test('MSG_HOLD, then MSG_HANDOFF after the process has ended: all of its output goes to the given connection, and only then is the exit recorded', { skip: skipUnlessRoot, timeout: 60_000 }, async () => {
  const box = await makeBox('hold-handoff');
  try {
    const { started, own } = startHeld(box, 'echo out; echo err >&2; exit 3');
    const ownData = drain(own());
    const s = await started;
    await waitGone(s.containerPid, 'the process');
    const early = await Promise.race([s.exit, sleep(300).then(() => 'held')]);
    assert.equal(early, 'held', 'no exit line while the output is held');
    assert.equal(existsSync(box.exitFile), false, 'nor an exit file');
    const { client, received } = handOver(own());
    const frames = framesOf(await received);
    assert.deepEqual(frames, ['1 out\n', '2 err\n']);
    assert.equal((await ownData).length, 0, "the holder's connection got no output");
    assert.equal((await s.exit)?.exitCode, 3);
    await waitForExitFile(box.exitFile, { timeoutMs: 10_000 });
    await waitGone(s.monitorPid, 'the monitor');
    client.destroy();
  } finally {
    await box.cleanup();
  }
});

test('MSG_HOLD, then MSG_RELEASE: the output comes to the holder after all', { skip: skipUnlessRoot, timeout: 60_000 }, async () => {
  const box = await makeBox('hold-release');
  try {
    const { started, own } = startHeld(box, 'echo out; exit 5');
    const ownData = drain(own());
    const s = await started;
    await sleep(200);
    writeSync(fdOf(own()), encodeFrame(MSG_RELEASE));
    const frames = framesOf(await ownData);
    assert.deepEqual(frames, ['1 out\n']);
    assert.equal((await s.exit)?.exitCode, 5);
    await waitGone(s.monitorPid, 'the monitor');
  } finally {
    await box.cleanup();
  }
});

test('MSG_HOLD by a connection that then goes: the hold ends with it, the exit is recorded, the log has the output', { skip: skipUnlessRoot, timeout: 60_000 }, async () => {
  const box = await makeBox('hold-gone');
  try {
    const { started, own } = startHeld(box, 'echo logged; exit 6');
    const s = await started;
    await sleep(200);
    assert.equal(existsSync(box.exitFile), false, 'held: no exit recorded yet');
    own().destroy();
    assert.equal((await s.exit)?.exitCode, 6);
    const file = await waitForExitFile(box.exitFile, { timeoutMs: 10_000 });
    assert.equal(file.exitCode, 6);
    await waitGone(s.monitorPid, 'the monitor');
    assert.match(readFileSync(box.logFile, 'utf8'), /logged/);
  } finally {
    await box.cleanup();
  }
});
