/**
 * The VM driver against real QEMU (TCG unless TANDEM_VM_ACCEL says otherwise): the driver
 * conformance suite, then the acceptance of issue 5 at driver level on one shared guest
 * (cpus 2, 256 MiB, 1 GiB disk) and a few short-lived ones. TCG boots cost seconds, so guests
 * are shared wherever a test does not need its own.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isTandemError } from '../../src/base/errors.js';
import { waitFor } from '../../src/base/time.js';
import type { ResolvedImage } from '../../src/core/driver.js';
import { collect, runDriverConformance, WORKLOADS, waitForLog } from '../../src/drivers/conformance.js';
import { loadGuestAssets } from '../../src/drivers/vm/guest-assets.js';
import { GUEST_FILES } from '../../src/drivers/vm/qemu-args.js';
import { QmpClient } from '../../src/drivers/vm/qmp-client.js';
import { cgroupParentName, createVmCgroups, removeVmCgroups } from '../../src/drivers/vm/vm-cgroup.js';
import { VmDriver } from '../../src/drivers/vm/vm-driver.js';
import { busyboxImage, guestDiagnosis, vmSpec } from './vm-fixture.js';

const accel = (process.env.TANDEM_VM_ACCEL as 'kvm' | 'tcg' | undefined) ?? 'tcg';
const START_MS = 90_000;

let fixture: { image: ResolvedImage; dir: string } | undefined;
const image = async () => {
  fixture ??= await busyboxImage();
  return fixture.image;
};

runDriverConformance({
  name: 'vm (qemu)',
  makeDriver: async (root) => new VmDriver({ root, accel }),
  makeSpec: async (id, args) => vmSpec(id, await image(), args, { memoryBytes: 128 * 1024 * 1024 }),
  startTimeoutMs: START_MS,
  stopTimeoutMs: 3000,
  diagnose: (root, id) => guestDiagnosis(join(root, 'vms', id)),
});

/** Every QEMU process whose command line mentions `text`. */
function qemuPids(text: string): number[] {
  const out: number[] = [];
  for (const p of execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' }).split('\n')) {
    const m = /^\s*(\d+)\s+(.*)$/.exec(p);
    if (m?.[2]?.includes('qemu-system') && m[2].includes(text)) out.push(Number(m[1]));
  }
  return out;
}

describe('vm driver acceptance (issue 5)', { timeout: 600_000 }, () => {
  let root = '';
  let driver: VmDriver;
  const id = 'v1';

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'vm-accept-'));
    driver = new VmDriver({ root, accel });
    const spec = vmSpec(id, await image(), ['sh', '-c', 'echo v1-up; sleep 100000'], {
      cpus: 2,
      memoryBytes: 256 * 1024 * 1024,
      diskBytes: 1024 * 1024 * 1024,
      pids: 64,
    });
    await driver.create(spec);
    await driver.start(id);
  });

  after(async () => {
    await driver.delete(id, { force: true }).catch(() => {});
    await driver.close();
    await rm(root, { recursive: true, force: true });
  });

  const sh = async (cmd: string, extra: { stdin?: string; tty?: boolean } = {}) => {
    const s = await driver.exec(id, {
      args: ['sh', '-c', cmd],
      env: [],
      tty: extra.tty ?? false,
      stdin: extra.stdin !== undefined,
    });
    const out = collect(s);
    if (extra.stdin !== undefined) s.stdin?.end(extra.stdin);
    return { ...(await out), code: await s.exit };
  };

  it('runs its own kernel with 2 vCPUs, 200-256 MiB and a root fs grown to the 1 GiB disk', async () => {
    const release = (await loadGuestAssets()).release;
    const r = await sh('uname -r; nproc; grep MemTotal /proc/meminfo; df -k / | tail -1');
    assert.equal(r.code, 0, r.stderr);
    const [uname, nproc, mem, df] = r.stdout.trim().split('\n');
    assert.equal(uname, release);
    assert.notEqual(uname, execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim());
    assert.equal(nproc, '2');
    const memKiB = Number(/(\d+) kB/.exec(mem ?? '')?.[1]);
    assert.ok(memKiB >= 200 * 1024 && memKiB <= 256 * 1024, `MemTotal ${memKiB} kB`);
    const sizeKiB = Number(df?.trim().split(/\s+/)[1]);
    assert.ok(sizeKiB >= 900 * 1024, `root fs of ${sizeKiB} KiB`);
    assert.equal((await driver.state(id)).accel, accel);
  });

  it('exec returns the exit status, passes stdin and runs with a TTY', async () => {
    assert.equal((await sh('exit 7')).code, 7);
    assert.equal((await sh('kill -9 $$')).code, 137);
    const cat = await sh('tr a-z A-Z', { stdin: 'through the agent\n' });
    assert.deepEqual([cat.stdout, cat.code], ['THROUGH THE AGENT\n', 0]);
    const tty = await driver.exec(id, {
      args: ['sh', '-c', 'tty; stty size'],
      env: [],
      tty: true,
      stdin: false,
      cols: 91,
      rows: 33,
    });
    const out = await collect(tty);
    assert.equal(await tty.exit, 0);
    assert.match(out.stdout, /^\/dev\/pts\/\d+\r?\n33 91\r?\n$/);
    const missing = await sh('exec /no/such/binary');
    assert.equal(missing.code, 127);
    const as = await driver.exec(id, {
      args: ['sh', '-c', 'id -u; id -g; pwd; echo $TEST_IMAGE_VAR'],
      env: [],
      user: 'nobody',
      cwd: '/tmp',
      tty: false,
      stdin: false,
    });
    assert.deepEqual([(await collect(as)).stdout, await as.exit], ['65534\n65534\n/tmp\nyes\n', 0]);
  });

  it('pause stops the guest (query-status paused, console silent) and resume continues it', async () => {
    await sh('(while true; do echo tick > /dev/ttyS0; sleep 0.2; done) </dev/null >/dev/null 2>&1 &');
    const log = join(root, 'vms', id, GUEST_FILES.consoleLog);
    const size = async () => (await stat(log)).size;
    const grew = async (ms: number) => {
      const s0 = await size();
      await new Promise((r) => setTimeout(r, ms));
      return (await size()) > s0;
    };
    assert.ok(await grew(1500), 'the console log grows while running');
    await driver.pause(id);
    assert.equal((await driver.state(id)).status, 'paused');
    const qmp = new QmpClient(join(root, 'vms', id, GUEST_FILES.qmp));
    await qmp.connect();
    assert.equal((await qmp.execute('query-status')).status, 'paused');
    await qmp.close();
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await grew(1500), false, 'the console log does not grow while paused');
    await driver.resume(id);
    assert.equal((await driver.state(id)).status, 'running');
    assert.ok(await grew(2000), 'the console log grows again after resume');
  });

  it('limits the number of processes in the guest (--pids)', async () => {
    const r = await sh(
      'cat /sys/fs/cgroup/tandem/pids.max; grep -c . /sys/fs/cgroup/tandem/cgroup.procs >/dev/null && echo in-cgroup',
    );
    assert.equal(r.stdout, '64\nin-cgroup\n');
    const bomb = await sh('for i in $(seq 80); do sleep 30 & done; echo all-forked');
    assert.notEqual(bomb.code, 0, 'forking 80 processes fails under pids.max 64');
    assert.doesNotMatch(bomb.stdout, /all-forked/);
    const n = await sh('cat /sys/fs/cgroup/tandem/pids.current');
    assert.ok(Number(n.stdout) <= 64, `pids.current ${n.stdout}`);
    await sh('pkill sleep; true');
  });

  it('stats report vCPU time, memory and disk counters', async () => {
    const s = await driver.stats(id);
    assert.ok(s.cpuSeconds > 0);
    assert.ok(s.memoryBytes > 0);
    assert.equal(s.memoryLimitBytes, 256 * 1024 * 1024);
    assert.ok((s.blockReadBytes ?? 0) > 0, 'the guest read its disk');
  });

  it('the console attaches interactively to the serial console', async () => {
    const con = await driver.console(id);
    let seen = '';
    con.on('data', (b: Buffer) => {
      seen += b.toString();
    });
    con.write('echo con-$((6*7))\n');
    const ok = await waitFor(() => (seen.includes('con-42') ? true : undefined), 20_000, 50);
    con.destroy();
    assert.ok(ok, `console answered: ${JSON.stringify(seen.slice(-200))}`);
  });

  it("QEMU runs detached in the driver root's cgroup parent", async () => {
    const pid = (await driver.state(id)).pid as number;
    const cg = await readFile(`/proc/${pid}/cgroup`, 'utf8');
    if (existsSync('/sys/fs/cgroup/cpu/cgroup.procs') || existsSync('/sys/fs/cgroup/cgroup.controllers')) {
      assert.ok(cg.includes(`${cgroupParentName(root)}/vm-${id}`), cg);
    }
    const ppid = Number((await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]?.split(' ')[1]);
    assert.notEqual(ppid, process.pid, 'qemu is not a child of the driver process');
  });

  it('a new driver object on the same root manages the running VM (exec, pause, resume)', async () => {
    const second = new VmDriver({ root, accel });
    try {
      assert.deepEqual(await second.list(), [id]);
      assert.equal((await second.state(id)).status, 'running');
      await second.pause(id);
      await second.resume(id);
    } finally {
      await second.close();
    }
    const r = await sh('echo still-here');
    assert.equal(r.stdout, 'still-here\n');
  });
});

describe('vm driver: cgroups', () => {
  it("a fractional --cpus becomes a CFS quota in the root's cgroup parent; removal leaves no group", async () => {
    const root = await mkdtemp(join(tmpdir(), 'vm-cg-'));
    const cg = await createVmCgroups(root, 'cgtest', 1.5);
    try {
      assert.equal(cg.reason, undefined, cg.reason);
      const cpu = cg.dirs.find((d) => d.includes('/cpu/') || !d.includes('/memory/')) as string;
      assert.ok(cpu.includes(`${cgroupParentName(root)}/vm-cgtest`), cpu);
      const quota = existsSync(join(cpu, 'cpu.cfs_quota_us'))
        ? (await readFile(join(cpu, 'cpu.cfs_quota_us'), 'utf8')).trim()
        : (await readFile(join(cpu, 'cpu.max'), 'utf8')).split(' ')[0];
      assert.equal(quota, '150000');
    } finally {
      await removeVmCgroups(cg.dirs);
      await rm(root, { recursive: true, force: true });
    }
    for (const d of cg.dirs) assert.equal(existsSync(d), false);
  });
});

describe('vm driver: stop, kill, rm and failed creates', { timeout: 600_000 }, () => {
  let root = '';
  let driver: VmDriver;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'vm-life-'));
    driver = new VmDriver({ root, accel });
  });
  after(async () => {
    for (const id of await driver.list()) await driver.delete(id, { force: true }).catch(() => {});
    await driver.close();
    await rm(root, { recursive: true, force: true });
  });

  it('a guest that ignores the power button is killed at the timeout; rm leaves nothing', async () => {
    const spec = vmSpec('deaf', await image(), ['sh', '-c', 'echo ready; sleep 100000'], {
      memoryBytes: 128 * 1024 * 1024,
    });
    await driver.create(spec);
    await driver.start('deaf');
    await waitForLog(driver, 'deaf', 'ready', START_MS);
    // Disable the guest's power-button handling: the init's evdev device is closed under it.
    const s = await driver.exec('deaf', {
      args: ['sh', '-c', 'rmmod button && echo gone'],
      env: [],
      tty: false,
      stdin: false,
    });
    assert.equal((await collect(s)).stdout, 'gone\n');
    const pid = (await driver.state('deaf')).pid as number;
    const dir = join(root, 'vms', 'deaf');
    const t0 = Date.now();
    await driver.stop('deaf', { timeoutMs: 3000 });
    const took = Date.now() - t0;
    assert.ok(took >= 2700 && took < 9000, `stop took ${took} ms`);
    const st = await driver.state('deaf');
    assert.deepEqual([st.status, st.exitCode], ['stopped', 137]);
    await driver.delete('deaf', {});
    assert.equal(qemuPids(dir).length, 0, 'no qemu process is left');
    assert.equal(
      existsSync(`/proc/${pid}/cmdline`) && (await readFile(`/proc/${pid}/cmdline`, 'utf8')).includes(dir),
      false,
    );
    assert.equal(existsSync(dir), false, 'no socket, overlay or log is left');
    assert.deepEqual(
      await readdir(join(root, 'images')).catch(() => []),
      [],
      'the unused base disk is collected',
    );
    const groups = execFileSync(
      'find',
      ['/sys/fs/cgroup', '-maxdepth', '6', '-name', cgroupParentName(root)],
      { encoding: 'utf8' },
    );
    assert.equal(groups.trim(), '', 'no cgroup is left');
  });

  it('attach follows the workload from the start of its run and returns its status', async () => {
    await driver.create(
      vmSpec('att', await image(), ['sh', '-c', 'echo first; sleep 2; echo second; exit 5'], {
        memoryBytes: 128 * 1024 * 1024,
      }),
    );
    await driver.start('att');
    const s = await driver.attach('att', { replay: true });
    const out = await collect(s);
    assert.deepEqual([out.stdout, await s.exit], ['first\nsecond\n', 5]);
    await assert.rejects(driver.attach('att'), (e) => isTandemError(e, 'conflict'));
    await driver.delete('att', {});
  });

  it('attach feeds the stdin of a workload that kept it open (run -i)', async () => {
    const spec = vmSpec('att-i', await image(), ['sh', '-c', 'read line; echo got:$line; cat; exit 6'], {
      memoryBytes: 128 * 1024 * 1024,
    });
    spec.process.stdin = true;
    await driver.create(spec);
    await driver.start('att-i');
    const s = await driver.attach('att-i', { replay: true });
    const out = collect(s);
    s.stdin?.write('hello\n');
    s.stdin?.end('rest\n');
    assert.deepEqual([(await out).stdout, await s.exit], ['got:hello\nrest\n', 6]);
    await driver.delete('att-i', {});
  });

  it('run --rm style: the workload prints and exits 3', async () => {
    await driver.create(vmSpec('once', await image(), WORKLOADS.exit3));
    await driver.start('once');
    const st = await waitFor(async () => {
      const s = await driver.state('once');
      return s.status === 'stopped' ? s : undefined;
    }, START_MS);
    assert.equal(st?.exitCode, 3);
    let out = '';
    for await (const c of driver.logs('once', {})) out += c.toString();
    assert.equal(out, 'conformance-output\n');
    await driver.delete('once', {});
  });

  it("--init system boots the image's own /sbin/init with the agent beside it", async () => {
    await driver.create(vmSpec('sys', await image(), [], { memoryBytes: 128 * 1024 * 1024 }, 'system'));
    await driver.start('sys');
    const s = await driver.exec('sys', {
      args: ['sh', '-c', 'cat /proc/1/comm; readlink /proc/1/exe'],
      env: [],
      tty: false,
      stdin: false,
    });
    assert.deepEqual([(await collect(s)).stdout, await s.exit], ['init\n/bin/busybox\n', 0]);
    // busybox init ignores the ACPI power button; the driver's Ctrl-Alt-Del (SIGINT to PID 1)
    // makes it reboot, which QEMU (-no-reboot) turns into a clean end of the run.
    const t0 = Date.now();
    await driver.stop('sys', { timeoutMs: 30_000 });
    assert.ok(Date.now() - t0 < 25_000, `stop took ${Date.now() - t0} ms`);
    const st = await driver.state('sys');
    assert.deepEqual([st.status, st.exitCode, st.reason], ['stopped', 0, 'powered off']);
    await driver.delete('sys', {});
  });

  it('update grows the disk of a stopped VM and refuses to shrink it', async () => {
    await driver.create(vmSpec('upd', await image(), ['true'], { diskBytes: 1024 * 1024 * 1024 }));
    await driver.update('upd', { diskBytes: 2 * 1024 * 1024 * 1024, cpus: 2 });
    const info = JSON.parse(
      execFileSync('qemu-img', ['info', '--output=json', join(root, 'vms', 'upd', 'disk.qcow2')], {
        encoding: 'utf8',
      }),
    );
    assert.equal(info['virtual-size'], 2 * 1024 * 1024 * 1024);
    await assert.rejects(driver.update('upd', { diskBytes: 512 * 1024 * 1024 }), (e) =>
      isTandemError(e, 'invalid_argument'),
    );
    await driver.delete('upd', {});
  });

  it('the VM outlives a daemon killed with SIGKILL and a new driver manages it', async () => {
    const script = `
      const { VmDriver } = await import(${JSON.stringify(join(import.meta.dirname, '../../src/drivers/vm/vm-driver.ts'))});
      const { vmSpec } = await import(${JSON.stringify(join(import.meta.dirname, 'vm-fixture.ts'))});
      const d = new VmDriver({ root: ${JSON.stringify(root)}, accel: ${JSON.stringify(accel)} });
      await d.create(vmSpec('orphan', ${JSON.stringify(await image())}, ['sh', '-c', 'echo orphan-up; sleep 100000'], { memoryBytes: 128 * 1024 * 1024 }));
      await d.start('orphan');
      console.log('running');
      setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
      detached: true,
    });
    let out = '';
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
    });
    const up = await waitFor(() => (out.includes('running') ? true : undefined), START_MS, 50);
    assert.ok(up, 'the child daemon started the VM');
    process.kill(-(child.pid as number), 'SIGKILL'); // the whole process group, as a crash of the daemon
    await new Promise((r) => child.once('close', r));
    const next = new VmDriver({ root, accel });
    try {
      assert.ok((await next.list()).includes('orphan'));
      assert.equal((await next.state('orphan')).status, 'running');
      const s = await next.exec('orphan', { args: ['echo', 'alive'], env: [], tty: false, stdin: false });
      assert.equal((await collect(s)).stdout, 'alive\n');
      await next.pause('orphan');
      assert.equal((await next.state('orphan')).status, 'paused');
      await next.resume('orphan');
      await next.stop('orphan', { timeoutMs: 5000 });
      assert.equal((await next.state('orphan')).status, 'stopped');
      await next.delete('orphan', {});
    } finally {
      await next.close();
    }
  });

  it('a failed create leaves nothing: bad image, bad disk size, more memory than the host has', async () => {
    const good = await image();
    const bad: ResolvedImage = { ...good, digest: 'sha256:missing', layers: [join(root, 'no-such-layer')] };
    await assert.rejects(driver.create(vmSpec('bad1', bad, ['true'])), (e) => isTandemError(e, 'not_found'));
    await assert.rejects(driver.create(vmSpec('bad2', good, ['true'], { diskBytes: 1024 * 1024 })), (e) =>
      isTandemError(e, 'invalid_argument'),
    );
    await assert.rejects(driver.create(vmSpec('bad3', good, ['true'], { memoryBytes: 2 ** 50 })), (e) =>
      isTandemError(e, 'insufficient_resources'),
    );
    const net = { ...vmSpec('bad4', good, ['true']), network: 'bridge' as const };
    await assert.rejects(driver.create(net), (e) => isTandemError(e, 'invalid_argument'));
    assert.deepEqual(await driver.list(), []);
    assert.deepEqual(await readdir(join(root, 'vms')).catch(() => []), []);
    assert.deepEqual(await readdir(join(root, 'images')).catch(() => []), []);
  });
});

after(async () => {
  if (fixture) await rm(fixture.dir, { recursive: true, force: true });
});
