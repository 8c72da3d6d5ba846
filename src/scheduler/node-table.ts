/**
 * Nodes and requests as flat numeric vectors: cpu in millicores (integers, so sums are exact),
 * memory and disk in bytes, and one instance slot. Capacities are after overcommit. Nodes are
 * sorted by name so that every tie-break ("lowest index") means "first by name".
 */
import { TandemError } from '../base/errors.js';
import type { NodeInfo, PlacementRequest } from '../core/scheduling.js';
import { RESOURCES } from './class-tree.js';

export const CPU = 0;
export const MEMORY = 1;
export const DISK = 2;
export const SLOTS = 3;
export const RESOURCE_NAMES = ['cpu', 'memory', 'disk', 'instances'] as const;

/** Writes the demand vector of `request` into `out` at `offset`; rejects negative or non-finite sizes. */
export function writeDemand(request: PlacementRequest, out: Float64Array, offset = 0): void {
  out[offset + CPU] = Math.round(checked(request.cpus, 'cpus', request.name) * 1000);
  out[offset + MEMORY] = checked(request.memoryBytes, 'memory', request.name);
  out[offset + DISK] = checked(request.diskBytes, 'disk', request.name);
  out[offset + SLOTS] = 1;
}

function checked(value: number | undefined, what: string, name: string): number {
  if (value === undefined) return 0;
  if (!Number.isFinite(value) || value < 0) {
    throw new TandemError('invalid_argument', `instance "${name}": invalid ${what} request ${value}`);
  }
  return value;
}

/** The effective capacity of every node, flattened; nodes sorted by name. */
export interface NodeTable {
  nodes: NodeInfo[];
  cap: Float64Array;
  byName: Map<string, number>;
}

/** Sorts nodes by name and flattens their capacities; rejects duplicate names and bad capacities. */
export function buildNodeTable(input: readonly NodeInfo[]): NodeTable {
  const nodes = [...input].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const cap = new Float64Array(nodes.length * RESOURCES);
  const byName = new Map<string, number>();
  nodes.forEach((node, i) => {
    if (byName.has(node.name))
      throw new TandemError('invalid_argument', `node "${node.name}" is listed twice`);
    byName.set(node.name, i);
    const c = node.capacity;
    const oc = node.overcommit;
    const values = [c.cpus * 1000 * oc.cpu, c.memoryBytes * oc.memory, c.diskBytes * oc.disk, c.instances];
    for (let r = 0; r < RESOURCES; r++) {
      const v = values[r]!;
      if (!Number.isFinite(v) || v < 0) {
        throw new TandemError(
          'invalid_argument',
          `node "${node.name}": invalid ${RESOURCE_NAMES[r]} capacity`,
        );
      }
      cap[i * RESOURCES + r] = Math.floor(v);
    }
  });
  return { nodes, cap, byName };
}

/** True when the node can run the instance type (vm and sandbox need QEMU). */
export function canRunType(node: NodeInfo, request: PlacementRequest): boolean {
  return request.type === 'container' || node.capabilities.qemu;
}

/** True when the node carries every label of the request's node selector. */
export function matchesSelector(node: NodeInfo, request: PlacementRequest): boolean {
  const selector = request.nodeSelector;
  if (!selector) return true;
  for (const key in selector) if (node.labels[key] !== selector[key]) return false;
  return true;
}

/** True when the request prefers KVM (vm and sandbox). */
export function wantsKvm(request: PlacementRequest): boolean {
  return request.type !== 'container';
}

/** A key equal for nodes that no filter or score can tell apart. */
export function classKey(node: NodeInfo, cap: Float64Array, i: number): string {
  const c = Array.from(cap.subarray(i * RESOURCES, (i + 1) * RESOURCES)).join(',');
  const labels = Object.keys(node.labels)
    .sort()
    .map((k) => `${k}=${node.labels[k]}`)
    .join(',');
  return `${c}|${node.capabilities.qemu ? 1 : 0}${node.capabilities.kvm ? 1 : 0}|${labels}`;
}
