/**
 * Every create goes through the placer (filter → score → bind). The allocations are the
 * instances in the store plus creates still in flight (reserved until they are stored or fail),
 * so parallel creates cannot overbook a node. Nothing fits → insufficient_resources with the
 * placer's per-reason explanation, before anything is created.
 */
import type { Node } from '../api/system.js';
import type { Instance } from '../core/instance.js';
import {
  type Allocation,
  type NodeInfo,
  nodeUsage,
  type PlacementRequest,
  type Placer,
} from '../core/scheduling.js';
import type { InstanceRecords } from './instance-records.js';

export class Placement {
  private readonly pending = new Map<string, Allocation>();

  /** `footprint`: the host memory an instance takes when its driver says it differs from its limit. */
  constructor(
    private readonly placer: Placer,
    private readonly nodes: () => NodeInfo[],
    private readonly records: InstanceRecords,
    private readonly footprint: (inst: Instance) => { memoryBytes: number } | undefined = () => undefined,
  ) {}

  /** Binds `inst` to a node and reserves it until `release(name)`; rejects when nothing fits. */
  async place(inst: Instance): Promise<string> {
    const request = this.requestOf(inst);
    const node = this.placer.place(request, this.nodes(), await this.allocations());
    this.pending.set(inst.name, { node, request });
    return node;
  }

  /** Drops the in-flight reservation of `name` (the instance is stored now, or failed). */
  release(name: string): void {
    this.pending.delete(name);
  }

  /** The nodes as `GET /v1/nodes` shows them. */
  async view(): Promise<Node[]> {
    return nodeUsage(this.nodes(), await this.allocations()).map(({ node, allocated }) => ({
      name: node.name,
      capacity: node.capacity,
      allocated,
      overcommit: node.overcommit,
      capabilities: node.capabilities,
      labels: node.labels,
    }));
  }

  private async allocations(): Promise<Allocation[]> {
    const stored = (await this.records.list()).filter((i) => !this.pending.has(i.name));
    return [...stored.map((i) => ({ node: i.node, request: this.requestOf(i) })), ...this.pending.values()];
  }

  private requestOf(inst: Instance): PlacementRequest {
    const l = inst.config.limits;
    return {
      name: inst.name,
      type: inst.type,
      cpus: l.cpus,
      memoryBytes: this.footprint(inst)?.memoryBytes ?? l.memoryBytes,
      diskBytes: l.diskBytes,
      node: inst.config.node,
    };
  }
}
