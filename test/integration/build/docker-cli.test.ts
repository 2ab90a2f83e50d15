import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { EngineBackend } from '../../../src/api/backend.js';
import { createBuildService, volumeBackend } from '../../../src/engine/build-service.js';
import { startApi } from '../api/api-harness.js';
import { StubBackend } from '../api/stub-backend.js';
import { buildEnv } from './harness.js';

const DOCKER = '/usr/local/bin/docker';

function docker(socket: string, home: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(DOCKER, args, {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, DOCKER_HOST: `unix://${socket}`, DOCKER_CONFIG: join(home, 'docker-config'), DOCKER_BUILDKIT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

test('DOCKER_BUILDKIT=0 docker build and docker volume against the build service', async () => {
  const env = await buildEnv();
  const svc = createBuildService({ dataRoot: env.dataRoot, execRoot: join(env.dataRoot, 'exec'), content: env.content, images: env.images, snapshotter: env.snapshotter });
  const backend = new StubBackend() as unknown as EngineBackend & Record<string, unknown>;
  backend.imageBuild = svc.imageBuild;
  backend.buildPrune = svc.buildPrune;
  Object.assign(backend, volumeBackend(svc.volumes));
  const api = await startApi(backend);
  try {
    await env.files({
      Dockerfile: 'FROM busybox\nARG WHO=nobody\nCOPY hello.txt /\nRUN echo "built by $WHO" > /by.txt && cat /by.txt\nCMD ["cat", "/by.txt"]\n',
      'hello.txt': 'hi\n',
      'ignored.bin': 'x',
      '.dockerignore': '*.bin\n',
    });
    const iid = join(api.dir, 'iid');
    const r = await docker(api.socket, api.dir, ['build', '-t', 'cli:1', '-t', 'cli:latest', '--build-arg', 'WHO=docker', '--label', 'via=cli', '--iidfile', iid, env.contextDir]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Step 1\/5 : FROM busybox/);
    assert.match(r.stdout, /built by docker/);
    assert.match(r.stdout, /Successfully built [a-f0-9]{12}/);
    assert.match(r.stdout, /Successfully tagged cli:1\n/);
    const id = await readFile(iid, 'utf8');
    const img = await env.images.resolve('cli:latest');
    assert.equal(img.id, id);
    assert.deepEqual(img.config.config?.Labels, { via: 'cli' });
    // Cached the second time.
    const r2 = await docker(api.socket, api.dir, ['build', '-q', '-t', 'cli:1', '--build-arg', 'WHO=docker', '--label', 'via=cli', env.contextDir]);
    assert.equal(r2.code, 0, r2.stderr);
    assert.equal(r2.stdout.trim(), id);
    // A failing build: exit status 1 and dockerd's message.
    await env.files({ Dockerfile: 'FROM busybox\nRUN exit 7\n' });
    const r3 = await docker(api.socket, api.dir, ['build', env.contextDir]);
    assert.notEqual(r3.code, 0);
    assert.match(r3.stderr + r3.stdout, /The command '\/bin\/sh -c exit 7' returned a non-zero code: 7/);
    await env.files({ Dockerfile: 'FROM busybox\nRUNN x\n' });
    const r4 = await docker(api.socket, api.dir, ['build', env.contextDir]);
    assert.notEqual(r4.code, 0);
    assert.match(r4.stderr + r4.stdout, /Dockerfile:2: unknown instruction: RUNN/);
    // Volumes through the CLI.
    assert.equal((await docker(api.socket, api.dir, ['volume', 'create', '--label', 'k=v', 'clivol'])).stdout.trim(), 'clivol');
    const ls = await docker(api.socket, api.dir, ['volume', 'ls', '--filter', 'label=k=v', '--format', '{{.Name}} {{.Driver}}']);
    assert.equal(ls.stdout.trim(), 'clivol local');
    const insp = JSON.parse((await docker(api.socket, api.dir, ['volume', 'inspect', 'clivol'])).stdout) as { Name: string; Scope: string; Labels: Record<string, string> }[];
    assert.deepEqual([insp[0]!.Name, insp[0]!.Scope, insp[0]!.Labels], ['clivol', 'local', { k: 'v' }]);
    assert.equal((await docker(api.socket, api.dir, ['volume', 'rm', 'clivol'])).code, 0);
    const missing = await docker(api.socket, api.dir, ['volume', 'inspect', 'clivol']);
    assert.match(missing.stderr, /no such volume/);
    assert.deepEqual(await env.leftovers(), []);
  } finally {
    await api.close();
    await env.close();
  }
});
