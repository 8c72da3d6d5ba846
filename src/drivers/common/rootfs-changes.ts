/**
 * Rootfs changes as `isolate` carries them between drivers: a directory in overlay upper-dir
 * form (added and changed entries with their metadata; a 0/0 character device where an entry of
 * the image was removed). Containers and sandboxes keep exactly that (their overlay upper dir),
 * so exporting is a copy by hard links (no data is copied; the source is deleted once the new
 * instance exists) and importing is a rename. A VM keeps a whole disk: `diffTrees` turns the
 * disk's tree into changes against the image, and the image's layers plus the changes make a
 * new disk. Every directory lives under the state dir, so renames and links stay on one fs.
 */
import { randomBytes } from 'node:crypto';
import type { Stats } from 'node:fs';
import { lstat, mkdir, open, readdir, readlink, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { run, runChecked } from '../../base/proc.js';

/** A new, not yet existing path under `<root>/exports/` for exported changes. */
export async function exportPath(root: string): Promise<string> {
  await mkdir(join(root, 'exports'), { recursive: true });
  return join(root, 'exports', `${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`);
}

/** Copies the upper dir `upper` to the new directory `dest` by hard links (cp -a where links fail). */
export async function copyChanges(upper: string, dest: string): Promise<void> {
  const linked = await run('cp', ['-a', '--link', '--no-target-directory', upper, dest]);
  if (linked.code === 0) return;
  await rm(dest, { recursive: true, force: true });
  await runChecked('cp', ['-a', '--no-target-directory', upper, dest]);
}

/** Moves the changes directory `src` to `dest` (which must not exist): a rename, else a copy. */
export async function takeChanges(src: string, dest: string): Promise<void> {
  try {
    await rename(src, dest);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
    await runChecked('cp', ['-a', '--no-target-directory', src, dest]);
    await rm(src, { recursive: true, force: true });
  }
}

/** What differs between two trees: paths to copy (parents first) and paths to white out. */
export interface TreeDiff {
  copy: string[];
  whiteout: string[];
}

function kind(st: Stats): string {
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'link';
  if (st.isFile()) return 'file';
  return `special:${st.mode & 0o170000}:${st.rdev}`;
}

async function sameContent(a: string, b: string, size: number): Promise<boolean> {
  const [fa, fb] = [await open(a, 'r'), await open(b, 'r')];
  try {
    const [ba, bb] = [Buffer.alloc(1 << 16), Buffer.alloc(1 << 16)];
    for (let off = 0; off < size; off += ba.length) {
      const [ra, rb] = [await fa.read(ba, 0, ba.length, off), await fb.read(bb, 0, bb.length, off)];
      if (ra.bytesRead !== rb.bytesRead || !ba.subarray(0, ra.bytesRead).equals(bb.subarray(0, rb.bytesRead)))
        return false;
    }
    return true;
  } finally {
    await fa.close();
    await fb.close();
  }
}

/** True when the entry at `rel` is the same in both trees (directories: their own metadata only). */
async function sameEntry(changed: string, base: string, rel: string, a: Stats, b: Stats): Promise<boolean> {
  if (kind(a) !== kind(b) || a.uid !== b.uid || a.gid !== b.gid) return false;
  if (!a.isSymbolicLink() && a.mode !== b.mode) return false;
  if (a.isSymbolicLink()) return (await readlink(join(changed, rel))) === (await readlink(join(base, rel)));
  if (!a.isFile()) return true;
  if (a.size !== b.size) return false;
  return a.mtimeMs === b.mtimeMs || sameContent(join(changed, rel), join(base, rel), a.size);
}

/** Walks two trees and collects their differences (see diffTrees). */
class TreeDiffer {
  readonly diff: TreeDiff = { copy: [], whiteout: [] };
  private readonly listed = new Set<string>();

  constructor(
    private readonly changed: string,
    private readonly base: string,
    private readonly ignore: string[],
  ) {}

  /** Lists `rel` for copying, after those of its parent directories not listed yet. */
  private add(rel: string, withSelf = true): void {
    const parts = rel.split('/');
    for (let i = 1; i <= parts.length; i++) {
      const p = parts.slice(0, i).join('/');
      if ((i < parts.length || withSelf) && !this.listed.has(p)) {
        this.listed.add(p);
        this.diff.copy.push(p);
      }
    }
  }

  private async addTree(rel: string): Promise<void> {
    this.add(rel);
    if ((await lstat(join(this.changed, rel))).isDirectory())
      for (const n of (await readdir(join(this.changed, rel))).sort()) await this.addTree(`${rel}/${n}`);
  }

  async walk(rel: string): Promise<void> {
    const here = rel ? `${rel}/` : '';
    const names = (await readdir(join(this.changed, rel))).sort();
    for (const n of names) {
      const r = here + n;
      const b = await lstat(join(this.base, r)).catch(() => undefined);
      if (!rel && !b && this.ignore.includes(n)) continue;
      const a = await lstat(join(this.changed, r));
      if (!b || (a.isDirectory() && !b.isDirectory())) await this.addTree(r);
      else if (!(await sameEntry(this.changed, this.base, r, a, b))) this.add(r);
      if (b && a.isDirectory() && b.isDirectory()) await this.walk(r);
    }
    const gone = (await readdir(join(this.base, rel)).catch(() => [] as string[])).filter(
      (n) => !names.includes(n),
    );
    for (const n of gone.sort()) {
      this.add(here + n, false);
      this.diff.whiteout.push(here + n);
    }
  }
}

/**
 * Compares `changed` (e.g. a VM's mounted disk) with `base` (the image's merged rootfs) and
 * returns what an overlay upper dir over `base` needs to show `changed`. Top-level names in
 * `ignore` (e.g. lost+found) are skipped when `base` lacks them.
 */
export async function diffTrees(changed: string, base: string, ignore: string[] = []): Promise<TreeDiff> {
  const d = new TreeDiffer(changed, base, ignore);
  await d.walk('');
  return d.diff;
}

/**
 * Writes `diff` of `changed` into the new directory `out`: the entries with their metadata
 * (through tar, which keeps owners, modes, times, xattrs, devices and hard links) and whiteouts.
 */
export async function writeDiff(changed: string, diff: TreeDiff, out: string): Promise<void> {
  await mkdir(out, { recursive: true });
  if (diff.copy.length > 0) {
    const list = `${diff.copy.map((p) => `./${p}`).join('\0')}\0`;
    const tar = `tar -C "$1" --no-recursion --null -T - --xattrs --xattrs-include='*' -cf - | tar -C "$2" --xattrs --xattrs-include='*' -xpf -`;
    await runChecked('bash', ['-c', `set -o pipefail; ${tar}`, 'bash', changed, out], { input: list });
  }
  if (diff.whiteout.length > 0) {
    const list = `${diff.whiteout.map((p) => join(out, p)).join('\0')}\0`;
    await runChecked('xargs', ['-0', '-I{}', 'mknod', '{}', 'c', '0', '0'], { input: list });
  }
}
