/**
 * The lower bound alone (lp-bound.ts), computed in the solver worker: what the simulator
 * reports beside the greedy policies. Returns nulls when the solver is unavailable.
 */
import type { Allocation, NodeInfo, PlacementRequest } from '../core/scheduling.js';
import { buildBatchProblem } from './batch-problem.js';
import { ClusterIndex } from './cluster-index.js';
import { solveInWorker } from './solver-worker.js';

/** The bound on nodes used for placing every request, or nulls if it could not be computed. */
export async function lowerBoundOf(
  requests: readonly PlacementRequest[],
  nodes: readonly NodeInfo[],
  allocations: readonly Allocation[],
  timeLimitSeconds: number,
): Promise<{ lowerBound: number | null; lowerBoundMethod: string | null }> {
  const problem = buildBatchProblem(new ClusterIndex(nodes, allocations), requests);
  const none = new Int32Array(requests.length).fill(-1);
  const options = { deadlineEpochMs: Date.now() + timeLimitSeconds * 1000, seed: 1, boundOnly: true };
  try {
    const res = await solveInWorker(problem, none, options, timeLimitSeconds * 1000 + 3000);
    return { lowerBound: res.lowerBound, lowerBoundMethod: res.lowerBoundMethod };
  } catch {
    return { lowerBound: null, lowerBoundMethod: null };
  }
}
