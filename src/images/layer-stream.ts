/**
 * The read side of a layer: blob bytes → sha256 of the blob → decompression chosen by magic
 * bytes (gzip, zstd, or none) → sha256 of the tar (the diff id) → tar entries. Digests are
 * known only once the whole stream has passed, so the caller unpacks into a temporary
 * directory and checks them before keeping anything.
 */
import { createHash, type Hash } from 'node:crypto';
import { pipeline, Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { Decompress } from 'fzstd';
import { TandemError } from '../base/errors.js';
import { readTar, StreamByteSource, type TarEntry } from './tar-reader.js';

export type Compression = 'gzip' | 'zstd' | 'none';

const GZIP = Buffer.from([0x1f, 0x8b]);
const ZSTD = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);

/** The compression named by the first bytes of a blob. */
export function compressionOf(head: Buffer): Compression {
  if (head.subarray(0, 2).equals(GZIP)) return 'gzip';
  if (head.subarray(0, 4).equals(ZSTD)) return 'zstd';
  return 'none';
}

/** Passes chunks through while hashing them and counting bytes. */
export async function* hashing(
  src: AsyncIterable<Buffer>,
  hash: Hash,
  onBytes?: (n: number) => void,
): AsyncGenerator<Buffer> {
  for await (const c of src) {
    hash.update(c);
    onBytes?.(c.length);
    yield c;
  }
}

async function* gunzip(src: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const z = createGunzip({ chunkSize: 1 << 18 });
  pipeline(Readable.from(src), z, () => {});
  for await (const c of z) yield c as Buffer;
}

async function* unzstd(src: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const out: Buffer[] = [];
  const d = new Decompress((chunk) => out.push(Buffer.from(chunk)));
  for await (const c of src) {
    d.push(c);
    yield* out.splice(0);
  }
  d.push(new Uint8Array(0), true);
  yield* out.splice(0);
}

/** Decompresses by magic bytes; the first chunk is peeked, not lost. */
export async function* decompress(
  src: AsyncIterable<Buffer>,
  seen?: (c: Compression) => void,
): AsyncGenerator<Buffer> {
  const it = src[Symbol.asyncIterator]();
  let head = Buffer.alloc(0);
  while (head.length < 4) {
    const r = await it.next();
    if (r.done) break;
    head = Buffer.concat([head, r.value]);
  }
  const kind = compressionOf(head);
  seen?.(kind);
  async function* whole(): AsyncGenerator<Buffer> {
    if (head.length > 0) yield head;
    for (let r = await it.next(); !r.done; r = await it.next()) yield r.value;
  }
  try {
    if (kind === 'gzip') yield* gunzip(whole());
    else if (kind === 'zstd') yield* unzstd(whole());
    else yield* whole();
  } catch (e) {
    if (e instanceof TandemError) throw e;
    throw new TandemError('invalid_argument', `corrupt ${kind} data: ${(e as Error).message}`, { cause: e });
  }
}

export interface LayerDigests {
  /** sha256 of the bytes as read. */
  digest: string;
  /** sha256 of the uncompressed tar. */
  diffId: string;
  /** Bytes read. */
  size: number;
  compression: Compression;
}

/**
 * Streams a layer's tar entries to `consume`, reading the blob to its end so both digests
 * cover every byte; resolves with the digests.
 */
export async function readLayer(
  blob: AsyncIterable<Buffer>,
  consume: (entries: AsyncIterable<TarEntry>) => Promise<void>,
  onBytes?: (n: number) => void,
): Promise<LayerDigests> {
  const blobHash = createHash('sha256');
  const diffHash = createHash('sha256');
  let size = 0;
  let compression: Compression = 'none';
  const raw = hashing(blob, blobHash, (n) => {
    size += n;
    onBytes?.(n);
  });
  const tar = hashing(
    decompress(raw, (c) => {
      compression = c;
    }),
    diffHash,
  );
  const src = new StreamByteSource(tar);
  await consume(readTar(src));
  await src.drain();
  return {
    digest: `sha256:${blobHash.digest('hex')}`,
    diffId: `sha256:${diffHash.digest('hex')}`,
    size,
    compression,
  };
}
