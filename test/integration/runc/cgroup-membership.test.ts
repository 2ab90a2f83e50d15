// The container's process and an exec'd one are in the container's cgroup in every
// hierarchy: v1 ones (berth-init moves itself there), the unified one of a hybrid or pure
// v2 host (cloned into it), whichever way the join went (docs/runtime.md, "Joining the
// cgroups"). Without a cgroup namespace /proc/<pid>/cgroup shows the host's paths.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { setup, skipUnlessRoot, state, type Env } from './helpers.js';

/** hierarchy → path of every line of a /proc/<pid>/cgroup, named hierarchies (name=systemd) left out: Berth does not manage them. */
function managed(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.trim().split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (!m || m[2]!.startsWith('name=')) continue;
    out.set(m[2] === '' ? 'unified' : m[2]!, m[3]!);
  }
  return out;
}

function assertAllIn(env: Env, text: string, who: string): void {
  const lines = managed(text);
  const host = managed(readFileSync('/proc/self/cgroup', 'utf8'));
  // every hierarchy the host has, the unified one of a hybrid host included
  assert.deepEqual([...lines.keys()].sort(), [...host.keys()].sort(), `${who}: ${text}`);
  for (const [h, path] of lines) assert.equal(path, `/${env.b.cgroupsPath.replace(/^\//, '')}`, `${who} in hierarchy ${h}: ${text}`);
}

/** Runs the bundle's container detached, checks it and an exec'd process, deletes it. */
async function runAndCheck(env: Env): Promise<void> {
  await env.ok(['run', '-d', '-b', env.b.dir, env.b.id]);
  const { pid } = await state(env, env.b.id);
  assertAllIn(env, readFileSync(`/proc/${pid}/cgroup`, 'utf8'), 'the container process');
  const exec = await env.ok(['exec', env.b.id, 'cat', '/proc/self/cgroup']);
  assertAllIn(env, exec.stdout, 'the exec process');
  await env.ok(['delete', '--force', env.b.id]);
}

test('the container process and an exec process are in the container cgroup of every hierarchy', { skip: skipUnlessRoot }, async (t) => {
  const env = await setup(t, { args: ['sleep', '1000'], cgroupNamespace: false });
  await runAndCheck(env);
});

test('in a new user namespace too (the parent moves the process)', { skip: skipUnlessRoot }, async (t) => {
  const env = await setup(t, {
    args: ['sleep', '1000'],
    cgroupNamespace: false,
    edit: (c) => {
      c.linux!.namespaces!.push({ type: 'user' });
      c.linux!.uidMappings = [{ containerID: 0, hostID: 0, size: 65536 }];
      c.linux!.gidMappings = [{ containerID: 0, hostID: 0, size: 65536 }];
    },
  });
  await runAndCheck(env);
});
