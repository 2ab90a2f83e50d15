// berth starts berthd when the default socket is absent and the user is root: in the
// background, its log under the data root, said once on stderr. BERTH_EXEC_ROOT,
// BERTH_DATA_ROOT and BERTH_DAEMON_CONFIG (honoured by berth and berthd alike) put the
// "default" installation in a temp dir, so the real /run/berth and /var/lib/berth stay untouched.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TestBerthd } from '../../harness/berthd.js';
import { REPO_ROOT } from '../../harness/paths.js';
import { runCommand, type CommandResult } from '../../harness/run-command.js';

const BERTH = join(REPO_ROOT, 'bin', 'berth');
const skip = process.getuid?.() !== 0 ? 'needs root' : false;

function berth(args: string[], env: NodeJS.ProcessEnv, uid?: number): Promise<CommandResult> {
  return runCommand(BERTH, args, { env, timeoutMs: 90_000, ...(uid === undefined ? {} : { uid }) });
}

describe('berth starts berthd when its default socket is absent', { skip }, () => {
  let d: TestBerthd;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    d = await TestBerthd.prepare('cli-autostart', { socketInExecRoot: true });
    const config = join(d.dir, 'daemon.json');
    writeFileSync(config, d.daemonJson());
    env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: d.dir, BERTH_EXEC_ROOT: d.execRoot, BERTH_DATA_ROOT: d.dataRoot, BERTH_DAEMON_CONFIG: config };
  });
  after(async () => {
    await d?.cleanup();
  });

  test('not as another user: the connection error, no daemon', async () => {
    const r = await berth(['ps'], env, 65534);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`${d.socket.replace(/[.]/g, '\\.')}`));
    assert.doesNotMatch(r.stderr, /Started the Berth daemon/);
    assert.equal(existsSync(join(d.execRoot, 'berthd.pid')), false);
  });

  test('the first command starts it and says so once; later ones use it', async () => {
    const first = await berth(['version', '--format', '{{.Server.Version}}'], env);
    assert.equal(first.code, 0, first.stderr);
    const log = join(d.dataRoot, 'berthd.log');
    const m = /^Started the Berth daemon \(berthd, pid (\d+)\) in the background; its log is (\S+)\n$/.exec(first.stderr);
    assert.ok(m, `stderr: ${first.stderr}`);
    d.adopt(Number(m[1]));
    assert.equal(m[2], log);
    assert.match(first.stdout, /^\d+\.\d+\.\d+\n$/);
    assert.equal(readFileSync(join(d.execRoot, 'berthd.pid'), 'utf8').trim(), m[1]);
    assert.ok(existsSync(d.socket));
    assert.ok(readFileSync(log, 'utf8').length > 0, 'berthd wrote its log');

    const ps = await berth(['ps', '-a'], env);
    assert.equal(ps.code, 0, ps.stderr);
    assert.equal(ps.stderr, '');
    const run = await berth(['run', '--rm', 'busybox', 'echo', 'hello'], env);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, 'hello\n');
    assert.equal(run.stderr, '');
  });
});
