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
 *
 * File-system calls are synchronous on purpose: a layer is thousands of tiny syscalls, and
 * through libuv's thread pool each costs a round trip (measured 2-3x slower on 2 busy cores).
 * The event loop is held at most for the entries of one read chunk (1 MiB).
 */
import {
  chmodSync,
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  futimesSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  rmSync,
  symlinkSync,
  writeSync,
} from 'node:fs';
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
  private parents(parts: string[], name: string, create: boolean): void {
    for (let i = 1; i < parts.length; i++) {
      const p = parts.slice(0, i).join('/');
      if (this.safeDirs.has(p)) continue;
      const st = lstatSync(this.full(p), { throwIfNoEntry: false });
      if (st && !st.isDirectory())
        throw refuse(`entry "${name}" goes through "${p}", which is not a directory`);
      if (!st && !create) throw refuse(`entry "${name}": "${p}" is not in the layer`);
      if (!st) mkdirSync(this.full(p), { mode: 0o755 });
      this.safeDirs.add(p);
    }
  }

  /** Clears `rel` for a new entry; keeps an existing directory when the entry is one. */
  private clear(rel: string, keepDir: boolean): boolean {
    this.deferred.delete(rel);
    const st = lstatSync(this.full(rel), { throwIfNoEntry: false });
    if (st) {
      if (st.isDirectory() && keepDir) return true;
      this.xattrs.delete(rel);
      rmSync(this.full(rel), { recursive: true, force: true });
      for (const d of this.safeDirs) if (d === rel || d.startsWith(`${rel}/`)) this.safeDirs.delete(d);
      for (const m of [this.deferred, this.xattrs, this.dirTimes]) {
        for (const d of m.keys()) if (d.startsWith(`${rel}/`)) m.delete(d);
      }
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
    this.parents(parts, h.name, true);
    const existingDir = this.clear(rel, h.type === 'directory');
    switch (h.type) {
      case 'directory':
        if (!existingDir) mkdirSync(this.full(rel), { mode: 0o700 });
        lchownSync(this.full(rel), h.uid, h.gid);
        chmodSync(this.full(rel), h.mode);
        this.safeDirs.add(rel);
        this.dirTimes.set(rel, h.mtime);
        break;
      case 'file':
        await this.file(entry, rel);
        break;
      case 'symlink':
        symlinkSync(h.linkname, this.full(rel));
        lchownSync(this.full(rel), h.uid, h.gid);
        lutimesSync(this.full(rel), h.mtime, h.mtime);
        break;
      case 'link':
        this.hardlink(h, rel);
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
    const fd = openSync(this.full(rel), flags, 0o600);
    try {
      for await (const chunk of entry.body()) {
        for (let off = 0; off < chunk.length; ) off += writeSync(fd, chunk, off);
        this.result.bytes += chunk.length;
      }
      fchownSync(fd, h.uid, h.gid);
      fchmodSync(fd, h.mode);
      futimesSync(fd, h.mtime, h.mtime);
    } finally {
      closeSync(fd);
    }
  }

  private hardlink(h: TarHeader, rel: string): void {
    const target = entryParts(h.linkname);
    const trel = target.join('/');
    if (trel === '' || trel === rel) throw refuse(`hard link "${h.name}" points to "${h.linkname}"`);
    this.parents(target, h.linkname, false);
    const st = lstatSync(this.full(trel), { throwIfNoEntry: false });
    if (!st) throw refuse(`hard link "${h.name}" points to "${h.linkname}", which is not in the layer`);
    if (st.isDirectory()) throw refuse(`hard link "${h.name}" points to directory "${h.linkname}"`);
    linkSync(this.full(trel), this.full(rel));
  }

  private whiteout(parts: string[], name: string): void {
    const base = parts[parts.length - 1];
    const parentParts = parts.slice(0, -1);
    this.parents([...parentParts, 'x'], name, true);
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
      this.parents(rel.split('/'), rel, true);
      // a whiteout loses against an entry of the same layer
      if (!lstatSync(this.full(rel), { throwIfNoEntry: false })) nodes.push(op);
    }
    await mknodBatch(nodes);
    for (const n of nodes) lchownSync(n.path, n.uid, n.gid);
    await setXattrs([...this.xattrs.values()].flat());
    const dirs = [...this.dirTimes.entries()].sort((a, b) => b[0].split('/').length - a[0].split('/').length);
    for (const [rel, t] of dirs) lutimesSync(this.full(rel), t, t);
  }
}

/** Writes the entries into `dir` (an empty directory); rejects with invalid_argument on a hostile entry. */
export async function unpackLayer(
  entries: AsyncIterable<TarEntry>,
  dir: string,
  opts: { signal?: AbortSignal; logger?: Logger } = {},
): Promise<UnpackResult> {
  chmodSync(dir, 0o755);
  const w = new LayerWriter(dir, opts.logger);
  for await (const entry of entries) {
    opts.signal?.throwIfAborted();
    await w.add(entry);
  }
  await w.finish();
  return w.result;
}
