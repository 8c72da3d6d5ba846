/**
 * One run of a VM's guest: boot (config into the initrd, cgroups, detached QEMU, wait for the
 * agent), power-off by force, and reading how a finished run ended (the status the guest
 * wrote, else whether we killed it).
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { TandemError } from '../../base/errors.js';
import { nowIso } from '../../base/time.js';
import type { DriverSpec } from '../../core/driver.js';
import type { GuestAssets } from './guest-assets.js';
import { type GuestConfig, writeInitrd } from './guest-config.js';
import { volumeMounts } from './guest-volumes.js';
import { capLog, clearLog } from './log-file.js';
import {
  type Accel,
  GUEST_FILES,
  type GuestDisk,
  type GuestNic,
  type GuestShare,
  kernelCmdline,
  type MachineType,
  qemuArgs,
} from './qemu-args.js';
import {
  isGuestQemu,
  killQemu,
  launchQemu,
  type QemuBind,
  type QemuOverlay,
  waitQemuGone,
} from './qemu-process.js';
import { QmpClient } from './qmp-client.js';
import { createVmCgroups, removeVmCgroups } from './vm-cgroup.js';
import type { VmRecord, VmRun } from './vm-record.js';
import { LOG_CAPS } from './vm-watcher.js';

/** Guest RAM when an instance sets no memory limit. */
export const DEFAULT_MEMORY_BYTES = 256 * 1024 * 1024;

/** The boot configuration of a VM instance's guest. */
export function guestConfigFor(spec: DriverSpec): GuestConfig {
  const p = spec.process;
  return {
    mode: spec.init === 'system' ? 'system' : 'workload',
    root: '/dev/vda',
    grow: true,
    hostname: spec.hostname,
    pids: spec.limits.pids,
    consoleShell: spec.init !== 'system',
    mounts: volumeMounts(spec),
    process: { args: p.args, env: p.env, cwd: p.cwd, user: p.user, tty: p.terminal, stdin: p.stdin },
  };
}

export interface BootOptions {
  root: string;
  dir: string;
  assets: GuestAssets;
  accel: Accel;
  machine: MachineType;
  /** The guest's boot config (default: guestConfigFor(spec): the instance's disk as root). */
  config?: GuestConfig;
  /** Disks (default: the instance's overlay `disk.qcow2` as `root`) and 9p shares (default none). */
  disks?: GuestDisk[];
  shares?: GuestShare[];
  /** An overlay mounted (in QEMU's own mount namespace) before QEMU starts: a sandbox's rootfs. */
  overlay?: QemuOverlay;
  /** Files bound (in that namespace too) before QEMU starts: a guest's hosts file. */
  binds?: QemuBind[];
  /** NICs on the daemon's taps (default none). */
  nics?: GuestNic[];
  /** Guest RAM (default: the memory limit, else DEFAULT_MEMORY_BYTES). */
  memoryBytes?: number;
}

/** Launches QEMU for `rec` (detached, in its cgroups); resolves with the run once QEMU is up, before the agent answers. */
export async function launchGuest(rec: VmRecord, o: BootOptions): Promise<VmRun> {
  await clearLog(join(o.dir, GUEST_FILES.status));
  await capLog(join(o.dir, GUEST_FILES.consoleLog), LOG_CAPS.console);
  await capLog(join(o.dir, GUEST_FILES.workloadLog), LOG_CAPS.workload);
  const initrd = join(o.dir, GUEST_FILES.initrd);
  await writeInitrd(o.assets.initramfs, o.config ?? guestConfigFor(rec.spec), initrd);
  const cpus = rec.spec.limits.cpus;
  const cg = await createVmCgroups(o.root, rec.id, cpus);
  const args = qemuArgs({
    dir: o.dir,
    name: rec.name,
    machine: o.machine,
    accel: o.accel,
    cpus: Math.max(1, Math.ceil(cpus ?? 1)),
    memoryMiB: Math.ceil(
      (o.memoryBytes ?? rec.spec.limits.memoryBytes ?? DEFAULT_MEMORY_BYTES) / (1024 * 1024),
    ),
    kernel: o.assets.kernel,
    initrd,
    cmdline: kernelCmdline(),
    disks: o.disks ?? [{ id: 'root', path: join(o.dir, 'disk.qcow2'), format: 'qcow2' }],
    shares: o.shares ?? [],
    nics: o.nics ?? [],
  });
  try {
    const logOffset = (await stat(join(o.dir, GUEST_FILES.workloadLog)).catch(() => undefined))?.size ?? 0;
    const pid = await launchQemu({
      args,
      dir: o.dir,
      cgroupProcs: cg.procs,
      overlay: o.overlay,
      binds: o.binds,
    });
    return { pid, startedAt: nowIso(), accel: o.accel, machine: o.machine, cgroupDirs: cg.dirs, logOffset };
  } catch (err) {
    await removeVmCgroups(cg.dirs);
    throw err;
  }
}

/** Ends a run by force: QMP quit, then SIGKILL; resolves once QEMU is gone. */
export async function forceOff(run: VmRun, dir: string): Promise<void> {
  if (!(await isGuestQemu(run.pid, dir))) return;
  const qmp = new QmpClient(join(dir, GUEST_FILES.qmp));
  try {
    await qmp.connect({ timeoutMs: 2000 });
    await qmp.quit(2000);
  } catch {
    // QMP busy or broken: SIGKILL below
  } finally {
    await qmp.close();
  }
  if (!(await waitQemuGone(run.pid, dir, 3000))) await killQemu(run.pid, dir);
}

/** The exit status the guest reported for its last run, if it did. */
export async function guestExitStatus(dir: string): Promise<number | undefined> {
  const text = await readFile(join(dir, GUEST_FILES.status), 'utf8').catch(() => '');
  const m = /exit (\d+)\s*$/.exec(text);
  return m ? Number(m[1]) : undefined;
}

/** True when the guest reported an OOM kill in the workload's cgroup during its last run. */
export async function guestOomKilled(dir: string): Promise<boolean> {
  const text = await readFile(join(dir, GUEST_FILES.status), 'utf8').catch(() => '');
  return /^oom-killed$/m.test(text);
}

/** How a finished run ended: the guest's status, else 137 when we killed it. */
export async function runOutcome(rec: VmRecord, dir: string): Promise<{ exitCode?: number; reason: string }> {
  const status = await guestExitStatus(dir);
  if (status !== undefined && (await guestOomKilled(dir))) return { exitCode: status, reason: 'oom-killed' };
  if (status !== undefined)
    return { exitCode: status, reason: status === 137 && rec.run?.killRequested ? 'killed' : 'exited' };
  if (rec.run?.killRequested) return { exitCode: 137, reason: 'killed' };
  if (rec.spec.init === 'system') return { exitCode: 0, reason: 'powered off' };
  return { reason: 'failed: the guest stopped without reporting an exit status (see the console log)' };
}

/** The last lines of the serial console, for error messages. */
export async function consoleTail(dir: string, lines = 5): Promise<string> {
  const text = await readFile(join(dir, GUEST_FILES.consoleLog), 'utf8').catch(() => '');
  return text.trim().split('\n').slice(-lines).join(' | ');
}

/** Rejects with internal naming the instance and the console's last lines. */
export async function bootFailure(rec: VmRecord, dir: string, why: string): Promise<TandemError> {
  const tail = await consoleTail(dir);
  return new TandemError(
    'internal',
    `starting instance "${rec.name}": ${why}${tail ? ` (console: ${tail})` : ''}`,
  );
}
