/**
 * Creating a VM instance's host state (its directory, the image's base disk, a qcow2 overlay,
 * the record) with a rollback, and the disk housekeeping that goes with it. Disk operations of
 * one root run one at a time, so a base disk is never collected while a create uses it.
 */
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { TandemError, wrapError } from '../../base/errors.js';
import { Rollback } from '../../base/rollback.js';
import { nowIso } from '../../base/time.js';
import { formatSize } from '../../base/units.js';
import type { DriverSpec } from '../../core/driver.js';
import { buildDisk, createOverlay, DEFAULT_DISK_BYTES, ensureBaseDisk, growOverlay } from './vm-disk.js';
import type { VmRecord, VmRecords } from './vm-record.js';

const chains = new Map<string, Promise<unknown>>();

function serial<T>(root: string, fn: () => Promise<T>): Promise<T> {
  const next = (chains.get(root) ?? Promise.resolve()).catch(() => {}).then(fn);
  chains.set(root, next);
  return next;
}

/** The directory of base disks under a driver root. */
export function imagesDir(records: VmRecords): string {
  return join(records.root, 'images');
}

/** Makes the instance's directory, disk and record; leaves nothing behind when it fails. */
export function createVmDisk(records: VmRecords, spec: DriverSpec): Promise<void> {
  return serial(records.root, async () => {
    const rb = new Rollback();
    const dir = records.dir(spec.id);
    try {
      rb.add('unused base disks', () => collectBaseDisks(records));
      await mkdir(dir, { recursive: true });
      rb.add('instance directory', () => records.remove(spec.id));
      const { rootfsChanges, ...kept } = spec;
      const disk = rootfsChanges
        ? await wholeDisk(records, kept, rootfsChanges)
        : await overlayDisk(records, kept);
      await records.write({ id: spec.id, name: spec.name, spec: kept, createdAt: nowIso(), ...disk });
      rb.commit();
      if (rootfsChanges) await rm(rootfsChanges, { recursive: true, force: true });
    } catch (err) {
      await rb.undo();
      throw wrapError(err, `creating instance "${spec.name}"`);
    }
  });
}

/** The instance's disk as a qcow2 overlay over the image's base disk (shared by its instances). */
async function overlayDisk(
  records: VmRecords,
  spec: DriverSpec,
): Promise<Pick<VmRecord, 'baseDisk' | 'diskBytes'>> {
  const base = await ensureBaseDisk(imagesDir(records), spec.image);
  const bytes = spec.limits.diskBytes ?? Math.max(DEFAULT_DISK_BYTES, base.sizeBytes);
  await createOverlay(base, join(records.dir(spec.id), 'disk.qcow2'), bytes);
  return { baseDisk: base.path, diskBytes: bytes };
}

/** The instance's disk built whole from the image's layers with `changes` on top (isolate to a VM). */
async function wholeDisk(
  records: VmRecords,
  spec: DriverSpec,
  changes: string,
): Promise<Pick<VmRecord, 'diskBytes'>> {
  const dir = records.dir(spec.id);
  const min = spec.limits.diskBytes ?? DEFAULT_DISK_BYTES;
  const size = await buildDisk([...spec.image.layers, changes], dir, join(dir, 'disk.qcow2'), min);
  if (spec.limits.diskBytes !== undefined && spec.limits.diskBytes < size) {
    throw new TandemError(
      'invalid_argument',
      `disk size ${formatSize(spec.limits.diskBytes)} is smaller than the instance's files (${formatSize(size)})`,
    );
  }
  return { diskBytes: Math.max(min, size) };
}

/** Removes base disks that no instance uses any more. */
export function removeUnusedBaseDisks(records: VmRecords): Promise<void> {
  return serial(records.root, () => collectBaseDisks(records));
}

async function collectBaseDisks(records: VmRecords): Promise<void> {
  const used = new Set<string>();
  for (const id of await records.list()) {
    const rec = await records.read(id);
    if (rec?.baseDisk) used.add(rec.baseDisk);
  }
  const dir = imagesDir(records);
  for (const f of await readdir(dir).catch(() => [] as string[])) {
    if (!f.endsWith('.qcow2') || used.has(join(dir, f))) continue;
    await rm(join(dir, f), { force: true });
    await rm(join(dir, `${f}.json`), { force: true });
  }
}

/** Grows a stopped instance's disk; invalid_argument when asked to shrink it. */
export async function growDisk(records: VmRecords, rec: VmRecord, bytes: number): Promise<void> {
  if (bytes < (rec.diskBytes ?? 0))
    throw new TandemError('invalid_argument', `instance "${rec.name}": a vm disk cannot shrink`);
  await growOverlay(join(records.dir(rec.id), 'disk.qcow2'), bytes);
  rec.diskBytes = bytes;
}
