/**
 * VMs through the daemon and CLI (issue 5 acceptance at the daemon level, real QEMU under TCG):
 * launch --vm with vCPUs, memory and disk answers exec with the guest's kernel; the foreground
 * run returns the workload's status; kill -9 of the daemon leaves the VM running and manageable;
 * the Debian image built by the Images issue boots with --init system and answers exec (slow).
 */
import assert from 'node:assert/strict';
import { release } from 'node:os';
import { after, before, describe, it } from 'node:test';
import { TestDaemon } from '../helpers/daemon.js';

describe('VMs through the daemon (real QEMU)', () => {
  const d = new TestDaemon({ drivers: 'real' });
  const ok = (args: string[]) => d.ok(args, { timeoutMs: 300_000 });
  const info = async (name: string) => JSON.parse(await ok(['info', name, '--json']));

  before(async () => {
    await d.start();
    await ok(['image', 'build', 'busybox', '--from', 'busybox']);
  });
  after(() => d.cleanup());

  it('launch --vm: guest kernel, vCPUs, memory, disk, exec status; survives kill -9 of the daemon', async () => {
    await ok([
      'launch',
      'busybox',
      'v1',
      '--vm',
      '--cpus',
      '2',
      '--memory',
      '256MiB',
      '--disk',
      '1GiB',
      '--',
      'sh',
      '-c',
      'echo vm-workload; sleep 1000',
    ]);
    const i = await info('v1');
    assert.equal(i.type, 'vm');
    assert.equal(i.status, 'running');
    assert.ok(i.accel === 'tcg' || i.accel === 'kvm', `accel is ${i.accel}`);
    const kernel = (await ok(['exec', 'v1', '--', 'uname', '-r'])).trim();
    assert.notEqual(kernel, release(), 'the guest runs its own kernel');
    assert.equal((await ok(['exec', 'v1', '--', 'nproc'])).trim(), '2');
    const memKiB = Number(
      /MemTotal:\s+(\d+)/.exec(await ok(['exec', 'v1', '--', 'cat', '/proc/meminfo']))?.[1],
    );
    assert.ok(memKiB > 200 * 1024 && memKiB <= 256 * 1024, `MemTotal ${memKiB} KiB`);
    const df = (await ok(['exec', 'v1', '--', 'df', '-k', '/'])).trim().split('\n').at(-1)!.split(/\s+/);
    assert.ok(Number(df[1]) >= 900 * 1024, `root filesystem ${df[1]} KiB`);
    assert.equal((await d.cli(['exec', 'v1', '--', 'sh', '-c', 'exit 5'])).code, 5);
    assert.equal(
      (await d.cli(['exec', '-i', 'v1', '--', 'cat'], { input: 'via stdin\n' })).stdout,
      'via stdin\n',
    );
    assert.match(await ok(['logs', 'v1']), /vm-workload/);

    const pid = i.pid;
    await d.stop('SIGKILL');
    await d.start();
    const after = await info('v1');
    assert.equal(after.status, 'running');
    assert.equal(after.pid, pid);
    assert.equal((await ok(['exec', 'v1', '--', 'echo', 'still-here'])).trim(), 'still-here');
    await ok(['pause', 'v1']);
    assert.equal((await info('v1')).status, 'paused');
    await ok(['resume', 'v1']);
    await ok(['stop', '--timeout', '20', 'v1']);
    assert.equal((await info('v1')).status, 'stopped');
    await ok(['rm', 'v1']);
  });

  it('run --rm --vm prints the output and exits with the status', async () => {
    const r = await d.cli(['run', '--rm', '--vm', 'busybox', '--', 'sh', '-c', 'echo out; exit 3'], {
      timeoutMs: 120_000,
    });
    assert.equal(r.code, 3, r.stderr);
    assert.equal(r.stdout, 'out\n');
    assert.deepEqual(JSON.parse(await ok(['ls', '--json'])), []);
  });

  it('a Debian image boots with --init system and answers exec (slow)', async () => {
    await ok(['image', 'build', 'debian', '--from', 'debian:bookworm', '--package', 'systemd-sysv']);
    await ok(['launch', 'debian', 'deb', '--vm', '--memory', '512MiB', '--init', 'system']);
    assert.match(await ok(['exec', 'deb', '--', 'cat', '/etc/debian_version']), /^12\./);
    assert.equal((await ok(['exec', 'deb', '--', 'sh', '-c', 'cat /proc/1/comm'])).trim(), 'systemd');
    await ok(['stop', '--timeout', '60', 'deb']);
    await ok(['rm', 'deb']);
    await ok(['image', 'rm', 'debian']);
  });
});
