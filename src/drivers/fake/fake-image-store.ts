/**
 * The fake world's image store, paired with the fake driver for tests and demos of the daemon
 * without real images: it starts with `busybox` and `alpine`-like entries, "imports" any file
 * that exists (recording its size) and "builds" instantly. Layers are empty: fake workloads
 * need no files.
 */
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { TandemError } from '../../base/errors.js';
import { nowIso } from '../../base/time.js';
import type { BuildOptions, Image, ImageStore, ImportOptions } from '../../core/image.js';

export class FakeImageStore implements ImageStore {
  private readonly images = new Map<string, Image>();

  constructor(preload: string[] = ['busybox']) {
    for (const name of preload) this.images.set(name, fakeImage(name, 'fake', 1 << 20));
  }

  async import(name: string, path: string, opts: ImportOptions = {}): Promise<Image> {
    const st = await stat(path).catch(() => undefined);
    if (!st) throw new TandemError('not_found', `importing image "${name}": "${path}" does not exist`);
    return this.add(fakeImage(name, 'fake-import', st.size), opts);
  }

  async build(name: string, opts: BuildOptions): Promise<Image> {
    return this.add(fakeImage(name, `build:${opts.from}`, 1 << 20), opts);
  }

  async get(name: string): Promise<Image | undefined> {
    return this.images.get(name);
  }

  async list(): Promise<Image[]> {
    return [...this.images.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  async remove(name: string): Promise<void> {
    if (!this.images.delete(name)) throw new TandemError('not_found', `image "${name}" not found`);
  }

  async layerPaths(name: string): Promise<string[]> {
    if (!this.images.has(name)) throw new TandemError('not_found', `image "${name}" not found`);
    return [];
  }

  private add(image: Image, opts: ImportOptions): Image {
    if (this.images.has(image.name))
      throw new TandemError('already_exists', `image "${image.name}" already exists`);
    opts.onProgress?.({ step: 'done', done: 1, total: 1, unit: 'steps' });
    this.images.set(image.name, image);
    return image;
  }
}

function fakeImage(name: string, source: string, size: number): Image {
  const digest = `sha256:${createHash('sha256').update(name).digest('hex')}`;
  return {
    name,
    digest,
    size,
    layers: [{ digest, diffId: digest, size }],
    config: { cmd: ['/bin/sh'], env: ['PATH=/usr/sbin:/usr/bin:/sbin:/bin'], exposedPorts: [], labels: {} },
    createdAt: nowIso(),
    source,
  };
}
