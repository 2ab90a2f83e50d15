// exec (foreground, detached, --env, --cwd, --user, --process), update and events.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { controllerDir } from '../../harness/cgroups.js';
import { assertNothingLeft, describeRun, setup, skipUnlessRoot, state, waitFor } from './helpers.js';

const LONG = ['sleep', '1000'];

test('exec in the foreground: output, exit status, --env, --cwd, --user', { skip: skipUnlessRoot }, async (t) => {
  const env = await setup(t, { args: LONG });
  const id = env.b.id;
  await env.ok(['run', '-d', '-b', env.b.dir, id]);

  const echo = await env.run(['exec', id, 'sh', '-c', 'echo out; exit 7']);
  assert.equal(echo.code, 7, describeRun(echo));
  assert.equal(echo.stdout, 'out\n');

  const e = await env.ok(['exec', '--env', 'FOO=bar', '-e', 'TERM=dumb', id, 'sh', '-c', 'echo $FOO $TERM']);
  assert.equal(e.stdout, 'bar dumb\n');

  const cwd = await env.ok(['exec', '--cwd', '/tmp', id, 'pwd']);
  assert.equal(cwd.stdout, '/tmp\n');

  const user = await env.ok(['exec', '--user', '1000:1001', id, 'id']);
  assert.match(user.stdout, /uid=1000 gid=1001/);

  const pidns = await env.ok(['exec', id, 'sh', '-c', 'echo $$; cat /proc/1/cmdline | tr "\\0" " "']);
  const [, cmd] = pidns.stdout.split('\n');
  assert.equal(cmd!.trim(), 'sleep 1000', 'exec enters the container pid namespace');

  const missing = await env.run(['exec', id, '/no/such/program']);
  assert.notEqual(missing.code, 0);

  await env.ok(['delete', '--force', id]);
  await assertNothingLeft(env);
});

test('exec -d with --pid-file, and exec --process', { skip: skipUnlessRoot }, async (t) => {
  const env = await setup(t, { args: LONG });
  const id = env.b.id;
  await env.ok(['run', '-d', '-b', env.b.dir, id]);
  const pidFile = join(env.b.dir, 'exec.pid');
  await env.ok(['exec', '-d', '--pid-file', pidFile, id, 'sh', '-c', 'echo detached > /detached; sleep 1000']);
  const pid = Number(readFileSync(pidFile, 'utf8'));
  assert.ok(pid > 0);
  await waitFor('/detached', () => (existsSync(join(env.b.rootfs, 'detached')) ? true : undefined));
  const pids = JSON.parse((await env.ok(['ps', '-f', 'json', id])).stdout) as number[];
  assert.ok(pids.includes(pid), `exec'd pid ${pid} in the container cgroup (${pids})`);

  const processFile = join(env.b.dir, 'process.json');
  writeFileSync(
    processFile,
    JSON.stringify({ args: ['sh', '-c', 'echo $X; pwd; id -u'], env: ['PATH=/bin:/usr/bin', 'X=from-file'], cwd: '/etc', user: { uid: 65534, gid: 65534 } }),
  );
  const p = await env.ok(['exec', '--process', processFile, id]);
  assert.equal(p.stdout, 'from-file\n/etc\n65534\n');

  await env.ok(['delete', '--force', id]);
  await assertNothingLeft(env);
});

test('exec in a stopped container fails', { skip: skipUnlessRoot }, async (t) => {
  const env = await setup(t, { args: ['true'] });
  await env.ok(['run', '--keep', '-b', env.b.dir, env.b.id]);
  const r = await env.run(['exec', env.b.id, 'true']);
  assert.equal(r.code, 255);
  assert.match(r.stderr, /exec failed: cannot exec in a stopped container/);
  await env.ok(['delete', env.b.id]);
});

test('update memory and pids of a running container', { skip: skipUnlessRoot }, async (t) => {
  const env = await setup(t, { args: LONG });
  const id = env.b.id;
  await env.ok(['run', '-d', '-b', env.b.dir, id]);
  await env.ok(['update', '--memory', '64m', '--pids-limit', '42', id]);
  const mem = controllerDir(env.b.cgroupsPath, 'memory');
  const memFile = mem.version === 1 ? 'memory.limit_in_bytes' : 'memory.max';
  assert.equal(readFileSync(join(mem.dir, memFile), 'utf8').trim(), String(64 * 1024 * 1024));
  const pids = controllerDir(env.b.cgroupsPath, 'pids');
  assert.equal(readFileSync(join(pids.dir, 'pids.max'), 'utf8').trim(), '42');

  await env.ok(['update', '-r', '-', id], { input: JSON.stringify({ pids: { limit: 50 }, memory: { limit: 33554432 } }) });
  assert.equal(readFileSync(join(pids.dir, 'pids.max'), 'utf8').trim(), '50');
  assert.equal(readFileSync(join(mem.dir, memFile), 'utf8').trim(), '33554432');

  const bad = await env.run(['update', '--memory', 'lots', id]);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /invalid value for memory/);

  await env.ok(['delete', '--force', id]);
  await assertNothingLeft(env);
});

test('events --stats prints one stats event', { skip: skipUnlessRoot }, async (t) => {
  const env = await setup(t, { args: LONG, edit: (c) => { c.linux!.resources = { ...c.linux!.resources, pids: { limit: 77 } }; } });
  const id = env.b.id;
  await env.ok(['run', '-d', '-b', env.b.dir, id]);
  const r = await env.ok(['events', '--stats', id]);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 1);
  const ev = JSON.parse(lines[0]!) as { type: string; id: string; data: { pids: { current: number; limit: number }; memory: unknown; cpu: unknown } };
  assert.equal(ev.type, 'stats');
  assert.equal(ev.id, id);
  assert.equal(ev.data.pids.current, 1);
  assert.equal(ev.data.pids.limit, 77);
  assert.ok(ev.data.memory && ev.data.cpu);
  await env.ok(['delete', '--force', id]);
  await assertNothingLeft(env);
});

test('events streams stats at --interval and ends when the container stops', { skip: skipUnlessRoot }, async (t) => {
  const env = await setup(t, { args: ['sleep', '5'] });
  const id = env.b.id;
  await env.ok(['run', '-d', '-b', env.b.dir, id]);
  const r = await env.run(['events', '--interval', '300ms', id], { timeoutMs: 20_000 });
  assert.equal(r.code, 0, describeRun(r));
  const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string });
  assert.ok(events.length >= 2, `several stats events, got ${events.length}`);
  assert.ok(events.every((e) => e.type === 'stats'));
  assert.equal((await state(env, id)).status, 'stopped');
  await env.ok(['delete', id]);
  await assertNothingLeft(env);
});
