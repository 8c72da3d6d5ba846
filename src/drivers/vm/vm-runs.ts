/**
 * The runtime truth of a root's VMs: QEMU (pid checked against /proc, QMP query-status) plus the
 * persisted record. Records the end of a run exactly once per driver object (the guest's status
 * file, else 137 when we killed it) and emits the backend's events; `started` holds back other
 * events of the same VM until the start completes, so listeners see started before exited.
 */
import type { Logger } from '../../base/log.js';
import { nowIso } from '../../base/time.js';
import type { RuntimeEvent, RuntimeState } from '../../core/driver.js';
import { endIfHung } from './qemu-exit-watchdog.js';
import { isGuestQemu, killQemu, processActivity, waitQemuGone } from './qemu-process.js';
import { removeVmCgroups } from './vm-cgroup.js';
import { VmChannels } from './vm-channels.js';
import { bootFailure, forceOff, runOutcome } from './vm-guest.js';
import { type VmRecord, VmRecords } from './vm-record.js';
import { VmWatcher } from './vm-watcher.js';

/** How long what QEMU said about pausing counts as current (see VmRuns.isPaused). */
const PAUSE_SEEN_MS = 500;

export class VmRuns {
  readonly records: VmRecords;
  readonly channels: VmChannels;
  readonly watcher: VmWatcher;
  private readonly listeners = new Set<(e: RuntimeEvent) => void>();
  private readonly starting = new Map<string, RuntimeEvent[]>();
  private readonly finishing = new Map<string, Promise<RuntimeState>>();
  private readonly pausedSeen = new Map<string, { paused: boolean; at: number }>();
  /** How many times notePaused ran (see isPaused). */
  private notes = 0;
  private closed = false;

  constructor(
    root: string,
    private readonly log: Logger,
    subdir?: string,
  ) {
    this.records = new VmRecords(root, subdir);
    this.channels = new VmChannels(this.records);
    this.watcher = new VmWatcher(
      this.records,
      (id) => this.observe(id).then(() => {}),
      (id) => void this.endIfHung(id),
    );
  }

  /** After QEMU announced SHUTDOWN: kills it if it sits there idle instead of exiting (qemu-exit-watchdog.ts). */
  private async endIfHung(id: string): Promise<void> {
    const rec = await this.records.read(id);
    if (!rec?.run || rec.run.finished) return;
    const { pid } = rec.run;
    const dir = this.records.dir(id);
    const outcome = await endIfHung({
      alive: () => isGuestQemu(pid, dir),
      activity: () => processActivity(pid),
      kill: () => killQemu(pid, dir),
      sleep: (ms) => new Promise((r) => setTimeout(r, ms).unref()),
      cancelled: () => this.closed,
    }).catch((err: Error) => {
      this.log.warn({ err, id }, 'vm: watching QEMU shut down');
      return 'cancelled' as const;
    });
    if (outcome === 'killed')
      this.log.warn({ id, pid }, 'vm: QEMU did not exit after the guest shut down and sat idle: killed it');
  }

  /** Subscribes to the VMs' events; returns the unsubscribe function. */
  onEvent(listener: (e: RuntimeEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Holds back events of `id` (a start is in progress) until `release(id)`. */
  hold(id: string): void {
    this.starting.set(id, []);
  }

  /** Delivers the events held for `id`. */
  release(id: string): void {
    const held = this.starting.get(id) ?? [];
    this.starting.delete(id);
    for (const e of held) this.emit(e);
  }

  /** Stops watching and closes connections; VMs keep running. */
  async close(): Promise<void> {
    this.closed = true;
    this.watcher.close();
    await this.channels.close();
  }

  /** The backend's truth; records the end of a run whose QEMU is gone (and emits `exited`). */
  async observe(id: string): Promise<RuntimeState> {
    await this.finishing.get(id)?.catch(() => undefined); // a run's end being recorded: wait for it
    const rec = await this.records.read(id);
    if (!rec) return { status: 'missing' };
    const dir = this.records.dir(id);
    const base = {
      exitCode: rec.exitCode,
      reason: rec.reason,
      startedAt: rec.run?.startedAt,
      finishedAt: rec.finishedAt,
      accel: rec.run?.accel,
    };
    if (!rec.run) return { status: 'created' };
    if (!rec.run.finished) {
      if (await isGuestQemu(rec.run.pid, dir)) {
        const paused = await this.isPaused(id);
        return {
          status: paused ? 'paused' : 'running',
          pid: rec.run.pid,
          startedAt: rec.run.startedAt,
          accel: rec.run.accel,
        };
      }
      return this.finish(rec);
    }
    return { status: 'stopped', ...base };
  }

  /**
   * Whether QEMU has the guest paused: QMP query-status, or what it said (or what we made it do)
   * less than PAUSE_SEEN_MS ago. Each query is a QMP connection, and a QMP command that comes in
   * as QEMU shuts down can hang its exit (qemu-exit-watchdog.ts): a caller polling state() gets
   * one query per PAUSE_SEEN_MS, not one per call.
   */
  private async isPaused(id: string): Promise<boolean> {
    const seen = this.pausedSeen.get(id);
    if (seen && Date.now() - seen.at < PAUSE_SEEN_MS) return seen.paused;
    const notes = this.notes;
    const qs = await this.channels.withQmp(id, (q) => q.execute('query-status'), 1000).catch(() => undefined);
    const paused = qs !== undefined && ['paused', 'suspended'].includes(qs.status);
    // an answer older than a stop/cont we made meanwhile is not kept
    if (qs !== undefined && this.notes === notes) this.pausedSeen.set(id, { paused, at: Date.now() });
    return paused;
  }

  /** What we just made QEMU do (stop, cont), for state() (see isPaused). */
  notePaused(id: string, paused: boolean): void {
    this.notes++;
    this.pausedSeen.set(id, { paused, at: Date.now() });
  }

  /** Records how a run ended, once (concurrent callers share one finish). */
  finish(rec: VmRecord): Promise<RuntimeState> {
    const have = this.finishing.get(rec.id);
    if (have) return have;
    const p = this.finishOnce(rec).finally(() => this.finishing.delete(rec.id));
    this.finishing.set(rec.id, p);
    return p;
  }

  private async finishOnce(rec: VmRecord): Promise<RuntimeState> {
    const dir = this.records.dir(rec.id);
    const fresh = (await this.records.read(rec.id)) ?? rec;
    if (fresh.run && !fresh.run.finished) {
      const out = await runOutcome(fresh, dir);
      Object.assign(fresh, { exitCode: out.exitCode, reason: out.reason, finishedAt: nowIso() });
      fresh.run.finished = true;
      await this.records.write(fresh);
      if (out.reason === 'oom-killed')
        this.emit({ id: rec.id, kind: 'oom-killed', time: fresh.finishedAt as string });
      this.emit({
        id: rec.id,
        kind: 'exited',
        exitCode: out.exitCode,
        reason: out.reason,
        time: fresh.finishedAt as string,
      });
      this.watcher.unwatch(rec.id);
      this.pausedSeen.delete(rec.id);
      await this.channels.drop(rec.id);
      await removeVmCgroups(fresh.run.cgroupDirs);
    }
    const { exitCode, reason, finishedAt } = fresh;
    return {
      status: 'stopped',
      exitCode,
      reason,
      finishedAt,
      startedAt: fresh.run?.startedAt,
      accel: fresh.run?.accel,
    };
  }

  /** True while the instance's QEMU runs (cheap: no QMP; for polling loops). */
  async qemuAlive(id: string): Promise<boolean> {
    const rec = await this.records.read(id);
    return !!rec?.run && !rec.run.finished && (await isGuestQemu(rec.run.pid, this.records.dir(id)));
  }

  emit(e: RuntimeEvent): void {
    const held = this.starting.get(e.id);
    if (held && e.kind !== 'started') {
      held.push(e);
      return;
    }
    for (const l of this.listeners) l(e);
  }

  /** Waits for the agent; a workload that already exited counts as started (its run ended). */
  async waitAgent(rec: VmRecord, bootTimeoutMs: number, signal?: AbortSignal): Promise<void> {
    const dir = this.records.dir(rec.id);
    try {
      await this.channels.agent(rec.id, bootTimeoutMs, signal);
    } catch (err) {
      const run = rec.run as NonNullable<VmRecord['run']>;
      if (!(await isGuestQemu(run.pid, dir))) {
        if ((await runOutcome(rec, dir)).exitCode !== undefined) return;
        throw await bootFailure(rec, dir, 'the guest stopped before its agent answered');
      }
      await forceOff(run, dir);
      throw await bootFailure(rec, dir, (err as Error).message);
    }
  }

  /** Presses the power button (after `cont` when paused); true when QEMU ended within the timeout. */
  async powerButton(rec: VmRecord, dir: string, paused: boolean, timeoutMs: number): Promise<boolean> {
    const run = rec.run as NonNullable<VmRecord['run']>;
    try {
      await this.channels.withQmp(rec.id, async (q) => {
        if (paused) {
          await q.execute('cont');
          this.notePaused(rec.id, false);
        }
        await q.execute('system_powerdown');
      });
    } catch (err) {
      this.log.warn({ err, id: rec.id }, 'vm: power button failed; forcing off');
      return false;
    }
    if (rec.spec.init === 'system') await this.ctrlAltDel(rec.id);
    return waitQemuGone(run.pid, dir, timeoutMs);
  }

  /**
   * Asks the image's own init to shut down, for images where nothing acts on the ACPI power
   * button (no logind or acpid): SIGINT to PID 1 is Ctrl-Alt-Del to every init (systemd,
   * sysvinit, busybox) and ends in a reboot, which QEMU (-no-reboot) turns into its exit.
   */
  async ctrlAltDel(id: string): Promise<void> {
    try {
      (await this.channels.agent(id, 3000)).sendSignal(0, 'SIGINT');
    } catch (err) {
      this.log.warn({ err, id }, 'vm: no agent to pass ctrl-alt-del to the guest init');
    }
  }

  /** Forced power-off; the run then ends with 137 unless the guest reported a status. */
  async kill9(rec: VmRecord, dir: string): Promise<void> {
    const cur = (await this.records.read(rec.id)) ?? rec;
    if (!cur.run || cur.run.finished) return;
    cur.run.killRequested = true;
    await this.records.write(cur);
    await forceOff(cur.run, dir);
  }

  /** Watches the VMs that run after a restart of the driver (or of the daemon). */
  async reconcile(): Promise<void> {
    for (const id of await this.records.list()) {
      const st = await this.observe(id);
      if (st.status === 'running' || st.status === 'paused') this.watcher.watch(id);
    }
  }
}
