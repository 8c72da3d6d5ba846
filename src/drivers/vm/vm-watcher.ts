/**
 * Notices the end of running VMs without being asked: one connection per VM to its second QMP
 * monitor (the first serves short-lived command connections). When QEMU exits the socket
 * closes and `onGone` runs (the driver records the run's end and emits `exited`); while the
 * VM still runs the watcher reconnects. QEMU's `SHUTDOWN` event runs `onShutdown` (the driver
 * then makes sure QEMU really goes: qemu-exit-watchdog.ts). It also keeps the VM's log files
 * under their caps.
 */
import { join } from 'node:path';
import { capLog } from './log-file.js';
import { GUEST_FILES } from './qemu-args.js';
import { QmpClient } from './qmp-client.js';
import type { VmRecords } from './vm-record.js';

/** Caps of the serial console log and the workload's log. */
export const LOG_CAPS = { console: 1024 * 1024, workload: 8 * 1024 * 1024 };

interface Watch {
  client?: QmpClient;
  timer: NodeJS.Timeout;
  stopped: boolean;
}

export class VmWatcher {
  private readonly watches = new Map<string, Watch>();

  constructor(
    private readonly records: VmRecords,
    private readonly onGone: (id: string) => Promise<void>,
    private readonly onShutdown: (id: string) => void = () => {},
  ) {}

  /** Starts watching `id` (no-op when watched already). */
  watch(id: string): void {
    if (this.watches.has(id)) return;
    const dir = this.records.dir(id);
    const cap = () => {
      void capLog(join(dir, GUEST_FILES.consoleLog), LOG_CAPS.console).catch(() => {});
      void capLog(join(dir, GUEST_FILES.workloadLog), LOG_CAPS.workload).catch(() => {});
    };
    const w: Watch = { timer: setInterval(cap, 30_000), stopped: false };
    w.timer.unref();
    this.watches.set(id, w);
    void this.loop(id, w);
  }

  /** Stops watching `id`. */
  unwatch(id: string): void {
    const w = this.watches.get(id);
    if (!w) return;
    this.watches.delete(id);
    w.stopped = true;
    clearInterval(w.timer);
    void w.client?.close();
  }

  /** Stops every watch. */
  close(): void {
    for (const id of [...this.watches.keys()]) this.unwatch(id);
  }

  private async loop(id: string, w: Watch): Promise<void> {
    while (!w.stopped) {
      const client = new QmpClient(join(this.records.dir(id), GUEST_FILES.qmpEvents));
      w.client = client;
      const ended = new Promise<void>((resolve) => client.onClose(() => resolve()));
      client.onEvent((e) => {
        if (e.event === 'SHUTDOWN' && !w.stopped) this.onShutdown(id);
      });
      try {
        await client.connect({ timeoutMs: 60_000 });
        await ended;
      } catch {
        // not reachable: QEMU gone, or another watcher holds the monitor
      }
      if (w.stopped) return;
      await this.onGone(id).catch(() => {});
      if (!w.stopped) await new Promise((r) => setTimeout(r, 500).unref());
    }
  }
}
