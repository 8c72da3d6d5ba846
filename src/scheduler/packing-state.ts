/**
 * An assignment of batch items to nodes with the load it puts on each node: the working state
 * of the batch heuristics and of the neighbourhood search. Checks every constraint of the
 * model (static filters, capacity per resource, anti-affinity, existing allocations).
 */
import type { BatchProblem } from './batch-problem.js';
import { RESOURCES as R } from './class-tree.js';

/** A mutable assignment (item → node or -1) with per-node loads. */
export class PackingState {
  readonly assign: Int32Array;
  readonly load: Float64Array;
  /** Batch items per node, in the order they were added. */
  private readonly onNode: Set<number>[];
  private readonly groupsOnNode: Map<number, Set<number>>[];

  constructor(readonly p: BatchProblem) {
    this.assign = new Int32Array(p.itemCount).fill(-1);
    this.load = new Float64Array(p.nodeCount * R);
    this.onNode = Array.from({ length: p.nodeCount }, () => new Set<number>());
    this.groupsOnNode = [];
    for (let g = 0; g < p.groupCount; g++) {
      const m = new Map<number, Set<number>>();
      this.groupsOnNode.push(m);
    }
  }

  /** A copy of this state with the same assignment. */
  clone(): PackingState {
    const s = new PackingState(this.p);
    for (let k = 0; k < this.p.itemCount; k++) if (this.assign[k]! >= 0) s.add(k, this.assign[k]!);
    return s;
  }

  /** True when item k may go on node j now (filters, anti-affinity, free capacity). */
  fits(k: number, j: number): boolean {
    const p = this.p;
    if (!p.compatMask[p.compat[k]!]![j]) return false;
    for (let r = 0; r < R; r++)
      if (this.load[j * R + r]! + p.demand[k * R + r]! > p.free[j * R + r]!) return false;
    return !this.conflicts(k, j);
  }

  /** True when node j holds (or held before the batch) a member of one of item k's groups. */
  conflicts(k: number, j: number): boolean {
    const p = this.p;
    for (let q = p.groupStart[k]!; q < p.groupStart[k + 1]!; q++) {
      const g = p.groupIds[q]!;
      const on = this.groupsOnNode[g]!.get(j);
      if (on && on.size > 0) return true;
      const blocked = p.groupBlocked[g]!;
      for (let b = 0; b < blocked.length; b++) if (blocked[b] === j) return true;
    }
    return false;
  }

  /** Items of group g on node j. */
  groupMembersOn(g: number, j: number): Iterable<number> {
    return this.groupsOnNode[g]!.get(j) ?? [];
  }

  /** Puts item k on node j (no checks). */
  add(k: number, j: number): void {
    const p = this.p;
    this.assign[k] = j;
    this.onNode[j]!.add(k);
    for (let r = 0; r < R; r++) this.load[j * R + r]! += p.demand[k * R + r]!;
    for (let q = p.groupStart[k]!; q < p.groupStart[k + 1]!; q++) {
      const m = this.groupsOnNode[p.groupIds[q]!]!;
      const set = m.get(j) ?? new Set<number>();
      m.set(j, set);
      set.add(k);
    }
  }

  /** Takes item k off its node. */
  remove(k: number): void {
    const p = this.p;
    const j = this.assign[k]!;
    if (j < 0) return;
    this.assign[k] = -1;
    this.onNode[j]!.delete(k);
    for (let r = 0; r < R; r++) this.load[j * R + r]! -= p.demand[k * R + r]!;
    for (let q = p.groupStart[k]!; q < p.groupStart[k + 1]!; q++)
      this.groupsOnNode[p.groupIds[q]!]!.get(j)?.delete(k);
  }

  /** True when node j counts as used (existing allocations or batch items). */
  used(j: number): boolean {
    return this.p.preUsed[j] === 1 || this.onNode[j]!.size > 0;
  }

  /** Number of nodes used. */
  nodesUsed(): number {
    let n = 0;
    for (let j = 0; j < this.p.nodeCount; j++) if (this.used(j)) n++;
    return n;
  }

  /** Number of items without a node. */
  unplaced(): number {
    let n = 0;
    for (let k = 0; k < this.p.itemCount; k++) if (this.assign[k]! < 0) n++;
    return n;
  }

  /** Items currently on node j. */
  itemsOn(j: number): number[] {
    return [...this.onNode[j]!];
  }

  /** Number of batch items on node j. */
  countOn(j: number): number {
    return this.onNode[j]!.size;
  }
}
