// Volume users after a crash (docs/volumes.md): berthd killed -9, one container's record
// gone as a crash between its removal and the release of its volume leaves it; at the next
// start the volume's users are rebuilt from the containers that exist, so `volume rm` of
// the orphaned volume works and a volume used by a surviving container is still refused.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DOCKER, TestBerthd } from '../../harness/berthd.js';

const skip = !existsSync(DOCKER) ? `${DOCKER} is not installed` : process.getuid?.() !== 0 ? 'needs root' : false;

describe('volume users survive a berthd crash', { skip }, () => {
  let d: TestBerthd;
  const ok = async (args: string[]): Promise<string> => {
    const r = await d.docker(args);
    assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`);
    return r.stdout.trim();
  };
  const users = async (name: string): Promise<string[]> =>
    (JSON.parse(await readFile(join(d.dataRoot, 'volumes', name, 'volume.json'), 'utf8')) as { users: string[] }).users;
  before(async () => {
    d = await TestBerthd.start('berthd-volcrash');
  });
  after(async () => {
    await d?.cleanup();
  });

  test('kill -9, a container record lost: its volume can be removed, a live one is still in use', async () => {
    const gone = await ok(['create', '-v', 'orphaned:/data', 'busybox', 'true']);
    const kept = await ok(['run', '-d', '-v', 'inuse:/data', 'busybox', 'sleep', '600']);
    assert.deepEqual(await users('orphaned'), [gone]);
    await d.kill9();
    // What a crash between the container's removal and the release of its volume leaves.
    await rm(join(d.dataRoot, 'containers', gone), { recursive: true, force: true });
    assert.deepEqual(await users('orphaned'), [gone]);
    await d.startDaemon();
    assert.deepEqual(await users('orphaned'), []);
    await ok(['volume', 'rm', 'orphaned']);
    const refused = await d.docker(['volume', 'rm', 'inuse']);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /volume is in use - \[[0-9a-f]{64}\]/);
    assert.equal(await ok(['exec', kept, 'sh', '-c', 'echo kept > /data/f && cat /data/f']), 'kept');
    await ok(['rm', '-f', kept]);
    await ok(['volume', 'rm', 'inuse']);
  });
});
