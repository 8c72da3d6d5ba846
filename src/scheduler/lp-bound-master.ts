/**
 * The cutting-plane loop behind the lower bound (lp-bound.ts explains the model). The master
 * LP, over prices μ_cr ∈ [0, MU_MAX], overflow β_c ≥ 0 and one epigraph variable θ_b per
 * bucket of types, is kept in one HiGHS model; each evaluated price vector appends one cut per
 * bucket and the master is re-solved from its previous basis. Synchronous: run it in a worker.
 */
import type { Highs } from 'highs';
import type { BatchProblem } from './batch-problem.js';
import { RESOURCES as R } from './class-tree.js';
import { dualValue, initialPrices, type LowerBound, type LpShape, lpShape } from './lp-bound.js';

const MU_MAX = 4;
const SMOOTHING = 0.5;
const BUCKETS = 64;

/** Options of the bound computation. */
export interface BoundOptions {
  timeLimitSeconds: number;
  /** Stop when the master and the best dual value agree within this relative gap. */
  tolerance?: number;
  maxIterations?: number;
  /** Also recover the fractional LP solution (for routing). */
  wantPrimal?: boolean;
}

interface Cut {
  bucket: number;
  choice: Int32Array;
}

class Master {
  readonly cuts: Cut[] = [];
  private readonly model;
  private readonly C: number;

  constructor(
    private readonly highs: Highs,
    private readonly s: LpShape,
    private readonly buckets: number,
  ) {
    this.C = s.classCount;
    const C = this.C;
    const nCols = C * R + C + buckets;
    const colCost = new Float64Array(nCols);
    const colLower = new Float64Array(nCols);
    const colUpper = new Float64Array(nCols);
    for (let c = 0; c < C; c++) {
      for (let r = 0; r < R; r++) {
        colCost[c * R + r] = -s.classFixed[c]!;
        colUpper[c * R + r] = s.invFree[c * R + r]! > 0 ? MU_MAX : 0;
      }
      colCost[C * R + c] = -(s.classSize[c]! - s.classFixed[c]!);
      colUpper[C * R + c] = highs.infinity;
    }
    for (let b = 0; b < buckets; b++) {
      colCost[C * R + C + b] = 1;
      colLower[C * R + C + b] = -highs.infinity;
      colUpper[C * R + C + b] = highs.infinity;
    }
    const starts = [0];
    const indices: number[] = [];
    const values: number[] = [];
    for (let c = 0; c < C; c++) {
      for (let r = 0; r < R; r++) {
        indices.push(c * R + r);
        values.push(-1);
      }
      indices.push(C * R + c);
      values.push(1);
      starts.push(indices.length);
    }
    this.model = highs.createModel({
      numCols: nCols,
      numRows: C,
      sense: highs.constants.objectiveSense.maximize,
      colCost,
      colLower,
      colUpper,
      rowLower: new Float64Array(C).fill(-1),
      rowUpper: new Float64Array(C).fill(highs.infinity),
      matrix: {
        format: 'csr',
        numRows: C,
        numCols: nCols,
        starts: Int32Array.from(starts),
        indices: Int32Array.from(indices),
        values: Float64Array.from(values),
      },
    });
    this.model.options.set({ output_flag: false, solver: 'simplex' });
  }

  /** Appends one cut per bucket for the assignment `choice` (type → allowed entry). */
  addCuts(choice: Int32Array): void {
    const { s, C } = this;
    const w = new Float64Array(this.buckets * C * R);
    for (let t = 0; t < s.typeItem.length; t++) {
      const e = choice[t]!;
      const c = s.allowClass[e]!;
      const base = ((t % this.buckets) * C + c) * R;
      for (let r = 0; r < R; r++) w[base + r]! += s.typeCount[t]! * s.coef[e * R + r]!;
    }
    const starts = [0];
    const indices: number[] = [];
    const values: number[] = [];
    for (let b = 0; b < this.buckets; b++) {
      indices.push(C * R + C + b);
      values.push(1);
      for (let q = 0; q < C * R; q++) {
        const v = w[b * C * R + q]!;
        if (v === 0) continue;
        indices.push(q);
        values.push(-v);
      }
      starts.push(indices.length);
      this.cuts.push({ bucket: b, choice });
    }
    const n = this.buckets;
    this.model.addRows({
      lower: new Float64Array(n).fill(-this.highs.infinity),
      upper: new Float64Array(n),
      matrix: {
        format: 'csr',
        numRows: n,
        numCols: C * R + C + n,
        starts: Int32Array.from(starts),
        indices: Int32Array.from(indices),
        values: Float64Array.from(values),
      },
    });
  }

  /** Solves the master; returns its value (with the constant) and prices, or null on failure. */
  solve(timeLimit: number): { value: number; mu: Float64Array; rowDual: Float64Array } | null {
    this.model.options.set({ time_limit: Math.max(0.01, timeLimit) });
    this.model.zeroAllClocks();
    this.model.run();
    if (this.model.getModelStatus() !== this.highs.constants.modelStatus.optimal) return null;
    const sol = this.model.getSolution();
    let constant = 0;
    for (let c = 0; c < this.C; c++) constant += this.s.classFixed[c]!;
    return {
      value: this.model.getObjectiveValue() + constant,
      mu: sol.colValue.slice(0, this.C * R),
      rowDual: sol.rowDual.slice(this.C),
    };
  }

  dispose(): void {
    this.model.dispose();
  }
}

/** Fractional z[t·C + c] from the master's cut duals (convex weights per bucket). */
function recoverPrimal(s: LpShape, cuts: Cut[], rowDual: Float64Array, buckets: number): Float64Array {
  const C = s.classCount;
  const T = s.typeItem.length;
  const weightSum = new Float64Array(buckets);
  cuts.forEach((cut, q) => {
    weightSum[cut.bucket]! += Math.abs(rowDual[q]!);
  });
  const z = new Float64Array(T * C);
  cuts.forEach((cut, q) => {
    const lambda = Math.abs(rowDual[q]!);
    if (lambda === 0) return;
    for (let t = cut.bucket; t < T; t += buckets) {
      const frac = lambda / weightSum[cut.bucket]!;
      z[t * C + s.allowClass[cut.choice[t]!]!]! += frac * s.typeCount[t]!;
    }
  });
  return z;
}

function trivialBound(p: BatchProblem): number {
  let used = 0;
  for (let j = 0; j < p.nodeCount; j++) used += p.preUsed[j]!;
  const groupSize = new Int32Array(p.groupCount);
  let largest = 0;
  for (const g of p.groupIds) largest = Math.max(largest, ++groupSize[g]!);
  return Math.max(used, largest, p.itemCount > 0 ? 1 : 0);
}

/** The best point found so far: prices and their dual value. */
interface Incumbent {
  mu: Float64Array;
  value: number;
}

/**
 * One cutting-plane step after a master solve: evaluates the smoothed point (and the master's
 * own point when smoothing did not improve), adds their cuts, and keeps the better point.
 */
function step(
  s: LpShape,
  master: Master,
  best: Incumbent,
  masterMu: Float64Array,
  choice: Int32Array,
): Incumbent {
  const query = best.mu.map((v, q) => SMOOTHING * v + (1 - SMOOTHING) * masterMu[q]!);
  const v = dualValue(s, query, choice);
  master.addCuts(choice.slice());
  if (v > best.value) return { mu: query, value: v };
  const vm = dualValue(s, masterMu, choice);
  master.addCuts(choice.slice());
  return vm > best.value ? { mu: masterMu, value: vm } : best;
}

/** Computes the lower bound of `p`; synchronous, at most about `timeLimitSeconds`. */
export function solveLowerBound(highs: Highs, p: BatchProblem, options: BoundOptions): LowerBound {
  const t0 = performance.now();
  const elapsed = () => (performance.now() - t0) / 1000;
  const s = lpShape(p);
  const T = s.typeItem.length;
  const empty = { dual: null, master: null, iterations: 0, prices: null, z: null, converged: true };
  if (T === 0) return { ...empty, value: trivialBound(p), seconds: elapsed() };
  const buckets = Math.min(BUCKETS, T);
  const choice = new Int32Array(T);
  const mu0 = initialPrices(s, p);
  let best: Incumbent = { mu: mu0, value: dualValue(s, mu0, choice) };
  if (best.value === Number.NEGATIVE_INFINITY) return { ...empty, value: null, seconds: elapsed() };
  const master = new Master(highs, s, buckets);
  const tol = options.tolerance ?? 1e-4;
  const out = {
    iterations: 0,
    master: null as number | null,
    z: null as Float64Array | null,
    converged: false,
  };
  try {
    master.addCuts(choice.slice());
    let lastDual: Float64Array | null = null;
    while (out.iterations < (options.maxIterations ?? 200) && elapsed() < options.timeLimitSeconds) {
      out.iterations++;
      const m = master.solve(options.timeLimitSeconds - elapsed());
      if (!m) break;
      out.master = m.value;
      lastDual = m.rowDual;
      out.converged = m.value - best.value <= tol * Math.max(1, best.value);
      if (!options.wantPrimal) out.converged ||= Math.ceil(m.value - 1e-6) <= Math.ceil(best.value - 1e-6);
      if (out.converged) break;
      best = step(s, master, best, m.mu, choice);
    }
    if (options.wantPrimal && lastDual) out.z = recoverPrimal(s, master.cuts, lastDual, buckets);
  } finally {
    master.dispose();
  }
  const value = Math.max(Math.ceil(best.value - 1e-6), trivialBound(p));
  return { ...out, value, dual: best.value, seconds: elapsed(), prices: best.mu };
}
