/**
 * The unpacked layers on disk: `<root>/layers/<sha256 hex of the diff id>/` is the layer's
 * tree, ready to be an overlayfs lower dir. A layer dir appears only by an atomic rename from
 * `<root>/tmp/` once its content is verified, so any dir found under `layers/` is whole.
 * Layers in use by an import in flight are pinned: garbage collection skips them, and pinning
 * and collecting happen under one lock so a layer cannot vanish between "it exists" and use.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../base/log.js';
import { removeTree } from './fs-tree.js';

/** The metadata record of one layer (collection `layers`, key = hex of the diff id). */
export interface LayerRecord {
  diffId: string;
  /** Bytes of file data in the unpacked tree. */
  size: number;
  createdAt: string;
}

/** The hex part of a `sha256:<hex>` digest. */
export const hexOf = (digest: string) => digest.slice(digest.indexOf(':') + 1);

export class LayerDirs {
  readonly layersDir: string;
  readonly tmpDir: string;
  private readonly pins = new Map<string, number>();
  /** Unpacked sizes of layers placed by this process, for imports that reuse them before any record exists. */
  readonly sizes = new Map<string, number>();
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    root: string,
    private readonly logger?: Logger,
  ) {
    this.layersDir = join(root, 'layers');
    this.tmpDir = join(root, 'tmp');
  }

  /** Runs `fn` alone: no other locked section of this store runs meanwhile. */
  locked<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn, fn);
    this.chain = next.catch(() => {});
    return next;
  }

  /** Absolute path of the layer dir for `hex`. */
  path(hex: string): string {
    return join(this.layersDir, hex);
  }

  /** Creates the store's directories and empties its scratch space (call once, before any import). */
  async prepare(): Promise<void> {
    await mkdir(this.layersDir, { recursive: true, mode: 0o700 });
    await mkdir(this.tmpDir, { recursive: true, mode: 0o700 });
    for (const name of await readdir(this.tmpDir)) await removeTree(join(this.tmpDir, name));
  }

  /** Hex names of every layer dir on disk. */
  async onDisk(): Promise<string[]> {
    return (await readdir(this.layersDir)).filter((n) => /^[0-9a-f]{64}$/.test(n));
  }

  /** A fresh empty directory in the scratch space. */
  scratch(prefix: string): Promise<string> {
    return mkdtemp(join(this.tmpDir, `${prefix}-`));
  }

  pinned(hex: string): boolean {
    return (this.pins.get(hex) ?? 0) > 0;
  }

  /** Pins `hex` and tells whether its dir is already on disk. */
  acquire(hex: string): Promise<boolean> {
    return this.locked(async () => {
      this.pins.set(hex, (this.pins.get(hex) ?? 0) + 1);
      return this.exists(hex);
    });
  }

  /** Drops one pin of `hex`. */
  release(hex: string): void {
    const n = (this.pins.get(hex) ?? 0) - 1;
    if (n > 0) this.pins.set(hex, n);
    else this.pins.delete(hex);
  }

  private exists(hex: string): Promise<boolean> {
    return stat(this.path(hex)).then(
      () => true,
      () => false,
    );
  }

  /**
   * Moves a verified tree into place as layer `hex` (pinned by the caller); resolves false when
   * another import placed it first, in which case `tree` is removed and the existing dir kept.
   */
  async place(tree: string, hex: string): Promise<boolean> {
    const placed = await this.locked(async () => {
      if (await this.exists(hex)) return false;
      await rename(tree, this.path(hex));
      return true;
    });
    if (!placed) await removeTree(tree);
    return placed;
  }

  /** Removes layer dirs, under the lock, unless pinned or `keep` says so; the caller holds no lock. */
  async discard(hexes: readonly string[], keep: (hex: string) => Promise<boolean>): Promise<void> {
    const moved = await this.locked(async () => {
      const victims: string[] = [];
      for (const h of hexes) if (!this.pinned(h) && !(await keep(h))) victims.push(h);
      return this.moveAway(victims);
    });
    await this.removeMoved(moved);
  }

  /** Renames layer dirs into the scratch space (call under the lock); returns where they went. */
  async moveAway(hexes: readonly string[]): Promise<string[]> {
    const moved: string[] = [];
    for (const hex of hexes) {
      const to = join(this.tmpDir, `gc-${hex.slice(0, 12)}-${randomBytes(4).toString('hex')}`);
      try {
        await rename(this.path(hex), to);
        moved.push(to);
        this.sizes.delete(hex);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
    }
    return moved;
  }

  /** Deletes trees returned by `moveAway`; failures are logged, the next start retries them. */
  async removeMoved(trees: readonly string[]): Promise<void> {
    for (const t of trees) {
      await removeTree(t).catch((err: unknown) =>
        this.logger?.warn({ err, tree: t }, 'removing layer tree failed'),
      );
    }
  }
}
