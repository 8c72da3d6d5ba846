/**
 * The instance service: validates requests, runs lifecycle operations one at a time per
 * instance (KeyedLock), calls the driver of the instance's type, records each transition in
 * the store in one commit and publishes a lifecycle event for it. Legality comes from
 * core/lifecycle.ts and is checked twice: before an operation is accepted (so the client gets
 * 409 at once) and again inside the lock (the state may have changed while it queued).
 * A create stores the instance only after the driver created it, so a crash never leaves a
 * half-created instance in the store; the driver's leftovers are removed by reconcile.
 */

import { isAbsolute } from 'node:path';
import type { CreateInstanceRequest, LimitsInput, StateRequest } from '../api/instances.js';
import { TandemError, wrapError } from '../base/errors.js';
import { newId } from '../base/ids.js';
import type { Logger } from '../base/log.js';
import { Rollback } from '../base/rollback.js';
import { normalizeSignal } from '../base/signals.js';
import { nowIso } from '../base/time.js';
import type {
  AttachOptions,
  DriverInfo,
  DriverSpec,
  ExecRequest,
  ExecSession,
  InstanceDriver,
  ResolvedImage,
} from '../core/driver.js';
import type { EventBus, LifecycleAction } from '../core/events.js';
import type { ImageStore } from '../core/image.js';
import type { Instance, InstanceType } from '../core/instance.js';
import { checkAction } from '../core/lifecycle.js';
import type { NetworkService, VolumeService } from '../core/network.js';
import type { Operation } from '../core/operation.js';
import type { InstanceRecords } from './instance-records.js';
import {
  assertSupported,
  configFromRequest,
  defaultNetworkMode,
  driverSpec,
  limitsFromInput,
  workloadArgs,
} from './instance-spec.js';
import { KeyedLock } from './locks.js';
import type { Operations } from './operations.js';
import type { Placement } from './placement.js';

export interface Driver {
  driver: InstanceDriver;
  info: DriverInfo;
}

export interface ServiceDeps {
  records: InstanceRecords;
  events: EventBus;
  ops: Operations;
  drivers: Map<InstanceType, Driver>;
  images: ImageStore;
  node: string;
  logger: Logger;
  /** Picks the node for a new instance; rejects with insufficient_resources when nothing fits. */
  placement: Placement;
  /** Managed networks (addresses, plumbing, forwards); absent: only --network none|host. */
  network?: NetworkService;
  /** Named volumes; absent: only bind mounts of host paths. */
  volumes?: VolumeService;
}

const DEFAULT_STOP_TIMEOUT_S = 10;

export class InstanceService {
  readonly lock = new KeyedLock();
  private readonly reserved = new Set<string>();

  constructor(readonly deps: ServiceDeps) {}

  /** The driver for `type`; not_supported when none is configured, unavailable when it cannot run. */
  driverFor(type: InstanceType): InstanceDriver {
    const d = this.deps.drivers.get(type);
    if (!d) throw new TandemError('not_supported', `${type} instances are not supported yet`);
    if (!d.info.available)
      throw new TandemError('unavailable', `the ${type} driver cannot run here: ${d.info.reason}`);
    return d.driver;
  }

  /** Validates a create request and starts its operation; rejects at once when it cannot succeed. */
  async create(req: CreateInstanceRequest): Promise<Operation> {
    const type = req.type ?? 'container';
    const config = configFromRequest(req);
    const driver = this.driverFor(type);
    const info = this.deps.drivers.get(type)!.info;
    config.network ??= defaultNetworkMode(info);
    assertSupported(config, info);
    const image = await this.resolveImage(config.image);
    if (config.node !== undefined && config.node !== this.deps.node) {
      throw new TandemError('not_found', `node "${config.node}" not found`);
    }
    if (this.reserved.has(req.name) || (await this.deps.records.find(req.name))) {
      throw new TandemError('already_exists', `instance "${req.name}" already exists`);
    }
    const inst: Instance = {
      id: newId(),
      name: req.name,
      type,
      config,
      status: 'created',
      statusReason: '',
      node: this.deps.node,
      createdAt: nowIso(),
      addresses: [],
      restartCount: 0,
    };
    this.reserved.add(inst.name);
    try {
      inst.node = await this.deps.placement.place(inst);
    } catch (err) {
      this.reserved.delete(inst.name);
      throw err;
    }
    return this.deps.ops.start('instance.create', inst.name, () =>
      this.lock
        .run(inst.name, async () => {
          await this.createNow(driver, inst, image);
          if (req.start) await this.startNow(inst.name);
          return { name: inst.name };
        })
        .finally(() => {
          this.reserved.delete(inst.name);
          this.deps.placement.release(inst.name);
        }),
    );
  }

  private async createNow(driver: InstanceDriver, inst: Instance, image: ResolvedImage): Promise<void> {
    const rb = new Rollback();
    try {
      await driver.create(await this.hostSide(inst, driverSpec(inst, image), rb));
    } catch (err) {
      await rb.undo();
      throw wrapError(err, `creating instance "${inst.name}"`);
    }
    try {
      await this.deps.records.create(inst);
    } catch (err) {
      await driver.delete(inst.id, { force: true }).catch(() => {});
      await rb.undo();
      throw wrapError(err, `creating instance "${inst.name}"`);
    }
    rb.commit();
    this.publish(inst, 'created');
  }

  /** Resolves named volumes and attaches a bridge network (recording the address); undo in `rb`. */
  async hostSide(inst: Instance, spec: DriverSpec, rb: Rollback): Promise<DriverSpec> {
    const { network, volumes } = this.deps;
    const resolve = async (name: string) => {
      if (!volumes) throw new TandemError('not_supported', 'named volumes are not supported by this daemon');
      return volumes.resolve(name);
    };
    spec.volumes = await Promise.all(
      spec.volumes.map(async (v) =>
        isAbsolute(v.source) ? { ...v } : { ...v, source: await resolve(v.source), volume: v.source },
      ),
    );
    if (spec.network !== 'bridge') return spec;
    if (!network)
      throw new TandemError('not_supported', '--network bridge: this daemon runs without managed networks');
    const req = {
      id: inst.id,
      name: inst.name,
      hostname: spec.hostname,
      type: inst.type,
      ports: spec.ports,
      address: inst.addresses[0], // isolate keeps the address when it is free
    };
    spec.attachment = await network.attach(req);
    rb.add('network attachment', () => network.detach(inst.id));
    inst.addresses = [spec.attachment.address];
    return spec;
  }

  /** The image `name` as drivers need it (layer directories, config); not_found when missing. */
  async resolveImage(name: string): Promise<ResolvedImage> {
    const image = await this.deps.images.get(name);
    if (!image) throw new TandemError('not_found', `image "${name}" not found`);
    return {
      name,
      digest: image.digest,
      layers: await this.deps.images.layerPaths(name),
      config: image.config,
    };
  }

  /** Starts a state-change operation (start, stop, restart, pause, resume, kill). */
  async changeState(name: string, req: StateRequest): Promise<Operation> {
    const inst = await this.deps.records.get(name);
    const action = req.action;
    checkAction(name, action, inst.status);
    const timeoutMs = (req.timeout ?? DEFAULT_STOP_TIMEOUT_S) * 1000;
    const signal = normalizeSignal(req.signal ?? (action === 'kill' ? 'KILL' : 'TERM'));
    return this.deps.ops.start(`instance.${action}`, name, () =>
      this.lock.run(name, async () => {
        const current = await this.deps.records.get(name);
        if (checkAction(name, action, current.status) === 'noop') return undefined;
        if (action === 'start') await this.startNow(name);
        else if (action === 'stop') await this.stopNow(name, timeoutMs, req.force);
        else if (action === 'restart') await this.restartNow(name, timeoutMs, req.force);
        else if (action === 'pause') await this.simple(name, 'pause', 'paused', 'paused');
        else if (action === 'resume') await this.simple(name, 'resume', 'running', 'resumed');
        else await this.driverFor(current.type).kill(current.id, signal);
        return undefined;
      }),
    );
  }

  /** Starts the workload; on failure records what the backend says and rethrows. Lock held. */
  async startNow(name: string): Promise<Instance> {
    const inst = await this.deps.records.patch(name, { status: 'starting', statusReason: '' });
    const driver = this.driverFor(inst.type);
    try {
      if (inst.config.network === 'bridge') await this.deps.network?.ensure(inst.id);
      await driver.start(inst.id);
    } catch (err) {
      const st = await driver.state(inst.id).catch(() => undefined);
      const failed = wrapError(err, `starting instance "${name}"`);
      await this.deps.records.patch(name, {
        status: st?.status === 'stopped' ? 'stopped' : 'error',
        statusReason: failed.message,
        exitCode: st?.exitCode,
        pid: undefined,
      });
      throw failed;
    }
    const st = await driver.state(inst.id);
    const next = await this.deps.records.patch(name, {
      status: 'running',
      pid: st.pid,
      accel: st.accel,
      startedAt: st.startedAt ?? nowIso(),
      finishedAt: undefined,
      exitCode: undefined,
      statusReason: '',
    });
    this.publish(next, 'started');
    return next;
  }

  /** Stops the workload (polite, then killed at the timeout) and records its exit. Lock held. */
  async stopNow(name: string, timeoutMs: number, force?: boolean): Promise<Instance> {
    const inst = await this.deps.records.patch(name, { status: 'stopping' });
    const driver = this.driverFor(inst.type);
    try {
      await driver.stop(inst.id, { timeoutMs, force });
    } catch (err) {
      await this.recordBackendState(name);
      throw wrapError(err, `stopping instance "${name}"`);
    }
    const st = await driver.state(inst.id);
    const next = await this.deps.records.patch(name, {
      status: 'stopped',
      pid: undefined,
      exitCode: st.exitCode,
      finishedAt: st.finishedAt ?? nowIso(),
      statusReason: st.reason ?? 'stopped',
    });
    this.publish(next, 'stopped', { exitCode: st.exitCode });
    return next;
  }

  private async restartNow(name: string, timeoutMs: number, force?: boolean): Promise<void> {
    const inst = await this.deps.records.get(name);
    if (inst.status === 'running' || inst.status === 'paused') await this.stopNow(name, timeoutMs, force);
    const next = await this.startNow(name);
    this.publish(next, 'restarted');
  }

  private async simple(
    name: string,
    call: 'pause' | 'resume',
    status: 'paused' | 'running',
    event: LifecycleAction,
  ): Promise<void> {
    const inst = await this.deps.records.get(name);
    try {
      await this.driverFor(inst.type)[call](inst.id);
    } catch (err) {
      await this.recordBackendState(name);
      throw wrapError(err, `${call === 'pause' ? 'pausing' : 'resuming'} instance "${name}"`);
    }
    this.publish(await this.deps.records.patch(name, { status }), event);
  }

  /** After a failed call, records the status the backend reports. Lock held. */
  private async recordBackendState(name: string): Promise<void> {
    const inst = await this.deps.records.get(name);
    const st = await this.driverFor(inst.type)
      .state(inst.id)
      .catch(() => undefined);
    const status = st === undefined || st.status === 'missing' ? 'error' : st.status;
    await this.deps.records.patch(name, { status, exitCode: st?.exitCode });
  }

  /** Starts a delete operation; a running instance needs force (else conflict at once). */
  async remove(name: string, force: boolean): Promise<Operation> {
    const inst = await this.deps.records.get(name);
    checkAction(name, 'delete', inst.status, { force });
    return this.deps.ops.start('instance.delete', name, () =>
      this.lock.run(name, async () => {
        const current = await this.deps.records.get(name);
        checkAction(name, 'delete', current.status, { force });
        await this.deleteNow(current, force);
        return undefined;
      }),
    );
  }

  /** Releases the backend's resources and forgets the instance. Lock held. */
  async deleteNow(inst: Instance, force: boolean): Promise<void> {
    try {
      await this.driverFor(inst.type).delete(inst.id, { force });
      if (inst.config.network === 'bridge') await this.deps.network?.detach(inst.id);
    } catch (err) {
      throw wrapError(err, `deleting instance "${inst.name}"`);
    }
    await this.deps.records.remove(inst);
    this.publish(inst, 'deleted');
  }

  /** Changes limits, live where the backend allows; returns the updated instance. */
  async update(name: string, input: LimitsInput): Promise<Instance> {
    const limits = limitsFromInput(input);
    return this.lock.run(name, async () => {
      const inst = await this.deps.records.get(name);
      checkAction(name, 'update', inst.status);
      const merged = { ...inst.config.limits, ...limits };
      try {
        await this.driverFor(inst.type).update(inst.id, merged);
      } catch (err) {
        throw wrapError(err, `updating instance "${name}"`);
      }
      const next = await this.deps.records.patch(name, { config: { ...inst.config, limits: merged } });
      this.publish(next, 'updated', { limits: next.config.limits });
      return next;
    });
  }

  /** Runs a command in a running instance. */
  async exec(name: string, req: ExecRequest): Promise<ExecSession> {
    const inst = await this.deps.records.get(name);
    checkAction(name, 'exec', inst.status);
    return this.driverFor(inst.type).exec(inst.id, req);
  }

  /** Attaches to the running workload's own stdio; not_supported when the driver cannot. */
  async attach(name: string, opts: AttachOptions): Promise<ExecSession> {
    const inst = await this.deps.records.get(name);
    const driver = this.driverFor(inst.type);
    if (!driver.attach)
      throw new TandemError('not_supported', `attaching to ${inst.type} instances is not supported yet`);
    // a foreground run's client may come after a short workload ended: the driver may have kept it
    if (!(opts.replay && inst.config.attach)) checkAction(name, 'exec', inst.status);
    return driver.attach(inst.id, opts);
  }

  /** The workload command of `inst` as the driver runs it (image defaults merged). */
  async commandOf(inst: Instance): Promise<string[]> {
    const image = await this.deps.images.get(inst.config.image);
    return workloadArgs(inst.config, image?.config ?? { env: [], exposedPorts: [], labels: {} });
  }

  publish(inst: Instance, action: LifecycleAction, data?: Record<string, unknown>): void {
    this.deps.events.publish({
      type: 'lifecycle',
      action,
      instance: inst.name,
      instanceType: inst.type,
      data,
    });
  }
}
