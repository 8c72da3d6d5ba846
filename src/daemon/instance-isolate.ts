/**
 * `tandem isolate NAME --to container|sandbox|vm`: the same instance (name, settings, rootfs
 * changes) at another isolation level. Under the instance's lock: stop it if it runs, have the
 * source driver export its rootfs changes (overlay upper-dir form: a hard-link copy for
 * containers and sandboxes, a diff of the disk against the image for VMs), create it on the
 * target driver from those changes under a new driver id, switch the stored record to the new
 * type and id in one commit, delete the source's copy, and start it again if it ran. Until the
 * commit the source is untouched, so a failure leaves the instance as it was (restarted if it
 * ran); a crash in between leaves a driver instance with an id the store does not know, which
 * the next reconcile deletes. An instance on a bridge network keeps its address and published
 * ports: the old id is detached before the new one attaches (asking for the same address), and
 * attached again if the move fails.
 */
import { rm } from 'node:fs/promises';
import { TandemError, wrapError } from '../base/errors.js';
import { newId } from '../base/ids.js';
import { Rollback } from '../base/rollback.js';
import type { InstanceDriver } from '../core/driver.js';
import type { Instance, InstanceType } from '../core/instance.js';
import type { Operation } from '../core/operation.js';
import type { InstanceService } from './instance-service.js';
import { assertSupported, driverSpec } from './instance-spec.js';

const STOP_TIMEOUT_MS = 10_000;

/** Validates an isolate request and starts its operation; rejects at once when it cannot succeed. */
export async function startIsolate(svc: InstanceService, name: string, to: InstanceType): Promise<Operation> {
  const dst = svc.driverFor(to);
  const dstInfo = svc.deps.drivers.get(to)!.info;
  if (!dstInfo.features.includes('rootfs-changes'))
    throw new TandemError('not_supported', `isolating instances to ${to} is not supported by this daemon`);
  const inst = await svc.deps.records.get(name);
  if (inst.type !== to) {
    exporterOf(svc.driverFor(inst.type), inst);
    assertSupported(inst.config, dstInfo);
  }
  return svc.deps.ops.start('instance.isolate', name, () =>
    svc.lock.run(name, async () => {
      const cur = await svc.deps.records.get(name);
      if (cur.type !== to) await isolateNow(svc, cur, to, dst);
      return { name };
    }),
  );
}

function exporterOf(driver: InstanceDriver, inst: Instance): (id: string) => Promise<string> {
  const exp = driver.exportRootfsChanges?.bind(driver);
  if (!exp)
    throw new TandemError(
      'not_supported',
      `instance "${inst.name}": ${inst.type} instances cannot hand over their rootfs changes`,
    );
  return exp;
}

/**
 * Detaches the (stopped) old instance from its bridge network, so the new one can lease the same
 * address and publish the same ports (hostSide asks for the address); the rollback attaches the
 * old id again with its address, which rebuilds its netns or tap, forwards and hosts entry under
 * the same names (every host name derives from the id).
 */
async function moveAttachment(svc: InstanceService, inst: Instance, rb: Rollback): Promise<void> {
  const network = svc.deps.network;
  if (inst.config.network !== 'bridge' || !network) return;
  await network.detach(inst.id);
  rb.add('the old network attachment', async () => {
    await network.attach({
      id: inst.id,
      name: inst.name,
      hostname: inst.config.hostname ?? inst.name,
      type: inst.type,
      ports: inst.config.ports,
      address: inst.addresses[0],
    });
  });
}

/** Moves `inst` to `to` (lock held). */
async function isolateNow(
  svc: InstanceService,
  inst: Instance,
  to: InstanceType,
  dst: InstanceDriver,
): Promise<void> {
  const src = svc.driverFor(inst.type);
  const exportChanges = exporterOf(src, inst);
  const wasActive = ['running', 'paused', 'starting'].includes(inst.status);
  if (wasActive) await svc.stopNow(inst.name, STOP_TIMEOUT_MS);
  const next: Instance = { ...inst, id: newId(), type: to };
  const rb = new Rollback();
  let changes: string | undefined;
  try {
    changes = await exportChanges(inst.id);
    await moveAttachment(svc, inst, rb);
    const spec = await svc.hostSide(next, driverSpec(next, await svc.resolveImage(inst.config.image)), rb);
    await dst.create({ ...spec, rootfsChanges: changes });
    rb.add(`the new ${to} instance`, () => dst.delete(next.id, { force: true }));
    await svc.deps.records.patch(inst.name, {
      id: next.id,
      type: to,
      status: 'created',
      statusReason: `isolated from ${inst.type}`,
      pid: undefined,
      accel: undefined,
      exitCode: undefined,
      addresses: next.addresses,
    });
    rb.commit();
  } catch (err) {
    await rb.undo();
    if (wasActive) await svc.startNow(inst.name).catch(() => undefined);
    throw wrapError(err, `isolating instance "${inst.name}" to ${to}`);
  } finally {
    if (changes) await rm(changes, { recursive: true, force: true });
  }
  await svc.deps.records.load(); // index the new driver id
  await src
    .delete(inst.id, { force: true })
    .catch((err) =>
      svc.deps.logger.warn({ err, name: inst.name }, 'isolate: the old instance was not removed'),
    );
  svc.publish(await svc.deps.records.get(inst.name), 'isolated', { from: inst.type, to });
  if (wasActive) await svc.startNow(inst.name);
}
