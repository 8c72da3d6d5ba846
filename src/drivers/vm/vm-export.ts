/**
 * A stopped VM's rootfs changes against its image (for `isolate` to a container or sandbox):
 * the qcow2 chain is flattened to a temporary raw file, which is loop-mounted (read-write: a
 * VM killed by force leaves a journal to replay, and the copy is thrown away), and compared
 * with the image's layers (merged read-only when there are several). Only what differs is
 * copied out, with whiteouts for what the VM removed. Both mounts live only while the diff runs
 * and are undone on failure.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { TandemError, wrapError } from '../../base/errors.js';
import { run, runChecked } from '../../base/proc.js';
import { Rollback } from '../../base/rollback.js';
import type { ResolvedImage } from '../../core/driver.js';
import { diffTrees, exportPath, writeDiff } from '../common/rootfs-changes.js';
import { mergedRootfs } from './vm-disk.js';

/** Exports the changes of `disk` against `image` into a new directory under `<root>/exports/`; returns it. */
export async function exportDiskChanges(disk: string, image: ResolvedImage, root: string): Promise<string> {
  const rb = new Rollback();
  await mkdir(root, { recursive: true });
  const work = await mkdtemp(join(root, '.export-'));
  rb.add('temporary export directory', () => rm(work, { recursive: true, force: true }));
  const out = await exportPath(root);
  try {
    const raw = join(work, 'disk.raw');
    await runChecked('qemu-img', ['convert', '-q', '-O', 'raw', disk, raw]);
    const mnt = join(work, 'disk');
    await mkdir(mnt);
    const mounted = await run('mount', ['-o', 'loop', raw, mnt]);
    if (mounted.code !== 0)
      throw new TandemError(
        'unavailable',
        `mounting the vm disk (a loop device is needed): ${mounted.stderr.trim() || `status ${mounted.code}`}`,
      );
    rb.add('disk mount', async () => {
      await run('umount', [mnt]);
    });
    const base = await mergedRootfs(image.layers, work, rb);
    const diff = await diffTrees(mnt, base, ['lost+found']);
    await writeDiff(mnt, diff, out);
    return out;
  } catch (err) {
    await rm(out, { recursive: true, force: true });
    throw wrapError(err, 'exporting the rootfs changes of a vm disk');
  } finally {
    await rb.undo();
  }
}
