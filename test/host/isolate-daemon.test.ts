/**
 * `tandem isolate` through the daemon and CLI (issue 6 acceptance, real crun and QEMU): one
 * instance goes container → sandbox → vm → container, keeping the files written (and removed)
 * in each phase, its settings (env, memory limit) and its running state; the old level's
 * instance is gone after each move; a move the target refuses leaves the instance as it was.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TestDaemon } from '../helpers/daemon.js';

describe('isolate through the daemon (real crun and QEMU)', () => {
  const d = new TestDaemon({ drivers: 'real' });
  const cli = (args: string[]) => d.cli(args, { timeoutMs: 180_000 });
  const ok = (args: string[]) => d.ok(args, { timeoutMs: 180_000 });
  const info = async (name: string) => JSON.parse(await ok(['info', name, '--json']));
  const sh = (cmd: string) => ok(['exec', 'iso', '--', 'sh', '-c', cmd]);
  const ids = (sub: string) => readdirSync(join(d.dir, sub)).filter((e) => /^[0-9a-f]{12}$/.test(e));

  before(async () => {
    await d.start();
    await ok(['image', 'build', 'busybox', '--from', 'busybox']);
  });
  after(() => d.cleanup());

  it('container → sandbox → vm → container keeps the rootfs changes, settings and running state', async () => {
    await ok([
      'launch',
      'busybox',
      'iso',
      '--memory',
      '128MiB',
      '-e',
      'PHASE_VAR=kept',
      '--',
      'sleep',
      '100000',
    ]);
    await sh(
      'echo phase1 > /root/phase1; ln -s phase1 /root/link; rm /bin/vi; mkdir -p /srv/a/b; chown 65534 /srv/a',
    );

    await ok(['isolate', 'iso', '--to', 'sandbox']);
    let i = await info('iso');
    assert.deepEqual([i.type, i.status, i.limits.memoryBytes], ['sandbox', 'running', 128 * 1024 * 1024]);
    assert.notEqual((await sh('uname -r')).trim(), release(), 'now in a guest');
    assert.equal(
      await sh('cat /root/phase1; test -e /bin/vi || echo vi-gone; stat -c %u /srv/a; echo $PHASE_VAR'),
      'phase1\nvi-gone\n65534\nkept\n',
    );
    await sh('echo phase2 > /root/phase2; echo changed > /root/phase1');
    assert.deepEqual(ids('containers/instances'), [], 'the container is gone');

    await ok(['isolate', 'iso', '--to', 'vm']);
    i = await info('iso');
    assert.deepEqual([i.type, i.status], ['vm', 'running']);
    assert.equal(
      await sh('cat /root/phase1 /root/phase2; readlink /root/link; test -e /bin/vi || echo vi-gone'),
      'changed\nphase2\nphase1\nvi-gone\n',
    );
    await sh('echo phase3 > /root/phase3; rm /root/phase2; sync');
    assert.deepEqual(ids('sandboxes/instances'), [], 'the sandbox is gone');

    await ok(['isolate', 'iso', '--to', 'container']);
    i = await info('iso');
    assert.deepEqual([i.type, i.status, i.limits.memoryBytes], ['container', 'running', 128 * 1024 * 1024]);
    assert.equal((await sh('uname -r')).trim(), release(), 'back on the host kernel');
    assert.equal(
      await sh(
        'cat /root/phase1 /root/phase3; test -e /root/phase2 || echo phase2-gone; test -e /bin/vi || echo vi-gone; stat -c %u /srv/a; echo $PHASE_VAR',
      ),
      'changed\nphase3\nphase2-gone\nvi-gone\n65534\nkept\n',
    );
    assert.deepEqual(ids('vms/vms'), [], 'the vm is gone');
    assert.deepEqual(readdirSync(join(d.dir, 'vms/exports')), [], 'no export is left');
  });

  it('a stopped instance moves without starting; same level is a no-op; bad targets are refused', async () => {
    await ok(['stop', 'iso']);
    await ok(['isolate', 'iso', '--to', 'sandbox']);
    assert.deepEqual([(await info('iso')).type, (await info('iso')).status], ['sandbox', 'created']);
    await ok(['isolate', 'iso', '--to', 'sandbox']);
    await ok(['start', 'iso']);
    assert.equal(await sh('cat /root/phase1'), 'changed\n');
    const bad = await cli(['isolate', 'iso', '--to', 'mainframe']);
    assert.equal(bad.code, 2);
    const missing = await cli(['isolate', 'nope', '--to', 'vm']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /not found/);
    const busy = execFileSync('ps', ['-eo', 'args='], { encoding: 'utf8' }).split('\n');
    assert.equal(
      busy.filter((l) => l.includes('qemu-system') && l.includes(d.dir)).length,
      1,
      'one guest runs',
    );
    await ok(['rm', '-f', 'iso']);
  });

  it('a move the target refuses leaves the instance as it was, running', async () => {
    await ok(['launch', 'busybox', 'small', '--memory', '32MiB', '--', 'sleep', '100000']);
    await ok(['exec', 'small', '--', 'sh', '-c', 'echo mine > /root/mine']);
    const r = await cli(['isolate', 'small', '--to', 'vm']);
    assert.equal(r.code, 2, 'invalid_argument: the vm driver needs 128MiB');
    assert.match(r.stderr, /at least 128MiB/);
    const i = await info('small');
    assert.deepEqual([i.type, i.status], ['container', 'running']);
    assert.equal(await ok(['exec', 'small', '--', 'cat', '/root/mine']), 'mine\n');
    assert.deepEqual(readdirSync(join(d.dir, 'containers/exports')), [], 'the export was removed');
    assert.deepEqual(ids('vms/vms'), [], 'nothing is left of the vm');
    await ok(['rm', '-f', 'small']);
  });
});
