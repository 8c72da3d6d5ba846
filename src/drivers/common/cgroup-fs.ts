/**
 * File helpers for cgroup trees: small reads and writes, recursive pid listing and removal.
 * They use synchronous calls on purpose: each touches a few bytes of a kernel file, and a
 * round trip through libuv's thread pool costs far more than the call (measured: it doubled
 * a container launch on a loaded machine). The functions stay async for their callers.
 */
import { readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TandemError } from '../../base/errors.js';
import { sleep } from '../../base/time.js';

/** The trimmed content of a cgroup file, or undefined when it does not exist. */
export async function readText(path: string): Promise<string | undefined> {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (err) {
    if (isCode(err, 'ENOENT', 'ENODEV')) return undefined;
    throw err;
  }
}

/** A cgroup file holding one integer, or undefined when missing or not a number. */
export async function readNumber(path: string): Promise<number | undefined> {
  const text = await readText(path);
  if (text === undefined || text === 'max') return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n : undefined;
}

/** `key value` lines (memory.stat, cpu.stat, memory.events) as a map. */
export async function readKeyed(path: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const line of ((await readText(path)) ?? '').split('\n')) {
    const [k, v] = line.split(/\s+/);
    if (k && v !== undefined && Number.isFinite(Number(v))) out.set(k, Number(v));
  }
  return out;
}

/** Writes a value into a cgroup file; a kernel refusal becomes invalid_argument naming the file. */
export async function writeValue(path: string, value: string | number): Promise<void> {
  try {
    writeFileSync(path, String(value));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    const kind = isCode(err, 'EINVAL', 'EBUSY', 'ERANGE') ? 'invalid_argument' : 'internal';
    throw new TandemError(kind, `writing "${value}" to ${path}: ${code}`, { cause: err });
  }
}

/** Directories under `dir` (itself included), deepest first; empty when `dir` is missing. */
export async function subtreeDeepestFirst(dir: string): Promise<string[]> {
  let entries: string[];
  try {
    entries = readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
  } catch (err) {
    if (isCode(err, 'ENOENT')) return [];
    throw err;
  }
  const below = await Promise.all(entries.map((e) => subtreeDeepestFirst(join(dir, e))));
  return [...below.flat(), dir];
}

/** Every pid in `cgroup.procs` of `dir` and the groups below it. */
export async function pidsBelow(dir: string): Promise<number[]> {
  const pids: number[] = [];
  for (const d of await subtreeDeepestFirst(dir)) {
    for (const line of ((await readText(join(d, 'cgroup.procs'))) ?? '').split('\n')) {
      if (line) pids.push(Number(line));
    }
  }
  return pids;
}

/** Removes `dir` and the groups below it, retrying while processes leave; idempotent. */
export async function removeTree(dir: string): Promise<void> {
  // the usual case, an empty leaf: one rmdir, no walk over its files
  try {
    rmdirSync(dir);
    return;
  } catch (err) {
    if (isCode(err, 'ENOENT')) return;
  }
  for (const d of await subtreeDeepestFirst(dir)) {
    for (let attempt = 0; ; attempt++) {
      try {
        rmdirSync(d);
        break;
      } catch (err) {
        if (isCode(err, 'ENOENT')) break;
        if (!isCode(err, 'EBUSY', 'ENOTEMPTY') || attempt >= 50) {
          throw new TandemError('internal', `removing cgroup ${d}: ${(err as Error).message}`, {
            cause: err,
          });
        }
        for (const pid of await pidsBelow(d)) killQuietly(pid);
        await sleep(20);
      }
    }
  }
}

/** Sends `signal` (SIGKILL), ignoring a process that is already gone. */
export function killQuietly(pid: number, signal: NodeJS.Signals = 'SIGKILL'): void {
  try {
    process.kill(pid, signal);
  } catch {}
}

/** True when `err` is a Node system error with one of `codes`. */
export function isCode(err: unknown, ...codes: string[]): boolean {
  return codes.includes((err as NodeJS.ErrnoException | undefined)?.code ?? '');
}
