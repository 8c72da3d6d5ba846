/**
 * The sandbox driver against real QEMU (TCG unless TANDEM_VM_ACCEL says otherwise): the driver
 * conformance suite, then issue 6 at driver level on one shared guest (2 vCPUs, a 64 MiB
 * workload limit, 64 pids), a confined one (read-only root, no capabilities, a volume) and an
 * OOM one. TCG boots cost seconds, so guests are shared wherever a test does not need its own.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '../../src/base/time.js';
import type { DriverSpec, ResolvedImage, RuntimeEvent } from '../../src/core/driver.js';
import { collect, runDriverConformance } from '../../src/drivers/conformance.js';
import { SandboxDriver } from '../../src/drivers/sandbox/sandbox-driver.js';
import { guestMemoryBytes } from '../../src/drivers/sandbox/sandbox-spec.js';
import { loadGuestAssets } from '../../src/drivers/vm/guest-assets.js';
import { cgroupParentName } from '../../src/drivers/vm/vm-cgroup.js';
import { busyboxImage, guestDiagnosis, vmSpec } from './vm-fixture.js';

const accel = (process.env.TANDEM_VM_ACCEL as 'kvm' | 'tcg' | undefined) ?? 'tcg';
const START_MS = 90_000;
const MiB = 1024 * 1024;

let fixture: { image: ResolvedImage; dir: string } | undefined;
const image = async () => {
  fixture ??= await busyboxImage();
  return fixture.image;
};

/** A sandbox spec running `args` on the busybox image. */
async function sandboxSpec(
  id: string,
  args: readonly string[],
  limits: DriverSpec['limits'] = {},
): Promise<DriverSpec> {
  return { ...vmSpec(id, await image(), args, limits), type: 'sandbox' };
}

runDriverConformance({
  name: 'sandbox (qemu + 9p)',
  makeDriver: async (root) => new SandboxDriver({ root, accel }),
  makeSpec: (id, args) => sandboxSpec(id, args, { memoryBytes: 32 * MiB }),
  startTimeoutMs: START_MS,
  stopTimeoutMs: 3000,
  diagnose: (root, id) => guestDiagnosis(join(root, 'instances', id)),
});

/** Lines of /proc/self/mountinfo that mention `text` (the host's view). */
async function hostMounts(text: string): Promise<string[]> {
  return (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((l) => l.includes(text));
}

describe('sandbox driver acceptance (issue 6)', { timeout: 600_000 }, () => {
  let root = '';
  let driver: SandboxDriver;
  const events: RuntimeEvent[] = [];
  const id = 's1';
  const dir = () => join(root, 'instances', id);

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'sandbox-accept-'));
    driver = new SandboxDriver({ root, accel });
    driver.onEvent((e) => events.push(e));
    const spec = await sandboxSpec(id, ['sh', '-c', 'echo s1-up; sleep 100000'], {
      cpus: 2,
      memoryBytes: 64 * MiB,
      pids: 64,
    });
    await driver.create(spec);
    await driver.start(id);
  });

  after(async () => {
    for (const i of await driver.list()) await driver.delete(i, { force: true }).catch(() => {});
    await driver.close();
    await rm(root, { recursive: true, force: true });
  });

  const sh = async (
    cmd: string,
    extra: { stdin?: string; user?: string; cwd?: string; sid?: string } = {},
  ) => {
    const s = await driver.exec(extra.sid ?? id, {
      args: ['sh', '-c', cmd],
      env: [],
      tty: false,
      stdin: extra.stdin !== undefined,
      user: extra.user,
      cwd: extra.cwd,
    });
    const out = collect(s);
    if (extra.stdin !== undefined) s.stdin?.end(extra.stdin);
    return { ...(await out), code: await s.exit };
  };

  it("runs the guest's kernel; the image's files, env and hostname are the workload's", async () => {
    const r = await sh(
      'uname -r; nproc; hostname; echo $TEST_IMAGE_VAR; head -1 /etc/passwd; tail -1 /etc/hosts',
    );
    assert.equal(r.code, 0, r.stderr);
    const [uname, nproc, host, env, passwd, hosts] = r.stdout.trim().split('\n');
    assert.equal(uname, (await loadGuestAssets()).release);
    assert.notEqual(uname, release());
    assert.deepEqual([nproc, host, env, passwd], ['2', 's1', 'yes', 'root:x:0:0:root:/root:/bin/sh']);
    assert.match(hosts ?? '', /127\.0\.1\.1\s+s1/);
    assert.equal((await driver.state(id)).accel, accel);
  });

  it('the workload has its own pid namespace, cgroup and capabilities; the agent is outside', async () => {
    // PID 1 is the sandbox's small init (as catatonit in a container), the workload PID 2; the
    // guest's own init, agent and console shell are not in this namespace.
    const r = await sh('ps -o pid,args | grep -v -e "ps -o" -e "sh -c ps"');
    assert.match(r.stdout.replace(/ +/g, ' '), /^PID COMMAND\n 1 \/init\n \d+ sleep 100000\n$/);
    const cg = await sh('cat /proc/self/cgroup; cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max');
    assert.equal(cg.stdout, `0::/\n${64 * MiB}\n64\n`);
    const caps = await sh('grep CapEff /proc/self/status');
    assert.equal(caps.stdout.trim(), 'CapEff:\t00000000800405fb', "Podman's default capabilities");
    assert.notEqual((await sh('mount -t tmpfs none /tmp')).code, 0, 'no CAP_SYS_ADMIN: mount fails');
    const mem = await sh('grep MemTotal /proc/meminfo');
    const total = Number(/(\d+)/.exec(mem.stdout)?.[1]) * 1024;
    assert.ok(total > 64 * MiB && total < guestMemoryBytes(64 * MiB), `guest MemTotal ${total}`);
  });

  it('exec returns exit codes, passes stdin, runs as another user and with a TTY of the workload', async () => {
    assert.equal((await sh('exit 7')).code, 7);
    assert.equal((await sh('kill -9 $$')).code, 137);
    assert.equal((await sh('exec /no/such/binary')).code, 127);
    const cat = await sh('tr a-z A-Z', { stdin: 'through the agent\n' });
    assert.deepEqual([cat.stdout, cat.code], ['THROUGH THE AGENT\n', 0]);
    const as = await sh('id -u; pwd', { user: 'nobody', cwd: '/tmp' });
    assert.deepEqual([as.stdout, as.code], ['65534\n/tmp\n', 0]);
    const tty = await driver.exec(id, {
      args: ['sh', '-c', 'tty; stty size; test -c $(tty) && echo exists'],
      env: [],
      tty: true,
      stdin: false,
      cols: 91,
      rows: 33,
    });
    const out = await collect(tty);
    assert.equal(await tty.exit, 0);
    assert.match(out.stdout, /^\/dev\/pts\/\d+\r?\n33 91\r?\nexists\r?\n$/);
  });

  it('the rootfs is an overlay only QEMU sees; stats come from the guest cgroup', async () => {
    assert.deepEqual(await hostMounts(dir()), [], 'the host holds no mount of the rootfs');
    const s = await driver.stats(id);
    assert.equal(s.memoryLimitBytes, 64 * MiB);
    assert.ok(s.memoryBytes > 0 && s.memoryBytes < 64 * MiB, `memory ${s.memoryBytes}`);
    assert.ok((s.pids ?? 0) >= 1 && s.cpuSeconds >= 0);
    await driver.pause(id);
    assert.equal((await driver.state(id)).status, 'paused');
    assert.equal((await driver.stats(id)).memoryLimitBytes, 64 * MiB, 'stats answer while paused');
    await driver.resume(id);
    assert.equal((await sh('echo back')).stdout, 'back\n');
  });

  it('files written in the sandbox persist in its rootfs across restarts (upper dir)', async () => {
    assert.equal((await sh('echo kept > /root/note; rm /bin/vi')).code, 0);
    const note = join(dir(), 'upper/root/note');
    const onHost = await waitFor(
      async () => ((await readFile(note, 'utf8').catch(() => '')) === 'kept\n' ? true : undefined),
      10_000,
    );
    assert.ok(onHost, 'the write reaches the upper dir on the host within seconds');
    await driver.stop(id, { timeoutMs: 5000 });
    assert.equal((await driver.state(id)).status, 'stopped');
    await driver.start(id);
    const r = await sh('cat /root/note; test -e /bin/vi || echo vi-gone');
    assert.equal(r.stdout, 'kept\nvi-gone\n');
    const exported = await driver.exportRootfsChanges(id).catch((e: Error) => e.message);
    assert.match(String(exported), /stop it first/, 'export needs a stopped instance');
  });

  it('a read-only sandbox without capabilities and with a volume', async () => {
    const vol = await mkdtemp(join(tmpdir(), 'sandbox-vol-'));
    await writeFile(join(vol, 'from-host'), 'host data\n');
    const spec = await sandboxSpec('conf', ['sleep', '100000'], { memoryBytes: 32 * MiB });
    spec.security = { ...spec.security, readOnly: true, capDrop: ['ALL'] };
    spec.volumes = [{ source: vol, target: '/data', readOnly: false }];
    try {
      await driver.create(spec);
      await driver.start('conf');
      const r = await sh(
        'touch /x 2>/dev/null || echo ro; touch /tmp/x && echo tmp; cat /data/from-host; echo g > /data/from-guest; grep CapEff /proc/self/status',
        { sid: 'conf' },
      );
      assert.equal(r.stdout, 'ro\ntmp\nhost data\nCapEff:\t0000000000000000\n');
      assert.equal(await readFile(join(vol, 'from-guest'), 'utf8'), 'g\n');
    } finally {
      await driver.delete('conf', { force: true });
      await rm(vol, { recursive: true, force: true });
    }
  });

  it('attach to a workload with a TTY (run -it): its terminal, size, input and output', async () => {
    const spec = await sandboxSpec('tty', ['sh', '-c', 'read x; tty; stty size; echo typed:$x; exit 3'], {
      memoryBytes: 32 * MiB,
    });
    spec.process.terminal = true;
    await driver.create(spec);
    await driver.start('tty');
    const s = await driver.attach('tty', { replay: true });
    const out = collect(s);
    s.resize(100, 40);
    s.stdin?.write('abc\n');
    assert.equal(await s.exit, 3);
    assert.match((await out).stdout, /abc\r?\n\/dev\/pts\/0\r?\n40 100\r?\ntyped:abc\r?\n$/);
    await driver.delete('tty', {});
  });

  it('a memory hog is OOM-killed inside the guest and the sandbox reports it', async () => {
    const hog = await sandboxSpec('hog', ['sh', '-c', 'x=0123456789abcdef; while true; do x="$x$x"; done'], {
      memoryBytes: 64 * MiB,
    });
    await driver.create(hog);
    await driver.start('hog');
    const st = await waitFor(async () => {
      const s = await driver.state('hog');
      return s.status === 'stopped' ? s : undefined;
    }, 60_000);
    assert.deepEqual([st?.exitCode, st?.reason], [137, 'oom-killed']);
    const kinds = events.filter((e) => e.id === 'hog').map((e) => e.kind);
    assert.deepEqual(kinds.slice(-2), ['oom-killed', 'exited']);
    const console = await readFile(join(root, 'instances/hog/console.log'), 'utf8');
    assert.match(console, /Memory cgroup out of memory/, 'the guest kernel killed it in the cgroup');
    await driver.delete('hog', {});
  });

  it('rm leaves nothing: no QEMU, directory, cgroup or mount', async () => {
    const pid = (await driver.state(id)).pid as number;
    await driver.delete(id, { force: true });
    assert.equal(existsSync(dir()), false);
    assert.equal(
      existsSync(`/proc/${pid}`) && (await readFile(`/proc/${pid}/cmdline`, 'utf8')).includes(root),
      false,
    );
    const groups = execFileSync(
      'find',
      ['/sys/fs/cgroup', '-maxdepth', '6', '-name', cgroupParentName(root)],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(groups.trim(), '', 'no cgroup is left');
    assert.deepEqual(await hostMounts(root), []);
  });
});

after(async () => {
  if (fixture) await rm(fixture.dir, { recursive: true, force: true });
});
