/**
 * Recognises what is being imported from its content and turns it into an `ImagePlan`: the
 * layers to read (bottom first) with what their manifest and config declare, and the config.
 * - a directory with `oci-layout`: an OCI image layout;
 * - a tar with `oci-layout` and `index.json`: an OCI archive (newer `docker save` too);
 * - a tar with `manifest.json`: a docker-archive (`docker save`);
 * - any other tar, plain or compressed: a rootfs, imported as one layer.
 * Compressed archives are decompressed to a scratch file first so their members can be read
 * by position. Everything declared is verified here (index, manifest, config) or by the layer
 * reader (blob digests, diff ids).
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { TandemError } from '../base/errors.js';
import { type BlobSource, DirBlobSource, TarBlobSource } from './blob-source.js';
import { diffIdsOf, type OciConfig, sha256 } from './image-config.js';
import { compressionOf, decompress } from './layer-stream.js';

export type ImportSource = 'rootfs-tar' | 'oci-layout' | 'oci-archive' | 'docker-archive';

export interface LayerPlan {
  /** Declared blob digest, checked against the bytes read; unknown for docker-archives and rootfs tars. */
  digest?: string;
  /** Blob size in bytes (declared or measured). */
  size: number;
  /** Declared diff id, checked against the uncompressed tar; unknown for rootfs tars. */
  diffId?: string;
  open(): AsyncIterable<Buffer>;
}

export interface ImagePlan {
  source: ImportSource;
  layers: LayerPlan[];
  /** The verified config document; rootfs tars have none. */
  config?: Buffer;
  /** The verified manifest digest, for OCI formats. */
  manifestDigest?: string;
}

const MAX_JSON = 8 << 20;
const bad = (msg: string) => new TandemError('invalid_argument', msg);

function parseJson<T>(data: Buffer, what: string): T {
  try {
    return JSON.parse(data.toString('utf8')) as T;
  } catch {
    throw bad(`${what} is not valid JSON`);
  }
}

interface Descriptor {
  mediaType?: string;
  digest?: string;
  size?: number;
  platform?: { os?: string; architecture?: string };
}

function blobPath(digest: unknown): string {
  if (typeof digest !== 'string') throw bad('descriptor without a digest');
  const m = /^sha256:([0-9a-f]{64})$/.exec(digest);
  if (!m) throw new TandemError('not_supported', `digest "${digest}" is not a sha256 digest`);
  return `blobs/sha256/${m[1]}`;
}

async function readBlob(src: BlobSource, d: Descriptor, what: string): Promise<Buffer> {
  const data = await src.read(blobPath(d.digest), MAX_JSON);
  const got = sha256(data);
  if (got !== d.digest) throw bad(`${what} "${d.digest}": digest mismatch (content is ${got})`);
  if (typeof d.size === 'number' && d.size !== data.length) throw bad(`${what} "${d.digest}": size mismatch`);
  return data;
}

const INDEX_TYPES = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
];

function pick(manifests: unknown): Descriptor {
  if (!Array.isArray(manifests) || manifests.length === 0) throw bad('image index lists no manifests');
  const arch = process.arch === 'x64' ? 'amd64' : process.arch;
  const list = manifests as Descriptor[];
  return list.find((m) => m.platform?.os === 'linux' && m.platform.architecture === arch) ?? list[0];
}

async function ociPlan(src: BlobSource, source: ImportSource): Promise<ImagePlan> {
  if (!(await src.has('oci-layout'))) throw bad('not an OCI image layout: "oci-layout" is missing');
  let desc = pick(
    parseJson<{ manifests?: unknown }>(await src.read('index.json', MAX_JSON), 'index.json').manifests,
  );
  for (let depth = 0; INDEX_TYPES.includes(desc.mediaType ?? ''); depth++) {
    if (depth > 4) throw bad('image indexes nest too deep');
    desc = pick(
      parseJson<{ manifests?: unknown }>(await readBlob(src, desc, 'image index'), 'image index').manifests,
    );
  }
  const manifest = parseJson<{ config?: Descriptor; layers?: Descriptor[] }>(
    await readBlob(src, desc, 'manifest'),
    'manifest',
  );
  if (!manifest.config || !Array.isArray(manifest.layers))
    throw bad(`manifest "${desc.digest}" has no config or layers`);
  const config = await readBlob(src, manifest.config, 'config');
  const diffIds = diffIdsOf(parseJson<OciConfig>(config, 'config'));
  if (!diffIds || diffIds.length !== manifest.layers.length)
    throw bad('config diff ids do not match the manifest layers');
  const layers = manifest.layers.map((l, i): LayerPlan => {
    const path = blobPath(l.digest);
    if (typeof l.size !== 'number') throw bad(`layer "${l.digest}" has no size`);
    return { digest: l.digest, size: l.size, diffId: diffIds[i], open: () => src.open(path) };
  });
  return { source, layers, config, manifestDigest: desc.digest };
}

async function dockerPlan(src: BlobSource): Promise<ImagePlan> {
  const list = parseJson<{ Config?: unknown; Layers?: unknown }[]>(
    await src.read('manifest.json', MAX_JSON),
    'manifest.json',
  );
  const m = Array.isArray(list) ? list[0] : undefined;
  if (!m || typeof m.Config !== 'string' || !Array.isArray(m.Layers))
    throw bad('manifest.json lists no image');
  const config = await src.read(m.Config, MAX_JSON);
  const named = /([0-9a-f]{64})(\.json)?$/.exec(m.Config);
  if (named && sha256(config) !== `sha256:${named[1]}`)
    throw bad(`config "${m.Config}": digest mismatch (content is ${sha256(config)})`);
  const diffIds = diffIdsOf(parseJson<OciConfig>(config, 'config'));
  if (!diffIds || diffIds.length !== m.Layers.length)
    throw bad('config diff ids do not match the manifest layers');
  const layers: LayerPlan[] = [];
  for (const [i, p] of (m.Layers as unknown[]).entries()) {
    if (typeof p !== 'string') throw bad('manifest.json has a layer that is not a path');
    const declared = /^blobs\/sha256\/([0-9a-f]{64})$/.exec(p);
    layers.push({
      digest: declared ? `sha256:${declared[1]}` : undefined,
      size: await src.size(p),
      diffId: diffIds[i],
      open: () => src.open(p),
    });
  }
  return { source: 'docker-archive', layers, config };
}

function rootfsPlan(path: string, size: number): ImagePlan {
  return {
    source: 'rootfs-tar',
    layers: [{ size, open: () => createReadStream(path, { highWaterMark: 1 << 20 }) }],
  };
}

async function planFromTar(tar: string, original: string, originalSize: number): Promise<ImagePlan> {
  const src = await TarBlobSource.index(tar);
  const names = new Set(src.names());
  if (names.has('oci-layout') && names.has('index.json')) return ociPlan(src, 'oci-archive');
  if (names.has('manifest.json')) return dockerPlan(src);
  return rootfsPlan(original, originalSize);
}

async function head(path: string): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const b = Buffer.alloc(512);
    const { bytesRead } = await fh.read(b, 0, 512, 0);
    return b.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** Plans the import of `path`; `scratch` is an empty directory the caller removes afterwards. */
export async function planImport(path: string, scratch: string, signal?: AbortSignal): Promise<ImagePlan> {
  const st = await stat(path).catch(() => {
    throw new TandemError('not_found', `"${path}" does not exist`);
  });
  if (st.isDirectory()) return ociPlan(new DirBlobSource(path), 'oci-layout');
  if (!st.isFile()) throw bad(`"${path}" is neither a file nor a directory`);
  if (compressionOf(await head(path)) === 'none') return planFromTar(path, path, st.size);
  const tar = join(scratch, 'archive.tar');
  await pipeline(decompress(createReadStream(path, { highWaterMark: 1 << 20 })), createWriteStream(tar), {
    signal,
  });
  return planFromTar(tar, path, st.size);
}
