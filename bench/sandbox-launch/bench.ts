/**
 * bench/sandbox-launch: what a sandbox costs against bare QEMU and against a container.
 *   launch: bare QEMU booting the very guest a sandbox boots (the driver's command line: same
 *           kernel, initramfs + config, overlay mounted in QEMU's mount namespace, 9p share),
 *           spawned directly and timed to the init's "agent ready" console line; vs the sandbox
 *           driver's create + start + first `exec true`; vs the container driver's; and both
 *           through the daemon and CLI (`tandem launch` + `tandem exec -- true`).
 *   exec:   round trip of `exec true` (driver and CLI), container vs sandbox.
 *   read:   sequential read of a 128 MiB file of the image with dd: in a container (overlayfs)
 *           vs in a sandbox through 9p, first read (guest cache cold, host cache warm) and
 *           the mean of eight more (guest page cache).
 * Rows alternate within each round so that load from other jobs hits them alike; medians.
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runChecked } from '../../src/base/proc.js';
import { sleep } from '../../src/base/time.js';
import type { DriverSpec, InstanceDriver } from '../../src/core/driver.js';
import { collect } from '../../src/drivers/conformance.js';
import { ContainerDriver, removeDriverHostState } from '../../src/drivers/container/container-driver.js';
import { SandboxDriver } from '../../src/drivers/sandbox/sandbox-driver.js';
import {
  guestMemoryBytes,
  sandboxGuestConfig,
  sandboxShares,
} from '../../src/drivers/sandbox/sandbox-spec.js';
import { loadGuestAssets } from '../../src/drivers/vm/guest-assets.js';
import { writeInitrd } from '../../src/drivers/vm/guest-config.js';
import { detectAccel } from '../../src/drivers/vm/qemu-accel.js';
import { GUEST_FILES, kernelCmdline, QEMU_BINARY_NAME, qemuArgs } from '../../src/drivers/vm/qemu-args.js';
import { launchScript } from '../../src/drivers/vm/qemu-process.js';
import { TestDaemon } from '../../test/helpers/daemon.js';
import { busyboxImage, vmSpec } from '../../test/host/vm-fixture.js';

const RUNS = Number(process.env.RUNS ?? 5);
const EXECS = Number(process.env.EXECS ?? 20);
const WORKLOAD = ['sleep', '100000'];
const MiB = 1024 * 1024;
const BIG_MIB = 128;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s[Math.floor((s.length - 1) / 2)] as number) : Number.NaN;
};
const ms = (x: number) => x.toFixed(0);

type Image = Awaited<ReturnType<typeof busyboxImage>>['image'];

function spec(type: 'container' | 'sandbox', id: string, image: Image): DriverSpec {
  return { ...vmSpec(id, image, WORKLOAD), type };
}

/** Bare QEMU with the sandbox's own command line, spawned directly, to "agent ready". */
async function bare(image: Image, accel: 'kvm' | 'tcg', work: string): Promise<number> {
  const assets = await loadGuestAssets();
  const dir = await mkdtemp(join(work, 'bare-'));
  for (const d of ['upper', 'work', 'rootfs']) await mkdir(join(dir, d));
  const s = spec('sandbox', 'bare', image);
  await writeInitrd(assets.initramfs, sandboxGuestConfig(s), join(dir, GUEST_FILES.initrd));
  const args = qemuArgs({
    dir,
    name: 'bare',
    machine: 'microvm',
    accel,
    cpus: 1,
    memoryMiB: guestMemoryBytes(undefined) / MiB,
    kernel: assets.kernel,
    initrd: join(dir, GUEST_FILES.initrd),
    cmdline: kernelCmdline(),
    disks: [],
    shares: sandboxShares(s, join(dir, 'rootfs')),
  });
  args.splice(args.indexOf('-daemonize'), 3);
  const overlay = {
    lower: image.layers,
    upper: join(dir, 'upper'),
    work: join(dir, 'work'),
    target: join(dir, 'rootfs'),
  };
  const [script, ...pre] = launchScript(QEMU_BINARY_NAME, [], overlay);
  const t0 = performance.now();
  const child = spawn('sh', ['-c', script as string, 'sh', ...pre, ...args], { stdio: 'ignore' });
  let text = '';
  while (!text.includes('agent ready') && child.exitCode === null) {
    await sleep(5);
    text = await readFile(join(dir, GUEST_FILES.consoleLog), 'utf8').catch(() => '');
  }
  const took = performance.now() - t0;
  child.kill('SIGKILL');
  await new Promise((r) => child.once('close', r));
  await rm(dir, { recursive: true, force: true });
  return took;
}

async function execTrue(driver: InstanceDriver, id: string): Promise<void> {
  const s = await driver.exec(id, { args: ['true'], env: [], tty: false, stdin: false });
  await collect(s);
  if ((await s.exit) !== 0) throw new Error(`exec true in ${id} failed`);
}

/** Driver create + start + first exec; returns [create+start, to exec-ready] in ms. */
async function launch(driver: InstanceDriver, s: DriverSpec): Promise<[number, number]> {
  const t0 = performance.now();
  await driver.create(s);
  await driver.start(s.id);
  const t1 = performance.now();
  await execTrue(driver, s.id);
  return [t1 - t0, performance.now() - t0];
}

/** Seconds per sequential read of /big: the first, then the mean of eight more (busybox `time`, 10 ms steps). */
async function readTimes(driver: InstanceDriver, id: string): Promise<number[]> {
  const dd = 'dd if=/big of=/dev/null bs=1M 2>/dev/null';
  const s = await driver.exec(id, {
    // `time` is an applet with its own stderr: the redirections stay inside the timed shells
    args: ['sh', '-c', `time sh -c '${dd}'; time sh -c '${Array(8).fill(dd).join('; ')}'`],
    env: [],
    tty: false,
    stdin: false,
  });
  const out = await collect(s);
  const t = [...(out.stdout + out.stderr).matchAll(/real\s+(\d+)m\s*([\d.]+)s/g)].map(
    (m) => Number(m[1]) * 60 + Number(m[2]),
  );
  return [t[0] as number, (t[1] as number) / 8];
}

async function cliRows(): Promise<{ launch: Record<string, number[]>; exec: Record<string, number[]> }> {
  const d = new TestDaemon({ drivers: 'real' });
  const launchT: Record<string, number[]> = { container: [], sandbox: [] };
  const execT: Record<string, number[]> = { container: [], sandbox: [] };
  const cli = async (args: string[]) => {
    const r = await d.cli(args, { timeoutMs: 180_000 });
    if (r.code !== 0) throw new Error(`tandem ${args.join(' ')}: ${r.stderr}`);
  };
  try {
    await d.start();
    await cli(['image', 'build', 'busybox', '--from', 'busybox']);
    for (let i = 0; i < Math.min(RUNS, 3); i++) {
      for (const type of ['container', 'sandbox'] as const) {
        const name = `${type.slice(0, 3)}${i}`;
        const t0 = performance.now();
        await cli([
          'launch',
          'busybox',
          name,
          ...(type === 'sandbox' ? ['--sandbox'] : []),
          '--',
          ...WORKLOAD,
        ]);
        await cli(['exec', name, '--', 'true']);
        launchT[type]?.push(performance.now() - t0);
        for (let j = 0; j < 3; j++) {
          const t1 = performance.now();
          await cli(['exec', name, '--', 'true']);
          execT[type]?.push(performance.now() - t1);
        }
        await cli(['rm', '-f', name]);
      }
    }
  } finally {
    await d.cleanup();
  }
  return { launch: launchT, exec: execT };
}

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'sandbox-bench-'));
  const { image, dir } = await busyboxImage();
  await runChecked('sh', [
    '-c',
    `head -c ${BIG_MIB * MiB} /dev/urandom > "$1"`,
    'sh',
    join(image.layers[0] as string, 'big'),
  ]);
  const sandbox = new SandboxDriver({ root: join(work, 'sandboxes') });
  const container = new ContainerDriver({ root: join(work, 'containers') });
  try {
    const accel = (await detectAccel(work, await loadGuestAssets())).accel;
    const t = {
      bare: [] as number[],
      sbStart: [] as number[],
      sbReady: [] as number[],
      ctStart: [] as number[],
      ctReady: [] as number[],
    };
    for (let i = 0; i < RUNS; i++) {
      t.bare.push(await bare(image, accel, work));
      const [s1, s2] = await launch(sandbox, spec('sandbox', `s${i}`, image));
      t.sbStart.push(s1);
      t.sbReady.push(s2);
      const [c1, c2] = await launch(container, spec('container', `c${i}`, image));
      t.ctStart.push(c1);
      t.ctReady.push(c2);
      if (i < RUNS - 1) {
        await sandbox.delete(`s${i}`, { force: true });
        await container.delete(`c${i}`, { force: true });
      }
    }
    const last = RUNS - 1;
    const ex = { sandbox: [] as number[], container: [] as number[] };
    for (let i = 0; i < EXECS; i++) {
      for (const [k, d, id] of [
        ['sandbox', sandbox, `s${last}`],
        ['container', container, `c${last}`],
      ] as const) {
        const t0 = performance.now();
        await execTrue(d, id);
        ex[k].push(performance.now() - t0);
      }
    }
    const rd = {
      sandbox: await readTimes(sandbox, `s${last}`),
      container: await readTimes(container, `c${last}`),
    };
    await sandbox.delete(`s${last}`, { force: true });
    await container.delete(`c${last}`, { force: true });
    const cli = await cliRows();
    report(accel, t, ex, rd, cli);
  } finally {
    await sandbox.close();
    await container.close();
    await removeDriverHostState(join(work, 'containers'));
    await rm(work, { recursive: true, force: true });
    await rm(dir, { recursive: true, force: true });
  }
}

function report(
  accel: string,
  t: Record<'bare' | 'sbStart' | 'sbReady' | 'ctStart' | 'ctReady', number[]>,
  ex: Record<'sandbox' | 'container', number[]>,
  rd: Record<'sandbox' | 'container', number[]>,
  cli: { launch: Record<string, number[]>; exec: Record<string, number[]> },
): void {
  const b = median(t.bare);
  console.log(`\nSandbox launch, busybox image, 1 vCPU, ${accel}; medians of ${RUNS} runs (ms)\n`);
  console.log('| what | to running | to exec-ready | exec-ready / bare QEMU |');
  console.log('|---|---|---|---|');
  console.log(`| bare QEMU, same guest (spawn to agent ready) | | ${ms(b)} | 1.00x |`);
  console.log(
    `| sandbox driver (create + start + exec true) | ${ms(median(t.sbStart))} | ${ms(median(t.sbReady))} | ${(median(t.sbReady) / b).toFixed(2)}x |`,
  );
  console.log(
    `| container driver (create + start + exec true) | ${ms(median(t.ctStart))} | ${ms(median(t.ctReady))} | ${(median(t.ctReady) / b).toFixed(2)}x |`,
  );
  for (const k of ['sandbox', 'container'])
    console.log(
      `| CLI: tandem launch${k === 'sandbox' ? ' --sandbox' : ''} + tandem exec true (${k}) | | ${ms(median(cli.launch[k] ?? []))} | ${(median(cli.launch[k] ?? []) / b).toFixed(2)}x |`,
    );
  console.log(
    `\nExec round trip of \`true\` (ms, median; driver: ${EXECS} runs, CLI: ${cli.exec.sandbox?.length} runs)\n`,
  );
  console.log('| | container | sandbox | sandbox / container |');
  console.log('|---|---|---|---|');
  const row = (name: string, c: number, s: number) =>
    console.log(`| ${name} | ${c.toFixed(1)} | ${s.toFixed(1)} | ${(s / c).toFixed(1)}x |`);
  row('driver exec', median(ex.container), median(ex.sandbox));
  row('tandem exec (CLI)', median(cli.exec.container ?? []), median(cli.exec.sandbox ?? []));
  const mbs = (s: number | undefined) => (s ? BIG_MIB / s : Number.NaN);
  console.log(
    `\nSequential read of a ${BIG_MIB} MiB image file with dd bs=1M (MiB/s; busybox time, 10 ms steps)\n`,
  );
  console.log('| | container (overlayfs) | sandbox (9p) | sandbox / container |');
  console.log('|---|---|---|---|');
  const [c1, c2] = [mbs(rd.container[0]), mbs(rd.container[1])];
  const [s1, s2] = [mbs(rd.sandbox[0]), mbs(rd.sandbox[1])];
  console.log(
    `| first read (sandbox: through 9p; host page cache warm) | ${c1.toFixed(0)} | ${s1.toFixed(0)} | ${(s1 / c1).toFixed(2)}x |`,
  );
  console.log(
    `| later reads (mean of 8; sandbox: guest page cache) | ${c2.toFixed(0)} | ${s2.toFixed(0)} | ${(s2 / c2).toFixed(2)}x |`,
  );
}

await main();
