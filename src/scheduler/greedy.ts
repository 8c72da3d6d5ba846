/**
 * Greedy batch baselines on a ClusterIndex: the online policies applied in arrival order, and
 * first-fit-decreasing (requests by decreasing size, each on the first fitting node, nodes in
 * decreasing size grouped by shape). Both bind what they place into the index.
 */
import type { PlacementRequest } from '../core/scheduling.js';
import { RESOURCES } from './class-tree.js';
import type { ClusterIndex, SearchMode } from './cluster-index.js';
import { SLOTS, writeDemand } from './node-table.js';

/** Places requests one by one in the given order; returns node index per request (-1 unplaced). */
export function placeInOrder(
  index: ClusterIndex,
  requests: readonly PlacementRequest[],
  mode: SearchMode,
  order?: readonly number[],
): Int32Array {
  const out = new Int32Array(requests.length).fill(-1);
  const seq = order ?? requests.map((_, k) => k);
  for (const k of seq) {
    const r = requests[k]!;
    const i = index.find(r, mode);
    if (i >= 0) {
      index.bind(i, r);
      out[k] = i;
    }
  }
  return out;
}

/** Size of each request: the sum over cpu, memory and disk of demand / mean node capacity. */
export function requestSizes(index: ClusterIndex, requests: readonly PlacementRequest[]): Float64Array {
  const cap = index.table.cap;
  const n = index.size;
  const mean = new Float64Array(RESOURCES);
  for (let i = 0; i < n; i++) for (let r = 0; r < RESOURCES; r++) mean[r]! += cap[i * RESOURCES + r]! / n;
  const d = new Float64Array(RESOURCES);
  return Float64Array.from(requests, (req) => {
    writeDemand(req, d);
    let s = 0;
    for (let r = 0; r < RESOURCES; r++) if (r !== SLOTS && mean[r]! > 0) s += d[r]! / mean[r]!;
    return s;
  });
}

/** Request indices by decreasing size (stable: equal sizes keep arrival order). */
export function decreasingOrder(sizes: Float64Array): number[] {
  return Array.from(sizes, (_, k) => k).sort((a, b) => sizes[b]! - sizes[a]! || a - b);
}

/** First-fit-decreasing; returns node index per request (-1 unplaced). */
export function placeFirstFitDecreasing(
  index: ClusterIndex,
  requests: readonly PlacementRequest[],
): Int32Array {
  return placeInOrder(index, requests, 'first-fit', decreasingOrder(requestSizes(index, requests)));
}
