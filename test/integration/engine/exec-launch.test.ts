// An exec's launch started ahead (src/engine/exec-launch.ts): after an exec, berthd starts
// the container's next exec monitor and berth-init, which wait for a program. The next exec
// of the same shape takes it (its id is the spare's); one of another shape, a container
// restarted in between, a stopped container, or berthd's death cancel it, and no process of
// it stays behind.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { connect } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { TestBerthd } from '../../harness/berthd.js';

/** Pids of the exec monitors running in a container's runtime directory (`…/c/<id16>/e-…`). */
function execMonitors(runtimeDir: string): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (readFileSync(`/proc/${e}/comm`, 'utf8').trim() !== 'berth-monitor') continue;
      if (readFileSync(`/proc/${e}/cmdline`, 'utf8').includes(`${runtimeDir}/e-`)) out.push(Number(e));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** The exec directories (`e-<first 16 hex digits of the exec id>`) in a runtime directory. */
const execDirs = (runtimeDir: string): string[] => (existsSync(runtimeDir) ? readdirSync(runtimeDir).filter((n) => n.startsWith('e-')) : []);

async function poll(what: string, fn: () => boolean, state: () => unknown = () => '', ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(state())}`);
    await sleep(20);
  }
}

/**
 * POST /exec/{id}/start hijacked as the docker CLI does it; resolves once the 101 has come,
 * with the rest of the stream (after the 101's headers) as it comes, and its end.
 */
function hijackedStart(socket: string, execId: string): Promise<{ rest: () => Buffer; ended: Promise<Buffer> }> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ Detach: false, Tty: false });
    const s = connect(socket);
    let buf: Buffer = Buffer.alloc(0);
    let head = -1;
    let endedResolve!: (b: Buffer) => void;
    const ended = new Promise<Buffer>((r) => (endedResolve = r));
    s.on('error', reject);
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (head < 0 && (head = buf.indexOf('\r\n\r\n')) >= 0) {
        if (!buf.subarray(0, head).toString().startsWith('HTTP/1.1 101')) reject(new Error(buf.toString()));
        resolve({ rest: () => buf.subarray(head + 4), ended });
      }
    });
    s.on('end', () => endedResolve(head >= 0 ? buf.subarray(head + 4) : buf));
    s.write(`POST /v1.47/exec/${execId}/start HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
  });
}

/** Stdout and stderr byte counts and the last bytes of stdout, of a multiplexed stream. */
function demuxCounts(b: Buffer): { out: number; err: number; tail: string } {
  let out = 0;
  let err = 0;
  let tail = '';
  for (let i = 0; i + 8 <= b.length; ) {
    const n = b.readUInt32BE(i + 4);
    if (b[i] === 1) {
      out += n;
      tail = (tail + b.subarray(Math.max(i + 8, i + 8 + n - 16), i + 8 + n).toString()).slice(-16);
    } else err += n;
    i += 8 + n;
  }
  return { out, err, tail };
}

const seen = (runtime: string) => (): unknown => ({ monitors: execMonitors(runtime), dirs: execDirs(runtime) });

describe('exec launches started ahead', () => {
  let d: TestBerthd;
  before(async () => {
    d = await TestBerthd.start('exec-launch');
  });
  after(async () => {
    await d.cleanup();
  });

  async function running(name: string): Promise<{ id: string; runtime: string }> {
    const r = await d.docker(['run', '-d', '--network', 'none', '--name', name, 'busybox', 'sleep', '600']);
    assert.equal(r.code, 0, r.stderr);
    const id = r.stdout.trim();
    return { id, runtime: join(d.execRoot, 'c', id.slice(0, 16)) };
  }

  async function execEnd(execId: string): Promise<{ ExitCode: number | null; Pid: number }> {
    for (let i = 0; i < 500; i++) {
      const j = (await d.api('GET', `/exec/${execId}/json`)).json as { Running: boolean; ExitCode: number | null; Pid: number };
      if (!j.Running && j.ExitCode !== null) return j;
      await sleep(20);
    }
    throw new Error(`exec ${execId} did not end`);
  }

  /** Waits for the container's one spare and returns the exec id prefix its directory has. */
  async function spare(runtime: string): Promise<string> {
    await poll('a spare exec launch', () => execMonitors(runtime).length === 1 && execDirs(runtime).length === 1, seen(runtime));
    return execDirs(runtime)[0]!.slice(2);
  }

  test('after an exec the next one of the same shape takes the spare: its id, its directory, its output and status', async () => {
    const c = await running('spare');
    assert.deepEqual(execMonitors(c.runtime), [], 'no spare before the first exec');
    const first = await d.docker(['exec', 'spare', 'sh', '-c', 'echo one; exit 3']);
    assert.equal(first.code, 3, first.stderr);
    assert.equal(first.stdout, 'one\n');
    const prefix = await spare(c.runtime);
    const [monitor] = execMonitors(c.runtime);

    const created = await d.api('POST', '/containers/spare/exec', { Cmd: ['sh', '-c', 'echo two; exit 4'], AttachStdout: true, AttachStderr: true });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    const execId = created.json.Id as string;
    assert.ok(execId.startsWith(prefix), `the exec took the spare's id: ${execId} vs e-${prefix}`);
    // the API's exec holds the spare: the CLI's exec meanwhile starts its own, and works
    const other = await d.docker(['exec', 'spare', 'sh', '-c', 'echo other >&2; exit 5']);
    assert.equal(other.code, 5);
    assert.equal(other.stderr, 'other\n');
    assert.ok(execMonitors(c.runtime).includes(monitor!), `the claimed spare still waits for its start: ${monitor} in ${JSON.stringify(seen(c.runtime)())}`);
    const start = await d.api('POST', `/exec/${execId}/start`, { Detach: true });
    assert.equal(start.status, 200, JSON.stringify(start.json));
    const inspect = await execEnd(execId);
    assert.equal(inspect.ExitCode, 4);
    assert.ok(inspect.Pid > 0);
    await poll('the spare\'s monitor ended with its exec', () => !execMonitors(c.runtime).includes(monitor!));
    await d.docker(['rm', '-f', 'spare']);
  });

  test('an exec of another shape (stdin, tty) does not take it: the spare is cancelled, the exec works', async () => {
    const c = await running('shape');
    await d.docker(['exec', 'shape', 'true']);
    const prefix = await spare(c.runtime);
    const [monitor] = execMonitors(c.runtime);
    const piped = await d.docker(['exec', '-i', 'shape', 'cat'], { input: 'through stdin\n' });
    assert.equal(piped.code, 0, piped.stderr);
    assert.equal(piped.stdout, 'through stdin\n');
    await poll('the cancelled spare gone', () => !execMonitors(c.runtime).includes(monitor!) && !execDirs(c.runtime).includes(`e-${prefix}`));
    // the spare now left is shaped like the last exec: stdin kept open
    await spare(c.runtime);
    const again = await d.docker(['exec', '-i', 'shape', 'cat'], { input: 'again\n' });
    assert.equal(again.stdout, 'again\n');
    await d.docker(['rm', '-f', 'shape']);
    await poll('no exec monitor after the removal', () => execMonitors(c.runtime).length === 0);
  });

  test('a container restarted between exec create and start: the exec runs in the new run, the old launch is cancelled', async () => {
    const c = await running('restarted');
    await d.docker(['exec', 'restarted', 'true']);
    await spare(c.runtime);
    const oldPid = Number((await d.docker(['inspect', '-f', '{{.State.Pid}}', 'restarted'])).stdout.trim());
    const created = await d.api('POST', '/containers/restarted/exec', { Cmd: ['sh', '-c', 'readlink /proc/self/ns/pid > /ns-seen'], AttachStdout: true, AttachStderr: true });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    const execId = created.json.Id as string;
    const restart = await d.docker(['restart', '-t', '0', 'restarted']);
    assert.equal(restart.code, 0, restart.stderr);
    await poll('the old run\'s launches gone', () => execMonitors(c.runtime).length === 0);
    const pid = Number((await d.docker(['inspect', '-f', '{{.State.Pid}}', 'restarted'])).stdout.trim());
    assert.notEqual(pid, oldPid);
    const start = await d.api('POST', `/exec/${execId}/start`, { Detach: true });
    assert.equal(start.status, 200, JSON.stringify(start.json));
    assert.equal((await execEnd(execId)).ExitCode, 0);
    // it ran in the new run's pid namespace
    assert.equal(readFileSync(`/proc/${pid}/root/ns-seen`, 'utf8').trim(), readlinkSync(`/proc/${pid}/ns/pid`));
    await d.docker(['rm', '-f', 'restarted']);
  });

  test('an exec without stdin or tty streams from its monitor: berthd stopped after the start holds nothing back', { timeout: 60_000 }, async () => {
    const c = await running('direct');
    await d.docker(['exec', 'direct', 'true']);
    await spare(c.runtime);
    const pid = Number((await d.docker(['inspect', '-f', '{{.State.Pid}}', 'direct'])).stdout.trim());
    // 8 MiB, far more than the sockets between the monitor, berthd and the client hold
    const script = 'while [ ! -e /go ]; do usleep 10000; done; head -c 8388608 /dev/zero; echo; echo done; echo err >&2; exit 6';
    const created = await d.api('POST', '/containers/direct/exec', { Cmd: ['sh', '-c', script], AttachStdout: true, AttachStderr: true });
    const execId = created.json.Id as string;
    const stream = await hijackedStart(d.socket, execId);
    for (let i = 0; !(await d.api('GET', `/exec/${execId}/json`)).json.Running; i++) {
      if (i > 500) throw new Error('the exec did not start');
      await sleep(20);
    }
    const berthd = Number(readFileSync(join(d.dir, 'berthd.pid'), 'utf8'));
    process.kill(berthd, 'SIGSTOP');
    try {
      writeFileSync(`/proc/${pid}/root/go`, '');
      // through berthd, the stream would stop at what the sockets hold until berthd ran again
      const got = demuxCounts(await Promise.race([stream.ended, sleep(20_000).then(() => stream.rest())]));
      assert.deepEqual({ ...got, tail: got.tail.endsWith('\ndone\n') }, { out: 8388608 + 6, err: 4, tail: true }, 'all of it, and the end, with berthd stopped');
    } finally {
      process.kill(berthd, 'SIGCONT');
    }
    assert.equal((await execEnd(execId)).ExitCode, 6);
    // a start that fails in berth-init: its message reaches the client as stderr
    const bad = await d.docker(['exec', '-w', '/nope', 'direct', 'true']);
    assert.equal(bad.code, 126);
    assert.match(bad.stderr, /chdir `\/nope`: No such file or directory/);
    await d.docker(['rm', '-f', 'direct']);
  });

  test('a program compiled before is used again until the user files change', async () => {
    await running('programs');
    const uid = async (): Promise<string> => {
      const r = await d.docker(['exec', '-u', 'app', 'programs', 'id', '-u']);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout.trim();
    };
    const edit = async (script: string): Promise<void> => {
      const r = await d.docker(['exec', 'programs', 'sh', '-c', script]);
      assert.equal(r.code, 0, r.stderr);
    };
    await edit('echo app:x:4321:4321::/home/app:/bin/sh >> /etc/passwd');
    assert.equal(await uid(), '4321');
    assert.equal(await uid(), '4321');
    await edit('sed -i s/4321:4321/4322:4322/ /etc/passwd');
    assert.equal(await uid(), '4322', 'the user from the edited /etc/passwd, not the program kept from before');
    await d.docker(['rm', '-f', 'programs']);
  });

  test('a launch prepared ahead waits in the namespaces, not the cgroups; its process has the profile in two stages, clone3 refused as the profile does', async () => {
    const c = await running('ahead');
    // clone3 with CLONE_NEWUSER: Docker's profile answers ENOSYS (libc then falls back to clone)
    const src = join(d.dir, 'clone3.c');
    writeFileSync(src, [
      '#define _GNU_SOURCE',
      '#include <errno.h>',
      '#include <stdio.h>',
      '#include <string.h>',
      '#include <sys/syscall.h>',
      '#include <unistd.h>',
      '#include <linux/sched.h>',
      'int main(void) {',
      '  struct clone_args a; memset(&a, 0, sizeof a); a.exit_signal = 17; a.flags = CLONE_NEWUSER;',
      '  long r = syscall(SYS_clone3, &a, sizeof a);',
      '  if (r == 0) _exit(0);',
      '  printf("clone3 %s errno %d\\n", r < 0 ? "refused" : "ran", r < 0 ? errno : 0);',
      '  return 0;',
      '}',
    ].join('\n'));
    execFileSync('gcc', ['-static', '-O2', '-o', join(d.dir, 'clone3'), src]);
    assert.equal((await d.docker(['cp', join(d.dir, 'clone3'), 'ahead:/clone3'])).code, 0);
    const probe = async (args: string[] = []): Promise<string> => {
      const r = await d.docker(['exec', ...args, 'ahead', 'sh', '-c', 'grep Seccomp_filters /proc/self/status; /clone3']);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout;
    };
    const bounding = async (args: string[] = []): Promise<string> => (await d.docker(['exec', ...args, 'ahead', 'grep', 'CapBnd', '/proc/self/status'])).stdout.trim();
    const dockerDefault = 'CapBnd:\t00000000a80425fb';
    assert.equal(await probe(), 'Seccomp_filters:\t1\nclone3 refused errno 38\n', 'the first exec loads the profile in its process');
    await spare(c.runtime);
    const [monitor] = execMonitors(c.runtime);
    const init = Number(readFileSync(`/proc/${monitor}/task/${monitor}/children`, 'utf8').trim());
    const pid = (await d.api('GET', '/containers/ahead/json')).json.State as { Pid: number };
    await poll('the prepared berth-init in the container\'s mount namespace', () => readlinkSync(`/proc/${init}/ns/mnt`) === readlinkSync(`/proc/${pid.Pid}/ns/mnt`));
    assert.ok(!readFileSync(`/proc/${init}/cgroup`, 'utf8').includes(c.id), 'not in the container\'s cgroups before its exec starts');
    assert.match(readFileSync(`/proc/${init}/status`, 'utf8'), /Seccomp_filters:\t1/, 'the profile loaded ahead');
    assert.ok(readFileSync(`/proc/${init}/status`, 'utf8').includes(dockerDefault), 'the bounding set cut ahead');
    assert.equal(await probe(), 'Seccomp_filters:\t2\nclone3 refused errno 38\n', 'the exec that took it: two stages, the profile\'s answers');
    await spare(c.runtime);
    assert.equal(await bounding(), dockerDefault, 'a prepared exec has the container\'s bounding set');
    const ours = /CapBnd:\t\w+/.exec(readFileSync('/proc/self/status', 'utf8'))![0];
    assert.equal(await bounding(['--privileged']), ours, 'a privileged one every capability berthd has');
    assert.equal(await bounding(['-i']), dockerDefault, 'one of another shape (stdin) cuts its own');
    assert.equal(await probe(['--privileged']), 'Seccomp_filters:\t0\nclone3 ran errno 0\n', 'a privileged exec takes no prepared launch');
    await d.docker(['rm', '-f', 'ahead']);
  });

  test('stopping the container cancels its spare; berthd killed with SIGKILL leaves none behind', async () => {
    const c = await running('stops');
    await d.docker(['exec', 'stops', 'true']);
    await spare(c.runtime);
    assert.equal((await d.docker(['stop', '-t', '0', 'stops'])).code, 0);
    await poll('the spare gone with the container', () => execMonitors(c.runtime).length === 0 && execDirs(c.runtime).length === 0);

    const k = await running('survives');
    await d.docker(['exec', 'survives', 'true']);
    await spare(k.runtime);
    await d.kill9();
    // berthd's end of the program pipe closed: berth-init reads a truncated program and ends
    await poll('the spare gone with berthd', () => execMonitors(k.runtime).length === 0);
    await d.startDaemon();
    const after = await d.docker(['exec', 'survives', 'echo', 'still']);
    assert.equal(after.code, 0, after.stderr);
    assert.equal(after.stdout, 'still\n');
    await d.docker(['rm', '-f', 'stops', 'survives']);
  });
});
