/**
 * Where the container driver keeps things. Everything of one driver hangs off its root (the
 * daemon's driver state dir), and the host-wide names it uses are derived from that root, so
 * two daemons never see each other's containers:
 *
 *   <root>/crun/                         crun --root
 *   <root>/instances/<id>/spec.json      the DriverSpec (written last: marks a complete create)
 *   <root>/instances/<id>/bundle/        config.json, hosts, hostname, resolv.conf, rootfs/ (mount point)
 *   <root>/instances/<id>/upper, work    overlay upper and work dirs (survive stop/start)
 *   <root>/instances/<id>/run/           monitor, pid, exit (the monitor's files), exec-*.json
 *   <root>/instances/<id>/logs/          console.log (+ .1 after rotation)
 *   cgroup  /tandem-<8 hex of sha256(root)>/<id>         limits, freezer, stats (ours)
 *           /tandem-<8 hex of sha256(root)>/<id>/ctr     the container's own group (crun's)
 */
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { TandemError } from '../../base/errors.js';

export interface DriverPaths {
  root: string;
  crunRoot: string;
  instances: string;
  /** Cgroup directory name under each hierarchy root, e.g. `tandem-1a2b3c4d`. */
  cgroupParent: string;
}

export interface InstancePaths {
  dir: string;
  spec: string;
  bundle: string;
  config: string;
  rootfs: string;
  upper: string;
  work: string;
  run: string;
  monitor: string;
  pid: string;
  exit: string;
  logs: string;
  log: string;
  hosts: string;
  hostname: string;
  resolv: string;
  /** Unix socket for the pty master of a terminal container (kept under 108 bytes). */
  console: string;
  /** Our cgroup (relative to the hierarchy roots) and crun's group below it. */
  cgroup: string;
  crunCgroup: string;
}

const ID_RE = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** Paths of the driver rooted at `root` (made absolute). */
export function driverPaths(root: string): DriverPaths {
  const abs = resolve(root);
  const hash = createHash('sha256').update(abs).digest('hex').slice(0, 8);
  return {
    root: abs,
    crunRoot: join(abs, 'crun'),
    instances: join(abs, 'instances'),
    cgroupParent: `tandem-${hash}`,
  };
}

/** Throws invalid_argument unless `id` is safe as a directory, cgroup and crun name. */
export function assertInstanceId(id: string): void {
  if (!ID_RE.test(id)) {
    throw new TandemError(
      'invalid_argument',
      `invalid instance id "${id}": use lowercase letters, digits, - and _`,
    );
  }
}

/** Paths of one instance. */
export function instancePaths(d: DriverPaths, id: string): InstancePaths {
  assertInstanceId(id);
  const dir = join(d.instances, id);
  const bundle = join(dir, 'bundle');
  const run = join(dir, 'run');
  const logs = join(dir, 'logs');
  const cgroup = `/${d.cgroupParent}/${id}`;
  return {
    dir,
    spec: join(dir, 'spec.json'),
    bundle,
    config: join(bundle, 'config.json'),
    rootfs: join(bundle, 'rootfs'),
    upper: join(dir, 'upper'),
    work: join(dir, 'work'),
    run,
    monitor: join(run, 'monitor'),
    pid: join(run, 'pid'),
    exit: join(run, 'exit'),
    logs,
    log: join(logs, 'console.log'),
    hosts: join(bundle, 'hosts'),
    hostname: join(bundle, 'hostname'),
    resolv: join(bundle, 'resolv.conf'),
    console: socketPath(join(run, 'console.sock')),
    cgroup,
    crunCgroup: `${cgroup}/ctr`,
  };
}

/** `path` itself when it fits a unix socket address, else a short unique name in the temp dir. */
export function socketPath(path: string): string {
  if (Buffer.byteLength(path) < 100) return path;
  return join(tmpdir(), `tandem-${createHash('sha256').update(path).digest('hex').slice(0, 16)}.sock`);
}
