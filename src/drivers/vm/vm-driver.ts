/**
 * The VM driver: a GuestDriver (one detached QEMU per instance, QMP, the guest agent) whose
 * instances boot from a qcow2 overlay over the image's base disk (an ext4 made from the image's
 * layers). The guest's init runs the workload from that disk, or the image's own init with
 * `--init system`. Volumes are 9p shares (guest-volumes.ts); on a bridge network the guest has a
 * NIC on the daemon's tap (guest-network.ts). Rootfs changes move in and out of the disk for `isolate`: in, by building the
 * instance's disk from the layers plus the changes; out, by comparing the disk with the image.
 */

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { TandemError } from '../../base/errors.js';
import { nowIso } from '../../base/time.js';
import type { DriverSpec, ResourceUsage } from '../../core/driver.js';
import type { Limits } from '../../core/instance.js';
import { findExecutable } from '../common/rootfs-lookup.js';
import { type BootPlan, GuestDriver, type GuestDriverOptions, requireTool } from './guest-driver.js';
import { requireVolumeDirs, volumeShares } from './guest-volumes.js';
import { processCpuSeconds, processRssBytes } from './qemu-process.js';
import { createVmDisk, growDisk, removeUnusedBaseDisks } from './vm-create.js';
import { exportDiskChanges } from './vm-export.js';
import { DEFAULT_MEMORY_BYTES, guestConfigFor } from './vm-guest.js';
import type { VmRecord } from './vm-record.js';
import { refuseUnsupported, validateLimits } from './vm-spec-check.js';

export type VmDriverOptions = GuestDriverOptions;

/** The InstanceDriver for `vm` instances (QEMU + QMP + guest agent). */
export class VmDriver extends GuestDriver {
  readonly type = 'vm' as const;

  constructor(opts: VmDriverOptions) {
    super(opts, 'vms');
  }

  protected features(): string[] {
    return [
      'console',
      'tty',
      'exec',
      'stats',
      'attach',
      'disk-limit',
      'init-system',
      'pause',
      'logs',
      'rootfs-changes',
      'network-bridge',
      'ports',
      'volumes',
    ];
  }

  protected async probeHost(): Promise<void> {
    for (const tool of ['qemu-img', 'mkfs.ext4']) await requireTool(tool, 'install qemu-utils and e2fsprogs');
  }

  protected checkSpec(spec: DriverSpec): void {
    refuseUnsupported(spec);
  }

  /** Guest RAM: the memory limit, else the default. */
  footprint(limits: Limits): { memoryBytes: number } {
    return { memoryBytes: limits.memoryBytes ?? DEFAULT_MEMORY_BYTES };
  }

  protected checkLimits(name: string, limits: Limits): void {
    validateLimits(name, limits);
  }

  protected async createHost(spec: DriverSpec): Promise<void> {
    await requireVolumeDirs(spec);
    await requireCommand(spec);
    await createVmDisk(this.records, spec);
  }

  protected async bootPlan(rec: VmRecord): Promise<BootPlan> {
    return { config: guestConfigFor(rec.spec), shares: volumeShares(rec.spec) };
  }

  protected override async applyStoppedLimits(rec: VmRecord, limits: Limits): Promise<void> {
    if (limits.diskBytes !== undefined && limits.diskBytes !== rec.diskBytes)
      await growDisk(this.records, rec, limits.diskBytes);
  }

  protected override afterRemove(): Promise<void> {
    return removeUnusedBaseDisks(this.records);
  }

  protected async usage(rec: VmRecord, pid: number): Promise<ResourceUsage> {
    const [cpuSeconds, rss] = [await processCpuSeconds(pid), await processRssBytes(pid)];
    const usage: ResourceUsage = {
      time: nowIso(),
      cpuSeconds,
      memoryBytes: rss,
      memoryLimitBytes: rec.spec.limits.memoryBytes ?? DEFAULT_MEMORY_BYTES,
    };
    await this.runs.channels
      .withQmp(rec.id, async (q) => {
        for (const b of await q.execute('query-blockstats')) {
          usage.blockReadBytes = (usage.blockReadBytes ?? 0) + b.stats.rd_bytes;
          usage.blockWriteBytes = (usage.blockWriteBytes ?? 0) + b.stats.wr_bytes;
        }
      })
      .catch(() => {});
    return usage;
  }

  /**
   * The stopped VM's rootfs changes against its image, in overlay upper-dir form, in a new
   * directory under the driver's root that the caller owns; conflict unless stopped or created.
   */
  async exportRootfsChanges(id: string): Promise<string> {
    const rec = await this.stoppedRecord(id);
    return this.locked(id, () =>
      exportDiskChanges(join(this.records.dir(id), 'disk.qcow2'), rec.spec.image, this.opts.root),
    );
  }
}

/**
 * The workload's command must exist in the image (with the changes an isolate brings on top),
 * as for containers and sandboxes: refused at create, not found at boot. With `--init system`
 * the image's own init runs instead and the command is not looked up.
 */
async function requireCommand(spec: DriverSpec): Promise<void> {
  // without --init system; a missing layer is createVmDisk's not_found, reported next
  if (spec.init === 'system' || !spec.image.layers.every((l) => existsSync(l))) return;
  const stack = [...(spec.rootfsChanges ? [spec.rootfsChanges] : []), ...[...spec.image.layers].reverse()];
  const arg0 = spec.process.args[0];
  if (arg0 && !(await findExecutable(stack, arg0, spec.process.env, spec.process.cwd || '/')))
    throw new TandemError('invalid_argument', `executable "${arg0}" not found in the image`);
}
