/**
 * A streaming tar reader (ustar, GNU long names, pax) that keeps binary pax values intact, so
 * file capabilities (`SCHILY.xattr.security.capability`) survive; tar-stream decodes pax
 * values as UTF-8 and would corrupt them. Bytes come from a `ByteSource`: a stream (layers,
 * read once) or a file read by position (archives, indexed without reading their data).
 */
import type { FileHandle } from 'node:fs/promises';
import { TandemError } from '../base/errors.js';

export type TarEntryType = 'file' | 'link' | 'symlink' | 'char' | 'block' | 'directory' | 'fifo';

export interface TarHeader {
  name: string;
  type: TarEntryType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Seconds since the epoch. */
  mtime: number;
  linkname: string;
  devmajor: number;
  devminor: number;
  xattrs: Map<string, Buffer>;
}

export interface TarEntry {
  header: TarHeader;
  /** Offset of the entry's data in the tar. */
  offset: number;
  /** The entry's data; read it at most once, before asking for the next entry. */
  body(): AsyncIterable<Buffer>;
}

/** Sequential bytes with a position; `read` returns null only at a clean end. */
export interface ByteSource {
  position: number;
  read(n: number): Promise<Buffer | null>;
  skip(n: number): Promise<void>;
  chunks(n: number): AsyncIterable<Buffer>;
}

const truncated = () => new TandemError('invalid_argument', 'tar archive is truncated');

/** Bytes of an async iterable of buffers (a stream), read once. */
export class StreamByteSource implements ByteSource {
  position = 0;
  private buf: Buffer = Buffer.alloc(0);
  private readonly it: AsyncIterator<Buffer>;
  constructor(src: AsyncIterable<Buffer>) {
    this.it = src[Symbol.asyncIterator]();
  }

  private async more(): Promise<boolean> {
    const r = await this.it.next();
    if (r.done) return false;
    this.buf = this.buf.length === 0 ? r.value : Buffer.concat([this.buf, r.value]);
    return true;
  }

  async read(n: number): Promise<Buffer | null> {
    while (this.buf.length < n) {
      if (!(await this.more())) {
        if (this.buf.length === 0) return null;
        throw truncated();
      }
    }
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    this.position += n;
    return out;
  }

  async *chunks(n: number): AsyncIterable<Buffer> {
    let left = n;
    while (left > 0) {
      if (this.buf.length === 0 && !(await this.more())) throw truncated();
      const take = Math.min(left, this.buf.length);
      const out = this.buf.subarray(0, take);
      this.buf = this.buf.subarray(take);
      this.position += take;
      left -= take;
      yield out;
    }
  }

  async skip(n: number): Promise<void> {
    for await (const _ of this.chunks(n));
  }

  /** Reads the source to its end (padding after the end-of-archive blocks), discarding the bytes. */
  async drain(): Promise<void> {
    this.buf = Buffer.alloc(0);
    while (!(await this.it.next()).done);
  }
}

/** Bytes of an open file, read by position: skipping costs nothing. */
export class FileByteSource implements ByteSource {
  position = 0;
  constructor(
    private readonly fh: FileHandle,
    private readonly length: number,
  ) {}

  async read(n: number): Promise<Buffer | null> {
    if (this.position >= this.length) return null;
    if (this.position + n > this.length) throw truncated();
    const b = Buffer.alloc(n);
    const { bytesRead } = await this.fh.read(b, 0, n, this.position);
    if (bytesRead !== n) throw truncated();
    this.position += n;
    return b;
  }

  async *chunks(n: number): AsyncIterable<Buffer> {
    const end = this.position + n;
    if (end > this.length) throw truncated();
    while (this.position < end) {
      const b = Buffer.alloc(Math.min(1 << 20, end - this.position));
      const { bytesRead } = await this.fh.read(b, 0, b.length, this.position);
      if (bytesRead === 0) throw truncated();
      this.position += bytesRead;
      yield b.subarray(0, bytesRead);
    }
  }

  async skip(n: number): Promise<void> {
    if (this.position + n > this.length) throw truncated();
    this.position += n;
  }
}

const TYPES: Record<string, TarEntryType> = {
  '0': 'file',
  '\0': 'file',
  '7': 'file',
  '1': 'link',
  '2': 'symlink',
  '3': 'char',
  '4': 'block',
  '5': 'directory',
  '6': 'fifo',
};

function cstring(b: Buffer, start: number, len: number): string {
  const field = b.subarray(start, start + len);
  const nul = field.indexOf(0);
  return field.subarray(0, nul === -1 ? len : nul).toString('utf8');
}

function num(b: Buffer, start: number, len: number): number {
  const field = b.subarray(start, start + len);
  if (field[0] & 0x80) {
    if (field[0] === 0xff) throw new TandemError('invalid_argument', 'tar header has a negative number');
    let v = field[0] & 0x7f;
    for (let i = 1; i < len; i++) v = v * 256 + field[i];
    return v;
  }
  const s = cstring(b, start, len).trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s))
    throw new TandemError('invalid_argument', `tar header has an invalid number "${s}"`);
  return Number.parseInt(s, 8);
}

function checksumOk(block: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : block[i];
  try {
    return num(block, 148, 8) === sum;
  } catch {
    return false;
  }
}

/** Parses pax records ("LEN key=value\n"); values stay bytes. */
export function parsePax(data: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let pos = 0;
  while (pos < data.length) {
    const sp = data.indexOf(0x20, pos);
    if (sp === -1) break;
    const len = Number.parseInt(data.subarray(pos, sp).toString('ascii'), 10);
    if (!(len > 0) || pos + len > data.length)
      throw new TandemError('invalid_argument', 'tar pax header is malformed');
    const rec = data.subarray(sp + 1, pos + len - 1);
    const eq = rec.indexOf(0x3d);
    if (eq === -1) throw new TandemError('invalid_argument', 'tar pax header is malformed');
    out.set(rec.subarray(0, eq).toString('utf8'), rec.subarray(eq + 1));
    pos += len;
  }
  return out;
}

const pad = (n: number) => (512 - (n % 512)) % 512;

async function readData(src: ByteSource, size: number): Promise<Buffer> {
  if (size > 16 << 20) throw new TandemError('invalid_argument', 'tar extended header is too large');
  const b = size === 0 ? Buffer.alloc(0) : await src.read(size);
  if (!b) throw truncated();
  await src.skip(pad(size));
  return b;
}

function applyPax(h: TarHeader, pax: Map<string, Buffer>): void {
  for (const [key, raw] of pax) {
    const v = () => raw.toString('utf8');
    if (key === 'path') h.name = v();
    else if (key === 'linkpath') h.linkname = v();
    else if (key === 'size') h.size = Number(v());
    else if (key === 'uid') h.uid = Number(v());
    else if (key === 'gid') h.gid = Number(v());
    else if (key === 'mtime') h.mtime = Number(v());
    else if (key.startsWith('SCHILY.xattr.')) h.xattrs.set(key.slice(13), Buffer.from(raw));
    else if (key.startsWith('LIBARCHIVE.xattr.'))
      h.xattrs.set(decodeURIComponent(key.slice(17)), Buffer.from(raw.toString('ascii'), 'base64'));
    else if (key.startsWith('GNU.sparse.'))
      throw new TandemError('not_supported', 'sparse tar entries are not supported');
  }
  for (const n of [h.size, h.uid, h.gid]) {
    if (!Number.isSafeInteger(n) || n < 0)
      throw new TandemError('invalid_argument', `tar entry "${h.name}" has an invalid pax number`);
  }
}

interface Pending {
  pax?: Map<string, Buffer>;
  longName?: string;
  longLink?: string;
}

function parseHeader(block: Buffer, pending: Pending, globalPax: Map<string, Buffer>): TarHeader | string {
  const flag = String.fromCharCode(block[156]);
  const ustar = block.subarray(257, 263).toString('latin1') === 'ustar\0';
  const prefix = ustar ? cstring(block, 345, 155) : '';
  const base = cstring(block, 0, 100);
  const h: TarHeader = {
    name: prefix ? `${prefix}/${base}` : base,
    type: TYPES[flag] ?? 'file',
    mode: num(block, 100, 8) & 0o7777,
    uid: num(block, 108, 8),
    gid: num(block, 116, 8),
    size: num(block, 124, 12),
    mtime: num(block, 136, 12),
    linkname: cstring(block, 157, 100),
    devmajor: ustar || block[257] === 0x75 ? num(block, 329, 8) : 0,
    devminor: ustar || block[257] === 0x75 ? num(block, 337, 8) : 0,
    xattrs: new Map(),
  };
  if (!(flag in TYPES)) return flag;
  applyPax(h, globalPax);
  if (pending.pax) applyPax(h, pending.pax);
  if (pending.longName !== undefined) h.name = pending.longName;
  if (pending.longLink !== undefined) h.linkname = pending.longLink;
  if (h.type === 'file' && h.name.endsWith('/')) h.type = 'directory';
  return h;
}

/** Yields the entries of a tar; rejects with invalid_argument on malformed or truncated input. */
export async function* readTar(src: ByteSource): AsyncGenerator<TarEntry> {
  let pending: Pending = {};
  const globalPax = new Map<string, Buffer>();
  for (;;) {
    const block = await src.read(512);
    if (!block || block.every((b) => b === 0)) return;
    if (!checksumOk(block))
      throw new TandemError('invalid_argument', 'not a tar archive (header checksum mismatch)');
    const parsed = parseHeader(block, pending, globalPax);
    if (typeof parsed === 'string') {
      const size = num(block, 124, 12);
      const data = () => readData(src, size);
      if (parsed === 'x') pending.pax = parsePax(await data());
      else if (parsed === 'g') for (const [k, v] of parsePax(await data())) globalPax.set(k, v);
      else if (parsed === 'L') pending.longName = cstring(await data(), 0, size);
      else if (parsed === 'K') pending.longLink = cstring(await data(), 0, size);
      else if (parsed === 'V') await src.skip(size + pad(size));
      else throw new TandemError('not_supported', `tar entry type "${parsed}" is not supported`);
      continue;
    }
    pending = {};
    const size = parsed.type === 'file' ? parsed.size : 0;
    const dataSize = parsed.type === 'link' || parsed.type === 'file' ? parsed.size : 0;
    const start = src.position;
    let used = false;
    yield {
      header: parsed,
      offset: start,
      body: () => {
        if (used) throw new Error(`tar entry "${parsed.name}": body read twice`);
        used = true;
        return src.chunks(size);
      },
    };
    const consumed = src.position - start;
    await src.skip(dataSize - consumed + pad(dataSize));
  }
}
