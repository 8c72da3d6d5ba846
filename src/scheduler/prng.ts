/**
 * A small seeded PRNG (mulberry32) so that the simulator and the randomised parts of the batch
 * placer are reproducible per seed. Not for anything security related.
 */

/** Mixes two integers into a 32-bit seed (splitmix32 finaliser). */
export function mixSeed(seed: number, stream: number): number {
  let z = (Math.imul(seed | 0, 2) + stream) | 0;
  z = (z + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** A deterministic random source; the same seed always yields the same sequence. */
export class Prng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A float uniform on [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) | 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer uniform on [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** A float uniform on [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** One element chosen uniformly. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  /** One value chosen with the given weights (any positive scale). */
  weighted<T>(choices: readonly (readonly [T, number])[]): T {
    let total = 0;
    for (const [, w] of choices) total += w;
    let x = this.next() * total;
    for (const [value, w] of choices) {
      x -= w;
      if (x < 0) return value;
    }
    return choices[choices.length - 1]![0];
  }
}
