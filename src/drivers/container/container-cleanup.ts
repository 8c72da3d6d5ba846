/**
 * Cleaning host state. At start-up, `sweepOrphans` removes what a crash left behind (issue 3,
 * "Reconcile"): cgroups, run dirs and crun state of ids that have no instance directory (a
 * delete or create interrupted at the wrong moment). Only names under this driver's own root,
 * run root and cgroup parent are looked at, so another daemon's containers are never touched;
 * each candidate is re-checked just before it goes, as a create may be making it right now.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, renameSync, rmdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../base/log.js';
import { run } from '../../base/proc.js';
import { waitFor } from '../../base/time.js';
import { type Cgroup, type CgroupLayout, detectCgroupLayout, openCgroup } from '../common/cgroup.js';
import { killQuietly } from '../common/cgroup-fs.js';
import { type DriverPaths, driverPaths, type InstancePaths, instancePaths } from './container-paths.js';
import { parseExit, parseMonitor, processStartTime, readOptional } from './container-state.js';

const ID_RE = /^[a-z0-9][a-z0-9_-]{0,63}$/;

function names(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory() && ID_RE.test(e.name))
      .map((e) => e.name);
  } catch {
    return [];
  }
}

/** Removes orphans of this driver; logs and carries on when one cannot go. */
export async function sweepOrphans(
  dp: DriverPaths,
  layout: CgroupLayout,
  crun: string,
  log: Logger,
): Promise<void> {
  const orphan = (id: string) => !existsSync(join(dp.instances, id));
  const runDirs = names(dp.runRoot).filter((n) => n !== 'crun' && n !== 'mnt' && n !== '.trash' && orphan(n));
  for (const id of runDirs) {
    if (!orphan(id)) continue;
    const p = instancePaths(dp, id);
    const mon = parseMonitor(readOptional(p.monitor));
    if (mon && processStartTime(mon.pid) === mon.startTime) process.kill(mon.pid, 'SIGKILL');
    rmSync(p.run, { recursive: true, force: true });
    log.info({ id }, 'removed the run dir of a deleted container');
  }
  for (const id of names(dp.crunRoot).filter(orphan)) {
    if (!orphan(id)) continue;
    await run(crun, ['--root', dp.crunRoot, 'delete', '--force', id]);
    log.info({ id }, 'removed the crun state of a deleted container');
  }
  const groups = new Set(layout.all.flatMap((h) => names(join(h, dp.cgroupParent))));
  for (const id of [...groups].filter(orphan)) {
    if (!orphan(id)) continue;
    await openCgroup(layout, `/${dp.cgroupParent}/${id}`)
      .remove()
      .then(() => log.info({ id }, 'removed the cgroup of a deleted container'))
      .catch((err) => log.warn({ err, id }, 'removing the cgroup of a deleted container'));
  }
}

/**
 * Ends a monitor that has not recorded its run's end (it was lost or is stuck): waits a
 * little, then kills it. A monitor that wrote the record is already on its way out (its exit
 * tears down its mount namespace, which is not worth waiting for) — unless it was told to
 * linger for a late attach client (`lingering`): then SIGTERM ends it, and it is waited for.
 */
export async function endMonitor(p: InstancePaths, lingering = false): Promise<void> {
  const mon = parseMonitor(readOptional(p.monitor));
  if (!mon) return;
  const gone = () => (processStartTime(mon.pid) === mon.startTime ? undefined : true);
  if (parseExit(readOptional(p.exit))?.runId === mon.runId) {
    if (!lingering || gone()) return;
    killQuietly(mon.pid, 'SIGTERM');
    if (await waitFor(gone, 2000, 2)) return;
  } else if (await waitFor(gone, 2000, 5)) return;
  killQuietly(mon.pid, 'SIGKILL');
  await waitFor(gone, 2000, 5);
}

/**
 * Takes a deleted container's things off the host once its workload ended: its monitor (a
 * lingering one too), crun's state, its cgroup, and — by renames, at once — its instance and run
 * dirs, into the trashes. Returns the renamed dirs, for removal in the background (their files
 * are a disk's worth of journal work, and the run dir's sockets and records).
 */
export async function releaseInstance(r: {
  dp: DriverPaths;
  p: InstancePaths;
  cg: Cgroup;
  crun: string;
  id: string;
  lingering: boolean;
}): Promise<string[]> {
  const { dp, p, id } = r;
  await endMonitor(p, r.lingering);
  await clearCrunState(r.crun, dp.crunRoot, id);
  await r.cg.remove();
  if (!p.console.startsWith(p.run)) rmSync(p.console, { force: true });
  const suffix = `${id}-${randomBytes(4).toString('hex')}`;
  const doomed = [join(dp.trash, suffix)];
  renameSync(p.dir, doomed[0]!);
  if (existsSync(p.run)) {
    doomed.push(join(dp.runTrash, suffix));
    renameSync(p.run, doomed[1]!);
  }
  return doomed;
}

/** Removes crun's state of a container whose crun did not clean up (it was killed). */
export async function clearCrunState(crun: string, crunRoot: string, id: string): Promise<void> {
  if (!existsSync(join(crunRoot, id))) return;
  await run(crun, ['--root', crunRoot, 'delete', '--force', id]);
}

/**
 * Removes what the driver rooted at `root` keeps outside it — its cgroup parent in every
 * hierarchy and its run root — once no instance is left (tests and teardown; a running daemon
 * keeps them). Never throws; leaves anything still in use.
 */
export async function removeDriverHostState(root: string, runRoot?: string): Promise<void> {
  const layout = await detectCgroupLayout();
  const d = driverPaths(root, runRoot);
  const dirs = [...layout.all.map((h) => join(h, d.cgroupParent)), d.crunRoot, d.mnt, d.runTrash, d.runRoot];
  for (const dir of dirs) {
    try {
      rmdirSync(dir);
    } catch {}
  }
}
