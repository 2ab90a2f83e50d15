import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, existsSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { execFileSync, spawn } from 'node:child_process';
import { nativeAddon } from '../../../src/sys/native.js';
import { berthInitPath } from '../../../src/runtime/paths.js';
import { join } from 'node:path';
import { makeTempDir, removeTempDir } from '../../harness/tmp.js';
import {
  CLONE_NEWPID, O, O_PATH, bytes, cloneOps, encodeInitProgram, exec, int, intlist, killAtSync, op, run, sh, skipUnlessRoot, start, str, strlist, waitGone,
} from './helpers.js';

const status = (out: string, key: string): string => out.match(new RegExp(`^${key}:\\s*(.*)$`, 'm'))?.[1]?.trim() ?? '';

test('capabilities, uid/gid/groups, no_new_privs as /proc/self/status shows them', { skip: skipUnlessRoot }, async () => {
  const keep = (1n << 0n) | (1n << 10n); // CAP_CHOWN, CAP_NET_BIND_SERVICE
  const r = await run([
    op(O.CAP_BOUNDING, int(keep)),
    op(O.SETGROUPS, intlist([10, 20])),
    op(O.SETRESGID, int(1000)),
    op(O.KEEPCAPS, int(1)),
    op(O.SETRESUID, int(1000)),
    op(O.CAPSET, int(keep), int(keep), int(keep)),
    op(O.CAP_AMBIENT, int(keep)),
    op(O.NO_NEW_PRIVS),
    op(O.READY),
    exec(['cat', '/proc/self/status']),
  ]);
  assert.equal(r.code, 0, r.stderr);
  const hex = keep.toString(16).padStart(16, '0');
  assert.equal(status(r.stdout, 'CapBnd'), hex);
  assert.equal(status(r.stdout, 'CapAmb'), hex);
  assert.equal(status(r.stdout, 'CapInh'), hex);
  assert.equal(status(r.stdout, 'CapPrm'), hex);
  assert.equal(status(r.stdout, 'CapEff'), hex);
  assert.equal(status(r.stdout, 'NoNewPrivs'), '1');
  assert.deepEqual(status(r.stdout, 'Uid').split(/\s+/), ['1000', '1000', '1000', '1000']);
  assert.deepEqual(status(r.stdout, 'Gid').split(/\s+/), ['1000', '1000', '1000', '1000']);
  assert.equal(status(r.stdout, 'Groups'), '10 20');
});

test('rlimits, umask, chdir, setsid, personality, keyring', { skip: skipUnlessRoot }, async () => {
  const ring = `berth-test-ring-${process.pid}`; // another run's ring is visible to root too
  const r = await run([
    op(O.SETRLIMIT, int(7), int(1024), int(2048)), // RLIMIT_NOFILE
    op(O.SETRLIMIT, int(4), int(-1), int(-1)), // RLIMIT_CORE unlimited
    op(O.UMASK, int(0o027)),
    op(O.CHDIR, str('/usr')),
    op(O.SETSID),
    op(O.PERSONALITY, int(0x0008)), // ADDR_COMPAT_LAYOUT
    op(O.JOIN_KEYRING, str(ring)),
    op(O.READY),
    sh(`ulimit -n; ulimit -H -n; ulimit -c; umask; pwd; ps -o sid= -p $$ 2>/dev/null || cat /proc/$$/stat | cut -d" " -f6; cat /proc/$$/personality; grep -c ${ring} /proc/keys`),
  ]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n').map((l) => l.trim());
  assert.deepEqual(lines.slice(0, 5), ['1024', '2048', 'unlimited', '0027', '/usr']);
  assert.equal(Number(lines[5]), r.pid, 'the process leads its own session');
  assert.equal(lines[6], '00000008');
  assert.equal(lines[7], '1');
});

test('CLOSE_FDS: the user process sees only stdio; a register or extra fd below keep_upto survives', { skip: skipUnlessRoot }, async () => {
  const dir = await makeTempDir('fds');
  const extra = openSync(join(dir, 'extra'), 'w');
  try {
    const prog = (keep: number) => [
      op(O.OPEN, str('/dev/null'), int(0), int(3)),
      op(O.CLOSE_FDS, int(keep)),
      op(O.READY),
      // the shell stays idle while ls lists its fds (no pipeline, no exec of the last command)
      sh('ls /proc/$$/fd; true'),
    ];
    const r = await run(prog(2), { extraFds: [extra] });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim().split('\n').sort().join(' '), '0 1 2');
    const r3 = await run(prog(3), { extraFds: [extra] });
    assert.equal(r3.stdout.trim().split('\n').sort().join(' '), '0 1 2 3');
  } finally {
    closeSync(extra);
    await removeTempDir(dir);
  }
});

test('EXEC errors: 127 when not found, 126 when not executable, with the message', { skip: skipUnlessRoot }, async () => {
  const dir = await makeTempDir('exec');
  try {
    const notfound = await run([exec(['/nonexistent/berth-test-cmd'])]);
    assert.equal(notfound.code, 127);
    assert.equal(notfound.readyError?.message, 'exec `/nonexistent/berth-test-cmd`: No such file or directory');
    assert.equal(notfound.stderr, 'berth-init: exec `/nonexistent/berth-test-cmd`: No such file or directory\n');
    const searched = await run([exec(['berth-test-no-such-cmd'])]);
    assert.equal(searched.code, 127);
    const plain = join(dir, 'plain');
    await (await open(plain, 'w', 0o644)).close();
    const noexec = await run([exec([plain])]);
    assert.equal(noexec.code, 126);
    assert.equal(noexec.readyError?.message, `exec \`${plain}\`: Permission denied`);
    // search uses the PATH of the program's env
    const found = await run([op(O.READY), exec(['echo', 'found'], ['PATH=/nonexistent:/bin'])]);
    assert.equal(found.stdout, 'found\n');
    // after READY errors go to stderr only
    const late = await run([op(O.READY), exec(['/nonexistent/x'])]);
    assert.equal(late.readyError, undefined);
    assert.equal(late.code, 127);
    assert.match(late.stderr, /^berth-init: exec `\/nonexistent\/x`: No such file or directory/);
  } finally {
    await removeTempDir(dir);
  }
});

test('WAIT_CHILD exits with the child status, 128+signal when it was killed', { skip: skipUnlessRoot }, async () => {
  const code = await run([...cloneOps(0), op(O.READY), sh('exit 7')]);
  assert.equal(code.code, 7);
  const killed = await run([...cloneOps(0), op(O.READY), sh('kill -KILL $$')]);
  assert.equal(killed.code, 128 + 9);
  const exited = await run([...cloneOps(0).slice(0, -1), op(O.EXIT, int(3)), op(O.READY), sh('sleep 0.2')]);
  assert.equal(exited.code, 3);
});

test('WAIT_CHILD forwards signals to the child', { skip: skipUnlessRoot }, async () => {
  const s = start([
    ...cloneOps(CLONE_NEWPID),
    sh('trap "echo got-term; exit 42" TERM; trap "echo got-usr1" USR1; echo ready; while :; do sleep 0.05; done'),
  ]);
  const stdout = s.handle.child.stdout!;
  await new Promise<void>((resolve) => {
    const on = (d: Buffer): void => {
      if (d.toString().includes('ready')) {
        stdout.off('data', on);
        resolve();
      }
    };
    stdout.on('data', on);
  });
  s.handle.child.kill('SIGUSR1');
  await new Promise((r) => setTimeout(r, 300));
  s.handle.child.kill('SIGTERM');
  const r = await s.result;
  assert.equal(r.code, 42);
  assert.match(r.stdout, /got-usr1\n.*got-term/s);
});

test('the child dies when the parent dies before RELEASE', { skip: skipUnlessRoot }, async () => {
  const dir = await makeTempDir('orphan');
  try {
    const marker = join(dir, 'ran');
    // the parent fails before RELEASE; the child must never run its ops
    const r = await run([
      op(O.CLONE, int(0), int(3)),
      op(O.WRITE_FILE, str('/nonexistent/berth-test'), bytes(''), int(0), int(0)),
      op(O.RELEASE),
      op(O.WAIT_CHILD),
      op(O.WRITE_FILE, str(marker), bytes('x'), int(0o100 | 0o1000), int(0o644)),
    ]);
    assert.equal(r.code, 1);
    assert.match(r.readyError?.message ?? '', /^write `\/nonexistent\/berth-test`: No such file or directory$/);
    await new Promise((res) => setTimeout(res, 100));
    assert.equal(existsSync(marker), false);
  } finally {
    await removeTempDir(dir);
  }
});

test('the child is killed when the parent is killed before RELEASE (PDEATHSIG)', { skip: skipUnlessRoot }, async () => {
  const { result, child } = await killAtSync([
    op(O.CLONE, int(CLONE_NEWPID), int(4)), op(O.CHILD_REPORT), op(O.SYNC, str('hold')), op(O.RELEASE), op(O.WAIT_CHILD), op(O.READY), sh('sleep 10'),
  ]);
  assert.equal(result.signal, 'SIGKILL');
  assert.ok(child > 0);
  assert.ok(await waitGone(child), 'the child is gone');
});

test('SYNC waits for go; a rejected onSync kills berth-init and rejects ready', { skip: skipUnlessRoot }, async () => {
  const seen: string[] = [];
  const ok = await run([op(O.SYNC, str('hooks')), op(O.SYNC, str('second')), op(O.READY), sh('echo after')], {
    onSync: async (name) => {
      seen.push(name);
      await new Promise((r) => setTimeout(r, 20));
    },
  });
  assert.deepEqual(seen, ['hooks', 'second']);
  assert.equal(ok.stdout, 'after\n');
  const bad = await run([op(O.SYNC, str('hooks')), op(O.READY), sh('echo after')], {
    onSync: () => Promise.reject(new Error('hook failed')),
  });
  assert.equal(bad.readyError?.message, 'hook failed');
  assert.equal(bad.signal, 'SIGKILL');
  assert.equal(bad.stdout, '');
});

test('READY then WAIT_FIFO: the process runs only once the fifo is opened for reading', { skip: skipUnlessRoot }, async () => {
  const dir = await makeTempDir('fifo');
  try {
    const fifo = join(dir, 'exec.fifo');
    execFileSync('mkfifo', ['-m', '0600', fifo]);
    const s = start([
      op(O.OPEN, str(fifo), int(O_PATH), int(0)),
      ...cloneOps(CLONE_NEWPID),
      op(O.READY),
      op(O.WAIT_FIFO, int(0)),
      sh('echo started'),
    ]);
    await s.handle.ready;
    await new Promise((r) => setTimeout(r, 200));
    let early = '';
    const onEarly = (d: Buffer): void => {
      early += d.toString();
    };
    s.handle.child.stdout!.on('data', onEarly);
    await new Promise((r) => setTimeout(r, 200));
    s.handle.child.stdout!.off('data', onEarly);
    assert.equal(early, '', 'nothing runs before start');
    const f = await open(fifo, 'r');
    assert.equal((await f.read(Buffer.alloc(1), 0, 1)).bytesRead, 1);
    await f.close();
    const r = await s.result;
    assert.equal(r.code, 0);
    assert.equal(r.stdout, 'started\n');
  } finally {
    await removeTempDir(dir);
  }
});

test('CHILD_PIDFILE, CHILD_CGROUP-style writes and WRITE_FILE', { skip: skipUnlessRoot }, async () => {
  const dir = await makeTempDir('pidfile');
  try {
    const pidfile = join(dir, 'pid');
    const procs = join(dir, 'procs');
    await (await open(procs, 'w')).close();
    const r = await run([
      op(O.WRITE_FILE, str(join(dir, 'created')), bytes('data'), int(0o100 | 0o1000), int(0o600)),
      op(O.CLONE, int(0), int(5)),
      op(O.CHILD_PIDFILE, str(pidfile)),
      op(O.CHILD_CGROUP, str(procs)),
      op(O.CHILD_REPORT),
      op(O.RELEASE),
      op(O.WAIT_CHILD),
      op(O.READY),
      sh('echo $$'),
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(join(dir, 'created'), 'utf8'), 'data');
    assert.equal(readFileSync(pidfile, 'utf8'), String(r.pid));
    assert.equal(readFileSync(procs, 'utf8'), String(r.pid));
    assert.equal(r.stdout.trim(), String(r.pid));
  } finally {
    await removeTempDir(dir);
  }
});

test('CHILD_PID_REG writes the pid into a file OPENed (and created) earlier, outside the parent ops it is refused', { skip: skipUnlessRoot }, async () => {
  const dir = await makeTempDir('pidreg');
  try {
    const pidfile = join(dir, 'pid');
    const r = await run([
      op(O.OPEN, str(pidfile), int(0o1 | 0o100 | 0o1000), int(9)),
      op(O.CLONE, int(0), int(4)),
      op(O.CHILD_REPORT),
      op(O.RELEASE),
      op(O.CHILD_PID_REG, int(9)),
      op(O.WAIT_CHILD),
      op(O.READY),
      sh('echo $$'),
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(pidfile, 'utf8'), String(r.pid));
    assert.equal(r.stdout.trim(), String(r.pid));
    const outside = await run([op(O.OPEN, str(pidfile), int(0o1), int(9)), op(O.CHILD_PID_REG, int(9)), sh('true')]);
    assert.match(outside.stderr, /child op outside/);
    const badReg = await run([op(O.CLONE, int(0), int(3)), op(O.RELEASE), op(O.CHILD_PID_REG, int(16)), op(O.EXIT, int(0)), sh('true')]);
    assert.match(badReg.stderr, /register out of range/);
  } finally {
    await removeTempDir(dir);
  }
});

test('RUN_HOOK feeds stdin, fails on a non-zero exit and on its timeout', { skip: skipUnlessRoot }, async () => {
  const dir = await makeTempDir('hook');
  try {
    const out = join(dir, 'state');
    const hook = (script: string, timeout = 0) =>
      op(O.RUN_HOOK, str('/bin/sh'), strlist(['sh', '-c', script]), strlist(['X=1']), bytes('{"id":"c1"}'), int(timeout));
    const ok = await run([hook(`cat > ${out}; echo $X >> ${out}`), op(O.READY), sh('true')]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(readFileSync(out, 'utf8'), '{"id":"c1"}1\n');
    const failing = await run([hook('exit 3'), op(O.READY), sh('true')]);
    assert.equal(failing.readyError?.message, 'run hook `/bin/sh`: exit status 3');
    const slow = await run([hook('sleep 5', 200), op(O.READY), sh('true')]);
    assert.equal(slow.readyError?.message, 'run hook `/bin/sh`: Connection timed out');
  } finally {
    await removeTempDir(dir);
  }
});

test('a malformed program is refused before any op runs', { skip: skipUnlessRoot }, async () => {
  const dir = await makeTempDir('malformed');
  try {
    const marker = join(dir, 'ran');
    const first = op(O.WRITE_FILE, str(marker), bytes('x'), int(0o100 | 0o1000), int(0o644));
    const good = encodeInitProgram([first, op(O.EXIT, int(0))]);
    const cases: [string, Buffer, RegExp][] = [
      ['bad magic', Buffer.concat([Buffer.from('NOTINIT!'), good.subarray(8)]), /bad magic/],
      ['truncated', good.subarray(0, good.length - 3), /truncated/],
      ['trailing', Buffer.concat([good, Buffer.from([0])]), /trailing bytes/],
      ['bad version', Buffer.concat([good.subarray(0, 8), Buffer.from([2, 0, 0, 0]), good.subarray(12)]), /unsupported version 2/],
      ['wrong type', (() => { const b = Buffer.from(good); b[16 + 4] = 1; return b; })(), /wrong type/],
      ['unknown op', (() => { const b = Buffer.from(good); b.writeUInt16LE(999, good.length - 17); return b; })(), /unknown op code 999/],
      ['CLONE without RELEASE', encodeInitProgram([first, op(O.CLONE, int(0), int(2)), op(O.CHILD_REPORT), op(O.EXIT, int(0))]), /lack RELEASE/],
      ['child op outside CLONE', encodeInitProgram([first, op(O.RELEASE)]), /child op outside/],
      ['register out of range', encodeInitProgram([first, op(O.OPEN, str('/'), int(0), int(16))]), /register out of range/],
      ['two RELEASE', encodeInitProgram([first, op(O.CLONE, int(0), int(3)), op(O.RELEASE), op(O.RELEASE), op(O.EXIT, int(0))]), /two RELEASE/],
      ['maps after RELEASE', encodeInitProgram([first, op(O.CLONE, int(0), int(3)), op(O.RELEASE), op(O.CHILD_WRITE, str('uid_map'), bytes('0 0 1\n')), op(O.EXIT, int(0))]), /CHILD_WRITE after RELEASE/],
      ['cgroup after RELEASE, no join', encodeInitProgram([first, op(O.CLONE, int(0), int(3)), op(O.RELEASE), op(O.CHILD_CGROUP, str('/x')), op(O.EXIT, int(0))]), /without a CHILD_JOINED after it/],
      ['CHILD_JOINED before RELEASE', encodeInitProgram([first, op(O.CLONE, int(0), int(3)), op(O.CHILD_JOINED), op(O.RELEASE), op(O.EXIT, int(0)), op(O.WAIT_JOINED)]), /CHILD_JOINED before RELEASE/],
      ['CHILD_JOINED, no WAIT_JOINED', encodeInitProgram([first, op(O.CLONE, int(0), int(3)), op(O.RELEASE), op(O.CHILD_JOINED), op(O.EXIT, int(0))]), /lacks WAIT_JOINED/],
      ['CLONE before WAIT_JOINED', encodeInitProgram([first, op(O.CLONE, int(0), int(3)), op(O.RELEASE), op(O.CHILD_JOINED), op(O.EXIT, int(0)), op(O.CLONE, int(0), int(2)), op(O.RELEASE), op(O.EXIT, int(0)), op(O.WAIT_JOINED)]), /CLONE before the WAIT_JOINED/],
      ['WAIT_JOINED, no CHILD_JOINED', encodeInitProgram([first, op(O.CLONE, int(0), int(2)), op(O.RELEASE), op(O.EXIT, int(0)), op(O.WAIT_JOINED)]), /WAIT_JOINED without a CHILD_JOINED/],
      ['WAIT_JOINED in the parent', encodeInitProgram([first, op(O.CLONE, int(0), int(4)), op(O.RELEASE), op(O.CHILD_JOINED), op(O.WAIT_JOINED), op(O.EXIT, int(0))]), /WAIT_JOINED inside the parent ops/],
      ['CHILD_JOINED outside CLONE', encodeInitProgram([first, op(O.CHILD_JOINED)]), /child op outside/],
      ['CLONE_INTO_CGROUP, no CLONE', encodeInitProgram([first, op(O.CLONE_INTO_CGROUP, str('/sys/fs/cgroup')), op(O.EXIT, int(0))]), /CLONE_INTO_CGROUP not followed by CLONE/],
      ['CLONE_INTO_CGROUP, another op before CLONE', encodeInitProgram([first, op(O.CLONE_INTO_CGROUP, str('/sys/fs/cgroup')), op(O.UMASK, int(0)), op(O.CLONE, int(0), int(2)), op(O.RELEASE), op(O.EXIT, int(0))]), /CLONE_INTO_CGROUP not followed by CLONE/],
      ['CLONE_INTO_CGROUP in the parent', encodeInitProgram([first, op(O.CLONE, int(0), int(3)), op(O.RELEASE), op(O.CLONE_INTO_CGROUP, str('/sys/fs/cgroup')), op(O.EXIT, int(0))]), /CLONE_INTO_CGROUP inside the parent ops/],
    ];
    for (const [name, program, want] of cases) {
      const r = await run(program);
      assert.equal(r.code, 1, name);
      assert.match(r.readyError?.message ?? '', /^malformed init program: /, name);
      assert.match(r.readyError!.message, want, name);
      assert.equal(existsSync(marker), false, `${name}: an op ran`);
    }
    const r = await run(good);
    assert.equal(r.code, 0);
    assert.ok(existsSync(marker));
  } finally {
    await removeTempDir(dir);
  }
});

test('the program is read up to its end, not to EOF: a writer that keeps its end open does not hold berth-init up', { skip: skipUnlessRoot }, async () => {
  const [mine, theirs] = nativeAddon().socketPair();
  try {
    writeSync(mine, encodeInitProgram([sh('echo ran')]));
    const child = spawn(berthInitPath(), ['/proc/self/fd/3'], { stdio: ['ignore', 'pipe', 'pipe', theirs] });
    closeSync(theirs);
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    const code = await Promise.race([
      new Promise<number | null>((resolve) => child.once('close', resolve)),
      new Promise<string>((resolve) => setTimeout(() => resolve('still reading'), 5000).unref()),
    ]);
    if (code === 'still reading') child.kill('SIGKILL');
    assert.equal(code, 0);
    assert.equal(out, 'ran\n');
  } finally {
    closeSync(mine);
  }
});

test('AWAIT_PROGRAM: the next program follows on the same descriptor and keeps the registers; EOF instead is a cancelled launch', { skip: skipUnlessRoot }, async () => {
  const dir = await makeTempDir('await-program');
  try {
    const file = join(dir, 'f');
    writeFileSync(file, '');
    const first = encodeInitProgram([op(O.OPEN, str(file), int(1 /* O_WRONLY */), int(5)), op(O.AWAIT_PROGRAM)]);
    const second = encodeInitProgram([op(O.WRITE_REG, int(5), bytes('written')), sh(`cat ${file}`)]);
    // both parts in one write: the bytes read past the first are the second's
    const r = await run(Buffer.concat([first, second]));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'written');
    const cancelled = await run(first);
    assert.equal(cancelled.code, 1);
    assert.match(cancelled.stderr, /cancelled/);
    const notLast = await run([op(O.AWAIT_PROGRAM), sh('true')]);
    assert.equal(notLast.code, 1);
    assert.match(notLast.stderr, /AWAIT_PROGRAM is not the last op/);
  } finally {
    await removeTempDir(dir);
  }
});
