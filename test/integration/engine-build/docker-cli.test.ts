// The docker CLI's legacy builder against a harness berthd: DOCKER_BUILDKIT=0 docker build
// of a small Dockerfile (FROM the busybox fixture, RUN, COPY), docker run of the result, and
// a second build that is fully cached.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DOCKER, TestBerthd, runAgainst, type DockerResult } from '../../harness/berthd.js';

const skip = !existsSync(DOCKER) ? `${DOCKER} is not installed` : process.getuid?.() !== 0 ? 'needs root' : false;

function legacyBuild(d: TestBerthd, args: string[]): Promise<DockerResult> {
  return runAgainst(d, [DOCKER, 'build', ...args], { env: { DOCKER_BUILDKIT: '0' }, timeoutMs: 120_000 });
}

describe('docker CLI against berthd: legacy build', { skip }, () => {
  let d: TestBerthd;
  before(async () => {
    d = await TestBerthd.start('berthd-build');
  });
  after(async () => {
    await d?.cleanup();
  });

  test('docker build (FROM busybox, RUN, COPY), docker run of the image, a cached rebuild', async () => {
    // the context lives inside the daemon's temp dir (berth-test-…), removed by cleanup()
    const ctx = join(d.dir, 'ctx');
    await mkdir(ctx, { recursive: true });
    await writeFile(join(ctx, 'hello.txt'), 'hello from the context\n');
    await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox\nRUN echo built > /built\nCOPY hello.txt /hello.txt\nCMD ["sh", "-c", "cat /built /hello.txt"]\n');
    const first = await legacyBuild(d, ['-t', 'x', ctx]);
    assert.equal(first.code, 0, first.stderr + first.stdout);
    assert.match(first.stdout, /Step 2\/4 : RUN echo built > \/built/);
    assert.match(first.stdout, /Successfully built [0-9a-f]{12}/);
    assert.match(first.stdout, /Successfully tagged x:latest/);
    const run = await d.docker(['run', '--rm', 'x']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, 'built\nhello from the context\n');

    const second = await legacyBuild(d, ['-t', 'x', ctx]);
    assert.equal(second.code, 0, second.stderr);
    assert.equal((second.stdout.match(/Using cache/g) ?? []).length, 3, second.stdout);
    assert.doesNotMatch(second.stdout, /Running in/);
    const id = (s: string): string => /Successfully built ([0-9a-f]{12})/.exec(s)![1]!;
    assert.equal(id(second.stdout), id(first.stdout));
    const rmi = await d.docker(['rmi', 'x']);
    assert.equal(rmi.code, 0, rmi.stderr);
  });
});
