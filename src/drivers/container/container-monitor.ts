/**
 * Launching a container's monitor (helpers/monitor, `tandem-monitor run`, forked by the
 * driver's launcher: monitor-launcher.ts): the monitor detaches, mounts the overlay rootfs in a
 * private mount namespace and runs ONE foreground `crun run`; the launch resolves once crun
 * has written the container's pid, or rejects with crun's error when the container does not
 * start. The monitor then lives on its own: the daemon may stop or die.
 */
import type { IdMap } from './container-idmap.js';
import type { InstancePaths } from './container-paths.js';
import type { MonitorLauncher } from './monitor-launcher.js';

export interface MonitorLaunch {
  crunPath: string;
  crunRoot: string;
  id: string;
  /** Names what is starting in errors, e.g. `instance "web"`. */
  subject: string;
  paths: InstancePaths;
  /** The driver's mnt dir, covered by a private tmpfs in the monitor's namespace. */
  scratch: string;
  runId: string;
  /** Image layer directories, bottom first. */
  layers: readonly string[];
  logMaxBytes: number;
  oom: { v1?: string; v2?: string };
  terminal: boolean;
  /** Keep the workload's stdin open for attach clients. */
  stdin: boolean;
  /** After the exit, keep the attach socket this long for a client that attaches late (0: no). */
  lingerMs?: number;
  /** `--userns auto`: image layers are mounted idmapped to this range. */
  idmap?: IdMap;
  signal?: AbortSignal;
}

/** The arguments of `tandem-monitor run` for this launch (exported for tests and the benchmark). */
export function monitorArgs(l: MonitorLaunch): string[] {
  const p = l.paths;
  const crun = [l.crunPath, '--root', l.crunRoot, 'run', '--bundle', p.bundle, '--pid-file', p.pidFifo];
  if (l.terminal) crun.push('--console-socket', p.console);
  crun.push(l.id);
  const opt = (name: string, value: string) => [`--${name}`, value];
  return [
    ...opt('dir', p.run),
    ...opt('run-id', l.runId),
    ...opt('log', p.log),
    ...opt('log-max', String(l.logMaxBytes)),
    ...opt('lower', [...l.layers].reverse().join(':')),
    ...opt('upper', p.upper),
    ...opt('work', p.work),
    ...opt('merged', p.rootfs),
    ...opt('scratch', l.scratch),
    ...(l.idmap ? opt('idmap', `${l.idmap.hostId}:${l.idmap.size}`) : []),
    ...(l.oom.v1 ? opt('oom-v1', l.oom.v1) : []),
    ...(l.oom.v2 ? opt('oom-v2', l.oom.v2) : []),
    ...(l.terminal ? opt('console-socket', p.console) : []),
    ...opt('attach', p.attach),
    ...(l.stdin ? ['--stdin'] : []),
    ...(l.lingerMs ? opt('linger-ms', String(l.lingerMs)) : []),
    '--',
    ...crun,
  ];
}

/** Starts the monitor through the driver's launcher; resolves with the container's pid once it runs. */
export function launchMonitor(l: MonitorLaunch, launcher: MonitorLauncher): Promise<number> {
  return launcher.launch(monitorArgs(l), l.subject, l.signal);
}
