/**
 * Sizes as DESIGN.md accepts them: plain bytes or an integer with KiB/MiB/GiB/TiB
 * (also KB/MB/GB/TB as decimal units and the short forms k/m/g as binary, as Podman accepts).
 * Anything else is an `invalid_argument`.
 */
import { TandemError } from './errors.js';

const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tib: 1024 ** 4,
  kb: 1000,
  mb: 1000 ** 2,
  gb: 1000 ** 3,
  tb: 1000 ** 4,
};

/** Parses a size such as `64MiB` into bytes; rejects with invalid_argument on anything else. */
export function parseSize(text: string, what = 'size'): number {
  const m = /^(\d+(?:\.\d+)?)\s*([a-zA-Z]*)$/.exec(text.trim());
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) {
    throw new TandemError(
      'invalid_argument',
      `invalid ${what} "${text}": use bytes or a unit such as 64MiB, 1GiB`,
    );
  }
  const bytes = Math.round(Number(m[1]) * unit);
  if (!Number.isSafeInteger(bytes) || bytes <= 0) {
    throw new TandemError('invalid_argument', `invalid ${what} "${text}": must be a positive size`);
  }
  return bytes;
}

/**
 * Formats bytes with the largest binary unit that keeps the value at least 1: `64MiB`,
 * `1.5GiB`, `512B`; `sep` goes between number and unit (the UI uses a space).
 */
export function formatSize(bytes: number, sep = ''): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let i = 0;
  while (value >= 1024 && i < units.length - 1) {
    value /= 1024;
    i++;
  }
  const n = Number.isInteger(value) ? String(value) : value.toFixed(1);
  return `${n}${sep}${units[i]}`;
}

/** Parses a duration in seconds (fractions allowed); rejects negatives and garbage. */
export function parseSeconds(text: string | number, what = 'timeout'): number {
  const n = typeof text === 'number' ? text : Number(text);
  if (!Number.isFinite(n) || n < 0 || (typeof text === 'string' && text.trim() === '')) {
    throw new TandemError('invalid_argument', `invalid ${what} "${text}": must be a number of seconds`);
  }
  return n;
}
