/**
 * Where an image's files come from: a directory (OCI layout) or an uncompressed tar (OCI
 * archive, docker-archive), indexed once by reading headers at their offsets so each blob is
 * later streamed straight from its place in the archive without being copied out.
 */
import { createReadStream } from 'node:fs';
import { open, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { TandemError } from '../base/errors.js';
import { entryParts } from './layer-unpack.js';
import { FileByteSource, readTar, type TarEntryType } from './tar-reader.js';

export interface BlobSource {
  /** Normalised member names. */
  has(path: string): Promise<boolean>;
  size(path: string): Promise<number>;
  /** The whole member; refuses members larger than `max` bytes. */
  read(path: string, max: number): Promise<Buffer>;
  open(path: string): AsyncIterable<Buffer>;
}

const norm = (p: string) => entryParts(p).join('/');
const missing = (p: string) => new TandemError('invalid_argument', `"${p}" is missing from the image`);

/** Members of a directory (an OCI image layout). */
export class DirBlobSource implements BlobSource {
  constructor(private readonly root: string) {}
  private path(p: string): string {
    return join(this.root, norm(p));
  }
  async has(p: string): Promise<boolean> {
    return stat(this.path(p)).then(
      (s) => s.isFile(),
      () => false,
    );
  }
  async size(p: string): Promise<number> {
    return stat(this.path(p)).then(
      (s) => s.size,
      () => Promise.reject(missing(p)),
    );
  }
  async read(p: string, max: number): Promise<Buffer> {
    if ((await this.size(p)) > max) throw new TandemError('invalid_argument', `"${p}" is too large`);
    return readFile(this.path(p));
  }
  open(p: string): AsyncIterable<Buffer> {
    return createReadStream(this.path(p), { highWaterMark: 1 << 20 });
  }
}

interface Member {
  type: TarEntryType;
  offset: number;
  size: number;
  linkname: string;
}

/** Members of an uncompressed tar, found by reading only its headers. */
export class TarBlobSource implements BlobSource {
  private constructor(
    private readonly file: string,
    private readonly members: Map<string, Member>,
  ) {}

  /** Indexes `file`; rejects with invalid_argument when it is not a tar. */
  static async index(file: string): Promise<TarBlobSource> {
    const fh = await open(file, 'r');
    try {
      const src = new FileByteSource(fh, (await fh.stat()).size);
      const members = new Map<string, Member>();
      for await (const e of readTar(src)) {
        const h = e.header;
        members.set(norm(h.name), {
          type: h.type,
          offset: e.offset,
          size: h.type === 'file' ? h.size : 0,
          linkname: h.linkname,
        });
      }
      return new TarBlobSource(file, members);
    } finally {
      await fh.close();
    }
  }

  /** Every member name. */
  names(): string[] {
    return [...this.members.keys()];
  }

  private member(p: string): Member {
    let name = norm(p);
    for (let hops = 0; hops < 16; hops++) {
      const m = this.members.get(name);
      if (!m) throw missing(p);
      if (m.type === 'file') return m;
      if (m.type === 'link') name = norm(m.linkname);
      else if (m.type === 'symlink')
        name = norm(m.linkname.startsWith('/') ? m.linkname : `${name}/../${m.linkname}`);
      else throw new TandemError('invalid_argument', `"${p}" in the archive is not a file`);
    }
    throw new TandemError('invalid_argument', `"${p}" in the archive: too many links`);
  }

  async has(p: string): Promise<boolean> {
    try {
      this.member(p);
      return true;
    } catch {
      return false;
    }
  }
  async size(p: string): Promise<number> {
    return this.member(p).size;
  }
  async read(p: string, max: number): Promise<Buffer> {
    const m = this.member(p);
    if (m.size > max) throw new TandemError('invalid_argument', `"${p}" is too large`);
    const fh = await open(this.file, 'r');
    try {
      const b = Buffer.alloc(m.size);
      await fh.read(b, 0, m.size, m.offset);
      return b;
    } finally {
      await fh.close();
    }
  }
  open(p: string): AsyncIterable<Buffer> {
    const m = this.member(p);
    if (m.size === 0) return (async function* () {})();
    return createReadStream(this.file, {
      start: m.offset,
      end: m.offset + m.size - 1,
      highWaterMark: 1 << 20,
    });
  }
}
