/**
 * Test images made on the spot (no registry): layer tars written with tar-stream, and the same
 * image laid out as an OCI image layout directory, an OCI archive and a docker-archive. Used by
 * the image store's tests and by acceptance tests that run what was imported.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { type Header, pack } from 'tar-stream';
import { sha256 } from './image-config.js';

export interface FixtureEntry {
  name: string;
  type?: Header['type'];
  content?: string | Buffer;
  mode?: number;
  uid?: number;
  gid?: number;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  pax?: Record<string, string>;
}

export type FixtureCompression = 'none' | 'gzip' | 'zstd';

export interface FixtureImage {
  /** Layers bottom first, each a list of tar entries. */
  layers: FixtureEntry[][];
  compression?: FixtureCompression[];
  config?: {
    Cmd?: string[];
    Entrypoint?: string[];
    Env?: string[];
    WorkingDir?: string;
    User?: string;
    ExposedPorts?: Record<string, object>;
    Labels?: Record<string, string>;
  };
}

/** A tar of the entries, in order. */
export async function tarOf(entries: FixtureEntry[]): Promise<Buffer> {
  const p = pack();
  const out: Buffer[] = [];
  const done = (async () => {
    for await (const c of p) out.push(c as Buffer);
  })();
  for (const e of entries) {
    const type = e.type ?? (e.content !== undefined ? 'file' : 'directory');
    const body = e.content === undefined ? undefined : Buffer.from(e.content);
    const header: Partial<Header> & { name: string } = {
      name: e.name,
      type,
      mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644),
      uid: e.uid ?? 0,
      gid: e.gid ?? 0,
      mtime: new Date(1_700_000_000_000),
      linkname: e.linkname,
      devmajor: e.devmajor,
      devminor: e.devminor,
      pax: e.pax,
    };
    await new Promise<void>((resolve, reject) =>
      body === undefined
        ? p.entry(header, (err) => (err ? reject(err) : resolve()))
        : p.entry(header, body, (err) => (err ? reject(err) : resolve())),
    );
  }
  p.finalize();
  await done;
  return Buffer.concat(out);
}

/** Compresses a blob; zstd through Debian's `zstd`. */
export function compress(data: Buffer, how: FixtureCompression): Buffer {
  if (how === 'gzip') return gzipSync(data);
  if (how === 'zstd') {
    const r = spawnSync('zstd', ['-q', '-c'], { input: data, maxBuffer: 1 << 30 });
    if (r.status !== 0) throw new Error(`zstd failed: ${r.stderr}`);
    return r.stdout;
  }
  return data;
}

const MEDIA: Record<FixtureCompression, string> = {
  none: 'application/vnd.oci.image.layer.v1.tar',
  gzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  zstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
};

export interface FixtureBlobs {
  tars: Buffer[];
  blobs: Buffer[];
  diffIds: string[];
  config: Buffer;
  manifest: Buffer;
  manifestDigest: string;
}

/** The blobs of an image: layer tars, compressed blobs, config and manifest. */
export async function blobsOf(image: FixtureImage): Promise<FixtureBlobs> {
  const tars = await Promise.all(image.layers.map(tarOf));
  const blobs = tars.map((t, i) => compress(t, image.compression?.[i] ?? 'gzip'));
  const diffIds = tars.map((t) => sha256(t));
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: image.config ?? {},
      rootfs: { type: 'layers', diff_ids: diffIds },
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: sha256(config),
        size: config.length,
      },
      layers: blobs.map((b, i) => ({
        mediaType: MEDIA[image.compression?.[i] ?? 'gzip'],
        digest: sha256(b),
        size: b.length,
      })),
    }),
  );
  return { tars, blobs, diffIds, config, manifest, manifestDigest: sha256(manifest) };
}

const hex = (b: Buffer) => sha256(b).slice(7);

function layoutFiles(b: FixtureBlobs): [string, Buffer][] {
  const index = {
    schemaVersion: 2,
    manifests: [
      {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: b.manifestDigest,
        size: b.manifest.length,
      },
    ],
  };
  return [
    ['oci-layout', Buffer.from('{"imageLayoutVersion":"1.0.0"}')],
    ['index.json', Buffer.from(JSON.stringify(index))],
    ...[b.manifest, b.config, ...b.blobs].map((x): [string, Buffer] => [`blobs/sha256/${hex(x)}`, x]),
  ];
}

/** Writes an OCI image layout into `dir`; returns the blobs. */
export async function writeOciLayout(dir: string, image: FixtureImage | FixtureBlobs): Promise<FixtureBlobs> {
  const b = 'manifest' in image ? image : await blobsOf(image);
  for (const [name, data] of layoutFiles(b)) {
    await mkdir(join(dir, name, '..'), { recursive: true });
    await writeFile(join(dir, name), data);
  }
  return b;
}

/** An OCI archive (a tar of an OCI image layout). */
export async function ociArchive(image: FixtureImage | FixtureBlobs): Promise<Buffer> {
  const b = 'manifest' in image ? image : await blobsOf(image);
  return tarOf(layoutFiles(b).map(([name, content]) => ({ name, content })));
}

/** A docker-archive as `docker save` wrote it before Docker 25: `<id>/layer.tar`, `<config hex>.json`, manifest.json. */
export async function dockerArchive(
  image: FixtureImage | FixtureBlobs,
  tag = 'localhost/fixture:latest',
): Promise<Buffer> {
  const b = 'manifest' in image ? image : await blobsOf(image);
  const layerPaths = b.tars.map((t) => `${hex(t)}/layer.tar`);
  const manifest = [{ Config: `${hex(b.config)}.json`, RepoTags: [tag], Layers: layerPaths }];
  return tarOf([
    ...b.tars.flatMap((t, i): FixtureEntry[] => [
      { name: `${hex(t)}/` },
      { name: layerPaths[i], content: t },
    ]),
    { name: `${hex(b.config)}.json`, content: b.config },
    { name: 'manifest.json', content: JSON.stringify(manifest) },
  ]);
}

/**
 * The acceptance image: a base layer, then a layer that deletes `etc/gone` (whiteout) and
 * replaces directory `data` (opaque); config with Cmd and Env.
 */
export function sampleImage(compression: FixtureCompression[] = ['gzip', 'zstd']): FixtureImage {
  return {
    compression,
    layers: [
      [
        { name: 'etc/' },
        { name: 'etc/keep', content: 'kept\n' },
        { name: 'etc/gone', content: 'deleted by the top layer\n' },
        { name: 'data/' },
        { name: 'data/old-1', content: 'old\n' },
        { name: 'data/sub/' },
        { name: 'data/sub/old-2', content: 'old\n' },
        { name: 'bin/' },
        { name: 'bin/tool', content: '#!/bin/sh\necho tool\n', mode: 0o4755 },
        { name: 'bin/tool-link', type: 'symlink', linkname: 'tool' },
      ],
      [
        { name: 'etc/' },
        { name: 'etc/.wh.gone', content: '' },
        { name: 'data/' },
        { name: 'data/.wh..wh..opq', content: '' },
        { name: 'data/new', content: 'new\n' },
      ],
    ],
    config: {
      Cmd: ['/bin/tool'],
      Env: ['PATH=/bin', 'GREETING=hello'],
      WorkingDir: '/data',
      Labels: { test: 'yes' },
      ExposedPorts: { '80/tcp': {} },
    },
  };
}
