/**
 * A sandbox's host state, made under a Rollback: its directory (the record, QEMU's sockets and
 * logs, as for a VM), the overlay's upper and work dirs (the rootfs changes, kept across
 * restarts and taken from another driver by `isolate`), and an empty `rootfs` directory where
 * the overlay is mounted inside QEMU's own mount namespace only. The command and the user are
 * looked up in the rootfs before anything runs, so a bad create fails as it does for a container.
 */
import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { TandemError, wrapError } from '../../base/errors.js';
import { Rollback } from '../../base/rollback.js';
import { nowIso } from '../../base/time.js';
import type { DriverSpec } from '../../core/driver.js';
import { takeChanges } from '../common/rootfs-changes.js';
import { findExecutable, resolveUser } from '../common/rootfs-lookup.js';
import type { VmRecords } from '../vm/vm-record.js';

/** The overlay directories of the sandbox in `dir`. */
export function sandboxPaths(dir: string): { upper: string; work: string; rootfs: string } {
  return { upper: join(dir, 'upper'), work: join(dir, 'work'), rootfs: join(dir, 'rootfs') };
}

/** Makes the sandbox's directory, overlay dirs and record; leaves nothing behind when it fails. */
export async function createSandbox(records: VmRecords, spec: DriverSpec): Promise<void> {
  const rb = new Rollback();
  const dir = records.dir(spec.id);
  const p = sandboxPaths(dir);
  try {
    await mkdir(dir, { recursive: true });
    rb.add('instance directory', () => records.remove(spec.id));
    for (const layer of spec.image.layers) await requireDir(layer, `image "${spec.image.name}"`);
    for (const v of spec.volumes) await requireDir(v.source, `volume "${v.source}"`);
    const { rootfsChanges, ...kept } = spec;
    if (rootfsChanges) await takeChanges(rootfsChanges, p.upper);
    for (const d of [p.upper, p.work, p.rootfs]) await mkdir(d, { recursive: true });
    const stack = [p.upper, ...[...spec.image.layers].reverse()];
    await resolveUser(stack, spec.process.user);
    const arg0 = spec.process.args[0] as string;
    if (!(await findExecutable(stack, arg0, spec.process.env, spec.process.cwd || '/')))
      throw new TandemError('invalid_argument', `executable "${arg0}" not found in the image`);
    await records.write({ id: spec.id, name: spec.name, spec: kept, createdAt: nowIso() });
    rb.commit();
  } catch (err) {
    await rb.undo();
    throw wrapError(err, `creating instance "${spec.name}"`);
  }
}

async function requireDir(path: string, what: string): Promise<void> {
  if (!(await stat(path).catch(() => undefined))?.isDirectory())
    throw new TandemError('invalid_argument', `${what}: "${path}" is not a directory`);
}
