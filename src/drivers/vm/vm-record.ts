/**
 * What the VM driver persists per instance, under `<root>/vms/<id>/`: the spec it was created
 * with, its disk, and the current or last run (QEMU pid, accelerator, cgroups, whether we
 * killed it). With the status file the guest writes, this is enough for a new driver object to
 * tell running from stopped and to recover a workload's exit code after a daemon restart.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DriverSpec } from '../../core/driver.js';
import type { Accel, MachineType } from './qemu-args.js';

export interface VmRun {
  pid: number;
  startedAt: string;
  accel: Accel;
  machine: MachineType;
  cgroupDirs: string[];
  /** Set before we power the guest off by force: a run without a guest status then exits 137. */
  killRequested?: boolean;
  /** Set once the run's end was recorded. */
  finished?: boolean;
  /** Size of the workload log when the run began: where this run's output starts. */
  logOffset?: number;
}

export interface VmRecord {
  id: string;
  name: string;
  spec: DriverSpec;
  createdAt: string;
  /** VMs: the image's base disk (absent when the disk was built whole, e.g. by isolate). */
  baseDisk?: string;
  /** VMs: the disk's virtual size. */
  diskBytes?: number;
  run?: VmRun;
  exitCode?: number;
  reason?: string;
  finishedAt?: string;
}

/** The records of one driver root. */
export class VmRecords {
  /** Instances live in `<root>/<subdir>/<id>/` (vms for VMs, instances for sandboxes). */
  constructor(
    readonly root: string,
    readonly subdir = 'vms',
  ) {}

  /** The instance's directory (sockets, logs, disk, record). */
  dir(id: string): string {
    return join(this.root, this.subdir, id);
  }

  /** The record, or undefined when there is none. */
  async read(id: string): Promise<VmRecord | undefined> {
    try {
      return JSON.parse(await readFile(join(this.dir(id), 'vm.json'), 'utf8')) as VmRecord;
    } catch {
      return undefined;
    }
  }

  /** Writes the record atomically (temp file + rename). */
  async write(rec: VmRecord): Promise<void> {
    const dir = this.dir(rec.id);
    await mkdir(dir, { recursive: true });
    const tmp = join(dir, `.vm.json.${process.pid}.${randomBytes(4).toString('hex')}`);
    await writeFile(tmp, JSON.stringify(rec, null, 1));
    await rename(tmp, join(dir, 'vm.json'));
  }

  /** Ids of every instance with a record. */
  async list(): Promise<string[]> {
    const entries = await readdir(join(this.root, this.subdir)).catch(() => [] as string[]);
    const ids: string[] = [];
    for (const id of entries) if (await this.read(id)) ids.push(id);
    return ids;
  }

  /** Removes the instance's directory and everything in it. */
  async remove(id: string): Promise<void> {
    await rm(this.dir(id), { recursive: true, force: true });
  }
}
