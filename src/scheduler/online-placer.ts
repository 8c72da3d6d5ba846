/**
 * The online placer (one request at a time): filter → score → bind over a ClusterIndex, and the
 * explanation when nothing fits (`0/5 nodes fit: 3 insufficient memory, 2 cannot run vm`). Each
 * node contributes its first failing filter, in the order: pinned node, can run the type, node
 * selector, anti-affinity, cpu, memory, disk, instance limit.
 */
import { TandemError } from '../base/errors.js';
import type { Allocation, NodeInfo, PlacementPolicy, PlacementRequest, Placer } from '../core/scheduling.js';
import { ClusterIndex } from './cluster-index.js';
import { canRunType, matchesSelector } from './node-table.js';

const SHORT_REASONS = [
  'insufficient cpu',
  'insufficient memory',
  'insufficient disk',
  'instance limit reached',
];

/** Why node `i` cannot take `request`, or null when it can. */
export function rejectReason(index: ClusterIndex, i: number, request: PlacementRequest): string | null {
  const node = index.node(i);
  if (request.node !== undefined && request.node !== node.name) return 'not the pinned node';
  if (!canRunType(node, request)) return `cannot run ${request.type}`;
  if (!matchesSelector(node, request)) return 'node selector mismatch';
  if (index.conflicts(i, request)) return 'anti-affinity conflict';
  const short = index.shortResource(i, request);
  return short >= 0 ? SHORT_REASONS[short]! : null;
}

/** `0/N nodes fit: …` with every reason counted, most frequent first. */
export function explainNoFit(index: ClusterIndex, request: PlacementRequest): string {
  const counts = new Map<string, number>();
  for (let i = 0; i < index.size; i++) {
    const reason = rejectReason(index, i, request) ?? 'fits';
    counts.set(reason, (counts.get(reason) ?? 0) + 1);
  }
  const parts = [...counts.entries()]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .map(([reason, n]) => `${n} ${reason}`);
  const fitting = counts.get('fits') ?? 0;
  if (index.size === 0) return '0/0 nodes fit: no nodes';
  return `${fitting}/${index.size} nodes fit: ${parts.join(', ')}`;
}

/** Picks a node for `request` on a live index, or throws insufficient_resources with the explanation. */
export function placeOn(index: ClusterIndex, request: PlacementRequest, policy: PlacementPolicy): number {
  if (request.node !== undefined && index.indexOf(request.node) < 0) {
    throw new TandemError('not_found', `instance "${request.name}": node "${request.node}" not found`);
  }
  const i = index.find(request, policy);
  if (i < 0) {
    throw new TandemError(
      'insufficient_resources',
      `instance "${request.name}": ${explainNoFit(index, request)}`,
    );
  }
  return i;
}

/** A stateless Placer: indexes the given nodes and allocations on every call (O(nodes + allocations)). */
export function createPlacer(policy: PlacementPolicy = 'binpack'): Placer {
  return {
    place(request: PlacementRequest, nodes: readonly NodeInfo[], allocations: readonly Allocation[]): string {
      const index = new ClusterIndex(nodes, allocations);
      return index.node(placeOn(index, request, policy)).name;
    },
  };
}
