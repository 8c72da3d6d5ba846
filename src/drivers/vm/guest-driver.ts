/**
 * What VMs and sandboxes share: one detached QEMU per instance (microvm, our kernel and
 * initramfs), controlled over QMP, with the guest agent for exec, signals and stats. Subclasses
 * say how an instance's host state is made (a VM's qcow2 disk; a sandbox's overlay dirs) and
 * how its guest boots (`bootPlan`); everything else lives here, the NIC on the daemon's tap and
 * the shared hosts file of an instance on a bridge network included (guest-network.ts). Everything is under `root`
 * (records, disks, sockets, logs); list() sees only it.
 *
 * Lifecycle mapping: start boots and resolves once the agent answers; pause/resume are QMP
 * stop/cont; stop presses the ACPI power button (the guest's init sends SIGTERM to the
 * workload and powers off when it exits) and quits QEMU at the timeout (exit 137); kill
 * signals the workload through the agent; the workload's exit powers the guest off and its
 * status is read from the status file the guest wrote. A watcher per running guest (a second
 * QMP monitor) notices QEMU's end and reports `exited`, and ends a QEMU that hangs on its way
 * out after the guest shut down (qemu-exit-watchdog.ts). The truth is QEMU (pid + query-status)
 * plus the persisted record, so a new driver object on the same root manages the same guests.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { TandemError, wrapError } from '../../base/errors.js';
import { type Logger, silentLogger } from '../../base/log.js';
import { run } from '../../base/proc.js';
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
} from '../../core/driver.js';
import type { Limits } from '../../core/instance.js';
import { type Action, checkAction } from '../../core/lifecycle.js';
import { signalNumber } from './agent-client.js';
import { type GuestAssets, loadGuestAssets } from './guest-assets.js';
import { withNetwork } from './guest-network.js';
import { readLog } from './log-file.js';
import { type AccelChoice, type AccelVerdict, detectAccel } from './qemu-accel.js';
import { GUEST_FILES, type MachineType, QEMU_BINARY_NAME } from './qemu-args.js';
import { attachWorkload } from './vm-attach.js';
import { removeVmCgroups } from './vm-cgroup.js';
import { VmConsole } from './vm-console.js';
import { type BootOptions, launchGuest } from './vm-guest.js';
import type { VmRecord, VmRecords } from './vm-record.js';
import { VmRuns } from './vm-runs.js';

export interface GuestDriverOptions {
  /** The daemon's directory for this driver; everything the driver makes lives under it. */
  root: string;
  logger?: Logger;
  /** kvm, tcg or auto (default: TANDEM_VM_ACCEL or auto: KVM only when a KVM guest boots). */
  accel?: AccelChoice;
  /** microvm (default) or q35. */
  machine?: MachineType;
  /** How long start waits for the agent (default 120 s: TCG boots take seconds on a busy host). */
  bootTimeoutMs?: number;
  /** Where guest/build.sh put the kernel and initramfs (default: build/guest of this checkout). */
  guestDir?: string;
}

/** What one boot of an instance needs beyond its record (see launchGuest). */
export type BootPlan = Pick<
  BootOptions,
  'config' | 'disks' | 'shares' | 'overlay' | 'memoryBytes' | 'nics' | 'binds'
>;

/** The InstanceDriver machinery of QEMU guests; VmDriver and SandboxDriver fill in the hooks. */
export abstract class GuestDriver implements InstanceDriver {
  abstract readonly type: 'vm' | 'sandbox';
  protected readonly runs: VmRuns;
  protected readonly records: VmRecords;
  protected readonly log: Logger;
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly consoles: VmConsole;
  private assets: GuestAssets | undefined;
  private accel: AccelVerdict | undefined;
  protected readonly reconciled: Promise<void>;

  /** Instances live in `<root>/<subdir>/<id>/`. */
  constructor(
    protected readonly opts: GuestDriverOptions,
    subdir = 'vms',
  ) {
    this.log = opts.logger ?? silentLogger();
    this.runs = new VmRuns(opts.root, this.log, subdir);
    this.records = this.runs.records;
    this.consoles = new VmConsole(this.records);
    this.reconciled = this.runs
      .reconcile()
      .catch((err) => this.log.warn({ err }, `${subdir}: reconcile failed`));
  }

  /** The optional capabilities probe() advertises. */
  protected abstract features(): string[];
  /** Rejects (unavailable) when a host tool this driver needs beyond QEMU is missing. */
  protected abstract probeHost(): Promise<void>;
  /** Rejects a spec this driver cannot run (not_supported) or that is invalid. */
  protected abstract checkSpec(spec: DriverSpec): void;
  /** Rejects limits this driver cannot apply. */
  protected abstract checkLimits(name: string, limits: Limits): void;
  /** Makes the instance's host state and record; leaves nothing behind when it fails. */
  protected abstract createHost(spec: DriverSpec): Promise<void>;
  /** What the next boot of `rec` needs (its guest config, disks, shares, overlay). */
  protected abstract bootPlan(rec: VmRecord, dir: string): Promise<BootPlan>;
  /** Resource usage of a running or paused instance whose QEMU is `pid`. */
  protected abstract usage(rec: VmRecord, pid: number, paused: boolean): Promise<ResourceUsage>;
  /** Applies new limits to a stopped instance's host state (VM: grows its disk). */
  protected async applyStoppedLimits(_rec: VmRecord, _limits: Limits): Promise<void> {}
  /** Runs after an instance's directory was removed (VM: collects unused base disks). */
  protected async afterRemove(): Promise<void> {}

  async probe(): Promise<DriverInfo> {
    const info: DriverInfo = { type: this.type, available: false, features: this.features() };
    try {
      const v = await run(QEMU_BINARY_NAME, ['--version']);
      if (v.code !== 0)
        throw new TandemError('unavailable', `${QEMU_BINARY_NAME} does not run: install qemu-system-x86`);
      info.version = /version ([\d.]+)/.exec(v.stdout)?.[1];
      await this.probeHost();
      const accel = await this.accelVerdict();
      return { ...info, available: true, accel: accel.accel };
    } catch (err) {
      return { ...info, reason: err instanceof Error ? err.message : String(err) };
    }
  }

  async create(spec: DriverSpec, signal?: AbortSignal): Promise<void> {
    await this.reconciled;
    if (spec.type !== this.type)
      throw new TandemError(
        'invalid_argument',
        `instance "${spec.name}": the ${this.type} driver runs type ${this.type}, not ${spec.type}`,
      );
    this.checkLimits(spec.name, spec.limits);
    this.checkSpec(spec);
    if (await this.records.read(spec.id))
      throw new TandemError('already_exists', `instance "${spec.name}" already exists`);
    signal?.throwIfAborted();
    await this.locked(spec.id, () => this.createHost(spec));
  }

  async start(id: string, signal?: AbortSignal): Promise<void> {
    const rec = await this.existing(id);
    if ((await this.check(rec, 'start')) === 'noop') return;
    await this.locked(id, async () => {
      const dir = this.records.dir(id);
      const [assets, accel] = [await this.guestAssets(), await this.accelVerdict()];
      this.runs.hold(id);
      try {
        const plan = await withNetwork(await this.bootPlan(rec, dir), rec.spec, dir);
        const run = await launchGuest(rec, {
          ...plan,
          root: this.opts.root,
          dir,
          assets,
          accel: accel.accel,
          machine: this.opts.machine ?? 'microvm',
        });
        Object.assign(rec, { run, exitCode: undefined, reason: undefined, finishedAt: undefined });
        await this.records.write(rec);
        this.runs.watcher.watch(id);
        await this.runs.waitAgent(rec, this.opts.bootTimeoutMs ?? 120_000, signal);
        this.runs.emit({ id, kind: 'started', time: run.startedAt });
      } catch (err) {
        throw wrapError(err, `starting instance "${rec.name}"`);
      } finally {
        this.runs.release(id);
      }
    });
  }

  async stop(id: string, opts: { timeoutMs: number; force?: boolean }): Promise<void> {
    const rec = await this.existing(id);
    const status = (await this.runs.observe(id)).status;
    if ((await this.check(rec, 'stop', status)) === 'noop') return;
    await this.locked(id, async () => {
      const cur = (await this.records.read(id)) as VmRecord;
      const dir = this.records.dir(id);
      if (!cur.run || cur.run.finished) return;
      let gone = false;
      if (!opts.force) gone = await this.runs.powerButton(cur, dir, status === 'paused', opts.timeoutMs);
      if (!gone) await this.runs.kill9(cur, dir);
      await this.runs.observe(id);
    });
  }

  async kill(id: string, signal: NodeJS.Signals): Promise<void> {
    const rec = await this.existing(id);
    const status = (await this.runs.observe(id)).status;
    await this.check(rec, 'kill', status);
    const num = signalNumber(signal);
    const system = rec.spec.init === 'system';
    if (num === 9 && (status === 'paused' || system)) {
      await this.locked(id, async () =>
        this.runs.kill9((await this.records.read(id)) as VmRecord, this.records.dir(id)),
      );
      await this.runs.observe(id);
      return;
    }
    if (status === 'paused')
      throw new TandemError('conflict', `instance "${rec.name}" is paused: resume it to deliver ${signal}`);
    if (system && num === 15) {
      await this.runs.channels.withQmp(id, (q) => q.execute('system_powerdown'));
      await this.runs.ctrlAltDel(id);
      return;
    }
    try {
      (await this.runs.channels.agent(id, 5000)).sendSignal(0, num);
    } catch (err) {
      if (num !== 9) throw wrapError(err, `signalling instance "${rec.name}"`);
      await this.locked(id, () => this.runs.kill9(rec, this.records.dir(id)));
      await this.runs.observe(id);
    }
  }

  async pause(id: string): Promise<void> {
    const rec = await this.existing(id);
    if ((await this.check(rec, 'pause')) === 'noop') return;
    await this.locked(id, () => this.runs.channels.withQmp(id, (q) => q.execute('stop')));
    this.runs.notePaused(id, true);
    this.runs.emit({ id, kind: 'paused', time: nowIso() });
  }

  async resume(id: string): Promise<void> {
    const rec = await this.existing(id);
    if ((await this.check(rec, 'resume')) === 'noop') return;
    await this.locked(id, () => this.runs.channels.withQmp(id, (q) => q.execute('cont')));
    this.runs.notePaused(id, false);
    this.runs.emit({ id, kind: 'resumed', time: nowIso() });
  }

  async delete(id: string, opts: { force?: boolean }): Promise<void> {
    await this.reconciled;
    const rec = await this.records.read(id);
    if (!rec) return;
    const status = (await this.runs.observe(id)).status;
    if (status === 'missing') return;
    checkAction(rec.name, 'delete', status, opts);
    await this.locked(id, async () => {
      if (rec.run && !rec.run.finished) {
        await this.runs.kill9(rec, this.records.dir(id));
        await this.runs.observe(id);
      }
      this.runs.watcher.unwatch(id);
      await this.runs.channels.drop(id);
      const last = (await this.records.read(id)) ?? rec;
      await removeVmCgroups(last.run?.cgroupDirs ?? []);
      await this.records.remove(id);
      await this.afterRemove();
    });
  }

  async update(id: string, limits: Limits): Promise<void> {
    const rec = await this.existing(id);
    const status = (await this.runs.observe(id)).status;
    await this.check(rec, 'update', status);
    this.checkLimits(rec.name, limits);
    const cur = rec.spec.limits;
    const changed = (['cpus', 'memoryBytes', 'pids', 'diskBytes'] as const).filter(
      (k) => limits[k] !== undefined && limits[k] !== cur[k],
    );
    if (changed.length === 0) return;
    if (status === 'running' || status === 'paused') {
      throw new TandemError(
        'not_supported',
        `instance "${rec.name}": ${this.type} limits (${changed.join(', ')}) change only while stopped`,
      );
    }
    await this.locked(id, async () => {
      await this.applyStoppedLimits(rec, limits);
      rec.spec.limits = { ...cur, ...limits };
      await this.records.write(rec);
    });
  }

  async state(id: string): Promise<RuntimeState> {
    await this.reconciled;
    return this.runs.observe(id);
  }

  async list(): Promise<string[]> {
    await this.reconciled;
    return this.records.list();
  }

  async stats(id: string): Promise<ResourceUsage> {
    const rec = await this.existing(id);
    const st = await this.runs.observe(id);
    if ((st.status !== 'running' && st.status !== 'paused') || !st.pid) {
      throw new TandemError('conflict', `instance "${rec.name}" is ${st.status}: no stats`);
    }
    return this.usage(rec, st.pid, st.status === 'paused');
  }

  async exec(id: string, req: ExecRequest): Promise<ExecSession> {
    const rec = await this.existing(id);
    await this.check(rec, 'exec');
    const p = rec.spec.process;
    const env = [
      ...p.env.filter((e) => !req.env.some((r) => r.split('=')[0] === e.split('=')[0])),
      ...req.env,
    ];
    const agent = await this.runs.channels.agent(id, 10_000);
    return agent.exec({
      args: req.args,
      env,
      cwd: req.cwd ?? p.cwd,
      user: req.user ?? p.user,
      tty: req.tty,
      stdin: req.stdin,
      cols: req.cols,
      rows: req.rows,
    });
  }

  /** Attaches to the workload: output (replayed from the run's start), stdin when kept open, exit status; conflict unless it runs. */
  async attach(id: string, opts: AttachOptions = {}): Promise<ExecSession> {
    const rec = await this.existing(id);
    const st = await this.runs.observe(id);
    if (st.status !== 'running' && st.status !== 'paused')
      throw new TandemError('conflict', `instance "${rec.name}" is ${st.status}: nothing to attach to`);
    const cur = (await this.records.read(id)) ?? rec;
    const size =
      (await stat(join(this.records.dir(id), GUEST_FILES.workloadLog)).catch(() => undefined))?.size ?? 0;
    const input = !!(cur.spec.process.stdin || cur.spec.process.terminal);
    return attachWorkload(this.runs, id, opts.replay ? (cur.run?.logOffset ?? 0) : size, input);
  }

  async *logs(id: string, opts: LogOptions): AsyncIterable<Buffer> {
    await this.existing(id);
    const path = join(this.records.dir(id), GUEST_FILES.workloadLog);
    yield* readLog(path, {
      tail: opts.tail,
      follow: opts.follow,
      signal: opts.signal,
      active: () => this.runs.qemuAlive(id),
    });
  }

  /** Attaches to the serial console: a duplex byte stream; conflict unless running or paused. */
  async console(id: string): Promise<Duplex> {
    const rec = await this.existing(id);
    const st = await this.runs.observe(id);
    if (st.status !== 'running' && st.status !== 'paused')
      throw new TandemError('conflict', `instance "${rec.name}" is ${st.status}: no console`);
    return this.consoles.attach(id);
  }

  /** The serial console's log (kernel messages, console shell), capped. */
  consoleLog(id: string, opts: LogOptions = {}): AsyncIterable<Buffer> {
    const path = join(this.records.dir(id), GUEST_FILES.consoleLog);
    return readLog(path, {
      tail: opts.tail,
      follow: opts.follow,
      signal: opts.signal,
      active: () => this.runs.qemuAlive(id),
    });
  }

  onEvent(listener: (event: RuntimeEvent) => void): () => void {
    return this.runs.onEvent(listener);
  }

  async close(): Promise<void> {
    await this.reconciled;
    await this.runs.close();
  }

  /** The record, or not_found. */
  protected async existing(id: string): Promise<VmRecord> {
    await this.reconciled;
    const rec = await this.records.read(id);
    if (!rec) throw new TandemError('not_found', `instance "${id}" not found`);
    return rec;
  }

  /** Legality from the backend's status (conflict, or noop); drivers follow core/lifecycle.ts. */
  protected async check(
    rec: VmRecord,
    action: Action,
    status?: RuntimeState['status'],
  ): Promise<'run' | 'noop'> {
    const s = status ?? (await this.runs.observe(rec.id)).status;
    if (s === 'missing') throw new TandemError('not_found', `instance "${rec.name}" not found`);
    return checkAction(rec.name, action, s);
  }

  /** The record of a stopped or created instance (for exporting its rootfs); conflict otherwise. */
  protected async stoppedRecord(id: string): Promise<VmRecord> {
    const rec = await this.existing(id);
    const s = (await this.runs.observe(id)).status;
    if (s !== 'stopped' && s !== 'created')
      throw new TandemError('conflict', `instance "${rec.name}" is ${s}: stop it first`);
    return rec;
  }

  /** Runs `fn` after every earlier operation on `id` (one operation at a time per instance). */
  protected locked<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(id) ?? Promise.resolve();
    const next = prev.catch(() => {}).then(fn);
    this.locks.set(id, next);
    void next
      .finally(() => {
        if (this.locks.get(id) === next) this.locks.delete(id);
      })
      .catch(() => {});
    return next;
  }

  private async guestAssets(): Promise<GuestAssets> {
    this.assets ??= await loadGuestAssets(this.opts.guestDir);
    return this.assets;
  }

  private async accelVerdict(): Promise<AccelVerdict> {
    this.accel ??= await detectAccel(this.opts.root, await this.guestAssets(), this.opts.accel);
    return this.accel;
  }
}

/** Rejects with unavailable (naming `hint`) when the host tool `tool` cannot be run. */
export async function requireTool(tool: string, hint: string): Promise<void> {
  const res = await run(tool, ['--help']).catch(() => undefined);
  if (!res || res.code === 127) throw new TandemError('unavailable', `${tool} is missing: ${hint}`);
}
