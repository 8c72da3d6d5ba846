/**
 * Where the container driver keeps things. Everything of one driver hangs off its root (the
 * daemon's driver state dir, on disk) and its run root (tmpfs, default /run/tandem-<hash>),
 * and the host-wide names it uses derive from the root, so two daemons never see each other's
 * containers. What changes on every start and exit lives on tmpfs: metadata writes on a busy
 * disk journal cost milliseconds each, and they sit on the launch path.
 *
 *   <root>/instances/<id>/spec.json      the DriverSpec (written last: marks a complete create)
 *   <root>/instances/<id>/bundle/        config.json, hosts, hostname, resolv.conf
 *   <root>/instances/<id>/upper, work    overlay upper and work dirs (survive stop/start)
 *   <root>/instances/<id>/logs/          console.log (+ .1 after rotation)
 *   <root>/instances/<id>/started, exit.json   copies that outlive a host reboot (written lazily)
 *   <root>/trash/                        deleted instances on their way out (removed in background)
 *   <run>/crun/                          crun --root
 *   <run>/.trash/                        run dirs of deleted instances (removed in background)
 *   <run>/mnt/                           empty: each monitor covers it with a private tmpfs
 *                                        holding the rootfs mount point <id>/
 *   <run>/<id>/                          monitor, pid(.fifo), exit (the monitor's files),
 *                                        console and attach sockets, exec-*.json
 *   cgroup  /tandem-<8 hex of sha256(root)>/<id>         limits, freezer, stats (ours)
 *           /tandem-<8 hex of sha256(root)>/<id>/ctr     the container's own group (crun's)
 */
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { TandemError } from '../../base/errors.js';

export interface DriverPaths {
  root: string;
  instances: string;
  trash: string;
  /** tmpfs directory for per-run state. */
  runRoot: string;
  /** Run dirs of deleted instances on their way out (a name no instance id can take). */
  runTrash: string;
  crunRoot: string;
  /** Covered by a private tmpfs in each monitor's mount namespace (see helpers/monitor/run.c). */
  mnt: string;
  /** Cgroup directory name under each hierarchy root, e.g. `tandem-1a2b3c4d`. */
  cgroupParent: string;
}

export interface InstancePaths {
  dir: string;
  spec: string;
  bundle: string;
  config: string;
  hosts: string;
  hostname: string;
  resolv: string;
  upper: string;
  work: string;
  logs: string;
  log: string;
  /** On-disk marker and exit copy, for the state after a host reboot wiped the run dir. */
  startedMark: string;
  exitCopy: string;
  /** The overlay mount point: exists only inside the monitor's mount namespace. */
  rootfs: string;
  run: string;
  monitor: string;
  pid: string;
  /** Where crun writes the pid: a FIFO the monitor reads to learn that the container runs. */
  pidFifo: string;
  exit: string;
  /** Unix socket for the pty master of a terminal container (kept under 108 bytes). */
  console: string;
  /** The monitor's attach socket (helpers/monitor/attach.c). */
  attach: string;
  /** Our cgroup (relative to the hierarchy roots) and crun's group below it. */
  cgroup: string;
  crunCgroup: string;
}

const ID_RE = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** Paths of the driver rooted at `root` (made absolute), with run state under `runRoot`. */
export function driverPaths(root: string, runRoot?: string): DriverPaths {
  const abs = resolve(root);
  const hash = createHash('sha256').update(abs).digest('hex').slice(0, 8);
  const run = resolve(runRoot ?? `/run/tandem-${hash}`);
  return {
    root: abs,
    instances: join(abs, 'instances'),
    trash: join(abs, 'trash'),
    runRoot: run,
    runTrash: join(run, '.trash'),
    crunRoot: join(run, 'crun'),
    mnt: join(run, 'mnt'),
    cgroupParent: `tandem-${hash}`,
  };
}

/** Throws invalid_argument unless `id` is safe as a directory, cgroup and crun name. */
export function assertInstanceId(id: string): void {
  if (!ID_RE.test(id) || id === 'crun' || id === 'mnt') {
    throw new TandemError(
      'invalid_argument',
      `invalid instance id "${id}": use lowercase letters, digits, - and _`,
    );
  }
}

/** Recently asked instance paths per driver (every driver call asks; a launch makes dozens). */
const recent = new WeakMap<DriverPaths, Map<string, InstancePaths>>();
const RECENT_MAX = 256;

/** Paths of one instance (frozen: shared between callers). */
export function instancePaths(d: DriverPaths, id: string): InstancePaths {
  let known = recent.get(d);
  if (!known) {
    known = new Map();
    recent.set(d, known);
  }
  const hit = known.get(id);
  if (hit) return hit;
  const p = Object.freeze(computePaths(d, id));
  known.set(id, p);
  if (known.size > RECENT_MAX) known.delete(known.keys().next().value!);
  return p;
}

function computePaths(d: DriverPaths, id: string): InstancePaths {
  assertInstanceId(id);
  const dir = join(d.instances, id);
  const bundle = join(dir, 'bundle');
  const run = join(d.runRoot, id);
  const logs = join(dir, 'logs');
  const cgroup = `/${d.cgroupParent}/${id}`;
  return {
    dir,
    spec: join(dir, 'spec.json'),
    bundle,
    config: join(bundle, 'config.json'),
    hosts: join(bundle, 'hosts'),
    hostname: join(bundle, 'hostname'),
    resolv: join(bundle, 'resolv.conf'),
    upper: join(dir, 'upper'),
    work: join(dir, 'work'),
    logs,
    log: join(logs, 'console.log'),
    startedMark: join(dir, 'started'),
    exitCopy: join(dir, 'exit.json'),
    rootfs: join(d.mnt, id),
    run,
    monitor: join(run, 'monitor'),
    pid: join(run, 'pid'),
    pidFifo: join(run, 'pid.fifo'),
    exit: join(run, 'exit'),
    console: socketPath(join(run, 'console.sock')),
    attach: socketPath(join(run, 'attach.sock')),
    cgroup,
    crunCgroup: `${cgroup}/ctr`,
  };
}

/** `path` itself when it fits a unix socket address, else a short unique name in the temp dir. */
export function socketPath(path: string): string {
  if (Buffer.byteLength(path) < 100) return path;
  return join(tmpdir(), `tandem-${createHash('sha256').update(path).digest('hex').slice(0, 16)}.sock`);
}
