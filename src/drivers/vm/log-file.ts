/**
 * Log files written by QEMU (serial console, workload output) in append mode: reading them
 * (all, the last N lines, following while the guest runs) and capping them. QEMU opens them
 * with O_APPEND, so trimming in place is safe: its next write lands at the new end.
 */
import { open, readFile, stat, truncate } from 'node:fs/promises';
import { sleep } from '../../base/time.js';

/** The last `n` lines of `buf` (a trailing partial line counts as one). */
export function tailLines(buf: Buffer, n: number): Buffer {
  if (n <= 0) return Buffer.alloc(0);
  let end = buf.length;
  if (end > 0 && buf[end - 1] === 0x0a) end--;
  let pos = end;
  for (let seen = 0; pos > 0; pos--) {
    if (buf[pos - 1] === 0x0a && ++seen === n) break;
  }
  return buf.subarray(pos);
}

/** Keeps a log file under `capBytes`: when larger, only its last half remains. */
export async function capLog(path: string, capBytes: number): Promise<void> {
  const st = await stat(path).catch(() => undefined);
  if (!st || st.size <= capBytes) return;
  const fh = await open(path, 'r+');
  try {
    const keep = Math.floor(capBytes / 2);
    const tail = Buffer.alloc(keep);
    const { bytesRead } = await fh.read(tail, 0, keep, st.size - keep);
    await fh.truncate(0);
    await fh.write(tail.subarray(0, bytesRead), 0, bytesRead, 0);
  } finally {
    await fh.close();
  }
}

/** Empties a log file (missing is fine). */
export async function clearLog(path: string): Promise<void> {
  await truncate(path, 0).catch(() => {});
}

/**
 * Yields the file's content (from byte `from`, the last `tail` lines), then, with `follow`, new bytes
 * until `active()` turns false and the file stops growing, or `signal` aborts.
 */
export async function* readLog(
  path: string,
  opts: {
    tail?: number;
    from?: number;
    follow?: boolean;
    signal?: AbortSignal;
    active?: () => Promise<boolean>;
  },
): AsyncIterable<Buffer> {
  let content: Buffer = await readFile(path).catch(() => Buffer.alloc(0));
  let offset = content.length;
  if (opts.from !== undefined) content = content.subarray(opts.from <= content.length ? opts.from : 0);
  if (opts.tail !== undefined) content = tailLines(content, opts.tail);
  if (content.length > 0) yield content;
  if (!opts.follow) return;
  while (!opts.signal?.aborted) {
    const size = (await stat(path).catch(() => undefined))?.size ?? 0;
    if (size < offset) offset = 0; // trimmed by capLog
    if (size > offset) {
      const fh = await open(path, 'r');
      try {
        const buf = Buffer.alloc(size - offset);
        const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
        offset += bytesRead;
        if (bytesRead > 0) yield buf.subarray(0, bytesRead);
      } finally {
        await fh.close();
      }
      continue;
    }
    if (opts.active && !(await opts.active())) return;
    await sleep(100, opts.signal).catch(() => {});
  }
}
