// `berth build` end to end against a harness berthd: the context sent with .dockerignore
// applied (an ignored 32 MiB file is not sent: the context size says so, and the image
// does not have it), steps streamed, several -t, --build-arg, --target, -f outside the
// context, --iidfile, -q, and a failing RUN: the RUN's exit status as berth's, the daemon's
// message on stderr, nothing left behind (containers, build dirs, mounts, netns).

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DOCKER, TestBerthd, runAgainst, type DockerResult } from '../../harness/berthd.js';
import { REPO_ROOT } from '../../harness/paths.js';

const BERTH = join(REPO_ROOT, 'bin', 'berth');
const skip = !existsSync(DOCKER) ? `${DOCKER} is not installed` : process.getuid?.() !== 0 ? 'needs root' : false;

function berth(d: TestBerthd, args: string[], cwd?: string): Promise<DockerResult> {
  return runAgainst(d, [process.execPath, BERTH, ...args], { timeoutMs: 120_000, ...(cwd ? { cwd } : {}) });
}

/** What a build may leave in the daemon: containers, build dirs, mounts below them, RUN network namespaces (cgroups: test/integration/build). */
async function leftovers(d: TestBerthd): Promise<string[]> {
  const out: string[] = [];
  const ps = (await d.docker(['ps', '-aq'])).stdout.trim();
  if (ps) out.push(`containers: ${ps}`);
  const buildDir = join(d.dataRoot, 'build');
  if (existsSync(buildDir)) for (const n of readdirSync(buildDir)) out.push(`build dir: ${n}`);
  for (const l of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) if (l.includes(`${d.dataRoot}/build`)) out.push(`mount: ${l}`);
  const netns = join(d.execRoot, 'netns');
  if (existsSync(netns)) for (const n of readdirSync(netns)) if (n.startsWith('build-')) out.push(`netns: ${n}`);
  return out;
}

describe('berth build against berthd', { skip }, () => {
  let d: TestBerthd;
  let ctx: string;
  before(async () => {
    d = await TestBerthd.start('berthd-berthbuild');
    ctx = join(d.dir, 'ctx');
    await mkdir(join(ctx, 'src'), { recursive: true });
    await writeFile(join(ctx, 'src', 'main.txt'), 'source\n');
    await writeFile(join(ctx, 'keep.log'), 'kept by an exception\n');
    await writeFile(join(ctx, 'drop.log'), 'ignored\n');
    await writeFile(join(ctx, 'big.bin'), '');
    await truncate(join(ctx, 'big.bin'), 32 * 1024 * 1024);
    await writeFile(join(ctx, '.dockerignore'), 'big.bin\n*.log\n!keep.log\nDockerfile\n');
    await writeFile(join(ctx, 'Dockerfile'), [
      'FROM busybox AS build',
      'ARG GREETING=hi',
      'COPY . /ctx/',
      'RUN echo "$GREETING" > /greeting && ls -A /ctx | tr "\\n" " " > /listing && echo listed $(cat /listing)',
      'FROM build AS final',
      'RUN echo final > /stage',
    ].join('\n'));
  });
  after(async () => {
    await d?.cleanup();
  });

  test('context with .dockerignore applied, steps streamed, -t twice, --build-arg, --target, --iidfile', async () => {
    const iid = join(d.dir, 'iid');
    const r = await berth(d, ['build', '-t', 'one', '-t', 'two:2', '--build-arg', 'GREETING=hello', '--target', 'build', '--iidfile', iid, ctx]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    // 32 MiB would show as MB: the ignored file was never sent
    const sent = /Sending build context to Docker daemon\s+([\d.]+)(\w+)/.exec(r.stdout);
    assert.ok(sent && /^(B|kB)$/.test(sent[2]!), r.stdout);
    assert.match(r.stdout, /Step 1\/4 : FROM busybox AS build/);
    assert.match(r.stdout, /Step 4\/4 : RUN echo/);
    assert.match(r.stdout, /^listed \.dockerignore keep\.log src$/m);
    assert.doesNotMatch(r.stdout, /Step \d\/\d : RUN echo final/);
    assert.match(r.stdout, /\nSuccessfully built [0-9a-f]{12}\nSuccessfully tagged one:latest\nSuccessfully tagged two:2\n$/);
    const id = await readFile(iid, 'utf8');
    assert.match(id, /^sha256:[0-9a-f]{64}$/);
    for (const t of ['one', 'two:2']) assert.equal((await d.docker(['image', 'inspect', '-f', '{{.Id}}', t])).stdout.trim(), id);
    const run = await d.docker(['run', '--rm', 'one', 'cat', '/greeting']);
    assert.equal(run.stdout, 'hello\n', run.stderr);
    assert.deepEqual(await leftovers(d), []);
  });

  test('-q prints only the image ID; -f names a Dockerfile outside the context (relative to the current directory)', async () => {
    await mkdir(join(d.dir, 'elsewhere'), { recursive: true });
    await writeFile(join(d.dir, 'elsewhere', 'Other.dockerfile'), 'FROM busybox\nCOPY . /ctx/\nRUN ls -A /ctx | tr "\\n" " " > /listing\n');
    const r = await berth(d, ['build', '-q', '-t', 'other', '-f', 'elsewhere/Other.dockerfile', ctx], d.dir);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^sha256:[0-9a-f]{64}\n$/);
    assert.equal((await d.docker(['image', 'inspect', '-f', '{{.Id}}', 'other'])).stdout.trim(), r.stdout.trim());
    // the Dockerfile sent under a generated name does not show in COPY .
    const listing = await d.docker(['run', '--rm', 'other', 'cat', '/listing']);
    assert.equal(listing.stdout, '.dockerignore keep.log src ', listing.stderr);
  });

  test('history: each instruction with its layer size, 0B for metadata and for a RUN that only deletes (as dockerd shows them)', async () => {
    // dockerd 20.10's legacy builder gives, for this Dockerfile: 0B, 0B, 0B, 1.23kB, 3.01kB, 0B
    // (checked with a private dockerd; see docs/build.md, "History").
    const h = join(d.dir, 'hist');
    await mkdir(h, { recursive: true });
    await writeFile(join(h, 'f.txt'), 'x'.repeat(1234));
    await writeFile(join(h, 'Dockerfile'), 'FROM busybox\nENV A=1\nRUN echo hello > /hello && mkdir -p /d/e && head -c 3000 /dev/zero > /d/e/z\nWORKDIR /opt\nCOPY f.txt ./\nRUN rm /hello\nLABEL x=y\nCMD ["sh"]\n');
    const r = await berth(d, ['build', '-q', '-t', 'hist', h]);
    assert.equal(r.code, 0, r.stderr);
    const out = await d.docker(['history', '--no-trunc', '--format', '{{.CreatedBy}}\t{{.Size}}', 'hist']);
    const rows = out.stdout.trim().split('\n').map((l) => l.replace(/file:[0-9a-f]{64}/, 'file:<digest>').split('\t'));
    assert.deepEqual(rows.slice(0, 7), [
      ['/bin/sh -c #(nop)  CMD ["sh"]', '0B'],
      ['/bin/sh -c #(nop)  LABEL x=y', '0B'],
      ['/bin/sh -c rm /hello', '0B'],
      ['/bin/sh -c #(nop) COPY file:<digest> in ./ ', '1.23kB'],
      ['/bin/sh -c #(nop) WORKDIR /opt', '0B'],
      ['/bin/sh -c echo hello > /hello && mkdir -p /d/e && head -c 3000 /dev/zero > /d/e/z', '3.01kB'],
      ['/bin/sh -c #(nop)  ENV A=1', '0B'],
    ]);
    const berthHistory = await berth(d, ['history', '--format', '{{.Size}}', 'hist']);
    assert.deepEqual(berthHistory.stdout.trim().split('\n').slice(0, 7), ['0B', '0B', '0B', '1.23kB', '0B', '3.01kB', '0B']);
  });

  test('a failing RUN: its exit status, the daemon\'s message, nothing left behind', async () => {
    const bad = join(d.dir, 'bad');
    await mkdir(bad, { recursive: true });
    await writeFile(join(bad, 'Dockerfile'), 'FROM busybox\nRUN echo about to fail && sleep 60 & exit 3\n');
    // A context of several MB: the chunked request body must survive the socket's backpressure.
    await writeFile(join(bad, 'payload.bin'), randomBytes(6 * 1024 * 1024));
    const r = await berth(d, ['build', '-t', 'bad', bad]);
    assert.equal(r.code, 3, r.stdout + r.stderr);
    assert.match(r.stdout, /Sending build context to Docker daemon\s+6\.\d+MB/);
    assert.match(r.stdout, /about to fail/);
    assert.match(r.stderr, /The command '\/bin\/sh -c echo about to fail && sleep 60 & exit 3' returned a non-zero code: 3/);
    assert.notEqual((await d.docker(['image', 'inspect', 'bad'])).code, 0);
    assert.deepEqual(await leftovers(d), []);
  });
});
