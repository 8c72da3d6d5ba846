/**
 * The local image store: image metadata in the state Store (collections `images` and
 * `layers`), unpacked layers on disk under `<root>/layers/<diff id hex>/`, shared by every
 * image that lists them and collected when none does.
 *
 * An import or build writes only into `<root>/tmp/` until its content is verified, renames
 * finished layer dirs into place, and commits the image and its new layer records in one
 * `Store.commit`, last. A failure undoes the layer dirs it placed; a crash leaves scratch
 * space and unrecorded, unreferenced layer dirs, which `recover()` removes at the next start.
 * Whether an image is in use is the daemon's knowledge: it passes `inUse`, which `remove`
 * consults under the store's lock.
 */
import { join } from 'node:path';
import { TandemError, wrapError } from '../base/errors.js';
import { assertValidName } from '../base/ids.js';
import type { Logger } from '../base/log.js';
import { nowIso } from '../base/time.js';
import type { BuildOptions, Image, ImageStore, ImportOptions } from '../core/image.js';
import type { Mutation, Store } from '../core/store.js';
import { removeTree } from './fs-tree.js';
import { buildBusybox, buildDebian, detectDebianMirror } from './image-builders.js';
import {
  DEFAULT_PATH,
  type OciConfig,
  sha256,
  synthesizeConfig,
  synthesizeManifest,
  toImageConfig,
} from './image-config.js';
import { planImport } from './image-formats.js';
import { hexOf, LayerDirs, type LayerRecord } from './layer-dirs.js';
import { type IngestedLayer, type IngestState, ingestLayers, ingestTree } from './layer-ingest.js';

export interface LocalImageStoreOptions {
  /** Directory owned by this store, e.g. `<stateDir>/images`. */
  root: string;
  /** Metadata: collections `images` and `layers`. */
  store: Store;
  logger?: Logger;
  /** True when an instance uses the image; `remove` then rejects with conflict. */
  inUse?: (name: string) => boolean | Promise<boolean>;
  /** Debian mirror for debootstrap builds; default: the one this host's apt uses. */
  debianMirror?: string;
}

interface Produced {
  source: string;
  layers: IngestedLayer[];
  config: Buffer;
  manifestDigest?: string;
}

export class LocalImageStore implements ImageStore {
  private readonly dirs: LayerDirs;
  private readonly store: Store;
  private readonly logger?: Logger;
  private readyPromise?: Promise<void>;

  constructor(private readonly opts: LocalImageStoreOptions) {
    this.store = opts.store;
    this.logger = opts.logger;
    this.dirs = new LayerDirs(opts.root, opts.logger);
  }

  /** Prepares the directories and removes what an interrupted import or removal left; idempotent. */
  recover(): Promise<void> {
    this.readyPromise ??= this.dirs
      .locked(() => this.sweep())
      .catch((e: unknown) => {
        this.readyPromise = undefined;
        throw wrapError(e, 'preparing the image store');
      });
    return this.readyPromise;
  }

  private async sweep(): Promise<void> {
    await this.dirs.prepare();
    const images = await this.store.list<Image>('images');
    const used = new Set(images.flatMap((i) => i.layers.map((l) => hexOf(l.diffId))));
    const records = await this.store.list<LayerRecord>('layers');
    const stale = records.map((r) => hexOf(r.diffId)).filter((h) => !used.has(h));
    if (stale.length)
      await this.store.commit(stale.map((key): Mutation => ({ op: 'delete', collection: 'layers', key })));
    const orphans = (await this.dirs.onDisk()).filter((h) => !used.has(h));
    if (orphans.length) this.logger?.info({ layers: orphans.length }, 'removing unreferenced image layers');
    await this.dirs.removeMoved(await this.dirs.moveAway(orphans));
    const present = new Set(await this.dirs.onDisk());
    for (const h of used)
      if (!present.has(h)) this.logger?.warn({ layer: h }, 'image layer missing from disk');
  }

  /** Imports a rootfs tar(.gz/.zst), OCI layout dir, OCI archive or docker-archive; leaves nothing when it fails. */
  import(name: string, path: string, opts: ImportOptions = {}): Promise<Image> {
    return this.create(name, 'importing', opts, async (state, scratch) => {
      const plan = await planImport(path, scratch, opts.signal);
      const layers = await ingestLayers(this.dirs, plan.layers, state, { ...opts, logger: this.logger });
      const config =
        plan.config ??
        synthesizeConfig(
          layers.map((l) => l.layer.diffId),
          { env: [DEFAULT_PATH] },
        );
      return { source: plan.source, layers, config, manifestDigest: plan.manifestDigest };
    });
  }

  /** Builds an image from Debian packages (busybox: no network; debian:bookworm: debootstrap); leaves nothing when it fails. */
  build(name: string, opts: BuildOptions): Promise<Image> {
    return this.create(name, 'building', opts, async (state, scratch) => {
      const tree = join(scratch, 'rootfs');
      let built: Awaited<ReturnType<typeof buildBusybox>>;
      if (opts.from === 'busybox') {
        if (opts.packages?.length)
          throw new TandemError('invalid_argument', 'packages need --from debian:bookworm');
        built = await buildBusybox(tree);
      } else if (opts.from === 'debian:bookworm') {
        const mirror = this.opts.debianMirror ?? (await detectDebianMirror());
        built = await buildDebian(tree, { ...opts, mirror });
      } else
        throw new TandemError(
          'invalid_argument',
          `unknown base "${String(opts.from)}": use busybox or debian:bookworm`,
        );
      opts.signal?.throwIfAborted();
      opts.onProgress?.({ step: 'creating layer', done: 0, unit: 'steps' });
      const layer = await ingestTree(this.dirs, tree, state);
      const config = synthesizeConfig([layer.layer.diffId], { cmd: built.cmd, env: built.env });
      return { source: built.source, layers: [layer], config };
    });
  }

  private async create(
    name: string,
    verb: string,
    opts: ImportOptions,
    produce: (state: IngestState, scratch: string) => Promise<Produced>,
  ): Promise<Image> {
    assertValidName(name, 'image name');
    await this.recover();
    if (await this.store.get('images', name))
      throw new TandemError('already_exists', `image "${name}" already exists`);
    const state: IngestState = { held: [], placed: [] };
    const scratch = await this.dirs.scratch(verb);
    let released = false;
    const release = () => {
      if (!released) for (const h of state.held) this.dirs.release(h);
      released = true;
    };
    try {
      const produced = await produce(state, scratch);
      opts.signal?.throwIfAborted();
      return await this.commit(name, produced);
    } catch (e) {
      release();
      await this.dirs.discard(state.placed, async (h) => (await this.store.get('layers', h)) !== undefined);
      if (opts.signal?.aborted)
        throw new TandemError('unavailable', `${verb} image "${name}": cancelled`, { cause: e });
      throw wrapError(e, `${verb} image "${name}"`);
    } finally {
      release();
      await removeTree(scratch);
    }
  }

  private async commit(name: string, p: Produced): Promise<Image> {
    const oci = JSON.parse(p.config.toString('utf8')) as OciConfig;
    const manifest = synthesizeManifest(
      p.config,
      p.layers.map((l) => ({ ...l.layer, compression: l.compression })),
    );
    return this.dirs.locked(async () => {
      const sizes: number[] = [];
      const mutations: Mutation[] = [];
      for (const l of p.layers) {
        const hex = hexOf(l.layer.diffId);
        const rec = await this.store.get<LayerRecord>('layers', hex);
        const size = rec?.size ?? l.unpacked ?? this.dirs.sizes.get(hex) ?? 0;
        sizes.push(size);
        if (!rec && !mutations.some((m) => m.key === hex)) {
          mutations.push({
            op: 'put',
            collection: 'layers',
            key: hex,
            value: { diffId: l.layer.diffId, size, createdAt: nowIso() },
          });
        }
      }
      const image: Image = {
        name,
        digest: p.manifestDigest ?? sha256(manifest),
        size: sizes.reduce((a, b) => a + b, 0),
        layers: p.layers.map((l) => l.layer),
        config: toImageConfig(oci),
        createdAt: nowIso(),
        source: p.source,
      };
      await this.store.commit([
        { op: 'create', collection: 'images', key: name, value: image },
        ...mutations,
      ]);
      for (const m of mutations) this.dirs.sizes.delete(m.key);
      return image;
    });
  }

  /** The image, or undefined when there is none by that name. */
  async get(name: string): Promise<Image | undefined> {
    return this.store.get<Image>('images', name);
  }

  /** Every image, ordered by name. */
  async list(): Promise<Image[]> {
    return this.store.list<Image>('images');
  }

  /** Removes the image and the layers no other image uses; not_found when missing, conflict when `inUse` says so. */
  async remove(name: string): Promise<void> {
    await this.recover();
    const moved = await this.dirs.locked(async () => {
      const image = await this.get(name);
      if (!image) throw new TandemError('not_found', `image "${name}" not found`);
      if (await this.opts.inUse?.(name))
        throw new TandemError('conflict', `image "${name}" is used by an instance`);
      const others = (await this.list()).filter((i) => i.name !== name);
      const used = new Set(others.flatMap((i) => i.layers.map((l) => hexOf(l.diffId))));
      const victims = [...new Set(image.layers.map((l) => hexOf(l.diffId)))].filter(
        (h) => !used.has(h) && !this.dirs.pinned(h),
      );
      await this.store.commit([
        { op: 'delete', collection: 'images', key: name },
        ...victims.map((key): Mutation => ({ op: 'delete', collection: 'layers', key })),
      ]);
      return this.dirs.moveAway(victims);
    });
    await this.dirs.removeMoved(moved);
  }

  /** Absolute layer dirs, bottom first, a layer listed twice only at its top place; not_found when missing. */
  async layerPaths(name: string): Promise<string[]> {
    const image = await this.get(name);
    if (!image) throw new TandemError('not_found', `image "${name}" not found`);
    const hexes = image.layers.map((l) => hexOf(l.diffId));
    return hexes.filter((h, i) => hexes.lastIndexOf(h) === i).map((h) => this.dirs.path(h));
  }
}
