// The `docker ps` filters over container records (no daemon): every key the CLI sends, with
// dockerd's semantics (regular expressions for id and name, labels ANDed, port ranges) and
// its 400s for bad values.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ContainerRecord } from '../../../src/engine/record.js';
import { containerFilter, portFilterSet, type FilterContext } from '../../../src/engine/list-filters.js';
import { isBerthError } from '../../../src/errors.js';

let seq = 0;
function rec(name: string, o: { status?: ContainerRecord['state']['status']; exitCode?: number; labels?: Record<string, string>; image?: string; health?: 'starting' | 'healthy' | 'unhealthy'; hc?: ContainerRecord['hostConfig']; exposed?: string[] } = {}): ContainerRecord {
  seq++;
  const id = `${String(seq).padStart(2, '0')}${name.padEnd(6, 'x')}`.padEnd(64, 'a');
  return {
    id,
    name: `/${name}`,
    created: `2026-01-01T00:00:${String(seq).padStart(2, '0')}Z`,
    image: o.image ?? 'sha256:busybox',
    imageRef: 'busybox',
    config: { Labels: o.labels ?? {}, ExposedPorts: Object.fromEntries((o.exposed ?? []).map((p) => [p, {}])) },
    hostConfig: o.hc ?? {},
    networkingConfig: {},
    path: 'sh',
    args: [],
    state: { status: o.status ?? 'running', pid: 1, monitorPid: 1, exitCode: o.exitCode ?? 0, error: '', oomKilled: false, startedAt: '', finishedAt: '', ...(o.health ? { health: { Status: o.health, FailingStreak: 0, Log: [] } } : {}) },
    restartCount: 0,
    manuallyStopped: false,
    rootfs: '',
    driver: 'overlay2',
    cgroupsPath: '',
    namespaces: 0,
    warnings: [],
  } as ContainerRecord;
}

const web = rec('web', { labels: { app: 'shop', tier: 'front' }, hc: { Binds: ['/srv/www:/usr/share/www:ro'], NetworkMode: 'front' }, exposed: ['80/tcp', '443/tcp'] });
const db = rec('db', { labels: { app: 'shop', tier: 'back' }, image: 'sha256:postgres', health: 'healthy', hc: { Mounts: [{ Type: 'volume', Source: 'dbdata', Target: '/var/lib/db' }] }, exposed: ['5432/tcp'] });
const job = rec('job', { status: 'exited', exitCode: 3, health: 'unhealthy' });
const done = rec('done', { status: 'exited', exitCode: 0, hc: { Isolation: 'default' } });
const fresh = rec('fresh', { status: 'created' });
const all = [web, db, job, done, fresh];

const ctx: FilterContext = {
  lookup: (ref) => {
    const r = all.find((x) => x.name === `/${ref}` || x.id.startsWith(ref));
    if (!r) throw Object.assign(new Error(`No such container: ${ref}`), { kind: 'NotFound' });
    return r;
  },
  imageMatches: (r, ref) => (ref === 'postgres' ? r.image === 'sha256:postgres' : ref === 'busybox' && r.image === 'sha256:busybox'),
  mounts: (r) => [
    ...(r.hostConfig.Binds ?? []).map((b) => ({ Source: b.split(':')[0]!, Destination: b.split(':')[1]! })),
    ...(r.hostConfig.Mounts ?? []).map((m) => ({ Name: m.Source ?? '', Source: `/var/lib/berth/volumes/${m.Source}/_data`, Destination: m.Target ?? '' })),
  ],
  networks: (r) => (r === web ? [{ name: 'front', id: 'f00dcafe' }, { name: 'bridge', id: 'b41d9e' }] : [{ name: 'bridge', id: 'b41d9e' }]),
  publishedPorts: (r) => (r === web ? ['80/tcp', '8443/tcp'] : []),
};

function names(filters: Record<string, string[]>): string[] {
  const pred = containerFilter(filters, ctx);
  return all.filter(pred).map((r) => r.name.slice(1));
}

function bad(filters: Record<string, string[]>, message: RegExp): void {
  assert.throws(() => containerFilter(filters, ctx), (e: unknown) => isBerthError(e) && e.kind === 'InvalidParameter' && message.test(e.message));
}

test('no filters: everything', () => {
  assert.deepEqual(names({}), ['web', 'db', 'job', 'done', 'fresh']);
});

test('id and name: equal, or a regular expression found in them; names with or without /', () => {
  assert.deepEqual(names({ id: [web.id] }), ['web']);
  assert.deepEqual(names({ id: [web.id.slice(0, 5)] }), ['web']);
  assert.deepEqual(names({ id: ['dbxxxx'] }), ['db'], 'a part in the middle matches, as a regexp');
  assert.deepEqual(names({ name: ['web'] }), ['web']);
  assert.deepEqual(names({ name: ['^/d'] }), ['db', 'done']);
  assert.deepEqual(names({ name: ['^do'] }), ['done']);
  assert.deepEqual(names({ name: ['^db$', 'job'] }), ['db', 'job']);
  assert.deepEqual(names({ name: ['[invalid'] }), [], 'an invalid expression matches nothing');
});

test('label: key or key=value, all of them must match', () => {
  assert.deepEqual(names({ label: ['app'] }), ['web', 'db']);
  assert.deepEqual(names({ label: ['app=shop', 'tier=back'] }), ['db']);
  assert.deepEqual(names({ label: ['tier=front', 'tier=back'] }), []);
  assert.deepEqual(names({ label: ['app='] }), []);
});

test('status, exited, health', () => {
  assert.deepEqual(names({ status: ['exited'] }), ['job', 'done']);
  assert.deepEqual(names({ status: ['created', 'running'] }), ['web', 'db', 'fresh']);
  assert.deepEqual(names({ exited: ['0'] }), ['done']);
  assert.deepEqual(names({ exited: ['3', '0'] }), ['job', 'done']);
  assert.deepEqual(names({ health: ['healthy'] }), ['db']);
  assert.deepEqual(names({ health: ['none'] }), ['web', 'done', 'fresh']);
  bad({ status: ['sleeping'] }, /^invalid filter 'status=sleeping'$/);
  bad({ exited: ['x'] }, /^invalid filter 'exited=x'$/);
  bad({ health: ['sick'] }, /^Unrecognised filter value for health: sick$/);
});

test('ancestor, before, since', () => {
  assert.deepEqual(names({ ancestor: ['postgres'] }), ['db']);
  assert.deepEqual(names({ ancestor: ['busybox', 'postgres'] }), ['web', 'db', 'job', 'done', 'fresh']);
  assert.deepEqual(names({ before: ['job'] }), ['web', 'db']);
  assert.deepEqual(names({ since: ['job'] }), ['done', 'fresh']);
  assert.deepEqual(names({ since: ['web'], before: ['done'] }), ['db', 'job']);
  assert.throws(() => containerFilter({ before: ['nosuch'] }, ctx), /No such container: nosuch/);
});

test('before and since compare times, not text: fractions without trailing zeros (".25Z" is before ".251Z")', () => {
  const a = { ...rec('frac-a'), created: '2026-02-01T00:00:01.25Z' };
  const b = { ...rec('frac-b'), created: '2026-02-01T00:00:01.251Z' };
  const c = { ...rec('frac-c'), created: '2026-02-01T00:00:01.3Z' };
  const all = [a, b, c];
  const fctx: FilterContext = { ...ctx, lookup: (r) => all.find((x) => x.name === `/${r}`) ?? ctx.lookup(r) };
  const pick = (f: Record<string, string[]>) => all.filter(containerFilter(f, fctx)).map((x) => x.name.slice(1));
  assert.deepEqual(pick({ since: ['frac-a'] }), ['frac-b', 'frac-c']);
  assert.deepEqual(pick({ before: ['frac-c'] }), ['frac-a', 'frac-b']);
  assert.deepEqual(pick({ since: ['frac-a'], before: ['frac-c'] }), ['frac-b']);
});

test('volume: a volume name, a bind source or a destination', () => {
  assert.deepEqual(names({ volume: ['dbdata'] }), ['db']);
  assert.deepEqual(names({ volume: ['/srv/www'] }), ['web']);
  assert.deepEqual(names({ volume: ['/var/lib/db'] }), ['db']);
  assert.deepEqual(names({ volume: ['/var/lib/berth/volumes/dbdata/_data'] }), [], 'a volume matches by name, not by its path');
  assert.deepEqual(names({ volume: ['nothing'] }), []);
});

test('network: a name or an ID prefix of any connected network', () => {
  assert.deepEqual(names({ network: ['front'] }), ['web']);
  assert.deepEqual(names({ network: ['f00d'] }), ['web']);
  assert.deepEqual(names({ network: ['bridge'] }), ['web', 'db', 'job', 'done', 'fresh']);
  assert.deepEqual(names({ network: ['back'] }), []);
});

test('publish and expose: ports, protocols and ranges', () => {
  assert.deepEqual(names({ expose: ['80'] }), ['web']);
  assert.deepEqual(names({ expose: ['5000-6000/tcp'] }), ['db']);
  assert.deepEqual(names({ expose: ['80/udp'] }), []);
  assert.deepEqual(names({ publish: ['8443'] }), ['web']);
  assert.deepEqual(names({ publish: ['443'] }), [], 'exposed is not published');
  assert.deepEqual(names({ publish: ['8000-9000'] }), ['web']);
  assert.deepEqual([...portFilterSet('expose', ['53/UDP', '1-3'])], ['53/udp', '1/tcp', '2/tcp', '3/tcp']);
  bad({ publish: ['8080:80'] }, /^filter for 'publish' should not contain ':': 8080:80$/);
  bad({ expose: ['http'] }, /^error while looking up for expose http/);
  bad({ expose: ['90-80'] }, /invalid port range/);
});

test('isolation and is-task', () => {
  assert.deepEqual(names({ isolation: ['default'] }), ['web', 'db', 'job', 'done', 'fresh']);
  assert.deepEqual(names({ isolation: ['hyperv'] }), []);
  assert.deepEqual(names({ 'is-task': ['false'] }), ['web', 'db', 'job', 'done', 'fresh']);
  assert.deepEqual(names({ 'is-task': ['true'] }), []);
  bad({ 'is-task': ['maybe'] }, /^invalid filter 'is-task=maybe'$/);
});
