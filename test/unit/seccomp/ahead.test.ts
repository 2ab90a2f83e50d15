// The profile split for exec launches prepared ahead (splitSeccompForAhead): the first stage,
// loaded by berth-init before its program comes, allows clone3; the second, loaded by the
// process, gives clone3 the profile's answer. Stacked, the kernel takes the strictest answer
// of the two: that must be the profile's own for every syscall.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileSeccomp, splitSeccompForAhead, type LinuxSeccomp } from '../../../src/runtime/seccomp.js';
import { dockerDefaultSeccomp } from '../../../src/runtime/seccomp-default-profile.js';
import { SCMP_ARCH } from '../../../src/runtime/seccomp-constants.js';
import { nativeAddon } from '../../../src/sys/native.js';
import { runSeccompFilter } from './bpf-run.js';

const ALLOW = 0x7fff0000;
const ENOSYS = 0x00050026;

/** The kernel's choice among stacked filters: the lowest action (as a signed 32-bit value) wins; on a tie, the later filter's data. */
function stacked(first: number, second: number): number {
  const rank = (r: number): number => (r & 0xffff0000) | 0;
  return rank(second) <= rank(first) ? second : first;
}

test("Docker's profile split: stage one and two stacked decide every syscall as the profile does", { skip: process.arch !== 'x64' }, () => {
  const profile = dockerDefaultSeccomp();
  const split = splitSeccompForAhead(profile);
  assert.ok(split, 'the default profile allows what berth-init does after the load');
  assert.ok(split.stage2, 'the profile refuses clone3, so a second stage gives it back its answer');
  const whole = compileSeccomp(profile).filter;
  const one = compileSeccomp(split.stage1).filter;
  const two = compileSeccomp(split.stage2).filter;
  assert.ok(two.length / 8 < 40, `the second stage is a few instructions (${two.length / 8})`);
  for (const archName of ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86'] as const) {
    const arch = SCMP_ARCH[archName]!;
    const clone3 = nativeAddon().seccompResolve('clone3', arch);
    for (let nr = 0; nr < 470; nr++) {
      for (const args of [[], [0x10000000], [0x11]]) {
        const d = { nr, arch, args };
        const want = runSeccompFilter(whole, d);
        const got = stacked(runSeccompFilter(one, d), runSeccompFilter(two, d));
        assert.equal(got, want, `${archName} syscall ${nr} args ${JSON.stringify(args)}`);
      }
    }
    assert.equal(runSeccompFilter(one, { nr: clone3, arch }), ALLOW, 'stage one lets berth-init clone into the cgroup');
    assert.equal(runSeccompFilter(two, { nr: clone3, arch }), ENOSYS);
  }
});

test('profiles that cannot be split: a refused call berth-init makes, a call allowed only by its arguments, a listener', () => {
  const base = dockerDefaultSeccomp();
  const without = (name: string): LinuxSeccomp => ({ ...base, syscalls: base.syscalls!.map((r) => ({ ...r, names: r.names.filter((n) => n !== name) })) });
  assert.equal(splitSeccompForAhead(without('setsid')), undefined);
  assert.equal(splitSeccompForAhead(without('close_range')), undefined);
  const writeByArgs: LinuxSeccomp = { ...without('write'), syscalls: [...without('write').syscalls!, { names: ['write'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 1, op: 'SCMP_CMP_EQ' }] }] };
  assert.equal(splitSeccompForAhead(writeByArgs), undefined);
  assert.equal(splitSeccompForAhead({ ...base, listenerPath: '/run/l.sock', syscalls: [...base.syscalls!, { names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }] }), undefined);
});

test('a profile that allows clone3 needs no second stage; one that allows everything by default neither', () => {
  const allowAll: LinuxSeccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mount'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }] };
  assert.deepEqual(splitSeccompForAhead(allowAll), { stage1: allowAll, stage2: undefined });
  const base = dockerDefaultSeccomp();
  const clone3Allowed: LinuxSeccomp = {
    ...base,
    syscalls: [...base.syscalls!.map((r) => ({ ...r, names: r.names.filter((n) => n !== 'clone3') })).filter((r) => r.names.length > 0), { names: ['clone3'], action: 'SCMP_ACT_ALLOW' }],
  };
  assert.equal(splitSeccompForAhead(clone3Allowed)?.stage2, undefined);
});
