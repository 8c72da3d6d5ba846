import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { findExecutable, resolveInRootfs, resolveUser } from './rootfs-lookup.js';

describe('looking into a layered rootfs', () => {
  let dir = '';
  let upper = '';
  let top = '';
  let bottom = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tandem-rootfs-'));
    [upper, top, bottom] = ['upper', 'top', 'bottom'].map((d) => join(dir, d));
    for (const d of [upper, top, bottom]) mkdirSync(join(d, 'etc'), { recursive: true });
    mkdirSync(join(bottom, 'bin'));
    mkdirSync(join(bottom, 'usr/lib'), { recursive: true });
    writeFileSync(join(bottom, 'bin/busybox'), '', { mode: 0o755 });
    writeFileSync(join(bottom, 'bin/data'), '', { mode: 0o644 });
    symlinkSync('busybox', join(bottom, 'bin/sh'));
    symlinkSync('/usr/lib', join(top, 'lib')); // absolute: resolves inside the rootfs
    writeFileSync(join(bottom, 'usr/lib/tool'), '', { mode: 0o755 });
    writeFileSync(
      join(bottom, 'etc/passwd'),
      'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n',
    );
    writeFileSync(join(top, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nweb:x:33:33::/var/www:/bin/sh\n');
    writeFileSync(join(bottom, 'etc/group'), 'root:x:0:\nweb:x:33:\nstaff:x:50:web,other\naudio:x:29:web\n');
    execFileSync('mknod', [join(upper, 'etc/group'), 'c', '0', '0']); // a whiteout: group is deleted
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const stack = () => [upper, top, bottom];

  it('resolves paths through layers, links and whiteouts', async () => {
    assert.equal(await resolveInRootfs(stack(), '/bin/sh'), join(bottom, 'bin/busybox'));
    assert.equal(await resolveInRootfs(stack(), '/lib/tool'), join(bottom, 'usr/lib/tool'));
    assert.equal(await resolveInRootfs(stack(), '/etc/passwd'), join(top, 'etc/passwd'));
    assert.equal(await resolveInRootfs(stack(), '/etc/group'), undefined, 'whited out');
    assert.equal(await resolveInRootfs(stack().slice(1), '/etc/group'), join(bottom, 'etc/group'));
    assert.equal(await resolveInRootfs(stack(), '/nope'), undefined);
  });

  it('finds executables by PATH or path, not plain files', async () => {
    assert.equal(await findExecutable(stack(), 'sh', ['PATH=/usr/bin:/bin'], '/'), true);
    assert.equal(await findExecutable(stack(), 'data', ['PATH=/bin'], '/'), false);
    assert.equal(await findExecutable(stack(), '/lib/tool', [], '/'), true);
    assert.equal(await findExecutable(stack(), '../bin/sh', [], '/etc'), true);
    assert.equal(await findExecutable(stack(), 'nope', [], '/'), false);
  });

  it('resolves users and groups from the top-most files', async () => {
    const layers = stack().slice(1);
    assert.deepEqual(await resolveUser(layers, ''), { uid: 0, gid: 0, additionalGids: [], home: '/root' });
    assert.deepEqual(await resolveUser(layers, 'web'), {
      uid: 33,
      gid: 33,
      additionalGids: [50, 29],
      home: '/var/www',
    });
    assert.deepEqual(await resolveUser(layers, '33:staff'), {
      uid: 33,
      gid: 50,
      additionalGids: [29],
      home: '/var/www',
    });
    assert.deepEqual(await resolveUser(layers, '4242:7'), {
      uid: 4242,
      gid: 7,
      additionalGids: [],
      home: '/',
    });
    await assert.rejects(
      resolveUser(layers, 'app'),
      /not in the image's \/etc\/passwd/,
      'the top passwd wins',
    );
    await assert.rejects(resolveUser(layers, 'web:nogroup'), /not in the image's \/etc\/group/);
  });
});
