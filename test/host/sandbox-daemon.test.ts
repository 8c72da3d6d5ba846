/**
 * Sandboxes through the daemon and CLI (issue 6 acceptance, real QEMU under TCG): launch
 * --sandbox answers exec with the guest's kernel and the image's files and env, exit codes,
 * stdin and -t; logs, stats, pause/resume; kill -9 of the daemon leaves it running and
 * manageable, and rm leaves nothing; run --rm --sandbox returns the workload's status; a memory
 * hog is OOM-killed inside the guest; one image runs the same command as a container, a sandbox
 * and a VM with the same output.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TestDaemon } from '../helpers/daemon.js';

async function until<T>(fn: () => Promise<T | undefined>, ms: number): Promise<T | undefined> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = await fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 200));
  }
  return undefined;
}

/** QEMU processes whose command line mentions `text`. */
function qemuWith(text: string): string[] {
  return execFileSync('ps', ['-eo', 'args='], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.includes('qemu-system') && l.includes(text));
}

describe('sandboxes through the daemon (real QEMU)', () => {
  const d = new TestDaemon({ drivers: 'real' });
  const cli = (args: string[], input?: string) => d.cli(args, { timeoutMs: 180_000, input });
  const ok = (args: string[]) => d.ok(args, { timeoutMs: 180_000 });
  const info = async (name: string) => JSON.parse(await ok(['info', name, '--json']));

  before(async () => {
    await d.start();
    await ok(['image', 'build', 'busybox', '--from', 'busybox']);
  });
  after(() => d.cleanup());

  it('launch --sandbox: guest kernel, image files and env, exec, logs, stats, pause; survives kill -9 of the daemon; rm leaves nothing', async () => {
    await ok([
      'launch',
      'busybox',
      's1',
      '--sandbox',
      '--memory',
      '64MiB',
      '-e',
      'GREETING=hi',
      '--',
      'sh',
      '-c',
      'echo sandbox-workload; sleep 1000',
    ]);
    const i = await info('s1');
    assert.deepEqual([i.type, i.status, i.limits.memoryBytes], ['sandbox', 'running', 64 * 1024 * 1024]);
    assert.ok(i.accel === 'tcg' || i.accel === 'kvm', `accel ${i.accel}`);
    assert.notEqual((await ok(['exec', 's1', '--', 'uname', '-r'])).trim(), release(), 'the guest kernel');
    assert.equal(
      await ok(['exec', 's1', '--', 'sh', '-c', 'echo $GREETING; head -1 /etc/passwd']),
      'hi\nroot:x:0:0:root:/root:/bin/sh\n',
    );
    assert.equal((await cli(['exec', 's1', '--', 'sh', '-c', 'exit 5'])).code, 5);
    assert.equal((await cli(['exec', '-i', 's1', '--', 'cat'], 'via stdin\n')).stdout, 'via stdin\n');
    assert.match((await cli(['exec', '-t', 's1', '--', 'tty'])).stdout, /^\/dev\/pts\/\d+\r?\n$/);
    assert.match(await ok(['logs', 's1']), /sandbox-workload/);
    const stats = JSON.parse(await ok(['stats', 's1', '--json', '--no-stream']));
    const s = Array.isArray(stats) ? stats[0] : stats;
    assert.ok(
      JSON.stringify(s).includes(String(64 * 1024 * 1024)),
      `stats show the limit: ${JSON.stringify(s)}`,
    );
    await ok(['pause', 's1']);
    assert.equal((await info('s1')).status, 'paused');
    await ok(['resume', 's1']);

    await d.stop('SIGKILL');
    await d.start();
    const again = await info('s1');
    assert.deepEqual([again.status, again.pid], ['running', i.pid]);
    assert.equal((await ok(['exec', 's1', '--', 'echo', 'still-here'])).trim(), 'still-here');
    await ok(['exec', 's1', '--', 'sh', '-c', 'echo kept > /kept']);
    await ok(['stop', 's1']);
    await ok(['start', 's1']);
    assert.equal(await ok(['exec', 's1', '--', 'cat', '/kept']), 'kept\n', 'files persist across restarts');
    await ok(['rm', '-f', 's1']);
    assert.deepEqual(readdirSync(join(d.dir, 'sandboxes/instances')), []);
    assert.deepEqual(qemuWith(d.dir), []);
    assert.equal(
      readFileSync('/proc/self/mountinfo', 'utf8').includes(join(d.dir, 'sandboxes')),
      false,
      'no mount is left',
    );
  });

  it('run --rm --sandbox exits with the workload status', async () => {
    const r = await cli(['run', '--rm', '--sandbox', 'busybox', '--', 'sh', '-c', 'echo out; exit 4']);
    assert.deepEqual([r.code, r.stdout], [4, 'out\n'], r.stderr);
    assert.deepEqual(JSON.parse(await ok(['ls', '--json'])), []);
  });

  it('a memory hog with --memory 64MiB is OOM-killed in the guest; the instance shows it', async () => {
    const hog = ['sh', '-c', 'x=0123456789abcdef; while true; do x="$x$x"; done'];
    const allocated = async () => (await d.api('GET', '/v1/nodes')).body[0].allocated.memoryBytes as number;
    const before = await allocated();
    await ok(['launch', 'busybox', 'hog', '--sandbox', '--memory', '64MiB', '--', ...hog]);
    // placement counts the guest's RAM (the limit plus the guest's own 112 MiB), not the limit
    assert.equal((await allocated()) - before, (64 + 112) * 1024 * 1024);
    const done = await until(async () => {
      const h = await info('hog');
      return h.status === 'stopped' ? h : undefined;
    }, 60_000);
    assert.ok(done, 'the hog stopped');
    assert.deepEqual([done.exitCode, done.statusReason], [137, 'oom-killed']);
    // the guest reported the kill (its cgroup ran out, not the host): QEMU powered off cleanly
    assert.deepEqual(qemuWith(d.dir), []);
    await ok(['rm', 'hog']);
  });

  it('one image three ways: container, sandbox and vm run the same command with the same output', async () => {
    const cmd = ['sh', '-c', 'head -1 /etc/passwd; echo $((6*7)) $PATH; ls /bin/sh; id -u; pwd'];
    const outs: string[] = [];
    for (const flag of [[], ['--sandbox'], ['--vm']]) {
      const what = flag.join(' ') || 'container';
      // a working directory missing from the image is made, as crun and podman do
      const r = await cli(['run', '--rm', ...flag, '--workdir', '/srv/new', 'busybox', '--', ...cmd]);
      assert.equal(r.code, 0, `${what}: ${r.stderr}`);
      outs.push(r.stdout);
      // a command missing from the image is refused at create, alike: exit 2, nothing left
      const missing = await cli(['run', '--rm', ...flag, 'busybox', '--', '/no/such/binary']);
      assert.equal(missing.code, 2, `${what}: ${missing.stderr}`);
      assert.match(missing.stderr, /executable "\/no\/such\/binary" not found in the image/);
    }
    assert.match(
      outs[0] as string,
      /^root:x:0:0:root:\/root:\/bin\/sh\n42 \/usr\/local\/sbin.*\n\/srv\/new\n$/s,
    );
    assert.deepEqual(outs, [outs[0], outs[0], outs[0]]);
    assert.deepEqual(JSON.parse((await cli(['ls', '--json'])).stdout), []);
    assert.ok(
      !existsSync(join(d.dir, 'sandboxes/instances')) ||
        readdirSync(join(d.dir, 'sandboxes/instances')).length === 0,
    );
  });
});
