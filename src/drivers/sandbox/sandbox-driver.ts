/**
 * The sandbox driver: an OCI image run inside a microVM with the container experience. It is
 * the VM driver's machinery (GuestDriver: one detached QEMU per instance, QMP, the guest agent,
 * the same kernel and init) with a container's rootfs instead of a disk: the image's layers and
 * a per-instance upper dir form an overlay that QEMU mounts in a mount namespace of its own and
 * shares with the guest over virtio-9p. The guest's init switches to that share and runs the
 * workload as crun would (sandbox.c): its own pid/mount/uts/ipc/cgroup namespaces, a cgroup with
 * the memory and pids limits, the container's capabilities; execs join it. Guest RAM is the
 * memory limit plus the guest's own overhead; --cpus are vCPUs (a fraction is a quota on QEMU).
 * On a bridge network the guest has a NIC on the daemon's tap and the workload, which shares the
 * guest's network namespace, sees the network's hosts file (vm/guest-network.ts).
 *
 * Host layout under `root`: `instances/<id>/` (record, sockets, logs as for a VM, plus the
 * overlay's `upper`, `work` and the `rootfs` mount point), `exports/` (changes for isolate).
 */
import { readFile } from 'node:fs/promises';
import { TandemError } from '../../base/errors.js';
import { run } from '../../base/proc.js';
import { nowIso } from '../../base/time.js';
import type { DriverSpec, ResourceUsage } from '../../core/driver.js';
import type { Limits } from '../../core/instance.js';
import { copyChanges, exportPath } from '../common/rootfs-changes.js';
import { type BootPlan, GuestDriver, type GuestDriverOptions, requireTool } from '../vm/guest-driver.js';
import { processCpuSeconds, processRssBytes } from '../vm/qemu-process.js';
import type { VmRecord } from '../vm/vm-record.js';
import { createSandbox, sandboxPaths } from './sandbox-create.js';
import {
  checkSandboxLimits,
  checkSandboxSpec,
  guestMemoryBytes,
  sandboxGuestConfig,
  sandboxShares,
} from './sandbox-spec.js';

export type SandboxDriverOptions = GuestDriverOptions;

/** The InstanceDriver for `sandbox` instances (a container image in a microVM). */
export class SandboxDriver extends GuestDriver {
  readonly type = 'sandbox' as const;
  /** The last figures the guest gave per instance (its QEMU pid with them), shown while paused. */
  private readonly lastUsage = new Map<string, { pid: number; usage: ResourceUsage }>();

  constructor(opts: SandboxDriverOptions) {
    super(opts, 'instances');
  }

  protected features(): string[] {
    return [
      'console',
      'tty',
      'exec',
      'stats',
      'attach',
      'pause',
      'logs',
      'oom',
      'volumes',
      'capabilities',
      'privileged',
      'read-only',
      'rootfs-changes',
      'network-bridge',
      'ports',
    ];
  }

  protected async probeHost(): Promise<void> {
    await requireTool('unshare', 'install util-linux');
    const hasOverlay = async () =>
      /\toverlay$/m.test(await readFile('/proc/filesystems', 'utf8').catch(() => ''));
    if (await hasOverlay()) return;
    await run('modprobe', ['overlay']).catch(() => undefined);
    if (!(await hasOverlay()))
      throw new TandemError('unavailable', 'the host kernel has no overlay filesystem (modprobe overlay)');
  }

  protected checkSpec(spec: DriverSpec): void {
    checkSandboxSpec(spec);
  }

  /** Guest RAM: the workload's limit plus the guest's own overhead (or the default). */
  footprint(limits: Limits): { memoryBytes: number } {
    return { memoryBytes: guestMemoryBytes(limits.memoryBytes) };
  }

  protected checkLimits(name: string, limits: Limits): void {
    checkSandboxLimits(name, limits);
  }

  protected createHost(spec: DriverSpec): Promise<void> {
    return createSandbox(this.records, spec);
  }

  protected async bootPlan(rec: VmRecord, dir: string): Promise<BootPlan> {
    const p = sandboxPaths(dir);
    return {
      config: sandboxGuestConfig(rec.spec),
      disks: [],
      shares: sandboxShares(rec.spec, p.rootfs),
      overlay: {
        lower: [...rec.spec.image.layers].reverse(),
        upper: p.upper,
        work: p.work,
        target: p.rootfs,
      },
      memoryBytes: guestMemoryBytes(rec.spec.limits.memoryBytes),
    };
  }

  /**
   * The workload cgroup's figures from the guest. A paused guest cannot answer, but nothing in it
   * changes either: the last figures stand (QEMU's own CPU time and RSS when there are none).
   */
  protected async usage(rec: VmRecord, pid: number, paused: boolean): Promise<ResourceUsage> {
    const limit = rec.spec.limits.memoryBytes ?? guestMemoryBytes(undefined);
    const s = paused
      ? undefined
      : await this.runs.channels
          .agent(rec.id, 3000)
          .then((a) => a.stats(3000))
          .catch(() => undefined);
    if (!s || s.memory < 0) {
      const last = this.lastUsage.get(rec.id);
      if (paused && last?.pid === pid) return { ...last.usage, time: nowIso() };
      const [cpuSeconds, memoryBytes] = [await processCpuSeconds(pid), await processRssBytes(pid)];
      return { time: nowIso(), cpuSeconds, memoryBytes, memoryLimitBytes: limit };
    }
    const usage: ResourceUsage = {
      time: nowIso(),
      cpuSeconds: Math.max(0, s.cpuUsec) / 1e6,
      memoryBytes: Math.max(0, s.memory - Math.max(0, s.inactiveFile)),
      ...(s.peak >= 0 ? { memoryPeakBytes: s.peak } : {}),
      memoryLimitBytes: limit,
      ...(s.pids >= 0 ? { pids: s.pids } : {}),
    };
    this.lastUsage.set(rec.id, { pid, usage });
    return usage;
  }

  override async pause(id: string): Promise<void> {
    if ((await this.runs.observe(id)).status === 'running') await this.stats(id).catch(() => undefined);
    await super.pause(id);
  }

  override async delete(id: string, opts: { force?: boolean }): Promise<void> {
    await super.delete(id, opts);
    this.lastUsage.delete(id);
  }

  /** Copies a stopped sandbox's rootfs changes (its upper dir, by hard links) for `isolate`; conflict unless stopped. */
  async exportRootfsChanges(id: string): Promise<string> {
    await this.stoppedRecord(id);
    return this.locked(id, async () => {
      const dest = await exportPath(this.opts.root);
      await copyChanges(sandboxPaths(this.records.dir(id)).upper, dest);
      return dest;
    });
  }
}
