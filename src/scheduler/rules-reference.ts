/**
 * The placement rules written plainly from DESIGN.md and docs/scheduler.md, independent of the
 * indexed implementation: the oracle the scheduler's tests check every policy against.
 */
import assert from 'node:assert/strict';
import {
  type Allocation,
  effectiveCapacity,
  type NodeInfo,
  type PlacementRequest,
  requestedResources,
} from '../core/scheduling.js';

/** Whether `request` may join node `node` on top of `bound`, by the documented rules. */
export function admissible(node: NodeInfo, bound: PlacementRequest[], request: PlacementRequest): boolean {
  if (request.node !== undefined && request.node !== node.name) return false;
  if (request.type !== 'container' && !node.capabilities.qemu) return false;
  for (const [k, v] of Object.entries(request.nodeSelector ?? {})) if (node.labels[k] !== v) return false;
  const groups = new Set(request.antiAffinity ?? []);
  if (bound.some((b) => (b.antiAffinity ?? []).some((g) => groups.has(g)))) return false;
  const cap = effectiveCapacity(node);
  const sum = (f: (r: ReturnType<typeof requestedResources>) => number) =>
    [...bound, request].reduce((a, b) => a + f(requestedResources(b)), 0);
  return (
    Math.round(sum((r) => r.cpus) * 1000) <= Math.floor(cap.cpus * 1000) &&
    sum((r) => r.memoryBytes) <= cap.memoryBytes &&
    sum((r) => r.diskBytes) <= cap.diskBytes &&
    bound.length + 1 <= cap.instances
  );
}

/** Asserts that the assignment (request index → node name or null) respects every rule. */
export function assertValid(
  nodes: NodeInfo[],
  requests: PlacementRequest[],
  nodeOf: (string | null)[],
  allocations: Allocation[] = [],
) {
  const on = new Map<string, PlacementRequest[]>(nodes.map((n) => [n.name, []]));
  for (const a of allocations) on.get(a.node)!.push(a.request);
  requests.forEach((r, k) => {
    const name = nodeOf[k];
    if (name === null || name === undefined) return;
    const node = nodes.find((n) => n.name === name)!;
    assert.ok(admissible(node, on.get(name)!, r), `${r.name} on ${name} breaks a rule`);
    on.get(name)!.push(r);
  });
}
