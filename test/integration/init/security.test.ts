import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, readlinkSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { berthInitPath } from '../../../src/runtime/paths.js';
import { sealedInitPath } from '../../../src/runtime/init-runner.js';
import { copyBusyboxRootfs } from '../../harness/fixtures.js';
import { makeTempDir, removeTempDir } from '../../harness/tmp.js';
import { ALL_NS, CLONE_NEWPID, O, O_PATH, bytes, cloneOps, int, op, rootfsOps, run, sh, skipUnlessRoot, start, str } from './helpers.js';

// Node cannot receive SCM_RIGHTS: a small python3 listener does, and reports what it got.
const RECEIVER = `
import array, os, socket, sys
path, mode = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
s.listen(1)
print('listening', flush=True)
c, _ = s.accept()
msg, anc, _, _ = c.recvmsg(4096, socket.CMSG_SPACE(4))
fds = array.array('i')
for level, kind, data in anc:
    if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
        fds.frombytes(data[:4])
print('data=' + msg.decode(), flush=True)
print('fds=%d' % len(fds), flush=True)
if fds:
    print('kind=' + os.readlink('/proc/self/fd/%d' % fds[0]), flush=True)
    print('own-devpts=%s' % (os.fstat(fds[0]).st_dev not in (os.stat('/dev/pts').st_dev, os.stat('/dev/ptmx').st_dev)), flush=True)
if mode == 'pty' and fds:
    out = b''
    while True:
        try:
            b = os.read(fds[0], 4096)
        except OSError:
            break
        if not b:
            break
        out += b
    print('pty=' + out.decode().replace('\\r', '').replace('\\n', '|'), flush=True)
`;

interface Receiver {
  proc: ChildProcess;
  output: Promise<string>;
}

async function receiver(path: string, mode: 'pty' | 'fd'): Promise<Receiver> {
  const proc = spawn('python3', ['-c', RECEIVER, path, mode], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  proc.stdout!.setEncoding('utf8');
  const listening = new Promise<void>((resolve, reject) => {
    proc.stdout!.on('data', (d: string) => {
      out += d;
      if (out.includes('listening')) resolve();
    });
    proc.on('exit', () => reject(new Error(`receiver exited: ${out}`)));
  });
  const output = new Promise<string>((resolve) => proc.on('exit', () => resolve(out)));
  await listening;
  return { proc, output };
}

test('berth-init runs from a sealed memfd copy of itself', { skip: skipUnlessRoot }, async () => {
  let exe = '';
  let initPid = 0;
  const s = start([op(O.SYNC, str('look')), op(O.READY), sh('readlink /proc/self/exe')], {
    onSync: async () => {
      exe = readlinkSync(`/proc/${initPid}/exe`);
    },
  });
  initPid = s.handle.child.pid!;
  const r = await s.result;
  assert.equal(r.code, 0, r.stderr);
  assert.match(exe, /^\/memfd:berth-init/);
  assert.doesNotMatch(r.stdout, /memfd/, 'the user program runs from its own file');
});

test('/proc/1/exe of a container waiting in WAIT_FIFO cannot be opened for writing from inside (CVE-2019-5736)', { skip: skipUnlessRoot }, async () => {
  const rootfs = await copyBusyboxRootfs();
  const fifo = join(dirname(rootfs), 'exec.fifo');
  execFileSync('mkfifo', ['-m', '0600', fifo]);
  const hostBinary = (): string => createHash('sha256').update(readFileSync(berthInitPath())).digest('hex');
  const before = hostBinary();
  const c = start([
    op(O.OPEN, str(fifo), int(O_PATH), int(0)),
    ...cloneOps(ALL_NS),
    ...rootfsOps(rootfs),
    op(O.READY),
    op(O.WAIT_FIFO, int(0)),
    sh('echo started'),
  ]);
  try {
    const pid = await c.handle.pid;
    await c.handle.ready;
    assert.match(readlinkSync(`/proc/${pid}/exe`), /^\/memfd:berth-init/);
    const attack = sh(
      'cat /proc/1/comm; (exec 3<>/proc/1/exe) 2>/dev/null && echo OPENED-RW; (exec 3>>/proc/1/exe) 2>/dev/null && echo OPENED-W; ' +
        'echo x >> /proc/1/exe 2>/dev/null && echo WROTE; echo done',
    );
    // as a full root inside the container, and with every capability dropped
    for (const drop of [[], [op(O.CAP_BOUNDING, int(0)), op(O.CAPSET, int(0), int(0), int(0))]]) {
      const r = await run([op(O.SETNS_PID, int(pid), int(ALL_NS)), ...cloneOps(0), ...drop, op(O.READY), attack]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'berth-init\ndone\n');
    }
    assert.equal(hostBinary(), before);
  } finally {
    const f = await open(fifo, 'r');
    await f.read(Buffer.alloc(1), 0, 1);
    await f.close();
    const r = await c.result;
    assert.equal(r.stdout, 'started\n');
    await removeTempDir(dirname(rootfs));
  }
});

test('CONSOLE sends the pty master with its name and makes the pty the process stdio', { skip: skipUnlessRoot }, async () => {
  const rootfs = await copyBusyboxRootfs();
  const sock = join(dirname(rootfs), 'console.sock');
  const rx = await receiver(sock, 'pty');
  try {
    const r = await run([
      ...cloneOps(ALL_NS),
      ...rootfsOps(rootfs, { beforeRoot: [op(O.CONNECT, str(sock), int(1))] }),
      op(O.CONSOLE, int(1), int(24), int(80)),
      op(O.FCHOWN, int(0), int(1234), int(-1)),
      op(O.READY),
      sh('tty; stty size; test -t 0 && test -t 2 && echo all-tty; stat -c %u /dev/pts/0'),
    ]);
    assert.equal(r.code, 0, r.stderr);
    const out = await rx.output;
    assert.match(out, /^data=\/dev\/pts\/0$/m);
    assert.match(out, /^fds=1$/m);
    // A ptmx of the container's own devpts instance: named from the container's root, or
    // from the mount's own once the container (and its mount namespace) is gone.
    assert.match(out, /^kind=(\/dev\/pts)?\/ptmx$/m);
    assert.match(out, /^own-devpts=True$/m);
    assert.match(out, /^pty=\/dev\/pts\/0\|24 80\|all-tty\|1234\|$/m);
  } finally {
    rx.proc.kill();
    await removeTempDir(dirname(rootfs));
  }
});

test('SECCOMP with a listener sends the notify fd and the message with ${pid} replaced', { skip: skipUnlessRoot }, async () => {
  const dir = await makeTempDir('seccomp');
  const sock = join(dir, 'notify.sock');
  const rx = await receiver(sock, 'fd');
  try {
    // one instruction: return SECCOMP_RET_ALLOW
    const allow = Buffer.alloc(8);
    allow.writeUInt16LE(0x06, 0);
    allow.writeUInt32LE(0x7fff0000, 4);
    const r = await run([
      ...cloneOps(CLONE_NEWPID),
      op(O.CONNECT, str(sock), int(3)),
      op(O.NO_NEW_PRIVS),
      op(O.SECCOMP, bytes(allow), int(0), int(3), bytes('{"pid":${pid}}')),
      op(O.READY),
      sh('echo $$; grep Seccomp: /proc/self/status'),
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^1\nSeccomp:\s+2\n/);
    const out = await rx.output;
    assert.match(out, new RegExp(`^data=\\{"pid":${r.pid}\\}$`, 'm'));
    assert.match(out, /^kind=anon_inode:seccomp notify$/m);
  } finally {
    rx.proc.kill();
    await removeTempDir(dir);
  }
});

test('sealedInitPath: berth-init started from the held sealed memfd skips its copy', { skip: skipUnlessRoot }, async () => {
  const path = await sealedInitPath();
  assert.equal(await sealedInitPath(), path, 'one copy per process');
  assert.match(readlinkSync(path), /^\/memfd:berth-init/);
  let initPid = 0;
  let exe: { ino: number; link: string } | undefined;
  const s = start([op(O.SYNC, str('look')), op(O.READY), sh('true')], {
    initPath: path,
    onSync: async () => {
      exe = { ino: statSync(`/proc/${initPid}/exe`).ino, link: readlinkSync(`/proc/${initPid}/exe`) };
    },
  });
  initPid = s.handle.child.pid!;
  const r = await s.result;
  assert.equal(r.code, 0, r.stderr);
  assert.equal(exe?.ino, statSync(path).ino, 'the very memfd we hold, not a new copy');
  assert.match(exe!.link, /^\/memfd:berth-init/);
});
