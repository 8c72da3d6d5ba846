/**
 * The scheduler's view of a cluster: effective capacities, current allocations and, per node
 * class, a segment tree (class-tree.ts) so that one placement costs about O(classes × log n)
 * instead of a scan of every node. Filters that are the same for every node of a class (can
 * run the type, node selector) are evaluated once per class; capacity prunes whole subtrees;
 * anti-affinity and the pinned node are checked per candidate.
 *
 * Scores (higher wins): `binpack` = mean utilisation after placement over cpu, memory, disk and
 * instance slots (Kubernetes' MostAllocated, with slots so that best-effort requests pack
 * too); `spread` = 1 − that mean (LeastAllocated). For vm and sandbox, KVM nodes win over
 * non-KVM nodes whatever the resource score; ties go to the first node by name.
 */
import type { Allocation, NodeInfo, PlacementRequest } from '../core/scheduling.js';
import { ClassTree, RESOURCES } from './class-tree.js';
import {
  buildNodeTable,
  CPU,
  canRunType,
  classKey,
  DISK,
  MEMORY,
  matchesSelector,
  type NodeTable,
  SLOTS,
  wantsKvm,
  writeDemand,
} from './node-table.js';

/** How the index chooses among fitting nodes. */
export type SearchMode = 'binpack' | 'spread' | 'first-fit';

interface NodeClass {
  key: string;
  tree: ClassTree;
  node: NodeInfo;
  invCap: Float64Array;
  /** Resources with non-zero capacity (the denominator of the mean utilisation). */
  dims: number;
  /** First-fit order: larger nodes first. */
  size: number;
}

const EPS = 1e-9;
const CHECK_ORDER = [CPU, MEMORY, DISK, SLOTS] as const;

/** Mutable cluster state with fast placement queries; nodes are indexed in name order. */
export class ClusterIndex {
  readonly table: NodeTable;
  readonly used: Float64Array;
  readonly count: Int32Array;
  private readonly classOf: Int32Array;
  private readonly posOf: Int32Array;
  private readonly classes: NodeClass[] = [];
  private readonly firstFitOrder: number[];
  private readonly groups = new Map<string, Map<number, number>>();
  private readonly req = new Float64Array(RESOURCES);
  private readonly free = new Float64Array(RESOURCES);

  /** Indexes `nodes` and binds `allocations` (those naming unknown nodes are ignored). */
  constructor(nodes: readonly NodeInfo[], allocations: readonly Allocation[] = []) {
    this.table = buildNodeTable(nodes);
    const n = this.table.nodes.length;
    this.used = new Float64Array(n * RESOURCES);
    this.count = new Int32Array(n);
    this.classOf = new Int32Array(n);
    this.posOf = new Int32Array(n);
    this.buildClasses();
    this.firstFitOrder = this.classes.map((_, c) => c);
    this.firstFitOrder.sort(
      (a, b) =>
        this.classes[b]!.size - this.classes[a]!.size || cmp(this.classes[a]!.key, this.classes[b]!.key),
    );
    for (let i = 0; i < n; i++) this.refresh(i);
    for (const a of allocations) {
      const i = this.table.byName.get(a.node);
      if (i !== undefined) this.bind(i, a.request);
    }
  }

  private buildClasses(): void {
    const { nodes, cap } = this.table;
    const byKey = new Map<string, number[]>();
    nodes.forEach((node, i) => {
      const key = classKey(node, cap, i);
      const list = byKey.get(key);
      if (list) list.push(i);
      else byKey.set(key, [i]);
    });
    const mean = meanCapacity(cap, nodes.length);
    for (const [key, list] of byKey) {
      const c = this.classes.length;
      const first = list[0]!;
      const invCap = new Float64Array(RESOURCES);
      let dims = 0;
      let size = 0;
      for (let r = 0; r < RESOURCES; r++) {
        const v = cap[first * RESOURCES + r]!;
        invCap[r] = v > 0 ? 1 / v : 0;
        if (v > 0) dims++;
        if (r !== SLOTS && mean[r]! > 0) size += v / mean[r]!;
      }
      list.forEach((node, pos) => {
        this.classOf[node] = c;
        this.posOf[node] = pos;
      });
      this.classes.push({
        key,
        tree: new ClassTree(Int32Array.from(list)),
        node: nodes[first]!,
        invCap,
        dims,
        size,
      });
    }
  }

  /** Number of nodes. */
  get size(): number {
    return this.table.nodes.length;
  }

  /** The node at index `i` (name order). */
  node(i: number): NodeInfo {
    return this.table.nodes[i]!;
  }

  /** Index of the node called `name`, or -1. */
  indexOf(name: string): number {
    return this.table.byName.get(name) ?? -1;
  }

  /** Sum of utilisation over the resources the node has (0 for an empty node). */
  key(i: number): number {
    const inv = this.classes[this.classOf[i]!]!.invCap;
    let k = 0;
    for (let r = 0; r < RESOURCES; r++) k += this.used[i * RESOURCES + r]! * inv[r]!;
    return k;
  }

  private refresh(i: number): void {
    const { cap } = this.table;
    for (let r = 0; r < RESOURCES; r++)
      this.free[r] = cap[i * RESOURCES + r]! - this.used[i * RESOURCES + r]!;
    this.classes[this.classOf[i]!]!.tree.update(this.posOf[i]!, this.free, 0, this.key(i));
  }

  /** Binds `request` to node `i` without checking that it fits (callers place first). */
  bind(i: number, request: PlacementRequest): void {
    writeDemand(request, this.req);
    for (let r = 0; r < RESOURCES; r++) this.used[i * RESOURCES + r]! += this.req[r]!;
    this.count[i]!++;
    for (const g of request.antiAffinity ?? []) {
      const m = this.groups.get(g) ?? new Map<number, number>();
      this.groups.set(g, m);
      m.set(i, (m.get(i) ?? 0) + 1);
    }
    this.refresh(i);
  }

  /** Removes a request bound earlier to node `i`. */
  unbind(i: number, request: PlacementRequest): void {
    writeDemand(request, this.req);
    for (let r = 0; r < RESOURCES; r++) this.used[i * RESOURCES + r]! -= this.req[r]!;
    this.count[i]!--;
    for (const g of request.antiAffinity ?? []) {
      const m = this.groups.get(g);
      const k = m?.get(i) ?? 0;
      if (k <= 1) m?.delete(i);
      else m!.set(i, k - 1);
    }
    this.refresh(i);
  }

  /** True when node `i` already holds an instance of one of the request's anti-affinity groups. */
  conflicts(i: number, request: PlacementRequest): boolean {
    for (const g of request.antiAffinity ?? []) if (this.groups.get(g)?.has(i)) return true;
    return false;
  }

  /** The first resource (cpu, memory, disk, slots) too short on node `i` for `this.req`, or -1. */
  private firstShortResource(i: number): number {
    const { cap } = this.table;
    for (const r of CHECK_ORDER) {
      if (this.used[i * RESOURCES + r]! + this.req[r]! > cap[i * RESOURCES + r]!) return r;
    }
    return -1;
  }

  /** The short resource for `request` on node `i`, or -1 when it fits. */
  shortResource(i: number, request: PlacementRequest): number {
    writeDemand(request, this.req);
    return this.firstShortResource(i);
  }

  /** Index of the node `mode` picks for `request`, or -1 when none passes every filter. */
  find(request: PlacementRequest, mode: SearchMode): number {
    writeDemand(request, this.req);
    const exclude = this.excluder(request);
    if (request.node !== undefined) return this.checkPinned(request, exclude);
    if (mode === 'first-fit') return this.findFirst(request, exclude);
    if (!wantsKvm(request)) return this.findBest(request, mode, exclude, null);
    const onKvm = this.findBest(request, mode, exclude, true);
    return onKvm >= 0 ? onKvm : this.findBest(request, mode, exclude, false);
  }

  private excluder(request: PlacementRequest): ((node: number) => boolean) | null {
    const groups = request.antiAffinity;
    if (!groups || groups.length === 0) return null;
    const maps: Map<number, number>[] = [];
    for (const g of groups) {
      const m = this.groups.get(g);
      if (m && m.size > 0) maps.push(m);
    }
    if (maps.length === 0) return null;
    if (maps.length === 1) {
      const m = maps[0]!;
      return (node) => m.has(node);
    }
    return (node) => maps.some((m) => m.has(node));
  }

  private checkPinned(request: PlacementRequest, exclude: ((node: number) => boolean) | null): number {
    const i = this.indexOf(request.node!);
    if (i < 0) return -1;
    const node = this.node(i);
    if (!canRunType(node, request) || !matchesSelector(node, request)) return -1;
    if (exclude?.(i) || this.firstShortResource(i) >= 0) return -1;
    return i;
  }

  private findFirst(request: PlacementRequest, exclude: ((node: number) => boolean) | null): number {
    for (const c of this.firstFitOrder) {
      const cls = this.classes[c]!;
      if (!canRunType(cls.node, request) || !matchesSelector(cls.node, request)) continue;
      if (!cls.tree.mayFit(this.req)) continue;
      const pos = cls.tree.queryFirst(this.req, exclude);
      if (pos >= 0) return cls.tree.members[pos]!;
    }
    return -1;
  }

  private findBest(
    request: PlacementRequest,
    mode: 'binpack' | 'spread',
    exclude: ((node: number) => boolean) | null,
    kvm: boolean | null,
  ): number {
    const dir = mode === 'binpack' ? 1 : -1;
    let best = -1;
    let bestScore = Number.NEGATIVE_INFINITY;
    for (const cls of this.classes) {
      if (kvm !== null && cls.node.capabilities.kvm !== kvm) continue;
      if (!canRunType(cls.node, request) || !matchesSelector(cls.node, request)) continue;
      if (!cls.tree.mayFit(this.req)) continue;
      let reqTerm = 0;
      for (let r = 0; r < RESOURCES; r++) reqTerm += this.req[r]! * cls.invCap[r]!;
      const dims = cls.dims || 1;
      const rootKey = dir > 0 ? cls.tree.rootMaxKey() : cls.tree.rootMinKey();
      if ((dir * (rootKey + reqTerm)) / dims < bestScore - EPS) continue;
      const threshold =
        bestScore === Number.NEGATIVE_INFINITY ? bestScore : (bestScore - EPS) * dims - dir * reqTerm;
      const pos = cls.tree.queryBest(this.req, dir, threshold, exclude);
      if (pos < 0) continue;
      const i = cls.tree.members[pos]!;
      const score = (dir * (this.key(i) + reqTerm)) / dims;
      if (score > bestScore || (score === bestScore && i < best)) {
        best = i;
        bestScore = score;
      }
    }
    return best;
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function meanCapacity(cap: Float64Array, n: number): Float64Array {
  const mean = new Float64Array(RESOURCES);
  for (let i = 0; i < n; i++) for (let r = 0; r < RESOURCES; r++) mean[r]! += cap[i * RESOURCES + r]! / n;
  return mean;
}
