/**
 * Launching a container's monitor (helpers/monitor, `tandem-monitor run`): one process spawn
 * that forks the detached monitor, which mounts the overlay rootfs in a private mount
 * namespace and runs ONE foreground `crun run`. The spawned process exits once crun has
 * written the container's pid (resolving with it), or with crun's error when the container
 * does not start. The monitor then lives on its own: the daemon may stop or die.
 */
import { spawn } from 'node:child_process';
import { TandemError } from '../../base/errors.js';
import type { IdMap } from './container-idmap.js';
import type { InstancePaths } from './container-paths.js';

export interface MonitorLaunch {
  monitorPath: string;
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
  /** `--userns auto`: image layers are mounted idmapped to this range. */
  idmap?: IdMap;
  signal?: AbortSignal;
}

/** The monitor's command line (exported for tests and the benchmark). */
export function monitorArgs(l: MonitorLaunch): string[] {
  const p = l.paths;
  const crun = [l.crunPath, '--root', l.crunRoot, 'run', '--bundle', p.bundle, '--pid-file', p.pidFifo];
  if (l.terminal) crun.push('--console-socket', p.console);
  crun.push(l.id);
  const opt = (name: string, value: string) => [`--${name}`, value];
  return [
    'run',
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
    '--',
    ...crun,
  ];
}

/** Starts the monitor; resolves with the container's pid once it runs. */
export function launchMonitor(l: MonitorLaunch): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(l.monitorPath, monitorArgs(l), {
      stdio: ['ignore', 'pipe', 'pipe'],
      signal: l.signal,
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
    });
    child.stderr.on('data', (b: Buffer) => {
      err += b.toString();
    });
    child.on('error', (e) =>
      reject(new TandemError('internal', `starting ${l.subject}: ${e.message}`, { cause: e })),
    );
    child.on('close', (code) => {
      const pid = Number.parseInt(out, 10);
      if (code === 0 && pid > 0) return resolve(pid);
      const why = err.trim().split('\n').slice(-2).join('; ') || `monitor exited with status ${code}`;
      reject(new TandemError('internal', `starting ${l.subject}: ${why}`));
    });
  });
}
