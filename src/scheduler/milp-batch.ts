/**
 * The MILP batch placer proper (runs inside the solver worker; synchronous):
 *  1. lower bound and fractional LP solution (lp-bound-master.ts);
 *  2. starts: the greedy (first-fit-decreasing) assignment it was given, and the LP-guided
 *     construction (route-pack.ts); the better one is kept;
 *  3. small problems (at most FULL_MODEL_VARIABLES item×node pairs): the whole compact MILP,
 *     warm-started from that start; its proven dual bound can raise the lower bound;
 *     large problems: node-by-node improvement with neighbourhood MILPs (lns.ts).
 * Every step is bounded by the deadline; the result is never worse than the start.
 */
import type { Highs } from 'highs';
import type { BatchProblem } from './batch-problem.js';
import { improveByLns, type LnsStats } from './lns.js';
import { lpShape } from './lp-bound.js';
import { solveLowerBound } from './lp-bound-master.js';
import { solvePacking } from './packing-model.js';
import { PackingState } from './packing-state.js';
import { routeAndPack } from './route-pack.js';

/** Above this many item×node pairs the whole model is not handed to the solver. */
export const FULL_MODEL_VARIABLES = 1200;

/** Options of one batch solve. */
export interface MilpOptions {
  /** Wall-clock deadline (Date.now() milliseconds) for the whole solve. */
  deadlineEpochMs: number;
  seed: number;
  /** Compute the bound only (for greedy policies): no search. */
  boundOnly?: boolean;
}

/** What the solver worker returns. */
export interface MilpResult {
  assignment: Int32Array;
  lowerBound: number | null;
  lowerBoundMethod: string | null;
  /** Which construction the search started from. */
  start: 'greedy' | 'lp-guided';
  startNodes: number;
  /** `full-model` or `neighbourhoods`, and the full model's status when it ran. */
  search: 'none' | 'full-model' | 'neighbourhoods';
  solverStatus: string | null;
  /** True when a time limit (overall or per solve) cut the search short. */
  timeLimited: boolean;
  boundSeconds: number;
  lns: LnsStats | null;
}

function score(s: PackingState): [number, number] {
  return [s.unplaced(), s.nodesUsed()];
}

function better(a: PackingState, b: PackingState): boolean {
  const [ua, na] = score(a);
  const [ub, nb] = score(b);
  return ua < ub || (ua === ub && na < nb);
}

function fromAssignment(p: BatchProblem, assignment: Int32Array): PackingState {
  const s = new PackingState(p);
  assignment.forEach((j, k) => {
    if (j >= 0) s.add(k, j);
  });
  return s;
}

/** The whole model, warm-started from `state`; returns the better state and updates `result`. */
function solveWhole(
  highs: Highs,
  state: PackingState,
  result: MilpResult,
  deadline: number,
  seed: number,
): PackingState {
  const p = state.p;
  const items = Array.from({ length: p.itemCount }, (_, k) => k);
  const nodes = Array.from({ length: p.nodeCount }, (_, j) => j);
  const left = Math.max(0.05, (deadline - performance.now()) / 1000);
  const res = solvePacking(
    highs,
    state,
    { items, nodes, allowUnplaced: true },
    { timeLimitSeconds: left, seed },
  );
  result.search = 'full-model';
  result.solverStatus = res.status;
  result.timeLimited ||= res.timeLimited;
  let out = state;
  if (res.assignment) {
    const next = new PackingState(p);
    for (const [k, j] of res.assignment) if (j >= 0) next.add(k, j);
    if (!better(state, next)) out = next;
  }
  // The dual bound bounds nodes + penalty × unplaced; for placements that leave nothing out
  // that is the number of nodes, so it bounds nodes used only when everything fits.
  const proven = Math.ceil(res.dualBound - 1e-6);
  const complete = out.unplaced() === 0;
  if (complete && Number.isFinite(proven) && proven <= p.nodeCount && proven > (result.lowerBound ?? -1)) {
    result.lowerBound = proven;
    result.lowerBoundMethod = 'milp-dual-bound';
  }
  return out;
}

/** Node-by-node improvement of `state` in place (lns.ts). */
function searchNeighbourhoods(
  highs: Highs,
  state: PackingState,
  result: MilpResult,
  deadline: number,
  seed: number,
): void {
  result.search = 'neighbourhoods';
  result.lns = improveByLns(highs, state, {
    deadline,
    maxRounds: 2000,
    maxItems: 150,
    partners: 16,
    stepSeconds: 1,
    maxFailures: 40,
    seed,
    lowerBound: result.lowerBound,
  });
  result.timeLimited ||= result.lns.timeLimitedSteps > 0 || performance.now() >= deadline;
}

/** Runs the batch placer on `p` from the greedy assignment `greedy`. Synchronous. */
export function solveBatch(highs: Highs, p: BatchProblem, greedy: Int32Array, opts: MilpOptions): MilpResult {
  const seconds = Math.max(0.05, (opts.deadlineEpochMs - Date.now()) / 1000);
  const deadline = performance.now() + seconds * 1000;
  const boundBudget = opts.boundOnly ? seconds : seconds * 0.6;
  const bound = solveLowerBound(highs, p, { timeLimitSeconds: boundBudget, wantPrimal: !opts.boundOnly });
  const lowerBound = bound.value !== null && bound.value <= p.nodeCount ? bound.value : null;
  let state = fromAssignment(p, greedy);
  const result: MilpResult = {
    assignment: greedy,
    lowerBound,
    lowerBoundMethod: lowerBound === null ? null : 'lp-relaxation',
    start: 'greedy',
    startNodes: state.nodesUsed(),
    search: 'none',
    solverStatus: null,
    timeLimited: !bound.converged,
    boundSeconds: bound.seconds,
    lns: null,
  };
  if (opts.boundOnly) return result;
  if (bound.z && bound.prices) {
    const guided = routeAndPack(p, lpShape(p), bound.z, bound.prices);
    if (better(guided, state)) {
      state = guided;
      result.start = 'lp-guided';
      result.startNodes = guided.nodesUsed();
    }
  }
  if (p.itemCount * p.nodeCount <= FULL_MODEL_VARIABLES) {
    state = solveWhole(highs, state, result, deadline, opts.seed);
  } else if (lowerBound === null || state.nodesUsed() > lowerBound || state.unplaced() > 0) {
    searchNeighbourhoods(highs, state, result, deadline, opts.seed);
  }
  return { ...result, assignment: state.assign };
}
