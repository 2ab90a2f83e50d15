// Create fields berthd refuses rather than ignores, with dockerd's messages
// (src/engine/create-checks.ts), and the cgroup parent a container gets.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cgroupParentOf, checkCreateSettings } from '../../../src/engine/create-checks.js';
import { isBerthError } from '../../../src/errors.js';
import type { ContainerConfig, HostConfig } from '../../../src/api/types/container.js';

function bad(config: ContainerConfig, hc: HostConfig, message: string, kind = 'InvalidParameter'): void {
  assert.throws(() => checkCreateSettings(config, hc), (e: unknown) => isBerthError(e) && e.kind === kind && e.message === message);
}

test('accepted as they are', () => {
  checkCreateSettings({ Healthcheck: { Test: ['CMD', 'true'], Interval: 1e9, Timeout: 0, Retries: 3 } }, { OomScoreAdj: -1000, Isolation: 'default', Runtime: 'runc', CgroupnsMode: 'host', VolumeDriver: 'local', StorageOpt: {}, DeviceRequests: [] });
  checkCreateSettings({}, { Links: ['db:db'], NetworkMode: 'mynet' });
});

test('refused with dockerd\'s words', () => {
  bad({ Healthcheck: { Interval: 1000 } }, {}, 'Interval in Healthcheck cannot be less than 1ms');
  bad({ Healthcheck: { Timeout: 10 } }, {}, 'Timeout in Healthcheck cannot be less than 1ms');
  bad({ Healthcheck: { StartPeriod: 1 } }, {}, 'StartPeriod in Healthcheck cannot be less than 1ms');
  bad({ Healthcheck: { StartInterval: 1 } }, {}, 'StartInterval in Healthcheck cannot be less than 1ms');
  bad({ Healthcheck: { Retries: -1 } }, {}, 'Retries in Healthcheck cannot be negative');
  bad({}, { OomScoreAdj: 1001 }, 'Invalid value 1001, range for oom score adj is [-1000, 1000]');
  bad({}, { Isolation: 'hyperv' }, `Invalid isolation: "hyperv" - linux only supports 'default'`);
  bad({}, { Runtime: 'kata' }, 'unknown or invalid runtime name: kata');
  bad({}, { CgroupnsMode: 'shared' }, 'invalid cgroup namespace mode: shared');
  bad({}, { DeviceRequests: [{ Driver: '', Count: -1, Capabilities: [['gpu']] }] }, 'could not select device driver "" with capabilities: [[gpu]]');
  bad({}, { StorageOpt: { size: '1G' } }, `--storage-opt is supported only for overlay over xfs with 'pquota' mount option`);
  bad({}, { VolumeDriver: 'flocker' }, 'error looking up volume plugin flocker: plugin "flocker" not found');
  bad({}, { CgroupParent: '/a/../b' }, 'invalid cgroup parent "/a/../b": it must not contain ".."');
  assert.throws(() => checkCreateSettings({}, { Links: ['db:db'] }), (e: unknown) => isBerthError(e) && e.kind === 'NotImplemented' && /legacy links/.test(e.message));
});

test('dockerd\'s warnings for what is accepted and discarded or risky; IO maximums and a negative shm refused', () => {
  assert.deepEqual(checkCreateSettings({}, {}), []);
  assert.deepEqual(checkCreateSettings({}, { CpuPercent: 50, OomKillDisable: true, NetworkMode: 'host', PortBindings: { '80/tcp': [{ HostPort: '8080' }] } }), [
    'linux does not support CPU percent. Percent discarded.',
    'OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources.',
    'Published ports are discarded when using host network mode',
  ]);
  assert.deepEqual(checkCreateSettings({}, { OomKillDisable: true, Memory: 64 << 20 }), []);
  bad({}, { IOMaximumIOps: 100 }, 'Invalid QoS settings: linux does not support Maximum IO Bandwidth or Maximum IO IOps');
  bad({}, { ShmSize: -1 }, 'SHM size can not be less than 0');
});

test('cgroup parent: the container\'s, made absolute, else the daemon\'s', () => {
  assert.equal(cgroupParentOf({}, '/berthd'), '/berthd');
  assert.equal(cgroupParentOf({ CgroupParent: 'mygroup' }, '/berthd'), '/mygroup');
  assert.equal(cgroupParentOf({ CgroupParent: '/a/b/' }, '/berthd'), '/a/b');
});
