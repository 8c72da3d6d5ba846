/**
 * bench/vm-boot: boot-to-ready of a Tandem VM, bare QEMU vs the driver, per machine type.
 * Bare: the driver's own QEMU command line (same kernel, initramfs + config, overlay disk and
 * devices) run directly as a child, timed from spawn to the init's "agent ready" console line.
 * Driver: VmDriver.create + start, timed to `running` (the agent answered over virtio-serial).
 * VMM overhead: QEMU's RSS split by smaps into guest RAM, TCG code buffer, mapped files and
 * the VMM's own private memory (what Firecracker's <= 5 MiB compares with).
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sleep } from '../../src/base/time.js';
import { loadGuestAssets } from '../../src/drivers/vm/guest-assets.js';
import { writeInitrd } from '../../src/drivers/vm/guest-config.js';
import { detectAccel } from '../../src/drivers/vm/qemu-accel.js';
import {
  GUEST_FILES,
  kernelCmdline,
  type MachineType,
  QEMU_BINARY_NAME,
  qemuArgs,
} from '../../src/drivers/vm/qemu-args.js';
import { createOverlay, ensureBaseDisk } from '../../src/drivers/vm/vm-disk.js';
import { VmDriver } from '../../src/drivers/vm/vm-driver.js';
import { guestConfigFor } from '../../src/drivers/vm/vm-guest.js';
import { busyboxImage, vmSpec } from '../../test/host/vm-fixture.js';

const RUNS = Number(process.env.VM_BOOT_RUNS ?? 5);
const MACHINES = (process.env.VM_BOOT_MACHINES ?? 'microvm,q35').split(',') as MachineType[];
const MEM = 256 * 1024 * 1024;
const WORKLOAD = ['sh', '-c', 'sleep 100000'];

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s[Math.floor((s.length - 1) / 2)] as number) : Number.NaN;
};

/** QEMU's resident memory by kind, from smaps (bytes): guest RAM, TCG code buffer, files, the rest. */
async function qemuMemory(pid: number, guestBytes: number) {
  const smaps = await readFile(`/proc/${pid}/smaps`, 'utf8');
  const m = { total: 0, guest: 0, tcg: 0, file: 0, vmm: 0 };
  for (const block of smaps.split(/\n(?=[0-9a-f]+-[0-9a-f]+ )/)) {
    const size = Number(/^Size:\s+(\d+) kB/m.exec(block)?.[1] ?? 0) * 1024;
    const rss = Number(/^Rss:\s+(\d+) kB/m.exec(block)?.[1] ?? 0) * 1024;
    const head = (block.split('\n')[0] ?? '').trim().split(/\s+/);
    m.total += rss;
    if (head[5]?.startsWith('/')) m.file += rss;
    else if (head[1] === 'rwxp') m.tcg += rss;
    else if (size >= guestBytes && size <= guestBytes + 8 * 1024 * 1024) m.guest += rss;
  }
  m.vmm = m.total - m.guest - m.tcg - m.file;
  return m;
}

async function bareBoot(
  machine: MachineType,
  accel: 'kvm' | 'tcg',
  image: Awaited<ReturnType<typeof busyboxImage>>['image'],
  work: string,
): Promise<{ ms: number; stages: Record<string, number> }> {
  const assets = await loadGuestAssets();
  const dir = await mkdtemp(join(work, 'bare-'));
  const base = await ensureBaseDisk(join(work, 'images'), image);
  await createOverlay(base, join(dir, 'disk.qcow2'), 1024 * 1024 * 1024);
  const spec = vmSpec('bare', image, WORKLOAD, { memoryBytes: MEM });
  await writeInitrd(
    assets.initramfs,
    { ...guestConfigFor(spec), debug: true },
    join(dir, GUEST_FILES.initrd),
  );
  const args = qemuArgs({
    dir,
    name: 'bare',
    machine,
    accel,
    cpus: 1,
    memoryMiB: MEM / 1048576,
    kernel: assets.kernel,
    initrd: join(dir, GUEST_FILES.initrd),
    cmdline: kernelCmdline(),
    disks: [{ id: 'root', path: join(dir, 'disk.qcow2'), format: 'qcow2' }],
    shares: [],
  });
  const cut = args.indexOf('-daemonize');
  args.splice(cut, 3);
  const t0 = performance.now();
  const child = spawn(QEMU_BINARY_NAME, args, { stdio: 'ignore' });
  const log = join(dir, GUEST_FILES.consoleLog);
  let text = '';
  while (!text.includes('agent ready') && child.exitCode === null) {
    await sleep(5);
    text = await readFile(log, 'utf8').catch(() => '');
  }
  const ms = performance.now() - t0;
  child.kill('SIGKILL');
  await new Promise((r) => child.once('close', r));
  const stages: Record<string, number> = {};
  for (const m of text.matchAll(/tandem-init: ([a-z ]+) after ([\d.]+) s/g))
    stages[m[1] as string] = Number(m[2]) * 1000;
  await rm(dir, { recursive: true, force: true });
  return { ms, stages };
}

async function driverBoot(
  machine: MachineType,
  accel: 'kvm' | 'tcg',
  image: Awaited<ReturnType<typeof busyboxImage>>['image'],
  work: string,
  n: number,
) {
  const root = join(work, `driver-${machine}-${n}`);
  await mkdir(root, { recursive: true });
  const driver = new VmDriver({ root, accel, machine });
  const t0 = performance.now();
  await driver.create(vmSpec(`b${n}`, image, WORKLOAD, { memoryBytes: MEM }));
  const t1 = performance.now();
  await driver.start(`b${n}`);
  const t2 = performance.now();
  const pid = (await driver.state(`b${n}`)).pid as number;
  await sleep(1000);
  const mem = await qemuMemory(pid, MEM);
  await driver.delete(`b${n}`, { force: true });
  await driver.close();
  return { create: t1 - t0, start: t2 - t1, total: t2 - t0, mem };
}

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'vm-boot-bench-'));
  const { image, dir } = await busyboxImage();
  try {
    const assets = await loadGuestAssets();
    const accel = (await detectAccel(work, assets)).accel;
    const rows: string[] = [];
    const mem: string[] = [];
    type Drv = Awaited<ReturnType<typeof driverBoot>>;
    const runs = new Map(
      MACHINES.map((m) => [
        m,
        { bare: [] as number[], stages: {} as Record<string, number[]>, drv: [] as Drv[] },
      ]),
    );
    // Machines alternate within each round, so load from other work on the host hits them alike.
    for (let i = 0; i < RUNS; i++) {
      for (const machine of MACHINES) {
        const r = runs.get(machine) as NonNullable<ReturnType<typeof runs.get>>;
        const b = await bareBoot(machine, accel, image, work);
        r.bare.push(b.ms);
        for (const [k, v] of Object.entries(b.stages)) r.stages[k] = [...(r.stages[k] ?? []), v];
        r.drv.push(await driverBoot(machine, accel, image, work, i));
      }
    }
    for (const machine of MACHINES) {
      const { bare, stages, drv } = runs.get(machine) as NonNullable<ReturnType<typeof runs.get>>;
      const [b, s, t] = [median(bare), median(drv.map((d) => d.start)), median(drv.map((d) => d.total))];
      rows.push(
        `| ${machine} | ${accel} | ${b.toFixed(0)} | ${median(drv.map((d) => d.create)).toFixed(0)} | ${s.toFixed(0)} | ${t.toFixed(0)} | ${(s / b).toFixed(2)}x | ${(t / b).toFixed(2)}x |`,
      );
      const st = Object.entries(stages)
        .map(([k, v]) => `${k} ${median(v).toFixed(0)} ms`)
        .join(', ');
      rows.push(`|   guest uptime at: ${st} | | | | | | | |`);
      const mib = (k: 'total' | 'guest' | 'tcg' | 'file' | 'vmm') =>
        (median(drv.map((d) => d.mem[k])) / 2 ** 20).toFixed(1);
      mem.push(
        `| ${machine} | ${accel} | ${mib('total')} | ${mib('guest')} | ${mib('tcg')} | ${mib('file')} | ${mib('vmm')} | <= 5 |`,
      );
    }
    console.log(`\nVM boot, busybox image, 1 vCPU, 256 MiB, 1 GiB disk; medians of ${RUNS} runs (ms)\n`);
    console.log(
      '| machine | accel | bare qemu to agent-ready | driver create | driver start to running | driver create+start | start / bare | create+start / bare |',
    );
    console.log('|---|---|---|---|---|---|---|---|');
    for (const r of rows) console.log(r);
    console.log(
      '\nQEMU resident memory (MiB) 1 s after running: VMM private = RSS - guest RAM - TCG code buffer - files\n',
    );
    console.log(
      '| machine | accel | QEMU RSS | guest RAM | TCG code buffer | files (vmlinux, initrd, binary; shared page cache) | VMM private | Firecracker VMM (published) |',
    );
    console.log('|---|---|---|---|---|---|---|---|');
    for (const r of mem) console.log(r);
  } finally {
    await rm(work, { recursive: true, force: true });
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
