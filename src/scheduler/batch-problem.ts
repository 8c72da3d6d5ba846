/**
 * The batch placement problem as plain typed arrays, so that it can be posted to the solver
 * worker: per node the free capacity (after overcommit, minus existing allocations), per
 * request its demand, which nodes it may use (type, selector, pinned node), its anti-affinity
 * groups, and the classes of interchangeable nodes used to aggregate the LP relaxation.
 */
import type { PlacementRequest } from '../core/scheduling.js';
import { RESOURCES } from './class-tree.js';
import type { ClusterIndex } from './cluster-index.js';
import { canRunType, classKey, matchesSelector, writeDemand } from './node-table.js';

/** Everything the MILP needs; indices refer to the index's node order and the request order. */
export interface BatchProblem {
  nodeCount: number;
  itemCount: number;
  /** Free capacity per node (RESOURCES values each). */
  free: Float64Array;
  /** Full effective capacity per node, for utilisation-based heuristics. */
  cap: Float64Array;
  /** 1 when the node already holds instances (it counts as used whatever the batch does). */
  preUsed: Uint8Array;
  /** Interchangeable nodes share a class (same capacity, capabilities, labels; empty; not pinned). */
  nodeClass: Int32Array;
  demand: Float64Array;
  /** Compatibility set of each item; `compatMask[s][j]` is 1 when node j passes the static filters. */
  compat: Int32Array;
  compatMask: Uint8Array[];
  /** Items' anti-affinity group ids, CSR style. */
  groupStart: Int32Array;
  groupIds: Int32Array;
  groupCount: number;
  /** Per group, the nodes an existing allocation of that group already occupies. */
  groupBlocked: Int32Array[];
  /** Scalar size of each item (for neighbourhood heuristics). */
  size: Float64Array;
}

/** Builds the problem of placing `requests` on the index's nodes as they are now. */
export function buildBatchProblem(index: ClusterIndex, requests: readonly PlacementRequest[]): BatchProblem {
  const n = index.size;
  const m = requests.length;
  const cap = index.table.cap;
  const free = new Float64Array(n * RESOURCES);
  const preUsed = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    preUsed[i] = index.count[i]! > 0 ? 1 : 0;
    for (let r = 0; r < RESOURCES; r++)
      free[i * RESOURCES + r] = cap[i * RESOURCES + r]! - index.used[i * RESOURCES + r]!;
  }
  const demand = new Float64Array(m * RESOURCES);
  requests.forEach((req, k) => {
    writeDemand(req, demand, k * RESOURCES);
  });
  const { compat, compatMask, pinned } = compatibility(index, requests);
  const groups = groupTable(index, requests);
  const nodeClass = nodeClasses(index, preUsed, pinned);
  const size = new Float64Array(m);
  const mean = new Float64Array(RESOURCES);
  for (let i = 0; i < n; i++) for (let r = 0; r < RESOURCES; r++) mean[r]! += cap[i * RESOURCES + r]! / n;
  for (let k = 0; k < m; k++) {
    for (let r = 0; r < RESOURCES; r++) if (mean[r]! > 0) size[k]! += demand[k * RESOURCES + r]! / mean[r]!;
  }
  return {
    nodeCount: n,
    itemCount: m,
    free,
    cap,
    preUsed,
    nodeClass,
    demand,
    compat,
    compatMask,
    ...groups,
    size,
  };
}

function compatibility(index: ClusterIndex, requests: readonly PlacementRequest[]) {
  const sets = new Map<string, number>();
  const compatMask: Uint8Array[] = [];
  const compat = new Int32Array(requests.length);
  const pinned = new Set<number>();
  requests.forEach((req, k) => {
    const sel = req.nodeSelector ? JSON.stringify(Object.entries(req.nodeSelector).sort()) : '';
    const key = `${req.type === 'container' ? 0 : 1}|${sel}|${req.node ?? ''}`;
    let s = sets.get(key);
    if (s === undefined) {
      s = compatMask.length;
      sets.set(key, s);
      const mask = new Uint8Array(index.size);
      for (let i = 0; i < index.size; i++) {
        const node = index.node(i);
        const ok =
          canRunType(node, req) &&
          matchesSelector(node, req) &&
          (req.node === undefined || req.node === node.name);
        mask[i] = ok ? 1 : 0;
      }
      compatMask.push(mask);
    }
    if (req.node !== undefined && index.indexOf(req.node) >= 0) pinned.add(index.indexOf(req.node));
    compat[k] = s;
  });
  return { compat, compatMask, pinned };
}

function groupTable(index: ClusterIndex, requests: readonly PlacementRequest[]) {
  const ids = new Map<string, number>();
  const groupStart = new Int32Array(requests.length + 1);
  const list: number[] = [];
  requests.forEach((req, k) => {
    for (const g of new Set(req.antiAffinity ?? [])) {
      if (!ids.has(g)) ids.set(g, ids.size);
      list.push(ids.get(g)!);
    }
    groupStart[k + 1] = list.length;
  });
  const groupBlocked: Int32Array[] = [];
  for (const [g] of ids) {
    const blocked: number[] = [];
    for (let i = 0; i < index.size; i++)
      if (index.conflicts(i, { name: '', type: 'container', antiAffinity: [g] })) blocked.push(i);
    groupBlocked.push(Int32Array.from(blocked));
  }
  return { groupStart, groupIds: Int32Array.from(list), groupCount: ids.size, groupBlocked };
}

function nodeClasses(index: ClusterIndex, preUsed: Uint8Array, pinned: Set<number>): Int32Array {
  const keys = new Map<string, number>();
  const out = new Int32Array(index.size);
  for (let i = 0; i < index.size; i++) {
    let key = classKey(index.node(i), index.table.cap, i);
    if (preUsed[i] || pinned.has(i)) key += `#${i}`;
    if (!keys.has(key)) keys.set(key, keys.size);
    out[i] = keys.get(key)!;
  }
  return out;
}
