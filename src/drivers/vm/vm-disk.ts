/**
 * VM disks: one base disk per image digest, made once from the image's layers (merged by a
 * read-only overlayfs mount when there are several, so whiteouts apply exactly as for
 * containers) with `mkfs.ext4 -d` and converted to qcow2; and one qcow2 overlay per instance
 * whose virtual size is the instance's disk size (the guest grows its ext4 to it at boot).
 * A base disk is built in a temporary directory and renamed into place: a failure leaves
 * nothing, and concurrent builds of one image are harmless.
 */
import { mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TandemError, wrapError } from '../../base/errors.js';
import { run, runChecked } from '../../base/proc.js';
import { Rollback } from '../../base/rollback.js';
import { formatSize } from '../../base/units.js';
import type { ResolvedImage } from '../../core/driver.js';

const MiB = 1024 * 1024;

/** Default virtual size of a VM's root disk when the instance sets none. */
export const DEFAULT_DISK_BYTES = 1024 * MiB;

export interface BaseDisk {
  path: string;
  /** Size of the ext4 filesystem inside, bytes. */
  sizeBytes: number;
}

function baseName(digest: string): string {
  return digest.replace(/[^a-zA-Z0-9]/g, '-');
}

/** The path of the base disk of `digest` inside `cacheDir` (it may not exist). */
export function baseDiskPath(cacheDir: string, digest: string): string {
  return join(cacheDir, `${baseName(digest)}.qcow2`);
}

/** Returns the base disk of the image, building it on first use. */
export async function ensureBaseDisk(cacheDir: string, image: ResolvedImage): Promise<BaseDisk> {
  const path = baseDiskPath(cacheDir, image.digest);
  try {
    const meta = JSON.parse(await readFile(`${path}.json`, 'utf8')) as { sizeBytes: number };
    await stat(path);
    return { path, sizeBytes: meta.sizeBytes };
  } catch {
    // not built yet
  }
  if (image.layers.length === 0)
    throw new TandemError('invalid_argument', `image "${image.name}" has no layers`);
  for (const l of image.layers) {
    const st = await stat(l).catch(() => undefined);
    if (!st?.isDirectory())
      throw new TandemError('not_found', `image "${image.name}": layer directory "${l}" is missing`);
  }
  await mkdir(cacheDir, { recursive: true });
  try {
    const sizeBytes = await buildDisk(image.layers, cacheDir, path, 0);
    await writeFile(`${path}.json`, JSON.stringify({ sizeBytes, image: image.name }));
    return { path, sizeBytes };
  } catch (err) {
    await rm(`${path}.json`, { force: true });
    throw wrapError(err, `building the disk of image "${image.name}"`);
  }
}

/**
 * Builds a qcow2 at `dest` whose ext4 holds the merged `layers` (bottom first), in a temporary
 * directory under `scratch` (renamed into place at the end); its virtual size is at least
 * `minBytes`. Returns the size of the filesystem inside.
 */
export async function buildDisk(
  layers: string[],
  scratch: string,
  dest: string,
  minBytes: number,
): Promise<number> {
  const tmp = await mkdtemp(join(scratch, '.build-'));
  const rb = new Rollback();
  rb.add('temporary build directory', () => rm(tmp, { recursive: true, force: true }));
  try {
    const rootfs = await mergedRootfs(layers, tmp, rb);
    const sizeBytes = await ext4Size(rootfs);
    const raw = join(tmp, 'base.raw');
    const inodes = await countInodes(rootfs);
    // 4 KiB blocks (mkfs picks 1 KiB for small filesystems): growing to the disk size at boot
    // then adds 16 times fewer block groups, and the grown filesystem performs as a normal one.
    await runChecked('mkfs.ext4', [
      '-q',
      '-F',
      '-b',
      '4096',
      '-L',
      'root',
      '-N',
      String(inodes * 2 + 4096),
      '-d',
      rootfs,
      raw,
      `${sizeBytes / 1024}k`,
    ]);
    await runChecked('qemu-img', ['convert', '-q', '-O', 'qcow2', raw, join(tmp, 'base.qcow2')]);
    if (minBytes > sizeBytes) await growOverlay(join(tmp, 'base.qcow2'), minBytes);
    await rename(join(tmp, 'base.qcow2'), dest);
    return sizeBytes;
  } finally {
    await rb.undo();
  }
}

/** One layer is the rootfs itself; several (bottom first) are merged by a read-only overlay mount in `tmp`. */
export async function mergedRootfs(layers: string[], tmp: string, rb: Rollback): Promise<string> {
  if (layers.length === 1) return layers[0] as string;
  const merged = join(tmp, 'merged');
  await mkdir(merged);
  const lower = [...layers].reverse().join(':');
  await runChecked('mount', ['-t', 'overlay', 'overlay', '-o', `ro,lowerdir=${lower}`, merged]);
  rb.add('overlay mount', async () => {
    await run('umount', [merged]);
  });
  return merged;
}

/** Filesystem size for a rootfs: its usage plus a quarter and 32 MiB, at least 64 MiB. */
async function ext4Size(rootfs: string): Promise<number> {
  const du = await runChecked('du', ['-s', '-B1', '-x', rootfs]);
  const used = Number(du.stdout.split(/\s/)[0]);
  const size = Math.max(64 * MiB, used * 1.25 + 32 * MiB);
  return Math.ceil(size / MiB) * MiB;
}

async function countInodes(rootfs: string): Promise<number> {
  const du = await runChecked('du', ['-s', '--inodes', '-x', rootfs]);
  return Number(du.stdout.split(/\s/)[0]);
}

/** Creates the instance's overlay over `base` with a virtual size of `bytes`. */
export async function createOverlay(base: BaseDisk, path: string, bytes: number): Promise<void> {
  if (bytes < base.sizeBytes) {
    throw new TandemError(
      'invalid_argument',
      `disk size ${formatSize(bytes)} is smaller than the image's ${formatSize(base.sizeBytes)}`,
    );
  }
  await runChecked('qemu-img', [
    'create',
    '-q',
    '-f',
    'qcow2',
    '-b',
    base.path,
    '-F',
    'qcow2',
    path,
    String(bytes),
  ]);
}

/** Grows an overlay's virtual size (never shrinks). */
export async function growOverlay(path: string, bytes: number): Promise<void> {
  await runChecked('qemu-img', ['resize', '-q', path, String(bytes)]);
}
