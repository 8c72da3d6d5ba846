/**
 * The LP-guided construction heuristic of the batch placer ("per-shard models"): the fractional
 * LP solution says how many items of each type go to each node class; items are dealt to
 * classes accordingly (largest remainder), each class is packed on its own (first-fit
 * decreasing by size relative to that class's nodes), and what does not fit in its class is
 * placed afterwards where its LP price is lowest.
 */
import type { BatchProblem } from './batch-problem.js';
import { RESOURCES as R } from './class-tree.js';
import type { LpShape } from './lp-bound.js';
import { PackingState } from './packing-state.js';

/** Deals each type's items to classes in proportion to z; returns item → class (-1 if none). */
export function routeItems(s: LpShape, z: Float64Array): Int32Array {
  const C = s.classCount;
  const T = s.typeItem.length;
  const byType: number[][] = Array.from({ length: T }, () => []);
  s.typeOf.forEach((t, k) => {
    byType[t]!.push(k);
  });
  const route = new Int32Array(s.typeOf.length).fill(-1);
  for (let t = 0; t < T; t++) {
    const items = byType[t]!;
    const entries: [number, number][] = [];
    for (let e = s.allowStart[t]!; e < s.allowStart[t + 1]!; e++) {
      const c = s.allowClass[e]!;
      if (z[t * C + c]! > 1e-9) entries.push([c, z[t * C + c]!]);
    }
    const total = entries.reduce((a, [, v]) => a + v, 0);
    if (total <= 0) continue;
    const scaled = entries.map(([c, v]) => [c, (v / total) * items.length] as [number, number]);
    const counts = scaled.map(([c, v]) => [c, Math.floor(v), v - Math.floor(v)] as [number, number, number]);
    let left = items.length - counts.reduce((a, [, n]) => a + n, 0);
    const byRemainder = [...counts].sort((a, b) => b[2] - a[2] || a[0] - b[0]);
    for (let q = 0; left > 0; q = (q + 1) % byRemainder.length, left--) byRemainder[q]![1]++;
    counts.sort((a, b) => b[1] - a[1] || a[0] - b[0]);
    let next = 0;
    for (const [c, n] of counts) for (let q = 0; q < n; q++) route[items[next++]!] = c;
  }
  return route;
}

function classNodes(p: BatchProblem, s: LpShape): number[][] {
  const nodes: number[][] = Array.from({ length: s.classCount }, () => []);
  for (let j = 0; j < p.nodeCount; j++) nodes[s.classOf[j]!]!.push(j);
  return nodes;
}

/**
 * Packs `items` on the first `openCount` of `nodes`, all open at once: items by decreasing
 * size, each on the open node where the sum of squared utilisations after placement is
 * smallest (keeps every node balanced across resources, so that no resource runs out while
 * others idle). An item that fits no open node opens the next node of `nodes` it fits.
 * Returns the items that fit nowhere.
 */
export function spreadOverNodes(
  state: PackingState,
  nodes: readonly number[],
  items: number[],
  openCount: number,
): number[] {
  const p = state.p;
  if (nodes.length === 0) return items;
  const inv = new Float64Array(R);
  for (let r = 0; r < R; r++) inv[r] = p.free[nodes[0]! * R + r]! > 0 ? 1 / p.free[nodes[0]! * R + r]! : 0;
  const size = new Map<number, number>();
  for (const k of items) {
    let m = 0;
    for (let r = 0; r < R; r++) m = Math.max(m, p.demand[k * R + r]! * inv[r]!);
    size.set(k, m);
  }
  const ordered = [...items].sort((a, b) => size.get(b)! - size.get(a)! || a - b);
  const open = nodes.slice(0, openCount);
  const rest = nodes.slice(openCount);
  const left: number[] = [];
  for (const k of ordered) {
    let best = mostBalanced(state, k, open, inv);
    const q = best < 0 ? rest.findIndex((j) => state.fits(k, j)) : -1;
    if (q >= 0) {
      best = rest[q]!;
      open.push(best);
      rest.splice(q, 1);
    }
    if (best >= 0) state.add(k, best);
    else left.push(k);
  }
  return left;
}

/** The node of `open` that fits item k with the smallest sum of squared utilisations after, or -1. */
function mostBalanced(state: PackingState, k: number, open: readonly number[], inv: Float64Array): number {
  const p = state.p;
  let best = -1;
  let bestScore = Number.POSITIVE_INFINITY;
  for (const j of open) {
    if (!state.fits(k, j)) continue;
    let score = 0;
    for (let r = 0; r < R; r++) {
      const u = (state.load[j * R + r]! + p.demand[k * R + r]!) * inv[r]!;
      score += u * u;
    }
    if (score < bestScore) {
      best = j;
      bestScore = score;
    }
  }
  return best;
}

/** LP node count per class: the largest resource load of the items z puts there. */
function classLoads(s: LpShape, z: Float64Array): Float64Array {
  const C = s.classCount;
  const load = new Float64Array(C * R);
  for (let t = 0; t < s.typeItem.length; t++) {
    for (let e = s.allowStart[t]!; e < s.allowStart[t + 1]!; e++) {
      const c = s.allowClass[e]!;
      const v = z[t * C + c]!;
      if (v > 0) for (let r = 0; r < R; r++) load[c * R + r]! += v * s.coef[e * R + r]!;
    }
  }
  const y = new Float64Array(C);
  for (let c = 0; c < C; c++) for (let r = 0; r < R; r++) y[c] = Math.max(y[c]!, load[c * R + r]!);
  return y;
}

/**
 * Packs the routed items per group of same-shape nodes (LP classes that differ only in labels
 * or capabilities share a group, so that unrestricted items fill any of them). Within a group,
 * nodes are opened in proportion to the LP's use of each class. Returns the items left over.
 */
function packGroups(state: PackingState, s: LpShape, route: Int32Array, z: Float64Array): number[] {
  const p = state.p;
  const y = classLoads(s, z);
  const groupOf = new Map<string, number>();
  const groups: { nodes: number[][]; classes: number[]; items: number[] }[] = [];
  const classGroup = new Int32Array(s.classCount);
  const byClass = classNodes(p, s);
  byClass.forEach((nodes, c) => {
    const j = nodes[0]!;
    const key = p.preUsed[j] ? `#${j}` : Array.from(p.free.subarray(j * R, (j + 1) * R)).join(',');
    let g = groupOf.get(key);
    if (g === undefined) {
      g = groups.push({ nodes: [], classes: [], items: [] }) - 1;
      groupOf.set(key, g);
    }
    groups[g]!.nodes.push(nodes);
    groups[g]!.classes.push(c);
    classGroup[c] = g;
  });
  const leftovers: number[] = [];
  route.forEach((c, k) => {
    if (c >= 0) groups[classGroup[c]!]!.items.push(k);
    else leftovers.push(k);
  });
  for (const group of groups) {
    if (group.items.length === 0) continue;
    const open = Math.ceil(group.classes.reduce((a, c) => a + y[c]!, 0) - 1e-6);
    const ordered = proportionalOrder(
      group.nodes,
      group.classes.map((c) => y[c]!),
      open,
    );
    leftovers.push(...spreadOverNodes(state, ordered, group.items, Math.max(1, open)));
  }
  return leftovers;
}

/** The group's nodes, the first `open` of them shared among classes in proportion to `weight`. */
function proportionalOrder(nodes: number[][], weight: number[], open: number): number[] {
  const total = weight.reduce((a, b) => a + b, 0) || 1;
  const quota = weight.map((w, c) => Math.min(nodes[c]!.length, Math.floor((w / total) * open)));
  let left = open - quota.reduce((a, b) => a + b, 0);
  const byRemainder = weight.map((w, c) => [c, (w / total) * open - Math.floor((w / total) * open)] as const);
  byRemainder.sort((a, b) => b[1] - a[1] || a[0] - b[0]);
  for (const [c] of byRemainder) {
    if (left <= 0) break;
    if (quota[c]! < nodes[c]!.length) {
      quota[c]!++;
      left--;
    }
  }
  const first = nodes.flatMap((list, c) => list.slice(0, quota[c]!));
  const rest = nodes.flatMap((list, c) => list.slice(quota[c]!)).sort((a, b) => a - b);
  return [...first, ...rest];
}

/** The LP price of item k on node j's class under prices mu. */
function price(p: BatchProblem, s: LpShape, mu: Float64Array, k: number, j: number): number {
  const c = s.classOf[j]!;
  let v = 0;
  for (let r = 0; r < R; r++) v += mu[c * R + r]! * p.demand[k * R + r]! * s.invFree[c * R + r]!;
  return v;
}

/** Places items on used nodes where their price is lowest, else opens the cheapest free node. */
export function placeByPrice(state: PackingState, s: LpShape, mu: Float64Array, items: number[]): void {
  const p = state.p;
  const minPrice = new Map<number, number>();
  for (const k of items) {
    let best = Number.POSITIVE_INFINITY;
    for (let j = 0; j < p.nodeCount; j++)
      if (p.compatMask[p.compat[k]!]![j]) best = Math.min(best, price(p, s, mu, k, j));
    minPrice.set(k, best);
  }
  items.sort((a, b) => minPrice.get(b)! - minPrice.get(a)! || a - b);
  for (const k of items) {
    let target = -1;
    let targetPrice = Number.POSITIVE_INFINITY;
    let fresh = -1;
    let freshPrice = Number.POSITIVE_INFINITY;
    for (let j = 0; j < p.nodeCount; j++) {
      if (!state.fits(k, j)) continue;
      const v = price(p, s, mu, k, j);
      if (state.used(j) && v < targetPrice) {
        target = j;
        targetPrice = v;
      } else if (!state.used(j) && v < freshPrice) {
        fresh = j;
        freshPrice = v;
      }
    }
    const j = target >= 0 ? target : fresh;
    if (j >= 0) state.add(k, j);
  }
}

/** Builds a full assignment from the LP solution z and prices mu. */
export function routeAndPack(p: BatchProblem, s: LpShape, z: Float64Array, mu: Float64Array): PackingState {
  const state = new PackingState(p);
  const leftovers = packGroups(state, s, routeItems(s, z), z);
  placeByPrice(state, s, mu, leftovers);
  return state;
}
