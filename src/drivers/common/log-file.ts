/**
 * Reading a capped, rotated log: the writer (e.g. the container monitor) appends to `path`
 * and, when the cap is reached, renames it to `path.1` (replacing the older one) and starts a
 * new `path`. A reader yields `path.1` then `path` (or only their last N lines) and, when
 * following, keeps reading the open file, switching to the new one after a rotation (and
 * catching up through `path.1` when it missed one rotation in between), until aborted or
 * until `until()` says the writer is done and nothing is left to read.
 */
import { watch } from 'node:fs';
import { type FileHandle, open, readFile, stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { isCode } from './cgroup-fs.js';

export interface ReadLogOptions {
  follow?: boolean;
  /** Last N lines only (of what exists when reading starts). */
  tail?: number;
  signal?: AbortSignal;
  /** When following: resolves true once no more output can come (the writer ended). */
  until?: () => boolean | Promise<boolean>;
  /** Longest wait between checks while following (default 250 ms). */
  pollMs?: number;
}

/** The log's content (older rotation first), then new output while following. */
export async function* readLog(path: string, opts: ReadLogOptions = {}): AsyncGenerator<Buffer> {
  let fh = await openIfExists(path);
  try {
    const size = fh ? (await fh.stat()).size : 0;
    // a rotation between the open and here makes `path.1` the open file: not read twice
    const older = fh ? await olderThan(path, fh) : await readIfExists(`${path}.1`);
    const head = Buffer.concat([older ?? Buffer.alloc(0), await readRange(fh, 0, size)]);
    const first = opts.tail === undefined ? head : lastLines(head, opts.tail);
    if (first.length > 0) yield first;
    if (!opts.follow) return;
    let pos = size;
    for (;;) {
      if (opts.signal?.aborted) return;
      const done = opts.until ? await opts.until() : false;
      const chunk = await readRange(fh, pos);
      if (chunk.length > 0) {
        pos += chunk.length;
        yield chunk;
        continue;
      }
      if (await rotated(path, fh)) {
        // the writer renames the file only after its last write to it: what it appended since
        // the read above is there now, and must come before anything of the new file
        const rest = await readRange(fh, pos);
        if (rest.length > 0) yield rest;
        const missed = await olderThan(path, fh);
        await fh?.close();
        if (missed) yield missed;
        fh = await openIfExists(path);
        pos = 0;
        continue;
      }
      if (done) return;
      await waitForChange(path, opts.pollMs ?? 250, opts.signal);
    }
  } finally {
    await fh?.close();
  }
}

/** The last `n` lines of `buf` (a final line without newline counts as a line). */
export function lastLines(buf: Buffer, n: number): Buffer {
  if (n <= 0) return Buffer.alloc(0);
  let end = buf.length;
  if (end > 0 && buf[end - 1] === 0x0a) end--;
  let start = end;
  for (let seen = 0; start > 0; start--) {
    if (buf[start - 1] === 0x0a && ++seen === n) break;
  }
  return buf.subarray(start);
}

async function openIfExists(path: string): Promise<FileHandle | undefined> {
  try {
    return await open(path, 'r');
  } catch (err) {
    if (isCode(err, 'ENOENT')) return undefined;
    throw err;
  }
}

async function readIfExists(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (err) {
    if (isCode(err, 'ENOENT')) return undefined;
    throw err;
  }
}

/** Bytes of `fh` from `from` up to `to` (default: its current end). */
async function readRange(fh: FileHandle | undefined, from: number, to?: number): Promise<Buffer> {
  if (!fh) return Buffer.alloc(0);
  const end = to ?? (await fh.stat()).size;
  if (end <= from) return Buffer.alloc(0);
  const buf = Buffer.alloc(end - from);
  let got = 0;
  while (got < buf.length) {
    const { bytesRead } = await fh.read(buf, got, buf.length - got, from + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return buf.subarray(0, got);
}

/** True when `path` now names another file than the open one (or appeared since). */
async function rotated(path: string, fh: FileHandle | undefined): Promise<boolean> {
  const now = await stat(path).catch(() => undefined);
  if (!now) return false;
  if (!fh) return true;
  return now.ino !== (await fh.stat()).ino;
}

/**
 * `path.1` when it is not the open file, else undefined: while following, a `path.1` other than
 * the file we had open means the writer rotated twice, and it holds output we have not seen.
 */
async function olderThan(path: string, fh: FileHandle | undefined): Promise<Buffer | undefined> {
  const older = await stat(`${path}.1`).catch(() => undefined);
  if (!older || !fh || older.ino === (await fh.stat()).ino) return undefined;
  return readIfExists(`${path}.1`);
}

/** Resolves when the log's directory changes, after `ms`, or on abort. */
function waitForChange(path: string, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const name = basename(path);
    let watcher: ReturnType<typeof watch> | undefined;
    const done = () => {
      clearTimeout(timer);
      watcher?.close();
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    try {
      watcher = watch(dirname(path), (_event, file) => {
        if (!file || file.startsWith(name)) done();
      });
      watcher.on('error', done);
    } catch {
      // the directory may be gone (instance deleted): the timer ends the wait
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
