/**
 * The batch placer's lower bound: the LP relaxation of the placement model, computed through
 * its Lagrangian dual so that it scales to 10,000s of requests.
 *
 * Model (relaxed): minimise Σ_c Y_c with Y_c ∈ [l_c, u_c] nodes of class c used, z_tc ≥ 0 items
 * of type t on class c, Σ_c z_tc = n_t, and per class and resource Σ_t a_tcr z_tc ≤ Y_c, where
 * a_tcr = demand / free capacity; a type is only allowed on classes that pass its static
 * filters and where one item fits an empty node. Anti-affinity is left out (a relaxation, so
 * still valid). Dualising the capacity rows with prices μ_cr ≥ 0 gives, for *any* μ,
 *
 *   L(μ) = Σ_t n_t · min_c Σ_r μ_cr a_tcr + Σ_c (l_c (1 − M_c) − (u_c − l_c) max(0, M_c − 1)),
 *   M_c = Σ_r μ_cr,
 *
 * a valid lower bound on the LP optimum, hence on the integer optimum; its maximum over μ is the
 * LP optimum. μ is improved by a disaggregated cutting-plane method (Kelley with Wentges
 * smoothing): HiGHS solves a small master LP over μ, every evaluated point adds one cut per
 * bucket of types, and the master's value is an upper estimate that says how far from the LP
 * optimum the best L(μ) still is. The reported bound is ⌈max L(μ)⌉, valid at every iteration.
 * The master's cut duals also give a fractional LP solution (z), used to route items.
 */
import type { BatchProblem } from './batch-problem.js';
import { RESOURCES as R } from './class-tree.js';

/** Node classes and item types of the aggregated LP. */
export interface LpShape {
  /** Node → LP class. */
  classOf: Int32Array;
  classCount: number;
  /** Nodes per class, and the fixed lower bound (nodes already in use). */
  classSize: Int32Array;
  classFixed: Int32Array;
  /** 1 / free capacity of each class, R values per class (0 when the class has none). */
  invFree: Float64Array;
  /** Item → type, representative item and item count of each type. */
  typeOf: Int32Array;
  typeItem: Int32Array;
  typeCount: Int32Array;
  /** CSR list of allowed classes per type, and the coefficients a_tcr per entry (R each). */
  allowStart: Int32Array;
  allowClass: Int32Array;
  coef: Float64Array;
}

/** The result of the bound computation. */
export interface LowerBound {
  /** ⌈best L(μ)⌉ combined with the trivial bounds; null when some item fits no node at all. */
  value: number | null;
  /** Best dual value L(μ) found (a lower bound on the LP optimum). */
  dual: number | null;
  /** Master LP value: an upper estimate of the LP optimum (equal to `dual` at convergence). */
  master: number | null;
  iterations: number;
  seconds: number;
  /** Best prices μ (R per LP class). */
  prices: Float64Array | null;
  /** Fractional LP solution: z[t·C + c] items of type t on class c (null if not computed). */
  z: Float64Array | null;
  /** False when a time or iteration limit stopped the bound before the master and L(μ) met. */
  converged: boolean;
}

/** Groups items by a string key; returns item → group, a representative and a count per group. */
function groupBy(n: number, key: (i: number) => string) {
  const ids = new Map<string, number>();
  const of = new Int32Array(n);
  const rep: number[] = [];
  const count: number[] = [];
  for (let i = 0; i < n; i++) {
    const k = key(i);
    let g = ids.get(k);
    if (g === undefined) {
      g = rep.length;
      ids.set(k, g);
      rep.push(i);
      count.push(0);
    }
    of[i] = g;
    count[g]!++;
  }
  return { of, rep, count };
}

/** Nodes alike for the LP (free capacity and static filters); nodes in use stay alone. */
function lpClasses(p: BatchProblem) {
  const vec = (a: Float64Array, i: number) => Array.from(a.subarray(i * R, (i + 1) * R)).join(',');
  const classes = groupBy(p.nodeCount, (j) => {
    const key = `${vec(p.free, j)}|${p.compatMask.map((m) => m[j]).join('')}`;
    return p.preUsed[j] ? `${key}#${j}` : key;
  });
  const fixed = classes.rep.map((j) => (p.preUsed[j] ? 1 : 0));
  const invFree = new Float64Array(classes.rep.length * R);
  classes.rep.forEach((j, c) => {
    for (let r = 0; r < R; r++) {
      const f = p.free[j * R + r]!;
      invFree[c * R + r] = f > 0 ? 1 / f : 0;
    }
  });
  const types = groupBy(p.itemCount, (k) => `${vec(p.demand, k)}|${p.compat[k]}`);
  return { classes, fixed, invFree, types };
}

/** Builds the aggregated classes and types of `p`, and which classes each type may use. */
export function lpShape(p: BatchProblem): LpShape {
  const { classes, fixed, invFree, types } = lpClasses(p);
  const allowStart = [0];
  const allowClass: number[] = [];
  const coef: number[] = [];
  for (const k of types.rep) {
    const mask = p.compatMask[p.compat[k]!]!;
    classes.rep.forEach((j, c) => {
      if (!mask[j]) return;
      for (let r = 0; r < R; r++) if (p.demand[k * R + r]! > p.free[j * R + r]!) return;
      allowClass.push(c);
      for (let r = 0; r < R; r++) coef.push(p.demand[k * R + r]! * invFree[c * R + r]!);
    });
    allowStart.push(allowClass.length);
  }
  return {
    classOf: classes.of,
    classCount: classes.rep.length,
    classSize: Int32Array.from(classes.count),
    classFixed: Int32Array.from(fixed),
    invFree,
    typeOf: types.of,
    typeItem: Int32Array.from(types.rep),
    typeCount: Int32Array.from(types.count),
    allowStart: Int32Array.from(allowStart),
    allowClass: Int32Array.from(allowClass),
    coef: Float64Array.from(coef),
  };
}

/** L(μ), and in `choice` each type's cheapest allowed entry; -Infinity when a type has none. */
export function dualValue(s: LpShape, mu: Float64Array, choice: Int32Array): number {
  let total = 0;
  const T = s.typeItem.length;
  for (let t = 0; t < T; t++) {
    let best = Number.POSITIVE_INFINITY;
    let arg = -1;
    for (let e = s.allowStart[t]!; e < s.allowStart[t + 1]!; e++) {
      const c = s.allowClass[e]!;
      let price = 0;
      for (let r = 0; r < R; r++) price += mu[c * R + r]! * s.coef[e * R + r]!;
      if (price < best) {
        best = price;
        arg = e;
      }
    }
    if (arg < 0) return Number.NEGATIVE_INFINITY;
    choice[t] = arg;
    total += s.typeCount[t]! * best;
  }
  for (let c = 0; c < s.classCount; c++) {
    let m = 0;
    for (let r = 0; r < R; r++) m += mu[c * R + r]!;
    const l = s.classFixed[c]!;
    const u = s.classSize[c]!;
    total += l * (1 - m) - (u - l) * Math.max(0, m - 1);
  }
  return total;
}

/** Starting prices: per class, weights proportional to how scarce each resource is overall. */
export function initialPrices(s: LpShape, p: BatchProblem): Float64Array {
  const demand = new Float64Array(R);
  const supply = new Float64Array(R);
  for (let k = 0; k < p.itemCount; k++) for (let r = 0; r < R; r++) demand[r]! += p.demand[k * R + r]!;
  for (let j = 0; j < p.nodeCount; j++) for (let r = 0; r < R; r++) supply[r]! += p.free[j * R + r]!;
  const w = Float64Array.from(demand, (d, r) => (supply[r]! > 0 ? d / supply[r]! : 0));
  const sum = w.reduce((a, b) => a + b, 0) || 1;
  const mu = new Float64Array(s.classCount * R);
  for (let c = 0; c < s.classCount; c++) {
    for (let r = 0; r < R; r++) mu[c * R + r] = s.invFree[c * R + r]! > 0 ? w[r]! / sum : 0;
  }
  return mu;
}
