import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseRfc3339Nano, readJsonLog, waitForExitFile, type LogEntry, type ReadLogOptions } from '../../../src/engine/monitor/index.js';
import { makeBox, processesMentioning, skipUnlessRoot, startSh, waitGone, type Box } from './helpers.js';

async function entries(path: string, opts: ReadLogOptions = {}): Promise<LogEntry[]> {
  const out: LogEntry[] = [];
  for await (const e of readJsonLog(path, opts)) out.push(e);
  return out;
}

const ENTRY = /^\{"log":".*","stream":"(stdout|stderr)","time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z"\}$/;

async function finish(box: Box, monitorPid: number): Promise<void> {
  await waitForExitFile(box.exitFile, { timeoutMs: 10_000 });
  await waitGone(monitorPid, 'the monitor');
  assert.deepEqual(processesMentioning(box.dir), []);
}

test('json-file lines: streams, escaping, invalid UTF-8, long and partial lines', { skip: skipUnlessRoot }, async () => {
  const box = await makeBox('log');
  try {
    const script = [
      "printf 'a\\n'",
      "printf 'b\\n' >&2",
      `printf 'tab\\there "q" \\\\ \\001 \\303\\251 \\377\\n'`,
      "head -c 20000 /dev/zero | tr '\\0' x; echo",
      "printf 'partial'",
      "printf 'tail-err' >&2",
    ].join('; ');
    const s = await startSh(box, script);
    await finish(box, s.monitorPid);
    const raw = readFileSync(box.logFile, 'utf8');
    for (const line of raw.trimEnd().split('\n')) assert.match(line, ENTRY);
    const all = await entries(box.logFile);
    const out = all.filter((e) => e.stream === 'stdout').map((e) => e.log);
    const err = all.filter((e) => e.stream === 'stderr').map((e) => e.log);
    assert.deepEqual(out, ['a\n', 'tab\there "q" \\ \u0001 é \ufffd\n', 'x'.repeat(16384), 'x'.repeat(20000 - 16384) + '\n', 'partial']);
    assert.deepEqual(err, ['b\n', 'tail-err']);
    // times are increasing per stream and near now
    for (const e of all) assert.ok(Math.abs(Number(parseRfc3339Nano(e.time) / 1_000_000n) - Date.now()) < 60_000, e.time);
    const outTimes = all.filter((e) => e.stream === 'stdout').map((e) => parseRfc3339Nano(e.time));
    assert.deepEqual([...outTimes].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)), outTimes);
  } finally {
    await box.cleanup();
  }
});

const lines = (n: number, pause = ''): string => `i=1; while [ $i -le ${n} ]; do echo line-$i; ${pause} i=$((i+1)); done`;

test('rotation at --log-max-size into FILE.1 … FILE.(N-1); tail reads across files', { skip: skipUnlessRoot }, async () => {
  const box = await makeBox('rotate');
  try {
    const s = await startSh(box, lines(200), { log: { path: box.logFile, maxSize: 2048, maxFiles: 3 } });
    await finish(box, s.monitorPid);
    assert.ok(existsSync(`${box.logFile}.1`) && existsSync(`${box.logFile}.2`));
    assert.ok(!existsSync(`${box.logFile}.3`));
    for (const f of [box.logFile, `${box.logFile}.1`, `${box.logFile}.2`]) {
      // rotation happens before an entry once the file has reached the limit: at most one entry over
      assert.ok(statSync(f).size < 2048 + 100, `${f}: ${statSync(f).size}`);
    }
    const got = (await entries(box.logFile)).map((e) => e.log);
    const first = Number(/line-(\d+)/.exec(got[0]!)?.[1]);
    assert.ok(first > 1, 'the oldest entries were rotated away');
    assert.deepEqual(got, Array.from({ length: 200 - first + 1 }, (_, i) => `line-${first + i}\n`));
    assert.deepEqual((await entries(box.logFile, { tail: 3 })).map((e) => e.log), ['line-198\n', 'line-199\n', 'line-200\n']);
  } finally {
    await box.cleanup();
  }
});

test('since and until select by time', { skip: skipUnlessRoot }, async () => {
  const box = await makeBox('since');
  try {
    const s = await startSh(box, 'echo a; usleep 200000; echo b; usleep 200000; echo c');
    await finish(box, s.monitorPid);
    const all = await entries(box.logFile);
    assert.deepEqual(all.map((e) => e.log), ['a\n', 'b\n', 'c\n']);
    const b = all[1]!;
    assert.deepEqual((await entries(box.logFile, { since: parseRfc3339Nano(b.time) })).map((e) => e.log), ['b\n', 'c\n']);
    assert.deepEqual((await entries(box.logFile, { until: parseRfc3339Nano(b.time) })).map((e) => e.log), ['a\n']);
    assert.deepEqual((await entries(box.logFile, { since: new Date(Number(parseRfc3339Nano(b.time) / 1_000_000n) + 1) })).map((e) => e.log), ['c\n']);
  } finally {
    await box.cleanup();
  }
});

test('--log-max-files 1 truncates in place', { skip: skipUnlessRoot }, async () => {
  const box = await makeBox('truncate');
  try {
    const s = await startSh(box, lines(100), { log: { path: box.logFile, maxSize: 1024, maxFiles: 1 } });
    await finish(box, s.monitorPid);
    assert.ok(!existsSync(`${box.logFile}.1`));
    assert.ok(statSync(box.logFile).size < 1024 + 100);
    const got = await entries(box.logFile);
    assert.equal(got.at(-1)?.log, 'line-100\n');
  } finally {
    await box.cleanup();
  }
});

test('following the log across rotations misses nothing and ends with the container', { skip: skipUnlessRoot }, async () => {
  const box = await makeBox('follow');
  try {
    const go = join(box.dir, 'go');
    const s = await startSh(box, `while [ ! -e ${go} ]; do usleep 10000; done; ${lines(150, 'usleep 5000;')}`, {
      log: { path: box.logFile, maxSize: 1024, maxFiles: 2 },
    });
    const followed = entries(box.logFile, { follow: true, pollMs: 10, stopWhen: () => existsSync(box.exitFile) });
    writeFileSync(go, '');
    const got = (await followed).map((e) => e.log);
    assert.deepEqual(got, Array.from({ length: 150 }, (_, i) => `line-${i + 1}\n`));
    assert.ok(existsSync(`${box.logFile}.1`), 'the log was rotated meanwhile');
    await finish(box, s.monitorPid);
  } finally {
    await box.cleanup();
  }
});
