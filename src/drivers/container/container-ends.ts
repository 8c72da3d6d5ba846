/**
 * Reports each run's end exactly once: `exited` (after `oom-killed` when the kernel killed it
 * for memory) from the monitor's exit record, or `failed` when the monitor died without one.
 * Ends are noticed by the run-dir watcher (inotify plus a periodic sweep) and by the driver's
 * own calls (stop waits for the end and reports it before returning, so a following start's
 * `started` never precedes it). A new tracker marks the ends that happened before it existed
 * as already reported: those are for `state()` and the daemon's reconcile, not events.
 */
import { nowIso } from '../../base/time.js';
import type { RuntimeEvent } from '../../core/driver.js';
import { type DriverPaths, instancePaths } from './container-paths.js';
import {
  type ExitRecord,
  exitReason,
  parseExit,
  parseMonitor,
  processStartTime,
  readOptional,
} from './container-state.js';
import { RunDirWatcher } from './run-dir-watcher.js';

export class RunEnds {
  /** id → the run whose end was reported (or existed before this tracker). */
  private readonly reported = new Map<string, string>();
  private readonly watcher: RunDirWatcher;

  constructor(
    private readonly dp: DriverPaths,
    private readonly emit: (e: RuntimeEvent) => void,
    private readonly onExit: (id: string, exit: ExitRecord) => void,
    onError: (err: unknown, id: string) => void,
  ) {
    this.watcher = new RunDirWatcher((id) => {
      this.notice(id).catch((err) => onError(err, id));
    });
  }

  /** Takes note of an existing instance at start-up: old ends are not news; live runs are watched. */
  adopt(id: string): void {
    const p = instancePaths(this.dp, id);
    const mon = parseMonitor(readOptional(p.monitor));
    const exit = parseExit(readOptional(p.exit));
    if (exit) this.reported.set(id, exit.runId);
    if (mon && processStartTime(mon.pid) === mon.startTime) this.watcher.watch(id, p.run);
    else if (mon) this.reported.set(id, exit?.runId === mon.runId ? exit.runId : mon.runId);
  }

  /** Watches a run that just started, and reports it at once if it already ended. */
  async started(id: string): Promise<void> {
    this.watcher.watch(id, instancePaths(this.dp, id).run);
    await this.notice(id);
  }

  /** Forgets a deleted instance. */
  forget(id: string): void {
    this.watcher.unwatch(id);
    this.reported.delete(id);
  }

  /** Reports the current run's end if it ended and was not reported yet. */
  async notice(id: string): Promise<void> {
    const p = instancePaths(this.dp, id);
    const mon = parseMonitor(readOptional(p.monitor));
    const exit = parseExit(readOptional(p.exit));
    if (exit && (!mon || exit.runId === mon.runId)) {
      if (!this.claim(id, exit.runId)) return;
      this.onExit(id, exit);
      const base = { id, exitCode: exit.exitCode, time: exit.finishedAt };
      if (exit.oomKilled) this.emit({ ...base, kind: 'oom-killed', reason: 'oom-killed' });
      this.emit({ ...base, kind: 'exited', reason: exitReason(exit) });
      return;
    }
    if (!mon || processStartTime(mon.pid) === mon.startTime) return;
    if (parseExit(readOptional(p.exit))?.runId === mon.runId) return this.notice(id);
    const pid = Number.parseInt(readOptional(p.pid) ?? '', 10);
    if (pid > 0 && processStartTime(pid) !== undefined) return; // monitor lost, container lives
    if (!this.claim(id, mon.runId)) return;
    const reason = 'failed: the monitor died before recording the exit';
    this.emit({ id, kind: 'failed', reason, time: nowIso() });
  }

  /** Marks `runId` reported; false when it already was (no await between check and set). */
  private claim(id: string, runId: string): boolean {
    if (this.reported.get(id) === runId) return false;
    this.reported.set(id, runId);
    this.watcher.unwatch(id);
    return true;
  }

  close(): void {
    this.watcher.close();
  }
}
