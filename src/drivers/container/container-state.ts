/**
 * The truth about one container, from the files its monitor keeps (run/monitor, run/pid,
 * run/exit) and the freezer. `readRunFiles` gathers them; `deriveState` decides, in order:
 *   - an exit record of the current monitor's run: stopped, with its code (and OOM);
 *   - a live monitor: running or paused once crun wrote the pid (also while the monitor records
 *     an exit), before that the previous state (the start is not done);
 *   - a dead monitor without a record but a live container (the monitor was killed): running;
 *   - a dead monitor without a record: stopped, failed;
 *   - an older exit record: stopped; nothing at all: created.
 * Without a run dir (tmpfs: none before the first start, none after a reboot) the copies on
 * disk decide: the last exit record, else "started once" means the host restarted under it.
 * Processes are identified by pid and start time, so a recycled pid is never mistaken.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { constants } from 'node:os';
import { sleep } from '../../base/time.js';
import type { RuntimeState } from '../../core/driver.js';
import type { Cgroup } from '../common/cgroup.js';
import type { InstancePaths } from './container-paths.js';

/** What the monitor writes when the container ends (see helpers/monitor/run.c). */
export interface ExitRecord {
  runId: string;
  pid: number;
  exitCode: number;
  oomKilled: boolean;
  startedAt: string;
  finishedAt: string;
}

export interface MonitorRecord {
  pid: number;
  startTime: number;
  runId: string;
}

export interface RunFiles {
  complete: boolean;
  /** The tmpfs run dir is gone (never started, or the host rebooted): the disk copies count. */
  runDirMissing: boolean;
  startedMark: boolean;
  exitCopy?: ExitRecord;
  monitor?: MonitorRecord;
  monitorAlive: boolean;
  /** The container's init (catatonit) as crun wrote it, and whether it lives. */
  pid?: number;
  pidAlive: boolean;
  startedAt?: string;
  exit?: ExitRecord;
  frozen: boolean;
}

/** The container's state now: its monitor's files, and the freezer when it runs. */
export async function stateOf(p: InstancePaths, cg: Cgroup): Promise<RuntimeState> {
  return deriveState(await readRunFiles(p, async () => (await cg.freezeState()) !== 'thawed'));
}

/** Whether a workload is there: running or paused. */
export function isActive(state: RuntimeState): boolean {
  return state.status === 'running' || state.status === 'paused';
}

/** Waits until the container is no longer running or paused; false on timeout. */
export async function waitEnd(p: InstancePaths, cg: Cgroup, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (!isActive(await stateOf(p, cg))) return true;
    if (Date.now() >= deadline) return false;
    await sleep(Math.min(15, Math.max(1, deadline - Date.now())));
  }
}

/** Decides the runtime state from the monitor's files (see the module comment). */
export function deriveState(f: RunFiles): RuntimeState {
  if (!f.complete) return { status: 'stopped', reason: 'failed: incomplete create' };
  if (f.runDirMissing) {
    if (f.exitCopy) return exitState(f.exitCopy);
    if (f.startedMark) return { status: 'stopped', reason: 'failed: the host restarted while it ran' };
    return { status: 'created' };
  }
  const mon = f.monitor;
  if (f.exit && (!mon || f.exit.runId === mon.runId)) return exitState(f.exit);
  if (mon && f.monitorAlive && f.pid) {
    // a dead init with a live monitor is an exit being recorded: still running until then
    return { status: f.frozen ? 'paused' : 'running', pid: f.pid, startedAt: f.startedAt };
  }
  if (mon && !f.monitorAlive && f.pid && f.pidAlive) {
    return {
      status: f.frozen ? 'paused' : 'running',
      pid: f.pid,
      startedAt: f.startedAt,
      reason: 'monitor lost',
    };
  }
  if (mon && !f.monitorAlive && f.pid) {
    return {
      status: 'stopped',
      reason: 'failed: the monitor died before recording the exit',
      startedAt: f.startedAt,
    };
  }
  if (f.exit) return exitState(f.exit);
  return { status: 'created' };
}

function exitState(e: ExitRecord): RuntimeState {
  return {
    status: 'stopped',
    exitCode: e.exitCode,
    reason: exitReason(e),
    startedAt: e.startedAt,
    finishedAt: e.finishedAt,
  };
}

/** 'oom-killed', 'killed by SIGNAME' (status 128+N) or 'exited'. */
export function exitReason(e: Pick<ExitRecord, 'exitCode' | 'oomKilled'>): string {
  if (e.oomKilled) return 'oom-killed';
  if (e.exitCode > 128 && e.exitCode < 128 + 65) {
    const name = Object.entries(constants.signals).find(([, n]) => n === e.exitCode - 128)?.[0];
    if (name) return `killed by ${name}`;
  }
  return 'exited';
}

/** Reads the monitor's files of one instance; `frozen` is asked only for a live container. */
export async function readRunFiles(p: InstancePaths, frozen: () => Promise<boolean>): Promise<RunFiles> {
  const complete = existsSync(p.spec); // written last, atomically
  if (!existsSync(p.run)) {
    const exitCopy = parseExit(readOptional(p.exitCopy));
    const startedMark = existsSync(p.startedMark);
    return {
      complete,
      runDirMissing: true,
      startedMark,
      exitCopy,
      monitorAlive: false,
      pidAlive: false,
      frozen: false,
    };
  }
  const monitor = parseMonitor(readOptional(p.monitor));
  const exit = parseExit(readOptional(p.exit));
  if (exit && (!monitor || exit.runId === monitor.runId)) {
    // the current run's end is recorded: that decides, no process needs looking at
    return {
      complete,
      runDirMissing: false,
      startedMark: true,
      monitor,
      exit,
      monitorAlive: false,
      pidAlive: false,
      frozen: false,
    };
  }
  const pidText = readOptional(p.pid);
  const pid = pidText ? Number.parseInt(pidText, 10) || undefined : undefined;
  const monitorAlive = monitor ? processStartTime(monitor.pid) === monitor.startTime : false;
  const pidAlive = pid ? processStartTime(pid) !== undefined : false;
  const startedAt = pid ? mtimeIso(p.pid) : undefined;
  return {
    complete,
    runDirMissing: false,
    startedMark: true,
    monitor,
    monitorAlive,
    pid,
    pidAlive,
    startedAt,
    exit,
    frozen: pidAlive ? await frozen() : false,
  };
}

/** A small file's text, or undefined when it cannot be read (synchronous: see cgroup-fs.ts). */
export function readOptional(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function mtimeIso(path: string): string | undefined {
  return statSync(path, { throwIfNoEntry: false })?.mtime.toISOString();
}

/** Parses "pid starttime runId". */
export function parseMonitor(text: string | undefined): MonitorRecord | undefined {
  const [pid, start, runId] = (text ?? '').trim().split(/\s+/);
  if (!pid || !start || !runId) return undefined;
  return { pid: Number(pid), startTime: Number(start), runId };
}

/** Parses the exit record; undefined when missing or malformed. */
export function parseExit(text: string | undefined): ExitRecord | undefined {
  if (!text) return undefined;
  try {
    const e = JSON.parse(text) as ExitRecord;
    return typeof e.runId === 'string' && typeof e.exitCode === 'number' ? e : undefined;
  } catch {
    return undefined;
  }
}

/** Start time (clock ticks since boot) of a live, non-zombie process; undefined otherwise. */
export function processStartTime(pid: number): number | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  const text = readOptional(`/proc/${pid}/stat`);
  if (!text) return undefined;
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  if (fields[0] === 'Z' || fields[0] === 'X') return undefined;
  return Number(fields[19]);
}
