/**
 * The placement contract between the daemon and the scheduler (DESIGN.md, "Scheduling and
 * resource allocation"). Nodes advertise capacity and capabilities; a request names what an
 * instance needs; a placer picks one node (filter → score → bind) or explains, per reason, why
 * none fits. An instance without cpus/memory requests none of them (best effort) but still
 * counts toward the node's instance limit.
 */
import type { InstanceType } from './instance.js';

export interface Resources {
  cpus: number;
  memoryBytes: number;
  diskBytes: number;
}

export interface NodeCapacity extends Resources {
  /** Maximum number of instances. */
  instances: number;
}

export interface Overcommit {
  cpu: number;
  memory: number;
  disk: number;
}

export const DEFAULT_OVERCOMMIT: Overcommit = { cpu: 4.0, memory: 1.0, disk: 1.0 };

export interface NodeInfo {
  name: string;
  capacity: NodeCapacity;
  capabilities: { qemu: boolean; kvm: boolean };
  labels: Record<string, string>;
  overcommit: Overcommit;
}

export interface PlacementRequest {
  name: string;
  type: InstanceType;
  cpus?: number;
  memoryBytes?: number;
  diskBytes?: number;
  labels?: Record<string, string>;
  /** Instances sharing a group never share a node. */
  antiAffinity?: string[];
  /** Labels a node must carry. */
  nodeSelector?: Record<string, string>;
  /** A node the user pinned. */
  node?: string;
}

/** An instance already bound to a node. */
export interface Allocation {
  node: string;
  request: PlacementRequest;
}

export type PlacementPolicy = 'binpack' | 'spread';

export interface Placer {
  /** The chosen node's name; rejects with insufficient_resources explaining every node's reason. */
  place(request: PlacementRequest, nodes: readonly NodeInfo[], allocations: readonly Allocation[]): string;
}

/** Policies that place a whole batch at once: first-fit-decreasing, or the MILP batch placer. */
export type BatchPolicy = 'ffd' | 'milp';

/** Every policy the simulator and the batch placer accept. */
export type SchedulingPolicy = PlacementPolicy | BatchPolicy;

/** The result of placing many requests at once. */
export interface BatchPlacement {
  /** Request name → node name, or null when the request could not be placed. */
  assignments: Record<string, string | null>;
  /** Nodes holding at least one instance afterwards (existing allocations included). */
  nodesUsed: number;
  /** A valid lower bound on nodesUsed for placing every request, or null when none was computed. */
  lowerBound: number | null;
  /** How the bound was obtained (e.g. `lp-relaxation`, `milp-dual-bound`). */
  lowerBoundMethod: string | null;
  /** (nodesUsed - lowerBound) / lowerBound; null without a bound or when a request stayed unplaced. */
  gap: number | null;
}

/** Places a batch of requests; never throws for requests that do not fit (they map to null). */
export interface BatchPlacer {
  placeBatch(
    requests: readonly PlacementRequest[],
    nodes: readonly NodeInfo[],
    allocations: readonly Allocation[],
  ): Promise<BatchPlacement>;
}

/** What a request takes from a node: absent cpus/memory/disk take nothing (best effort); always one instance. */
export function requestedResources(request: PlacementRequest): NodeCapacity {
  return {
    cpus: request.cpus ?? 0,
    memoryBytes: request.memoryBytes ?? 0,
    diskBytes: request.diskBytes ?? 0,
    instances: 1,
  };
}

/** A node's schedulable capacity: physical capacity times its overcommit ratio per resource. */
export function effectiveCapacity(node: NodeInfo): NodeCapacity {
  const oc = node.overcommit;
  return {
    cpus: node.capacity.cpus * oc.cpu,
    memoryBytes: Math.floor(node.capacity.memoryBytes * oc.memory),
    diskBytes: Math.floor(node.capacity.diskBytes * oc.disk),
    instances: node.capacity.instances,
  };
}

/** One node as `tandem node ls` shows it. */
export interface NodeUsage {
  node: NodeInfo;
  /** Capacity after overcommit. */
  effective: NodeCapacity;
  /** Sum of the requests bound to the node (best-effort requests count only as instances). */
  allocated: NodeCapacity;
}

/** Usage of every node; allocations naming an unknown node are ignored. */
export function nodeUsage(nodes: readonly NodeInfo[], allocations: readonly Allocation[]): NodeUsage[] {
  const byName = new Map<string, NodeUsage>();
  for (const node of nodes) {
    const allocated = { cpus: 0, memoryBytes: 0, diskBytes: 0, instances: 0 };
    byName.set(node.name, { node, effective: effectiveCapacity(node), allocated });
  }
  for (const a of allocations) {
    const usage = byName.get(a.node);
    if (!usage) continue;
    const r = requestedResources(a.request);
    usage.allocated.cpus += r.cpus;
    usage.allocated.memoryBytes += r.memoryBytes;
    usage.allocated.diskBytes += r.diskBytes;
    usage.allocated.instances += 1;
  }
  return [...byName.values()];
}
