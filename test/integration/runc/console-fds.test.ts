// --console-socket (the pty master arrives over SCM_RIGHTS; a small python3 receiver plays
// the part of containerd/conmon), --preserve-fds, and OOM events.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertNothingLeft, describeRun, setup, skipUnlessRoot, waitFor } from './helpers.js';

const RECEIVER = `
import socket, sys, os, select
path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path); s.listen(1)
print("listening", flush=True)
c, _ = s.accept()
msg, fds, _, _ = socket.recv_fds(c, 1024, 1)
data = b""
while b"from-tty" not in data:
    r, _, _ = select.select([fds[0]], [], [], 10)
    if not r: break
    try:
        chunk = os.read(fds[0], 4096)
    except OSError:
        break
    if not chunk: break
    data += chunk
# Written whole under another name and renamed: the test reads the file as soon as it exists.
open(out + ".tmp", "wb").write(b"name=" + msg + b"\\n" + data)
os.rename(out + ".tmp", out)
`;

test('--console-socket: the container gets a pty, the socket gets its master', { skip: skipUnlessRoot }, async (t) => {
  const env = await setup(t, {
    args: ['sh', '-c', 'tty; [ -t 0 ] && echo from-tty; sleep 1000'],
    edit: (c) => {
      c.process!.terminal = true;
    },
  });
  const sock = join(env.b.dir, 'console.sock');
  const out = join(env.b.dir, 'console.out');
  const py = spawn('python3', ['-c', RECEIVER, sock, out], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => py.kill('SIGKILL'));
  await new Promise<void>((resolve) => py.stdout!.once('data', () => resolve()));

  await env.ok(['run', '-d', '--console-socket', sock, '-b', env.b.dir, env.b.id]);
  const text = await waitFor('the console output', () => (existsSync(out) ? readFileSync(out, 'utf8') : undefined));
  assert.match(text, /^name=\/dev\/pts\/\d+\n/);
  assert.match(text, /\/dev\/pts\/\d+/);
  assert.match(text, /from-tty/);
  await env.ok(['delete', '--force', env.b.id]);
  await assertNothingLeft(env);
});

test('terminal without --console-socket is refused when detached', { skip: skipUnlessRoot }, async (t) => {
  const env = await setup(t, { edit: (c) => { c.process!.terminal = true; } });
  const r = await env.run(['create', '-b', env.b.dir, env.b.id]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /cannot allocate tty if berth-runc will detach without setting console socket/);
  await assertNothingLeft(env);
});

test('--preserve-fds passes fd 3 to the container', { skip: skipUnlessRoot }, async (t) => {
  const env = await setup(t, { args: ['sh', '-c', 'echo through-fd-3 >&3'] });
  const file = join(env.b.dir, 'fd3.out');
  const fd = openSync(file, 'w');
  try {
    const r = await env.rt.run(['run', '--preserve-fds', '1', '-b', env.b.dir, env.b.id], { extraFds: [fd] });
    assert.equal(r.code, 0, describeRun(r));
  } finally {
    closeSync(fd);
  }
  assert.equal(readFileSync(file, 'utf8'), 'through-fd-3\n');
  await assertNothingLeft(env);
});

test('events reports an OOM kill', { skip: skipUnlessRoot }, async (t) => {
  const env = await setup(t, {
    args: ['sleep', '1000'],
    edit: (c) => {
      c.linux!.resources = { ...c.linux!.resources, memory: { limit: 16 * 1024 * 1024, swap: 16 * 1024 * 1024 } };
    },
  });
  const id = env.b.id;
  await env.ok(['run', '-d', '-b', env.b.dir, id]);
  const events = env.run(['events', '--interval', '200ms', id], { timeoutMs: 30_000 });
  await new Promise((r) => setTimeout(r, 500));
  // Grows until the kernel kills it inside the container's memory cgroup.
  await env.run(['exec', id, 'sh', '-c', 'tail /dev/zero']);
  await new Promise((r) => setTimeout(r, 800));
  await env.ok(['kill', id, 'KILL']);
  const r = await events;
  assert.equal(r.code, 0, describeRun(r));
  const types = r.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { type: string; id: string }).type);
  assert.ok(types.includes('oom'), `an oom event among ${types.join(',')}`);
  await env.ok(['delete', id]);
  await assertNothingLeft(env);
});
