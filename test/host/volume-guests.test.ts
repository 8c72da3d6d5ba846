/**
 * Volumes shared by the three instance types through the daemon (issue 9; host namespace, no
 * networking: `--bridge none`; real crun and QEMU under TCG): a named volume written by a
 * container is read by a VM and by a sandbox (9p shares), each writes back what the others
 * read, a read-only mount refuses writes in a VM, `volume rm` while a VM mounts it is a
 * conflict, and the volume with all its files survives deleting all three.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TestDaemon } from '../helpers/daemon.js';

const ROOT = join(import.meta.dirname, '../..');
const SLEEP = ['--', 'sleep', '100000'];

describe('a volume shared by a container, a VM and a sandbox', { timeout: 240_000 }, () => {
  const d = new TestDaemon({ drivers: 'real' });
  const cli = (args: string[]) => d.cli(args, { timeoutMs: 120_000 });
  const ok = (args: string[]) => d.ok(args, { timeoutMs: 120_000 });
  const sh = (name: string, script: string) => ok(['exec', name, '--', 'sh', '-c', script]);

  before(async () => {
    execFileSync(join(ROOT, 'helpers/monitor/build.sh'), { stdio: 'inherit' });
    execFileSync(join(ROOT, 'guest/build.sh'), { stdio: 'inherit' });
    await d.start();
    await ok(['image', 'build', 'busybox', '--from', 'busybox']);
  });
  after(() => d.cleanup());

  it('a container writes, a VM and a sandbox read and write back; all of it survives deleting the three', async () => {
    await ok(['launch', 'busybox', 'ctr', '-v', 'shared:/data', ...SLEEP]);
    await sh('ctr', 'echo from-container > /data/msg && mkdir -p /data/dir && chown 1234:1234 /data/dir');
    await Promise.all([
      ok([
        'launch',
        'busybox',
        'vm',
        '--vm',
        '--memory',
        '128MiB',
        '-v',
        'shared:/data',
        '-v',
        'shared:/ro:ro',
        ...SLEEP,
      ]),
      ok(['launch', 'busybox', 'sb', '--sandbox', '-v', 'shared:/srv/data', ...SLEEP]),
    ]);
    const vols = (await ok(['info', 'vm', '--json'])).includes('"shared"');
    assert.ok(vols, 'info shows the volume');
    assert.equal(await sh('vm', 'cat /data/msg'), 'from-container\n');
    assert.equal(await sh('vm', 'stat -c %u:%g /data/dir'), '1234:1234\n', 'owners as written');
    assert.equal(await sh('sb', 'cat /srv/data/msg'), 'from-container\n');
    await sh('vm', 'echo from-vm > /data/dir/vm');
    await sh('sb', 'echo from-sandbox > /srv/data/sb');
    assert.equal(await sh('sb', 'cat /srv/data/dir/vm'), 'from-vm\n', 'the sandbox sees the VM’s file');
    assert.equal(await sh('vm', 'cat /data/sb'), 'from-sandbox\n', 'the VM sees the sandbox’s file');
    assert.equal(await sh('ctr', 'cat /data/dir/vm /data/sb'), 'from-vm\nfrom-sandbox\n');
    const ro = await cli(['exec', 'vm', '--', 'sh', '-c', 'echo x > /ro/denied']);
    assert.notEqual(ro.code, 0, 'a :ro mount refuses writes');
    assert.match(ro.stderr, /read-only/i);
    const busy = await cli(['volume', 'rm', 'shared']);
    assert.equal(busy.code, 1);
    assert.match(busy.stderr, /in use/);

    await ok(['rm', '-f', 'ctr', 'vm', 'sb']);
    const ls = JSON.parse(await ok(['volume', 'ls', '--json'])) as { name: string }[];
    assert.deepEqual(
      ls.map((v) => v.name),
      ['shared'],
    );
    const after = await ok([
      'run',
      '--rm',
      'busybox',
      '-v',
      'shared:/data',
      '--',
      'cat',
      '/data/msg',
      '/data/dir/vm',
      '/data/sb',
    ]);
    assert.equal(after, 'from-container\nfrom-vm\nfrom-sandbox\n');
    await ok(['volume', 'rm', 'shared']);
  });
});
