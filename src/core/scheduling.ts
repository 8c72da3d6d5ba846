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
