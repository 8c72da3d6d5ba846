/**
 * IPv4 arithmetic for address management: CIDR parsing, addresses as unsigned 32-bit numbers,
 * overlap tests, the next free address after a hint (round robin, as CNI's host-local does, so
 * an address just released is not handed out again at once) and a stable MAC per address.
 */
import { TandemError } from '../base/errors.js';

export interface Subnet {
  /** The network address as a number. */
  base: number;
  prefixLength: number;
  /** Number of addresses in the subnet (2^(32-prefix)). */
  size: number;
}

/** The dotted quad as an unsigned number; invalid_argument unless it is one. */
export function parseAddress(text: string): number {
  const parts = text.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255))
    throw new TandemError('invalid_argument', `invalid IPv4 address "${text}"`);
  return parts.reduce((n, p) => n * 256 + Number(p), 0);
}

/** The dotted quad of an unsigned number. */
export function formatAddress(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

/** Parses `a.b.c.d/len` (8 ≤ len ≤ 30, host bits zero); invalid_argument otherwise. */
export function parseSubnet(cidr: string): Subnet {
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(cidr);
  const prefixLength = Number(m?.[2]);
  if (!m || prefixLength < 8 || prefixLength > 30)
    throw new TandemError('invalid_argument', `invalid subnet "${cidr}": use a.b.c.d/len with len 8..30`);
  const base = parseAddress(m[1]!);
  const size = 2 ** (32 - prefixLength);
  if (base % size !== 0)
    throw new TandemError(
      'invalid_argument',
      `invalid subnet "${cidr}": host bits are set (did you mean ${formatSubnet({ base: base - (base % size), prefixLength, size })}?)`,
    );
  return { base, prefixLength, size };
}

/** `a.b.c.d/len`. */
export function formatSubnet(s: Subnet): string {
  return `${formatAddress(s.base)}/${s.prefixLength}`;
}

/** True when the two subnets share an address. */
export function overlaps(a: Subnet, b: Subnet): boolean {
  return a.base < b.base + b.size && b.base < a.base + a.size;
}

/** True when `addr` (a number) is inside `s`. */
export function contains(s: Subnet, addr: number): boolean {
  return addr >= s.base && addr < s.base + s.size;
}

/** The gateway of a subnet: its first host address. */
export function gatewayOf(s: Subnet): number {
  return s.base + 1;
}

/**
 * The first free host address after `after` (wrapping around), skipping the network address,
 * the gateway and the broadcast address; undefined when the subnet is full.
 */
export function nextFree(s: Subnet, used: ReadonlySet<number>, after?: number): number | undefined {
  const first = s.base + 2;
  const last = s.base + s.size - 2;
  const count = last - first + 1;
  const start = after !== undefined && after >= first && after <= last ? after - first + 1 : 0;
  for (let i = 0; i < count; i++) {
    const addr = first + ((start + i) % count);
    if (!used.has(addr)) return addr;
  }
  return undefined;
}

/** A locally administered MAC derived from the address (0a:58:a:b:c:d), stable for an address. */
export function macFor(address: string): string {
  const n = parseAddress(address);
  const bytes = [0x0a, 0x58, ...[24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256)];
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/** Destination subnets of the routes in /proc/net/route text (little-endian hex), with their device. */
export function parseRouteTable(text: string): { dev: string; subnet: Subnet }[] {
  const out: { dev: string; subnet: Subnet }[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    const dest = leHex(f[1]!);
    const mask = leHex(f[7]!);
    if (mask === 0) continue; // the default route overlaps everything by definition
    const prefixLength = 32 - Math.log2(2 ** 32 - mask);
    if (!Number.isInteger(prefixLength)) continue;
    out.push({ dev: f[0]!, subnet: { base: dest, prefixLength, size: 2 ** (32 - prefixLength) } });
  }
  return out;
}

function leHex(hex: string): number {
  const n = Number.parseInt(hex, 16);
  return ((n & 0xff) * 2 ** 24 + ((n >>> 8) & 0xff) * 2 ** 16 + ((n >>> 16) & 0xff) * 256 + (n >>> 24)) >>> 0;
}
