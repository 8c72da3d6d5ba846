/**
 * A max/min segment tree over the nodes of one node class (nodes that share capacity,
 * capabilities and labels). Each tree node keeps, for its subtree, the largest free amount of
 * every resource and the largest and smallest allocation key (a node's summed utilisation).
 * Queries are branch-and-bound descents: a subtree is skipped when some resource's largest
 * free amount is below the request (no node inside can fit) or when its best key cannot beat
 * the best node found so far. Updates are O(log n); queries allocate nothing.
 */

/** Resources tracked per node: cpu (millicores), memory (bytes), disk (bytes), instance slots. */
export const RESOURCES = 4;

const NONE = -1;

/** The nodes of one class in a segment tree; leaf positions follow the order of `members`. */
export class ClassTree {
  readonly members: Int32Array;
  private readonly size: number;
  private readonly maxFree: Float64Array;
  private readonly maxKey: Float64Array;
  private readonly minKey: Float64Array;
  private readonly stack: Int32Array;

  /** Builds an empty tree (every member infeasible) until `update` fills the leaves. */
  constructor(members: Int32Array) {
    this.members = members;
    let size = 1;
    let depth = 0;
    while (size < members.length) {
      size *= 2;
      depth++;
    }
    this.size = size;
    this.maxFree = new Float64Array(2 * size * RESOURCES).fill(-1);
    this.maxKey = new Float64Array(2 * size).fill(Number.NEGATIVE_INFINITY);
    this.minKey = new Float64Array(2 * size).fill(Number.POSITIVE_INFINITY);
    this.stack = new Int32Array(2 * depth + 4);
  }

  /** Sets the free resources and key of the member at `pos` and repairs the path to the root. */
  update(pos: number, free: Float64Array, freeOffset: number, key: number): void {
    let v = this.size + pos;
    const mf = this.maxFree;
    for (let r = 0; r < RESOURCES; r++) mf[v * RESOURCES + r] = free[freeOffset + r]!;
    this.maxKey[v] = key;
    this.minKey[v] = key;
    v >>= 1;
    while (v >= 1) {
      const l = 2 * v;
      const rt = l + 1;
      for (let r = 0; r < RESOURCES; r++) {
        const a = mf[l * RESOURCES + r]!;
        const b = mf[rt * RESOURCES + r]!;
        mf[v * RESOURCES + r] = Math.max(a, b);
      }
      this.maxKey[v] = Math.max(this.maxKey[l]!, this.maxKey[rt]!);
      this.minKey[v] = Math.min(this.minKey[l]!, this.minKey[rt]!);
      v >>= 1;
    }
  }

  /** Largest key in the class (-Infinity when empty). */
  rootMaxKey(): number {
    return this.maxKey[1]!;
  }

  /** Smallest key in the class (+Infinity when empty). */
  rootMinKey(): number {
    return this.minKey[1]!;
  }

  /** True when every resource of `req` is at most the largest free amount somewhere in the class. */
  mayFit(req: Float64Array): boolean {
    for (let r = 0; r < RESOURCES; r++) if (this.maxFree[RESOURCES + r]! < req[r]!) return false;
    return true;
  }

  private fits(v: number, req: Float64Array): boolean {
    const base = v * RESOURCES;
    const mf = this.maxFree;
    return (
      mf[base]! >= req[0]! && mf[base + 1]! >= req[1]! && mf[base + 2]! >= req[2]! && mf[base + 3]! >= req[3]!
    );
  }

  private signedMax(v: number, dir: number): number {
    return dir > 0 ? this.maxKey[v]! : -this.minKey[v]!;
  }

  /**
   * The position of the fitting, non-excluded member with the largest `dir × key` that is at
   * least `threshold` (ties: lowest position), or -1.
   */
  queryBest(
    req: Float64Array,
    dir: 1 | -1,
    threshold: number,
    exclude: ((node: number) => boolean) | null,
  ): number {
    const stack = this.stack;
    let top = 0;
    stack[top++] = 1;
    let bestPos = NONE;
    let bestS = threshold;
    const size = this.size;
    while (top > 0) {
      const v = stack[--top]!;
      const sm = this.signedMax(v, dir);
      if (sm < bestS) continue;
      if (!this.fits(v, req)) continue;
      if (v >= size) {
        const pos = v - size;
        if (exclude?.(this.members[pos]!)) continue;
        if (sm > bestS || bestPos === NONE || pos < bestPos) {
          bestS = sm;
          bestPos = pos;
        }
        continue;
      }
      if (sm === bestS && bestPos !== NONE && this.start(v) > bestPos) continue;
      const l = 2 * v;
      if (this.signedMax(l, dir) >= this.signedMax(l + 1, dir)) {
        stack[top++] = l + 1;
        stack[top++] = l;
      } else {
        stack[top++] = l;
        stack[top++] = l + 1;
      }
    }
    return bestPos;
  }

  /** The lowest position whose member fits and is not excluded, or -1. */
  queryFirst(req: Float64Array, exclude: ((node: number) => boolean) | null): number {
    const stack = this.stack;
    let top = 0;
    stack[top++] = 1;
    const size = this.size;
    while (top > 0) {
      const v = stack[--top]!;
      if (!this.fits(v, req)) continue;
      if (v >= size) {
        const pos = v - size;
        if (exclude?.(this.members[pos]!)) continue;
        return pos;
      }
      stack[top++] = 2 * v + 1;
      stack[top++] = 2 * v;
    }
    return NONE;
  }

  private start(v: number): number {
    const level = 31 - Math.clz32(v);
    return (v - (1 << level)) * (this.size >> level);
  }
}
