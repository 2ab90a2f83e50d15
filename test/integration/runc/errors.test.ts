// Bad input: each exits non-zero, says what is wrong, and leaves no state, cgroup or process.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertNothingLeft, describeRun, setup, skipUnlessRoot } from './helpers.js';

const skipCpusetV1 = skipUnlessRoot || (existsSync('/sys/fs/cgroup/cpuset/cpuset.cpus') ? false : 'needs a cgroup v1 cpuset hierarchy');

test('missing rootfs', { skip: skipUnlessRoot }, async (t) => {
  const env = await setup(t);
  rmSync(env.b.rootfs, { recursive: true });
  const r = await env.run(['create', '-b', env.b.dir, env.b.id]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /rootfs ".*rootfs" does not exist/);
  await assertNothingLeft(env);
});

test('invalid config.json names the field', { skip: skipUnlessRoot }, async (t) => {
  const env = await setup(t);
  (env.b.config.process as unknown as Record<string, unknown>).cwd = 42;
  await env.b.write();
  const r = await env.run(['run', '-b', env.b.dir, env.b.id]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /process\.cwd/);
  await assertNothingLeft(env);
});

test('config.json that is not JSON', { skip: skipUnlessRoot }, async (t) => {
  const env = await setup(t);
  writeFileSync(join(env.b.dir, 'config.json'), '{ nope');
  const r = await env.run(['create', '-b', env.b.dir, env.b.id]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /config\.json.*JSON/);
  await assertNothingLeft(env);
});

test('a process that cannot be executed fails create, nothing left', { skip: skipUnlessRoot }, async (t) => {
  const env = await setup(t, { args: ['/no/such/binary'] });
  const r = await env.run(['run', '-b', env.b.dir, env.b.id]);
  assert.notEqual(r.code, 0);
  await assertNothingLeft(env);
});

test('unknown container', { skip: skipUnlessRoot }, async (t) => {
  const env = await setup(t);
  for (const cmd of [['state'], ['start'], ['kill'], ['delete'], ['pause'], ['resume'], ['ps'], ['events', '--stats'], ['exec']]) {
    const args = cmd[0] === 'exec' ? ['exec', 'nope', 'true'] : [...cmd, 'nope'];
    const r = await env.run(args);
    assert.notEqual(r.code, 0, args.join(' '));
    assert.match(r.stderr, /container "nope" does not exist/, args.join(' '));
  }
  const forced = await env.run(['delete', '--force', 'nope']);
  assert.equal(forced.code, 0, 'delete --force of an unknown container is not an error (runc)');
});

test('duplicate id', { skip: skipUnlessRoot }, async (t) => {
  const env = await setup(t, { args: ['sleep', '1000'] });
  await env.ok(['create', '-b', env.b.dir, env.b.id]);
  const r = await env.run(['create', '-b', env.b.dir, env.b.id]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`container "${env.b.id}" already exists`));
  // the first container is untouched
  const s = await env.ok(['state', env.b.id]);
  assert.equal(JSON.parse(s.stdout).status, 'created');
  await env.ok(['delete', '--force', env.b.id]);
  await assertNothingLeft(env);
});

test('invalid id, bad signal, bad flags', { skip: skipUnlessRoot }, async (t) => {
  const env = await setup(t);
  const bad = await env.run(['create', '-b', env.b.dir, 'a/b']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /invalid id format: a\/b/);
  const flag = await env.run(['create', '--bogus', env.b.id]);
  assert.equal(flag.code, 1);
  assert.match(flag.stderr, /flag provided but not defined: --bogus/);
  const usage = await env.run(['state']);
  assert.equal(usage.code, 1);
  assert.match(usage.stderr, /"state" requires exactly 1 argument/);
  await env.ok(['run', '-d', '-b', env.b.dir, env.b.id]).catch(() => undefined);
  const sig = await env.run(['kill', env.b.id, 'NOTASIGNAL']);
  assert.notEqual(sig.code, 0);
  assert.match(sig.stderr, /unknown signal "NOTASIGNAL"/);
  await env.run(['delete', '--force', env.b.id]);
  await assertNothingLeft(env);
});

test('--log-format json writes JSON lines to --log and the message to stderr', { skip: skipUnlessRoot }, async (t) => {
  const env = await setup(t);
  const log = join(env.b.dir, 'runc.log');
  const r = await env.run(['--log', log, '--log-format', 'json', 'state', 'nope']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /berth-runc: container "nope" does not exist/);
  const { readFileSync } = await import('node:fs');
  const entry = JSON.parse(readFileSync(log, 'utf8').trim().split('\n').pop()!) as { level: string; msg: string; time: string };
  assert.equal(entry.level, 'error');
  assert.equal(entry.msg, 'container "nope" does not exist');
  assert.ok(entry.time);
});

test('--systemd-cgroup without a usable systemd driver fails clearly, nothing left', { skip: skipUnlessRoot }, async (t) => {
  const env = await setup(t, { args: ['true'] });
  const r = await env.run(['--systemd-cgroup', 'run', '-b', env.b.dir, env.b.id]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /systemd cgroup driver/);
  await assertNothingLeft(env);
});

test('a cgroup the process cannot join (a v1 cpuset without cpus) fails run cleanly: the message, nothing left', { skip: skipCpusetV1 }, async (t) => {
  const env = await setup(t, { args: ['sleep', '1000'] });
  // The bundle's cgroupsPath is /<parent>/<id>: a parent made here has no cpus, nor will the
  // child cgroup berth-runc makes in it, and the kernel refuses to move a process there.
  const parent = join('/sys/fs/cgroup/cpuset', env.b.cgroupsPath.split('/')[1]!);
  mkdirSync(parent);
  t.after(() => existsSync(parent) && rmdirSync(parent));
  const r = await env.run(['run', '-b', env.b.dir, env.b.id]);
  assert.equal(r.code, 1, describeRun(r));
  // berth-init moves itself (tasks) or, in a new user namespace, its parent moves it (cgroup.procs)
  assert.match(r.stderr, /(write|add pid \d+ to cgroup) `\/sys\/fs\/cgroup\/cpuset\/[^`]+\/(tasks|cgroup\.procs)`: No space left on device/);
  await assertNothingLeft(env);
  assert.ok(existsSync(parent), 'a cgroup berth-runc did not make is left alone');
});
