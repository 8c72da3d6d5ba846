/**
 * The batch placer (BatchPlacer): places many requests at once with `ffd` (first-fit-
 * decreasing) or `milp` (milp-batch.ts in a worker thread, always under a time limit, warm-
 * started from first-fit-decreasing, which is also the fallback when the solver fails or
 * overruns). The MILP's assignment is re-checked against every constraint before it is used.
 * Reports the lower bound (see lp-bound.ts) and the gap.
 */
import type {
  Allocation,
  BatchPlacement,
  BatchPlacer,
  BatchPolicy,
  NodeInfo,
  PlacementRequest,
} from '../core/scheduling.js';
import { type BatchProblem, buildBatchProblem } from './batch-problem.js';
import { ClusterIndex } from './cluster-index.js';
import { placeFirstFitDecreasing } from './greedy.js';
import type { MilpResult } from './milp-batch.js';
import { PackingState } from './packing-state.js';
import { solveInWorker } from './solver-worker.js';

/** Options of a batch placement. */
export interface BatchOptions {
  policy?: BatchPolicy;
  /** Wall-clock budget of the whole call, seconds (default 10). */
  timeLimitSeconds?: number;
  seed?: number;
  /** Compute the lower bound for `ffd` too (default true; `milp` always does). */
  lowerBound?: boolean;
  /** How long past the time limit to wait for the worker before falling back (default 3000 ms). */
  graceMs?: number;
}

/** How the placement was obtained. */
export interface BatchDetails {
  policy: BatchPolicy;
  /** `milp`, `ffd`, or `ffd-fallback` when the MILP failed (see fallbackReason). */
  method: 'milp' | 'ffd' | 'ffd-fallback';
  fallbackReason?: string;
  greedyNodes: number;
  solver?: Omit<MilpResult, 'assignment' | 'lowerBound' | 'lowerBoundMethod'>;
  seconds: number;
}

/** A batch placement with its details; `nodeOf[i]` is the node name of requests[i] or null. */
export interface BatchResult extends BatchPlacement {
  placed: number;
  unplaced: number;
  nodeOf: (string | null)[];
  details: BatchDetails;
}

const WORKER_GRACE_MS = 3000;

type Bound = Pick<MilpResult, 'lowerBound' | 'lowerBoundMethod'>;
const RESULT_MARGIN_S = 0.3;

/** Checks an assignment against every constraint of the problem; returns the state or null. */
function verified(problem: BatchProblem, assignment: Int32Array): PackingState | null {
  const state = new PackingState(problem);
  for (let k = 0; k < problem.itemCount; k++) {
    const j = assignment[k]!;
    if (j < 0) continue;
    if (j >= problem.nodeCount || !state.fits(k, j)) return null;
    state.add(k, j);
  }
  return state;
}

/** Asks the worker for the MILP result (or the bound only) and records how it went in `details`. */
async function runSolver(
  problem: BatchProblem,
  greedy: Int32Array,
  details: BatchDetails,
  options: BatchOptions,
  budget: number,
): Promise<{ assignment: Int32Array; bound: Bound }> {
  const milp = details.policy === 'milp';
  const solverOptions = {
    deadlineEpochMs: Date.now() + budget * 1000,
    seed: options.seed ?? 1,
    boundOnly: !milp,
  };
  const timeout = budget * 1000 + (options.graceMs ?? WORKER_GRACE_MS);
  try {
    const res = await solveInWorker(problem, greedy, solverOptions, timeout);
    const { assignment, lowerBound, lowerBoundMethod, ...solver } = res;
    details.solver = solver;
    if (!milp) return { assignment: greedy, bound: { lowerBound, lowerBoundMethod } };
    if (verified(problem, assignment)) {
      details.method = 'milp';
      return { assignment, bound: { lowerBound, lowerBoundMethod } };
    }
    details.method = 'ffd-fallback';
    details.fallbackReason = 'solver returned an invalid assignment';
  } catch (err) {
    if (milp) details.method = 'ffd-fallback';
    details.fallbackReason = err instanceof Error ? err.message : String(err);
  }
  return { assignment: greedy, bound: { lowerBound: null, lowerBoundMethod: null } };
}

/** Places `requests` on `nodes` (given existing `allocations`); never rejects for lack of room. */
export async function placeBatch(
  requests: readonly PlacementRequest[],
  nodes: readonly NodeInfo[],
  allocations: readonly Allocation[],
  options: BatchOptions = {},
): Promise<BatchResult> {
  const t0 = performance.now();
  const policy = options.policy ?? 'milp';
  const index = new ClusterIndex(nodes, allocations);
  const problem = buildBatchProblem(index, requests);
  const greedy = placeFirstFitDecreasing(new ClusterIndex(nodes, allocations), requests);
  const details: BatchDetails = {
    policy,
    method: 'ffd',
    greedyNodes: verified(problem, greedy)!.nodesUsed(),
    seconds: 0,
  };
  let outcome = { assignment: greedy, bound: { lowerBound: null, lowerBoundMethod: null } as Bound };
  if ((policy === 'milp' || options.lowerBound !== false) && requests.length > 0) {
    const elapsed = (performance.now() - t0) / 1000;
    const budget = Math.max(0.1, (options.timeLimitSeconds ?? 10) - elapsed - RESULT_MARGIN_S);
    outcome = await runSolver(problem, greedy, details, options, budget);
  }
  return summarise(index, problem, requests, outcome.assignment, outcome.bound, details, t0);
}

function summarise(
  index: ClusterIndex,
  problem: BatchProblem,
  requests: readonly PlacementRequest[],
  assignment: Int32Array,
  bound: Bound,
  details: BatchDetails,
  t0: number,
): BatchResult {
  const state = verified(problem, assignment)!;
  const nodeOf = Array.from(assignment, (j) => (j >= 0 ? index.node(j).name : null));
  const assignments: Record<string, string | null> = {};
  requests.forEach((r, k) => {
    assignments[r.name] = nodeOf[k]!;
  });
  const unplaced = state.unplaced();
  const nodesUsed = state.nodesUsed();
  const lb = bound.lowerBound;
  details.seconds = (performance.now() - t0) / 1000;
  return {
    assignments,
    nodeOf,
    placed: requests.length - unplaced,
    unplaced,
    nodesUsed,
    lowerBound: lb,
    lowerBoundMethod: bound.lowerBoundMethod,
    gap: lb !== null && lb > 0 && unplaced === 0 ? (nodesUsed - lb) / lb : null,
    details,
  };
}

/** A BatchPlacer with fixed options. */
export function createBatchPlacer(options: BatchOptions = {}): BatchPlacer {
  return { placeBatch: (requests, nodes, allocations) => placeBatch(requests, nodes, allocations, options) };
}
