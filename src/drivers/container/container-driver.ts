/**
 * The container driver: real OCI containers through Debian's crun (DESIGN.md, issue 3).
 *
 * Processes: each running container has its own monitor (helpers/monitor), the parent of ONE
 * foreground `crun run`; the monitor keeps the logs and writes the exit record, so containers
 * outlive this object and the daemon. The driver itself holds no state a restart would lose:
 * `state()` reads the monitor's files (container-state.ts), limits/freezer/stats live in the
 * instance's cgroup, and a new driver on the same root sees and manages everything.
 *
 * Legality is checked here too (core/lifecycle.ts against the backend's status), so an illegal
 * action rejects with conflict even without the daemon. Signals go straight to the container's
 * init (catatonit, which forwards them); pause/resume/update write the cgroup; only start
 * (1 crun), exec (1 crun) and a leftover cleanup spawn processes.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TandemError } from '../../base/errors.js';
import { type Logger, silentLogger } from '../../base/log.js';
import { nowIso } from '../../base/time.js';
import type {
  AttachOptions,
  DriverInfo,
  DriverSpec,
  ExecRequest,
  ExecSession,
  InstanceDriver,
  LogOptions,
  ResourceUsage,
  RuntimeEvent,
  RuntimeState,
  StopOptions,
} from '../../core/driver.js';
import type { Limits } from '../../core/instance.js';
import { type Action, checkAction } from '../../core/lifecycle.js';
import { BackgroundWork } from '../common/background-work.js';
import {
  type Cgroup,
  type CgroupLayout,
  detectCgroupLayout,
  openCgroup,
  ownPrimeCgroupFile,
} from '../common/cgroup.js';
import { readLog } from '../common/log-file.js';
import { copyChanges, exportPath } from '../common/rootfs-changes.js';
import { resolveUser } from '../common/rootfs-lookup.js';
import { attachSession } from './container-attach.js';
import { clearCrunState, endMonitor, releaseInstance, sweepOrphans } from './container-cleanup.js';
import {
  createInstance,
  rootfsStack,
  validateLimits,
  validateSpec,
  writeJsonAtomic,
} from './container-create.js';
import { RunEnds } from './container-ends.js';
import { startExec } from './container-exec.js';
import { allocateIdMap, type StoredSpec, usedBlocks } from './container-idmap.js';
import { launchMonitor } from './container-monitor.js';
import { type DriverPaths, driverPaths, type InstancePaths, instancePaths } from './container-paths.js';
import { probeContainers } from './container-probe.js';
import { isActive, readOptional, stateOf, waitEnd } from './container-state.js';
import { MonitorLauncher } from './monitor-launcher.js';
import { netUsage } from './net-usage.js';

export { removeDriverHostState } from './container-cleanup.js';

/** Where scripts/build-helpers.sh puts the monitor (same relative path from src/ and dist/). */
export const DEFAULT_MONITOR_PATH = fileURLToPath(
  new URL('../../../build/helpers/tandem-monitor', import.meta.url),
);

export interface ContainerDriverOptions {
  /** This daemon's driver state dir; crun's root and the cgroup parent derive from it. */
  root: string;
  /** tmpfs directory for per-run state (default /run/tandem-<hash of root>). */
  runRoot?: string;
  logger?: Logger;
  crunPath?: string;
  catatonitPath?: string;
  monitorPath?: string;
  /** Size at which a container's log rotates (it keeps one older file). Default 8 MiB. */
  logMaxBytes?: number;
  /** How long the output and status of an `attach` workload wait for a late client. Default 5 s. */
  attachLingerMs?: number;
}

interface Loaded {
  id: string;
  p: InstancePaths;
  cg: Cgroup;
  spec: StoredSpec;
  subject: string;
}

export class ContainerDriver implements InstanceDriver {
  readonly type = 'container' as const;
  private readonly dp: DriverPaths;
  private readonly log: Logger;
  private readonly crun: string;
  private readonly catatonit: string;
  private readonly monitor: string;
  private readonly lingerMs: number;
  private readonly logMax: number;
  private readonly listeners = new Set<(e: RuntimeEvent) => void>();
  private readonly ends: RunEnds;
  private readonly ready: Promise<CgroupLayout>;
  /** Removals and disk copies running in the background; close() waits for them. */
  private readonly background: BackgroundWork;
  /** Forks the monitors (helpers/monitor/launcher.c), so a start does not fork this process. */
  private readonly launcher: MonitorLauncher;
  /** User-namespace blocks of creates in flight. */
  private readonly idBlocks = new Set<number>();

  constructor(opts: ContainerDriverOptions) {
    this.dp = driverPaths(opts.root, opts.runRoot);
    this.log = opts.logger ?? silentLogger();
    this.crun = opts.crunPath ?? '/usr/bin/crun';
    this.catatonit = opts.catatonitPath ?? '/usr/bin/catatonit';
    this.monitor = opts.monitorPath ?? DEFAULT_MONITOR_PATH;
    this.logMax = opts.logMaxBytes ?? 8 * 1024 * 1024;
    this.lingerMs = opts.attachLingerMs ?? 5000;
    this.background = new BackgroundWork(this.log);
    this.launcher = new MonitorLauncher(this.monitor);
    this.ends = new RunEnds(
      this.dp,
      (e) => this.emit(e),
      (id, exit) =>
        this.background.add(
          'copying an exit record',
          writeFile(instancePaths(this.dp, id).exitCopy, JSON.stringify(exit)),
        ),
      (err, id) => this.log.warn({ err, id }, 'checking a container monitor'),
    );
    this.ready = this.init();
    this.ready.catch(() => {});
  }

  /** Paths of this driver (crun root, cgroup parent), for tests and diagnostics. */
  get paths(): DriverPaths {
    return this.dp;
  }

  private async init(): Promise<CgroupLayout> {
    const trashes = [this.dp.trash, this.dp.runTrash];
    for (const d of [this.dp.instances, this.dp.crunRoot, this.dp.mnt, ...trashes])
      mkdirSync(d, { recursive: true });
    for (const t of trashes) this.background.removeDirs(...readdirSync(t).map((e) => join(t, e)));
    const layout = await detectCgroupLayout();
    this.launcher.primeCgroup = await ownPrimeCgroupFile(layout);
    for (const id of this.ids()) this.ends.adopt(id);
    await sweepOrphans(this.dp, layout, this.crun, this.log);
    return layout;
  }

  async probe(): Promise<DriverInfo> {
    try {
      const layout = await this.ready;
      return await probeContainers({
        crunPath: this.crun,
        catatonitPath: this.catatonit,
        monitorPath: this.monitor,
        layout,
      });
    } catch (err) {
      return {
        type: 'container',
        available: false,
        reason: `container driver: ${(err as Error).message}`,
        features: [],
      };
    }
  }

  async create(spec: DriverSpec, signal?: AbortSignal): Promise<void> {
    const layout = await this.ready;
    validateSpec(spec);
    const p = instancePaths(this.dp, spec.id);
    const stored: StoredSpec = { ...spec };
    if (spec.security.userns === 'auto') {
      stored.idmap = allocateIdMap(
        this.dp.root,
        new Set([...usedBlocks(this.dp.instances), ...this.idBlocks]),
      );
      this.idBlocks.add(stored.idmap.hostId / stored.idmap.size);
    }
    try {
      await createInstance(
        { paths: p, cgroup: openCgroup(layout, p.cgroup), catatonit: this.catatonit, signal },
        stored,
      );
    } finally {
      if (stored.idmap) this.idBlocks.delete(stored.idmap.hostId / stored.idmap.size);
    }
  }

  async start(id: string, signal?: AbortSignal): Promise<void> {
    const c = await this.load(id);
    if ((await this.check(c, 'start')).verdict === 'noop') return;
    await this.ends.notice(id);
    // the previous run's monitor may still wait for a late attach client (its overlay with it)
    if (c.spec.process.attach) await endMonitor(c.p, true);
    if (!(await c.cg.exists())) {
      await c.cg.create();
      await c.cg.setLimits(c.spec.limits);
    }
    await clearCrunState(this.crun, this.dp.crunRoot, id);
    mkdirSync(c.p.run, { recursive: true });
    rmSync(c.p.pid, { force: true });
    rmSync(c.p.monitor, { force: true });
    if (!exists(c.p.startedMark))
      this.background.add('marking a started container', writeFile(c.p.startedMark, ''));
    const layout = await this.ready;
    const memoryDir = c.cg.memoryDir();
    await launchMonitor(
      {
        crunPath: this.crun,
        crunRoot: this.dp.crunRoot,
        id,
        subject: c.subject,
        paths: c.p,
        scratch: this.dp.mnt,
        runId: randomBytes(6).toString('hex'),
        layers: c.spec.image.layers,
        logMaxBytes: this.logMax,
        oom: layout.version === 2 ? { v2: memoryDir } : { v1: memoryDir },
        terminal: c.spec.process.terminal,
        stdin: c.spec.process.stdin === true,
        lingerMs: c.spec.process.attach ? this.lingerMs : 0,
        idmap: c.spec.idmap,
        signal,
      },
      this.launcher,
    );
    this.emit({ id, kind: 'started', time: nowIso() });
    await this.ends.started(id);
  }

  async stop(id: string, opts: StopOptions): Promise<void> {
    const c = await this.load(id);
    const { verdict, state } = await this.check(c, 'stop');
    if (verdict === 'noop') return;
    if (!opts.force) {
      await this.signalInit(c, state, 'SIGTERM');
      if (await waitEnd(c.p, c.cg, opts.timeoutMs)) return this.ends.notice(id);
    }
    await this.signalInit(c, state, 'SIGKILL');
    if (!(await waitEnd(c.p, c.cg, 10_000))) {
      throw new TandemError('internal', `stopping ${c.subject}: the container did not exit after SIGKILL`);
    }
    await this.ends.notice(id);
  }

  async kill(id: string, signal: NodeJS.Signals): Promise<void> {
    const c = await this.load(id);
    const { state } = await this.check(c, 'kill');
    await this.signalInit(c, state, signal);
  }

  async pause(id: string): Promise<void> {
    const c = await this.load(id);
    if ((await this.check(c, 'pause')).verdict === 'noop') return;
    await c.cg.freeze();
    this.emit({ id, kind: 'paused', time: nowIso() });
  }

  async resume(id: string): Promise<void> {
    const c = await this.load(id);
    if ((await this.check(c, 'resume')).verdict === 'noop') return;
    await c.cg.thaw();
    this.emit({ id, kind: 'resumed', time: nowIso() });
  }

  /** Copies a stopped container's rootfs changes (its upper dir, by hard links) for `isolate`; conflict unless stopped. */
  async exportRootfsChanges(id: string): Promise<string> {
    const c = await this.load(id);
    const state = await stateOf(c.p, c.cg);
    if (state.status !== 'stopped' && state.status !== 'created')
      throw new TandemError('conflict', `${c.subject} is ${state.status}: stop it first`);
    const dest = await exportPath(this.dp.root);
    await copyChanges(c.p.upper, dest);
    return dest;
  }

  async delete(id: string, opts: { force?: boolean }): Promise<void> {
    const layout = await this.ready;
    const p = instancePaths(this.dp, id);
    if (!exists(p.dir)) return;
    const cg = openCgroup(layout, p.cgroup);
    const spec = await readSpec(p);
    const state = await stateOf(p, cg);
    const subject = `instance "${spec?.name ?? id}"`;
    checkAction(spec?.name ?? id, 'delete', state.status === 'missing' ? 'stopped' : state.status, opts);
    if (isActive(state)) {
      const c = { id, p, cg, spec: spec!, subject };
      await this.signalInit(c, state, 'SIGKILL');
      await waitEnd(c.p, c.cg, 10_000);
    }
    this.ends.forget(id);
    const lingering = spec?.process.attach === true;
    const doomed = await releaseInstance({ dp: this.dp, p, cg, crun: this.crun, id, lingering });
    this.background.removeDirs(...doomed);
  }

  async update(id: string, limits: Limits): Promise<void> {
    const c = await this.load(id);
    validateLimits(c.spec.name, limits);
    await this.check(c, 'update');
    if (!(await c.cg.exists())) await c.cg.create();
    try {
      await c.cg.setLimits(limits);
    } catch (err) {
      await c.cg.setLimits(c.spec.limits).catch(() => {});
      throw err;
    }
    writeJsonAtomic(c.p.spec, { ...c.spec, limits });
  }

  async state(id: string): Promise<RuntimeState> {
    const layout = await this.ready;
    const p = instancePaths(this.dp, id);
    if (!exists(p.dir)) return { status: 'missing' };
    return stateOf(p, openCgroup(layout, p.cgroup));
  }

  async list(): Promise<string[]> {
    await this.ready;
    return this.ids();
  }

  async stats(id: string): Promise<ResourceUsage> {
    const c = await this.load(id);
    const state = await stateOf(c.p, c.cg);
    if (!isActive(state)) throw new TandemError('conflict', `${c.subject} is ${state.status}: no stats`);
    const usage = await c.cg.usage();
    return { time: nowIso(), ...usage, ...(await netUsage(state.pid!)) };
  }

  async exec(id: string, req: ExecRequest): Promise<ExecSession> {
    const c = await this.load(id);
    await this.check(c, 'exec');
    if (req.args.length === 0) throw new TandemError('invalid_argument', `exec in ${c.subject}: no command`);
    const user = await resolveUser(rootfsStack(c.p, c.spec), req.user ?? c.spec.process.user);
    return startExec({
      crunPath: this.crun,
      crunRoot: this.dp.crunRoot,
      monitorPath: this.monitor,
      paths: c.p,
      spec: c.spec,
      req,
      user,
    });
  }

  async attach(id: string, opts: AttachOptions = {}): Promise<ExecSession> {
    const c = await this.load(id);
    // a run that ended may still be attached to with replay while its monitor keeps the output
    // for a late client (spec.process.attach); when it is gone, connecting says conflict
    if (!(opts.replay && c.spec.process.attach)) await this.check(c, 'exec');
    return attachSession({
      socket: c.p.attach,
      subject: c.subject,
      replay: opts.replay === true,
      stdinOpen: c.spec.process.stdin === true,
      signal: (sig) => {
        this.kill(id, sig).catch((err) => this.log.warn({ err, id }, 'signalling an attached container'));
      },
      fallbackExit: async () => {
        await waitEnd(c.p, c.cg, 10_000);
        return (await this.state(id)).exitCode ?? 255;
      },
    });
  }

  async *logs(id: string, opts: LogOptions): AsyncIterable<Buffer> {
    const c = await this.load(id);
    const until = async () => !isActive(await stateOf(c.p, c.cg));
    yield* readLog(c.p.log, { follow: opts.follow, tail: opts.tail, signal: opts.signal, until });
  }

  onEvent(listener: (event: RuntimeEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves once the background work started so far (deleted instances' files) is done. */
  async settle(): Promise<void> {
    await this.background.settle();
  }

  async close(): Promise<void> {
    this.ends.close();
    this.listeners.clear();
    await Promise.all([this.background.close(), this.launcher.close()]);
  }

  // ---- internals ----

  private ids(): string[] {
    try {
      return readdirSync(this.dp.instances, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => e.name);
    } catch {
      return [];
    }
  }

  /** The instance with its spec; not_found when it does not exist (or is an incomplete create). */
  private async load(id: string): Promise<Loaded> {
    const layout = await this.ready;
    const p = instancePaths(this.dp, id);
    const spec = await readSpec(p);
    if (!spec) throw new TandemError('not_found', `instance "${id}" not found`);
    return { id, p, cg: openCgroup(layout, p.cgroup), spec, subject: `instance "${spec.name}"` };
  }

  /** Checks `action` against the backend's status: 'run' or 'noop', else conflict. */
  private async check(c: Loaded, action: Action): Promise<{ verdict: 'run' | 'noop'; state: RuntimeState }> {
    const state = await stateOf(c.p, c.cg);
    const status = state.status === 'missing' ? 'stopped' : state.status;
    return { verdict: checkAction(c.spec.name, action, status), state };
  }

  /** Signals the container's init; a frozen container is thawed so that the signal acts. */
  private async signalInit(c: Loaded, state: RuntimeState, sig: NodeJS.Signals): Promise<void> {
    if (!state.pid) throw new TandemError('conflict', `${c.subject} has no running process`);
    try {
      process.kill(state.pid, sig);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
    if (state.status === 'paused' && (sig === 'SIGKILL' || sig === 'SIGTERM')) await c.cg.thaw();
  }

  private emit(event: RuntimeEvent): void {
    for (const l of this.listeners) {
      try {
        l(event);
      } catch (err) {
        this.log.warn({ err }, 'container event listener threw');
      }
    }
  }
}

async function readSpec(p: InstancePaths): Promise<StoredSpec | undefined> {
  const text = readOptional(p.spec);
  return text ? (JSON.parse(text) as StoredSpec) : undefined;
}

function exists(path: string): boolean {
  return existsSync(path);
}
