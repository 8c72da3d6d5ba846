/**
 * Brings the layers of a plan onto disk: a layer whose diff id is already stored is reused
 * without unpacking (as Podman does); any other is unpacked into scratch space while its
 * digests are computed, checked against what the manifest and config declare, and only then
 * renamed into place. Pins taken and layer dirs placed are reported to the caller, which
 * releases and (on failure) discards them.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { TandemError } from '../base/errors.js';
import type { Logger } from '../base/log.js';
import type { ImageLayer, ImportOptions } from '../core/image.js';
import { removeTree, unmountBelow } from './fs-tree.js';
import type { LayerPlan } from './image-formats.js';
import { hexOf, type LayerDirs } from './layer-dirs.js';
import { type Compression, compressionOf, readLayer } from './layer-stream.js';
import { unpackLayer } from './layer-unpack.js';

export interface IngestedLayer {
  layer: ImageLayer;
  compression: Compression;
  /** Bytes of file data when this import unpacked the layer; undefined when it was reused. */
  unpacked?: number;
}

export interface IngestState {
  /** Layers pinned by this import (release each once). */
  held: string[];
  /** Layer dirs this import created. */
  placed: string[];
}

/** Reports bytes read across all layers to `onProgress`, at most every MiB per layer. */
class Progress {
  private done = 0;
  private lastEmit = 0;
  readonly total: number;
  constructor(
    layers: LayerPlan[],
    private readonly opts: ImportOptions,
  ) {
    this.total = layers.reduce((s, l) => s + l.size, 0);
  }
  add(n: number, step: string): void {
    this.done += n;
    if (this.done - this.lastEmit >= 1 << 20 || this.done === this.total) this.emit(step);
  }
  emit(step: string): void {
    this.lastEmit = this.done;
    this.opts.onProgress?.({ step, done: this.done, total: this.total, unit: 'bytes' });
  }
}

const mismatch = (what: string, declared: string, got: string) =>
  new TandemError('invalid_argument', `${what}: digest mismatch (declared ${declared}, content is ${got})`);

/** Reads a blob only to learn its digest and compression (for reused docker-archive layers). */
async function digestOnly(
  blob: AsyncIterable<Buffer>,
  onBytes: (n: number) => void,
): Promise<{ digest: string; compression: Compression }> {
  const h = createHash('sha256');
  let compression: Compression | undefined;
  for await (const c of blob) {
    compression ??= compressionOf(c);
    h.update(c);
    onBytes(c.length);
  }
  return { digest: `sha256:${h.digest('hex')}`, compression: compression ?? 'none' };
}

async function unpackOne(
  dirs: LayerDirs,
  plan: LayerPlan,
  what: string,
  state: IngestState,
  onBytes: (n: number) => void,
  opts: ImportOptions & { logger?: Logger },
): Promise<IngestedLayer> {
  const tree = await dirs.scratch('layer');
  try {
    let unpacked = 0;
    const d = await readLayer(
      plan.open(),
      async (entries) => {
        unpacked = (await unpackLayer(entries, tree, { signal: opts.signal, logger: opts.logger })).bytes;
      },
      onBytes,
    );
    if (plan.digest && d.digest !== plan.digest) throw mismatch(what, plan.digest, d.digest);
    if (plan.diffId && d.diffId !== plan.diffId) throw mismatch(`${what} diff id`, plan.diffId, d.diffId);
    if (plan.digest && d.size !== plan.size)
      throw new TandemError(
        'invalid_argument',
        `${what}: size mismatch (declared ${plan.size}, read ${d.size})`,
      );
    const hex = hexOf(d.diffId);
    if (!plan.diffId) {
      state.held.push(hex);
      if (await dirs.acquire(hex)) {
        await removeTree(tree);
        return { layer: { digest: d.digest, diffId: d.diffId, size: d.size }, compression: d.compression };
      }
    }
    if (await dirs.place(tree, hex)) {
      state.placed.push(hex);
      dirs.sizes.set(hex, unpacked);
    }
    return {
      layer: { digest: d.digest, diffId: d.diffId, size: d.size },
      compression: d.compression,
      unpacked,
    };
  } catch (e) {
    await removeTree(tree);
    throw e;
  }
}

/** Ingests every layer of a plan, bottom first; rejects with invalid_argument on any mismatch. */
export async function ingestLayers(
  dirs: LayerDirs,
  layers: LayerPlan[],
  state: IngestState,
  opts: ImportOptions & { logger?: Logger },
): Promise<IngestedLayer[]> {
  const progress = new Progress(layers, opts);
  const out: IngestedLayer[] = [];
  for (const [i, plan] of layers.entries()) {
    opts.signal?.throwIfAborted();
    const step = `layer ${i + 1}/${layers.length}`;
    const what = `layer ${i + 1}/${layers.length} "${plan.digest ?? plan.diffId ?? 'rootfs'}"`;
    const onBytes = (n: number) => progress.add(n, step);
    progress.emit(step);
    if (plan.diffId) {
      const hex = hexOf(plan.diffId);
      state.held.push(hex);
      if (await dirs.acquire(hex)) {
        const known = plan.digest
          ? { digest: plan.digest, compression: 'none' as Compression }
          : await digestOnly(plan.open(), onBytes);
        if (plan.digest) onBytes(plan.size);
        out.push({
          layer: { digest: known.digest, diffId: plan.diffId, size: plan.size },
          compression: known.compression,
        });
        continue;
      }
    }
    out.push(await unpackOne(dirs, plan, what, state, onBytes, opts));
  }
  progress.emit('done');
  return out;
}

/** GNU tar of a tree, in a stable order with numeric owners and xattrs: the diff id of a built layer. */
const TAR_ARGS = [
  '--sort=name',
  '--format=pax',
  '--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime',
  '--xattrs',
  '--xattrs-include=*',
  '--numeric-owner',
  '-cf',
  '-',
  '.',
];

/** Turns a built tree into a layer: its diff id is the sha256 of its tar; the tree itself is moved into place. */
export async function ingestTree(dirs: LayerDirs, tree: string, state: IngestState): Promise<IngestedLayer> {
  await unmountBelow(tree);
  const child = spawn('tar', ['-C', tree, ...TAR_ARGS], { stdio: ['ignore', 'pipe', 'pipe'] });
  const err: Buffer[] = [];
  child.stderr.on('data', (b: Buffer) => err.push(b));
  const exited = new Promise<number>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code ?? 1));
  });
  let unpacked = 0;
  const d = await readLayer(child.stdout, async (entries) => {
    for await (const e of entries) if (e.header.type === 'file') unpacked += e.header.size;
  });
  const code = await exited;
  if (code !== 0)
    throw new TandemError(
      'internal',
      `tar of the built tree exited with status ${code}: ${Buffer.concat(err).toString().trim()}`,
    );
  const hex = hexOf(d.diffId);
  state.held.push(hex);
  const layer = { digest: d.diffId, diffId: d.diffId, size: d.size };
  if (await dirs.acquire(hex)) {
    await removeTree(tree);
    return { layer, compression: 'none' };
  }
  if (await dirs.place(tree, hex)) {
    state.placed.push(hex);
    dirs.sizes.set(hex, unpacked);
  }
  return { layer, compression: 'none', unpacked };
}
