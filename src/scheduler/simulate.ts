/**
 * `tandem schedule simulate`: generate (or read) a cluster and a workload, place the workload
 * with one policy, and report what it cost and how good it is. Online policies (`binpack`,
 * `spread`) place requests one at a time in order on a ClusterIndex and are timed alone;
 * `ffd` is timed for its sort and placement; `milp` for the whole batch placer (greedy start,
 * bound, search). The lower bound is computed for every policy (in a worker, not timed for
 * the greedy ones) unless `lowerBound: false`.
 */
import { TandemError } from '../base/errors.js';
import type { Allocation, NodeInfo, PlacementRequest, SchedulingPolicy } from '../core/scheduling.js';
import { placeBatch } from './batch-placer.js';
import { RESOURCES } from './class-tree.js';
import { ClusterIndex } from './cluster-index.js';
import { generateCluster, generateWorkload, type WorkloadKind } from './generate.js';
import { placeFirstFitDecreasing, placeInOrder } from './greedy.js';
import { lowerBoundOf } from './lower-bound.js';
import { readClusterFile, readWorkloadFile } from './simulate-files.js';
import type { SimulationReport, Utilisation } from './simulate-report.js';

export type { SimulationReport, Utilisation } from './simulate-report.js';
export { formatSimulationReport } from './simulate-report.js';

/** What to simulate; files replace the generator for their part. */
export interface SimulateOptions {
  nodes?: number;
  instances?: number;
  policy?: SchedulingPolicy;
  seed?: number;
  workload?: WorkloadKind;
  workloadFile?: string;
  clusterFile?: string;
  /** Time limit of the milp policy (and of the bound), seconds; default 10. */
  timeLimitSeconds?: number;
  /** Compute the lower bound (default true). */
  lowerBound?: boolean;
}

const POLICIES: readonly SchedulingPolicy[] = ['binpack', 'spread', 'ffd', 'milp'];

async function inputs(o: SimulateOptions) {
  const seed = o.seed ?? 1;
  const cluster = o.clusterFile ? await readClusterFile(o.clusterFile) : null;
  const nodes: NodeInfo[] = cluster?.nodes ?? generateCluster(count(o.nodes, 'nodes', 100), seed);
  const allocations: Allocation[] = cluster?.allocations ?? [];
  const requests: PlacementRequest[] = o.workloadFile
    ? await readWorkloadFile(o.workloadFile)
    : generateWorkload(count(o.instances, 'instances', 1000), seed, o.workload ?? 'heterogeneous');
  return { seed, nodes, allocations, requests };
}

function count(value: number | undefined, what: string, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < 0)
    throw new TandemError('invalid_argument', `invalid --${what} ${value}: must be a whole number`);
  return v;
}

/** Runs one simulation; deterministic per seed except for timings (and milp under its time limit). */
export async function simulate(options: SimulateOptions = {}): Promise<SimulationReport> {
  const policy = options.policy ?? 'binpack';
  if (!POLICIES.includes(policy))
    throw new TandemError('invalid_argument', `unknown policy "${policy}": use ${POLICIES.join(', ')}`);
  const { seed, nodes, allocations, requests } = await inputs(options);
  const limit = options.timeLimitSeconds ?? 10;
  const index = new ClusterIndex(nodes, allocations);
  let assignment: Int32Array;
  let seconds: number;
  let bound: { lowerBound: number | null; lowerBoundMethod: string | null } = {
    lowerBound: null,
    lowerBoundMethod: null,
  };
  let solver: Record<string, unknown> | undefined;
  if (policy === 'milp') {
    const res = await placeBatch(requests, nodes, allocations, { policy, timeLimitSeconds: limit, seed });
    assignment = Int32Array.from(res.nodeOf, (name) => (name === null ? -1 : index.indexOf(name)));
    assignment.forEach((j, k) => {
      if (j >= 0) index.bind(j, requests[k]!);
    });
    seconds = res.details.seconds;
    bound = res;
    solver = {
      method: res.details.method,
      fallbackReason: res.details.fallbackReason,
      greedyNodes: res.details.greedyNodes,
      ...res.details.solver,
    };
  } else {
    const t0 = performance.now();
    assignment =
      policy === 'ffd' ? placeFirstFitDecreasing(index, requests) : placeInOrder(index, requests, policy);
    seconds = (performance.now() - t0) / 1000;
    if (options.lowerBound !== false) bound = await lowerBoundOf(requests, nodes, allocations, limit);
  }
  const placed = assignment.reduce((a, j) => a + (j >= 0 ? 1 : 0), 0);
  const nodesUsed = index.count.reduce((a, c) => a + (c > 0 ? 1 : 0), 0);
  const unplaced = requests.length - placed;
  const lb = bound.lowerBound;
  return {
    policy,
    seed,
    workload: options.workloadFile ? 'file' : (options.workload ?? 'heterogeneous'),
    cluster: options.clusterFile ? 'file' : 'generated',
    nodes: nodes.length,
    instances: requests.length,
    placed,
    unplaced,
    nodesUsed,
    lowerBound: lb,
    lowerBoundMethod: bound.lowerBoundMethod,
    gap: lb !== null && lb > 0 && unplaced === 0 ? (nodesUsed - lb) / lb : null,
    placementsPerSecond: seconds > 0 ? requests.length / seconds : 0,
    seconds,
    utilisation: utilisation(index, true),
    clusterUtilisation: utilisation(index, false),
    ...(solver ? { solver } : {}),
  };
}

function utilisation(index: ClusterIndex, usedOnly: boolean): Utilisation {
  const used = new Float64Array(RESOURCES);
  const cap = new Float64Array(RESOURCES);
  for (let i = 0; i < index.size; i++) {
    if (usedOnly && index.count[i] === 0) continue;
    for (let r = 0; r < RESOURCES; r++) {
      used[r]! += index.used[i * RESOURCES + r]!;
      cap[r]! += index.table.cap[i * RESOURCES + r]!;
    }
  }
  const f = (r: number) => (cap[r]! > 0 ? used[r]! / cap[r]! : 0);
  return { cpu: f(0), memory: f(1), disk: f(2), instances: f(3) };
}
