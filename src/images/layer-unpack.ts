/**
 * Unpacks one layer tar into its own directory, in the form overlayfs reads as a lower layer:
 * `.wh.NAME` becomes a whiteout (character device 0:0 named NAME) and `.wh..wh..opq` marks
 * its directory opaque (xattr `trusted.overlay.opaque=y`), as Docker's and Podman's overlay
 * drivers store them. Stacking the layer dirs as `lowerdir=top:...:bottom` gives the image.
 *
 * Safety, in a directory only this import writes to:
 * - names are normalised lexically; `..` that would leave the layer is refused, a leading `/`
 *   is dropped (as GNU tar and Podman do), so nothing lands outside the layer dir;
 * - every parent of an entry must be a real directory of this layer (lstat, never followed):
 *   an entry through a symlink (`evil -> /tmp/x`, then `evil/pwned`) is refused;
 * - files are created with O_EXCL|O_NOFOLLOW after removing what was there;
 * - hard links must name an existing non-directory of this same layer, reached without symlinks;
 * - character and block devices are skipped (the runtime provides /dev); fifos are kept;
 * - xattrs `user.*` and `security.*` are kept (file capabilities), others dropped, so an
 *   archive cannot plant its own `trusted.overlay.*` attributes.
 * Ownership, modes (setuid included), times and symlink targets are kept as in the tar.
 */
import { constants } from 'node:fs';
import { chmod, lchown, link, lstat, lutimes, mkdir, open, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { TandemError } from '../base/errors.js';
import type { Logger } from '../base/log.js';
import { type MknodOp, mknodBatch, setXattrs, type XattrOp } from './fs-special.js';
import type { TarEntry, TarHeader } from './tar-reader.js';

export interface UnpackResult {
  /** Bytes of regular-file data written. */
  bytes: number;
  entries: number;
  skippedDevices: number;
}

const WH = '.wh.';
const OPAQUE = '.wh..wh..opq';
const KEPT_XATTR = /^(user|security)\./;

const refuse = (msg: string) => new TandemError('invalid_argument', msg);

/** Splits a tar name into safe relative components; refuses `..` that leaves the root. */
export function entryParts(name: string): string[] {
  const parts: string[] = [];
  for (const c of name.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (parts.length === 0) throw refuse(`entry "${name}" leaves the layer`);
      parts.pop();
    } else parts.push(c);
  }
  return parts;
}

const isNotFound = (e: unknown) => (e as NodeJS.ErrnoException).code === 'ENOENT';

class LayerWriter {
  private readonly safeDirs = new Set<string>(['']);
  private readonly dirTimes = new Map<string, number>();
  private readonly deferred = new Map<string, MknodOp & { uid: number; gid: number }>();
  private readonly xattrs = new Map<string, XattrOp[]>();
  readonly result: UnpackResult = { bytes: 0, entries: 0, skippedDevices: 0 };

  constructor(
    private readonly dir: string,
    private readonly logger?: Logger,
  ) {}

  private full(rel: string): string {
    return rel === '' ? this.dir : join(this.dir, rel);
  }

  /** Makes sure every parent of `parts` is a directory of this layer; creates missing ones when `create`. */
  private async parents(parts: string[], name: string, create: boolean): Promise<void> {
    for (let i = 1; i < parts.length; i++) {
      const p = parts.slice(0, i).join('/');
      if (this.safeDirs.has(p)) continue;
      try {
        const st = await lstat(this.full(p));
        if (!st.isDirectory()) throw refuse(`entry "${name}" goes through "${p}", which is not a directory`);
      } catch (e) {
        if (!isNotFound(e) || !create)
          throw isNotFound(e) ? refuse(`entry "${name}": "${p}" is not in the layer`) : e;
        await mkdir(this.full(p), { mode: 0o755 });
      }
      this.safeDirs.add(p);
    }
  }

  /** Clears `rel` for a new entry; keeps an existing directory when the entry is one. */
  private async clear(rel: string, keepDir: boolean): Promise<boolean> {
    this.deferred.delete(rel);
    try {
      const st = await lstat(this.full(rel));
      if (st.isDirectory() && keepDir) return true;
      this.xattrs.delete(rel);
      await rm(this.full(rel), { recursive: true, force: true });
      for (const d of this.safeDirs) if (d === rel || d.startsWith(`${rel}/`)) this.safeDirs.delete(d);
      for (const m of [this.deferred, this.xattrs, this.dirTimes]) {
        for (const d of m.keys()) if (d.startsWith(`${rel}/`)) m.delete(d);
      }
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
    return false;
  }

  async add(entry: TarEntry): Promise<void> {
    const h = entry.header;
    const parts = entryParts(h.name);
    const rel = parts.join('/');
    const base = parts[parts.length - 1] ?? '';
    this.result.entries++;
    if (base.startsWith(WH)) return this.whiteout(parts, h.name);
    if (h.type === 'char' || h.type === 'block') {
      this.result.skippedDevices++;
      this.logger?.debug({ entry: h.name }, 'skipping device node in layer');
      return;
    }
    if (rel === '' && h.type !== 'directory') throw refuse(`entry "${h.name}" replaces the layer root`);
    await this.parents(parts, h.name, true);
    const existingDir = await this.clear(rel, h.type === 'directory');
    switch (h.type) {
      case 'directory':
        if (!existingDir) await mkdir(this.full(rel), { mode: 0o700 });
        await lchown(this.full(rel), h.uid, h.gid);
        await chmod(this.full(rel), h.mode);
        this.safeDirs.add(rel);
        this.dirTimes.set(rel, h.mtime);
        break;
      case 'file':
        await this.file(entry, rel);
        break;
      case 'symlink':
        await symlink(h.linkname, this.full(rel));
        await lchown(this.full(rel), h.uid, h.gid);
        await lutimes(this.full(rel), h.mtime, h.mtime);
        break;
      case 'link':
        await this.hardlink(h, rel);
        break;
      case 'fifo':
        this.deferred.set(rel, {
          path: this.full(rel),
          kind: 'fifo',
          mode: h.mode,
          major: 0,
          minor: 0,
          uid: h.uid,
          gid: h.gid,
        });
        break;
    }
    this.keepXattrs(h, rel);
  }

  private async file(entry: TarEntry, rel: string): Promise<void> {
    const h = entry.header;
    const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
    const fh = await open(this.full(rel), flags, 0o600);
    try {
      for await (const chunk of entry.body()) {
        await fh.write(chunk);
        this.result.bytes += chunk.length;
      }
      await fh.chown(h.uid, h.gid);
      await fh.chmod(h.mode);
      await fh.utimes(h.mtime, h.mtime);
    } finally {
      await fh.close();
    }
  }

  private async hardlink(h: TarHeader, rel: string): Promise<void> {
    const target = entryParts(h.linkname);
    const trel = target.join('/');
    if (trel === '' || trel === rel) throw refuse(`hard link "${h.name}" points to "${h.linkname}"`);
    await this.parents(target, h.linkname, false);
    let st: Awaited<ReturnType<typeof lstat>>;
    try {
      st = await lstat(this.full(trel));
    } catch (e) {
      if (isNotFound(e))
        throw refuse(`hard link "${h.name}" points to "${h.linkname}", which is not in the layer`);
      throw e;
    }
    if (st.isDirectory()) throw refuse(`hard link "${h.name}" points to directory "${h.linkname}"`);
    await link(this.full(trel), this.full(rel));
  }

  private async whiteout(parts: string[], name: string): Promise<void> {
    const base = parts[parts.length - 1];
    const parentParts = parts.slice(0, -1);
    await this.parents([...parentParts, 'x'], name, true);
    if (base === OPAQUE) {
      const dir = parentParts.join('/');
      if (dir === '') return; // the layer root hides nothing extra: it is the image's root
      this.xattr(dir, 'trusted.overlay.opaque', Buffer.from('y'));
      return;
    }
    if (base.startsWith(`${WH}${WH}`)) return; // other AUFS metadata (.wh..wh.plnk, ...)
    const target = base.slice(WH.length);
    if (target === '' || target === '.' || target === '..') throw refuse(`whiteout "${name}" names nothing`);
    const rel = [...parentParts, target].join('/');
    if (this.deferred.has(rel)) return;
    this.deferred.set(rel, {
      path: this.full(rel),
      kind: 'char',
      mode: 0,
      major: 0,
      minor: 0,
      uid: 0,
      gid: 0,
    });
  }

  private xattr(rel: string, name: string, value: Buffer): void {
    const list = this.xattrs.get(rel) ?? [];
    list.push({ path: this.full(rel), name, value });
    this.xattrs.set(rel, list);
  }

  private keepXattrs(h: TarHeader, rel: string): void {
    for (const [name, value] of h.xattrs) {
      if (KEPT_XATTR.test(name)) this.xattr(rel, name, value);
      else this.logger?.debug({ entry: h.name, xattr: name }, 'dropping xattr from layer');
    }
  }

  /** Creates deferred nodes, then xattrs (after chown, which clears capabilities), then directory times. */
  async finish(): Promise<void> {
    const nodes: (MknodOp & { uid: number; gid: number })[] = [];
    for (const [rel, op] of this.deferred) {
      await this.parents(rel.split('/'), rel, true);
      try {
        await lstat(this.full(rel));
        continue; // a whiteout loses against an entry of the same layer
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
      nodes.push(op);
    }
    await mknodBatch(nodes);
    for (const n of nodes) await lchown(n.path, n.uid, n.gid);
    await setXattrs([...this.xattrs.values()].flat());
    const dirs = [...this.dirTimes.entries()].sort((a, b) => b[0].split('/').length - a[0].split('/').length);
    for (const [rel, t] of dirs) await lutimes(this.full(rel), t, t);
  }
}

/** Writes the entries into `dir` (an empty directory); rejects with invalid_argument on a hostile entry. */
export async function unpackLayer(
  entries: AsyncIterable<TarEntry>,
  dir: string,
  opts: { signal?: AbortSignal; logger?: Logger } = {},
): Promise<UnpackResult> {
  await chmod(dir, 0o755);
  const w = new LayerWriter(dir, opts.logger);
  for await (const entry of entries) {
    opts.signal?.throwIfAborted();
    await w.add(entry);
  }
  await w.finish();
  return w.result;
}
