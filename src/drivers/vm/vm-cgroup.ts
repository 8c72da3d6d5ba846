/**
 * The daemon's own cgroup parent for its QEMU processes (DESIGN.md, "Ownership"):
 * `tandem-vm-<8 hex of sha256(root)>` under the daemon's current cgroup, with one child per VM.
 * cgroup v1 (cpu, memory hierarchies) where mounted, else the v2 unified hierarchy. A fractional
 * --cpus becomes a CFS quota on the whole QEMU process. Where cgroups cannot be written the VM
 * runs without them and `reason` says why.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rmdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { sleep } from '../../base/time.js';
import { parseOwnCgroups } from '../common/cgroup.js';

export interface VmCgroups {
  /** Directories created for this VM (removed by `removeVmCgroups`). */
  dirs: string[];
  /** The cgroup.procs files QEMU must join. */
  procs: string[];
}

const PERIOD_US = 100_000;

/** The parent cgroup's name for a driver root. */
export function cgroupParentName(root: string): string {
  return `tandem-vm-${createHash('sha256').update(root).digest('hex').slice(0, 8)}`;
}

/** This process's cgroup path per v1 controller (and '' for v2). */
function ownCgroups(): Map<string, string> {
  return parseOwnCgroups(readFileSync('/proc/self/cgroup', 'utf8'));
}

/** Creates the VM's cgroups (cpu quota when `cpus` is fractional); never throws. */
export async function createVmCgroups(
  root: string,
  id: string,
  cpus: number | undefined,
): Promise<VmCgroups & { reason?: string }> {
  const made: VmCgroups = { dirs: [], procs: [] };
  const own = ownCgroups();
  const parent = cgroupParentName(root);
  const quota = cpus !== undefined && !Number.isInteger(cpus) ? Math.round(cpus * PERIOD_US) : undefined;
  try {
    const v1 = ['cpu', 'memory'].filter((c) => existsSync(`/sys/fs/cgroup/${c}/cgroup.procs`));
    if (v1.length > 0) {
      for (const c of v1) {
        const dir = join(`/sys/fs/cgroup/${c}`, own.get(c) ?? '/', parent, `vm-${id}`);
        await mkdir(dir, { recursive: true });
        made.dirs.push(dir);
        made.procs.push(join(dir, 'cgroup.procs'));
        if (c === 'cpu' && quota) {
          await writeFile(join(dir, 'cpu.cfs_period_us'), String(PERIOD_US));
          await writeFile(join(dir, 'cpu.cfs_quota_us'), String(quota));
        }
      }
    } else if (existsSync('/sys/fs/cgroup/cgroup.controllers')) {
      const dir = join('/sys/fs/cgroup', own.get('') ?? '/', parent, `vm-${id}`);
      await mkdir(dir, { recursive: true });
      made.dirs.push(dir);
      made.procs.push(join(dir, 'cgroup.procs'));
      if (quota) await writeFile(join(dir, 'cpu.max'), `${quota} ${PERIOD_US}`);
    }
    return made;
  } catch (err) {
    await removeVmCgroups(made.dirs);
    return { dirs: [], procs: [], reason: `cgroups unavailable: ${(err as Error).message}` };
  }
}

/**
 * Removes a VM's cgroup directories, and the root's parent once no VM uses it. An exiting QEMU
 * leaves its cgroup a moment after it is gone from /proc, so busy groups are retried for a while.
 */
export async function removeVmCgroups(dirs: string[]): Promise<void> {
  for (const d of [...dirs].reverse()) {
    for (let i = 0; i < 60; i++) {
      const err = await rmdir(d).then(
        () => undefined,
        (e: NodeJS.ErrnoException) => e.code,
      );
      if (err !== 'EBUSY') break;
      await sleep(50);
    }
    await rmdir(dirname(d)).catch(() => {});
  }
}
