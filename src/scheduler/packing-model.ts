/**
 * The compact placement MILP over a subset of items and nodes, and its solve with HiGHS:
 *   x_kj ∈ {0,1} (item k on node j, only where the static filters allow it and k alone fits),
 *   y_j ∈ {0,1} (node j used; fixed to 1 for nodes that hold existing allocations or items
 *   that are not part of the model), Σ_j x_kj + u_k = 1 (u_k ≥ 0 only when unplaced items are
 *   allowed, at a cost above any number of nodes), Σ_k d_kr x_kj ≤ room_jr · y_j per resource,
 *   Σ_{k∈g} x_kj ≤ y_j per anti-affinity group, x_kj ≤ y_j; minimise Σ y_j.
 * Items outside the model stay where they are and shrink their node's room. Identical empty
 * nodes get y_j ≥ y_j+1 to cut symmetry. Capacity rows are divided by the room (bytes and
 * millicores mixed badly otherwise).
 */
import type { Highs } from 'highs';
import { RESOURCES as R } from './class-tree.js';
import { statusName } from './highs-status.js';
import { LpBuilder } from './lp-model.js';
import type { PackingState } from './packing-state.js';

/** What to build: items that may move, and the nodes they may use. */
export interface PackingModelSpec {
  items: readonly number[];
  nodes: readonly number[];
  /** Allow items to stay unplaced (at a large cost); otherwise every item must be placed. */
  allowUnplaced: boolean;
}

interface Built {
  lp: LpBuilder;
  x: { col: number; item: number; node: number }[];
  y: number[];
  u: number[];
  /** Per spec node: capacity left after the items that stay (R values each). */
  room: Float64Array;
}

/**
 * Capacity left on each spec node once the movable items are lifted off, and whether the node
 * stays used anyway (existing allocations or items that do not move).
 */
function roomAndFixed(state: PackingState, spec: PackingModelSpec, movable: Set<number>) {
  const p = state.p;
  const room = new Float64Array(spec.nodes.length * R);
  const fixed = spec.nodes.map((j) => p.preUsed[j] === 1);
  spec.nodes.forEach((j, b) => {
    for (let r = 0; r < R; r++) room[b * R + r] = p.free[j * R + r]! - state.load[j * R + r]!;
    for (const k of state.itemsOn(j)) {
      if (!movable.has(k)) fixed[b] = true;
      else for (let r = 0; r < R; r++) room[b * R + r]! += p.demand[k * R + r]!;
    }
  });
  return { room, fixed };
}

function allowedOn(
  state: PackingState,
  movable: Set<number>,
  room: Float64Array,
  k: number,
  j: number,
  b: number,
): boolean {
  const p = state.p;
  if (!p.compatMask[p.compat[k]!]![j]) return false;
  for (let r = 0; r < R; r++) if (p.demand[k * R + r]! > room[b * R + r]!) return false;
  for (let q = p.groupStart[k]!; q < p.groupStart[k + 1]!; q++) {
    const g = p.groupIds[q]!;
    if (p.groupBlocked[g]!.includes(j)) return false;
    for (const other of state.groupMembersOn(g, j)) if (!movable.has(other)) return false;
  }
  return true;
}

function build(state: PackingState, spec: PackingModelSpec): Built {
  const movable = new Set(spec.items);
  const { room, fixed } = roomAndFixed(state, spec, movable);
  const lp = new LpBuilder();
  const bigM = spec.nodes.length + 1;
  const y = spec.nodes.map((_, b) => lp.addCol(1, fixed[b] ? 1 : 0, 1, true));
  const u = spec.allowUnplaced ? spec.items.map(() => lp.addCol(bigM, 0, 1, false)) : [];
  const x: Built['x'] = [];
  const byNode: number[][] = spec.nodes.map(() => []);
  spec.items.forEach((k, a) => {
    const cols: number[] = [];
    spec.nodes.forEach((j, b) => {
      if (!allowedOn(state, movable, room, k, j, b)) return;
      const col = lp.addCol(0, 0, 1, true);
      x.push({ col, item: k, node: j });
      cols.push(col);
      byNode[b]!.push(x.length - 1);
    });
    if (spec.allowUnplaced) cols.push(u[a]!);
    lp.addRow(
      1,
      1,
      cols,
      cols.map(() => 1),
    );
  });
  spec.nodes.forEach((_, b) => {
    const xs = byNode[b]!.map((q) => x[q]!);
    addNodeRows(lp, state, room.subarray(b * R, (b + 1) * R), y[b]!, xs);
  });
  addSymmetryRows(lp, state, spec.nodes, y, fixed);
  return { lp, x, y, u, room };
}

function addNodeRows(
  lp: LpBuilder,
  state: PackingState,
  room: Float64Array,
  yCol: number,
  xs: Built['x'],
): void {
  const p = state.p;
  for (let r = 0; r < R; r++) {
    const cap = room[r]!;
    const cols: number[] = [];
    const vals: number[] = [];
    let total = 0;
    for (const e of xs) {
      const d = p.demand[e.item * R + r]!;
      if (d <= 0) continue;
      cols.push(e.col);
      vals.push(d / cap);
      total += d;
    }
    if (total > cap) lp.addRow(Number.NEGATIVE_INFINITY, 0, [...cols, yCol], [...vals, -1]);
  }
  const groups = new Map<number, number[]>();
  for (const e of xs) {
    for (let q = p.groupStart[e.item]!; q < p.groupStart[e.item + 1]!; q++) {
      const g = p.groupIds[q]!;
      const list = groups.get(g);
      if (list) list.push(e.col);
      else groups.set(g, [e.col]);
    }
  }
  for (const cols of groups.values()) {
    if (cols.length > 1) lp.addRow(Number.NEGATIVE_INFINITY, 0, [...cols, yCol], [...cols.map(() => 1), -1]);
  }
  // A node that is not used holds nothing (needed where no capacity row binds).
  for (const e of xs) lp.addRow(Number.NEGATIVE_INFINITY, 0, [e.col, yCol], [1, -1]);
}

function addSymmetryRows(
  lp: LpBuilder,
  state: PackingState,
  nodes: readonly number[],
  y: number[],
  fixed: boolean[],
): void {
  const p = state.p;
  const last = new Map<number, number>();
  nodes.forEach((j, b) => {
    if (fixed[b]) return;
    const prev = last.get(p.nodeClass[j]!);
    if (prev !== undefined) lp.addRow(0, Number.POSITIVE_INFINITY, [y[prev]!, y[b]!], [1, -1]);
    last.set(p.nodeClass[j]!, b);
  });
}

/** The outcome of one solve. */
export interface PackingSolve {
  /** item → node for the items of the spec (-1 = unplaced); null when no solution was found. */
  assignment: Map<number, number> | null;
  status: string;
  /** Proven lower bound on the objective (nodes among `spec.nodes`, plus penalties). */
  dualBound: number;
  optimal: boolean;
  timeLimited: boolean;
}

/** Builds and solves the model, warm-started from the state's current assignment. Synchronous. */
export function solvePacking(
  highs: Highs,
  state: PackingState,
  spec: PackingModelSpec,
  options: { timeLimitSeconds: number; seed: number; maxNodes?: number },
): PackingSolve {
  const built = build(state, spec);
  const model = highs.createModel(built.lp.toModelData(highs, true));
  try {
    model.options.set({
      output_flag: false,
      time_limit: Math.max(0.01, options.timeLimitSeconds),
      random_seed: options.seed,
      mip_rel_gap: 0,
      mip_abs_gap: 0.999,
    });
    if (options.maxNodes !== undefined) model.options.set({ mip_max_nodes: options.maxNodes });
    const start = warmStart(state, spec, built);
    if (start) model.setSolution({ colValue: start });
    model.run();
    const code = model.getModelStatus();
    const status = statusName(highs, code);
    const feasible = model.info.get('primal_solution_status') === highs.constants.solutionStatus.feasible;
    const dualBound = Number(model.info.get('mip_dual_bound'));
    const timeLimited = code === highs.constants.modelStatus.timeLimit;
    const optimal = code === highs.constants.modelStatus.optimal;
    if (!feasible) return { assignment: null, status, dualBound, optimal, timeLimited };
    const value = model.getSolution().colValue;
    const assignment = new Map<number, number>(spec.items.map((k) => [k, -1]));
    for (const e of built.x) if (value[e.col]! > 0.5) assignment.set(e.item, e.node);
    return { assignment, status, dualBound, optimal, timeLimited };
  } finally {
    model.dispose();
  }
}

/** The current assignment as a start vector, or null when it is not a solution of this model. */
function warmStart(state: PackingState, spec: PackingModelSpec, built: Built): Float64Array | null {
  const onSpec = new Set(spec.nodes);
  if (!spec.allowUnplaced && spec.items.some((k) => !onSpec.has(state.assign[k]!))) return null;
  const col = new Float64Array(built.lp.cols);
  const used = new Set<number>();
  for (const e of built.x) {
    if (state.assign[e.item] === e.node) {
      col[e.col] = 1;
      used.add(e.node);
    }
  }
  spec.nodes.forEach((j, b) => {
    col[built.y[b]!] = used.has(j) || state.p.preUsed[j] || state.countOn(j) > 0 ? 1 : 0;
  });
  spec.items.forEach((k, a) => {
    if (spec.allowUnplaced && !spec.nodes.includes(state.assign[k]!)) col[built.u[a]!] = 1;
  });
  return col;
}
