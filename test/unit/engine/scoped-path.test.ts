// Paths inside a container's rootfs resolved from the host (scoped-path.ts): `..` and
// symlinks never lead outside the root; and the Go FileMode bits docker cp's stat carries.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { goFileMode } from '../../../src/engine/archive.js';
import { absContainerPath, PathScope, resolveInScope, resolvePath } from '../../../src/engine/scoped-path.js';

function rootfs(): string {
  const root = mkdtempSync(join(tmpdir(), 'berth-test-scoped-'));
  mkdirSync(join(root, 'etc'));
  mkdirSync(join(root, 'data', 'sub'), { recursive: true });
  writeFileSync(join(root, 'etc', 'passwd'), 'root\n');
  symlinkSync('/', join(root, 'to-root'));
  symlinkSync('../../../../..', join(root, 'data', 'up'));
  symlinkSync('/etc', join(root, 'data', 'abs-etc'));
  symlinkSync('sub', join(root, 'data', 'rel-sub'));
  symlinkSync('loop-b', join(root, 'loop-a'));
  symlinkSync('loop-a', join(root, 'loop-b'));
  return root;
}

test('.. and symlinks resolve inside the root', () => {
  const root = rootfs();
  try {
    assert.equal(resolveInScope(root, '/../../etc/passwd'), join(root, 'etc', 'passwd'));
    assert.equal(resolveInScope(root, '/to-root/etc/passwd'), join(root, 'etc', 'passwd'));
    assert.equal(resolveInScope(root, '/data/up/etc'), join(root, 'etc'));
    assert.equal(resolveInScope(root, '/data/abs-etc/passwd'), join(root, 'etc', 'passwd'));
    assert.equal(resolveInScope(root, 'data/rel-sub/x'), join(root, 'data', 'sub', 'x'));
    assert.equal(resolveInScope(root, '/to-root'), root);
    assert.equal(resolveInScope(root, '/to-root', false), join(root, 'to-root'));
    assert.equal(resolveInScope(root, '/nope/../..//x'), join(root, 'x'));
    assert.throws(() => resolveInScope(root, '/loop-a/x'), /too many levels of symbolic links/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('resolvePath keeps the last component and a trailing /.', () => {
  const root = rootfs();
  try {
    assert.deepEqual(resolvePath(root, '/data/abs-etc'), { absPath: '/data/abs-etc', resolved: join(root, 'data', 'abs-etc'), cpath: '/data/abs-etc' });
    assert.deepEqual(resolvePath(root, '/data/abs-etc/'), { absPath: '/data/abs-etc/', resolved: join(root, 'etc'), cpath: '/etc' });
    assert.deepEqual(resolvePath(root, 'data/.'), { absPath: '/data/.', resolved: join(root, 'data'), cpath: '/data' });
    assert.equal(absContainerPath('.'), '/.');
    assert.equal(absContainerPath('/'), '/');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('Go FileMode bits', () => {
  const root = rootfs();
  try {
    assert.equal(goFileMode(lstatSync(join(root, 'etc'))), 2 ** 31 + (lstatSync(join(root, 'etc')).mode & 0o777));
    assert.equal(goFileMode(lstatSync(join(root, 'to-root'))), 2 ** 27 + 0o777);
    assert.equal(goFileMode(lstatSync(join(root, 'etc', 'passwd'))), lstatSync(join(root, 'etc', 'passwd')).mode & 0o777);
    assert.equal(goFileMode(lstatSync('/dev/null')), 2 ** 26 + 2 ** 21 + 0o666);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('PathScope: binds and volumes seen through, nothing escapes a mount source', () => {
  const root = rootfs();
  const src = mkdtempSync(join(tmpdir(), 'berth-test-scoped-src-'));
  const inner = mkdtempSync(join(tmpdir(), 'berth-test-scoped-inner-'));
  try {
    mkdirSync(join(src, 'dir'));
    writeFileSync(join(src, 'dir', 'f'), 'in the bind\n');
    symlinkSync('/', join(src, 'to-root'));
    symlinkSync('../../../../..', join(src, 'up'));
    symlinkSync('/mnt/dir', join(src, 'abs-in'));
    symlinkSync('/data', join(root, 'data-link'));
    // /data-link/vol: the destination is resolved in the rootfs at mount time → /data/vol
    const scope = new PathScope(root, [
      { destination: '/mnt', source: src, readOnly: false },
      { destination: '/mnt/dir/nested', source: inner, readOnly: true },
      { destination: '/data-link/vol', source: inner, readOnly: false },
    ]);
    assert.equal(scope.resolveHost('/mnt/dir/f'), join(src, 'dir', 'f'));
    assert.equal(scope.resolveHost('/mnt'), src);
    // a link to / in the source is the container's /, not the host's
    assert.equal(scope.resolve('/mnt/to-root/etc/passwd'), '/etc/passwd');
    assert.equal(scope.resolveHost('/mnt/to-root/etc/passwd'), join(root, 'etc', 'passwd'));
    assert.equal(scope.resolveHost('/mnt/up/etc'), join(root, 'etc'));
    assert.equal(scope.resolveHost('/mnt/../../etc'), join(root, 'etc'));
    assert.equal(scope.resolveHost('/mnt/abs-in/f'), join(src, 'dir', 'f'));
    assert.equal(scope.resolve('/mnt/to-root', false), '/mnt/to-root');
    // nested mounts: the deepest wins; read-only is per mount
    assert.equal(scope.resolveHost('/mnt/dir/nested/x'), join(inner, 'x'));
    assert.equal(scope.readOnlyAt('/mnt/dir/nested/x'), true);
    assert.equal(scope.readOnlyAt('/mnt/dir'), false);
    assert.equal(scope.mountOf('/mntx'), undefined);
    assert.equal(scope.resolveHost('/mntx'), join(root, 'mntx'));
    assert.equal(scope.resolveHost('/data/vol/y'), join(inner, 'y'));
    assert.equal(scope.resolveHost('/data-link/vol/y'), join(inner, 'y'));
  } finally {
    for (const d of [root, src, inner]) rmSync(d, { recursive: true, force: true });
  }
});
