/**
 * Ends a QEMU that hangs on its way out. When the guest powers off, QEMU announces `SHUTDOWN` on
 * its QMP monitors and exits. Debian 12's QEMU 7.2 can instead deadlock in its monitor cleanup
 * when a QMP command comes in as it shuts down: found with a sandbox killed while its state was
 * read every 10 ms (one run in five never ended; gdb: the main thread waiting in
 * `monitor_cleanup`'s `aio_poll` while holding the big lock, the vCPU thread waiting for that
 * lock). The guest had reported its status and synced its disks; QEMU had nothing left to do.
 *
 * So after `SHUTDOWN` the watcher runs `endIfHung`: after a grace period, while QEMU is still
 * there, its CPU time and disk I/O are sampled once a second; a second without either (less than
 * `idleCpuTicks` of CPU, no bytes read or written) ends it with SIGKILL, while a busy QEMU (one
 * still flushing a disk image) is waited for, up to `maxMs`. The run's end is then recorded as
 * for any QEMU exit: the status the guest wrote, else 137.
 */
/** What the watchdog needs of one QEMU process (fakes in unit tests). */
export interface QemuExitProbe {
  /** Whether the guest's QEMU is still there (not a zombie, not a reused pid). */
  alive(): Promise<boolean>;
  /** CPU ticks and disk bytes used so far. */
  activity(): Promise<{ cpuTicks: number; ioBytes: number }>;
  /** SIGKILL, and wait for it to go. */
  kill(): Promise<void>;
  sleep(ms: number): Promise<void>;
  /** True once nobody needs the answer any more (the driver closed). */
  cancelled?(): boolean;
}

export interface WatchdogOptions {
  /** How long a shutting-down QEMU may take before it is looked at (default 3 s). */
  graceMs?: number;
  /** How long a busy one is waited for (default 60 s). */
  maxMs?: number;
  /** CPU ticks (1/100 s) per second below which QEMU counts as idle (default 5). */
  idleCpuTicks?: number;
}

export type WatchdogOutcome = 'exited' | 'killed' | 'cancelled';

/** Waits for a QEMU that announced SHUTDOWN to exit; kills it once it sits idle instead. */
export async function endIfHung(probe: QemuExitProbe, opts: WatchdogOptions = {}): Promise<WatchdogOutcome> {
  const graceMs = opts.graceMs ?? 3000;
  const maxMs = opts.maxMs ?? 60_000;
  const idleCpuTicks = opts.idleCpuTicks ?? 5;
  await probe.sleep(graceMs);
  let last: { cpuTicks: number; ioBytes: number } | undefined;
  for (let waited = graceMs; ; waited += 1000) {
    if (probe.cancelled?.()) return 'cancelled';
    if (!(await probe.alive())) return 'exited';
    const now = await probe.activity().catch(() => undefined);
    if (!now) return (await probe.alive()) ? 'cancelled' : 'exited';
    const idle = last && now.cpuTicks - last.cpuTicks < idleCpuTicks && now.ioBytes === last.ioBytes;
    if (idle || waited >= maxMs) {
      await probe.kill();
      return 'killed';
    }
    last = now;
    await probe.sleep(1000);
  }
}
