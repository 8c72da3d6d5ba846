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

interface Placed {
  seconds: number;
  bound: { lowerBound: number | null; lowerBoundMethod: string | null };
  solver?: Record<string, unknown>;
}

type Inputs = Awaited<ReturnType<typeof inputs>>;

/** Places the workload on `index` with `policy`; times what the policy itself costs. */
async function run(
  index: ClusterIndex,
  input: Inputs,
  policy: SchedulingPolicy,
  o: SimulateOptions,
): Promise<Placed> {
  const { seed, nodes, allocations, requests } = input;
  const limit = o.timeLimitSeconds ?? 10;
  if (policy === 'milp') {
    const res = await placeBatch(requests, nodes, allocations, { policy, timeLimitSeconds: limit, seed });
    res.nodeOf.forEach((name, k) => {
      if (name !== null) index.bind(index.indexOf(name), requests[k]!);
    });
    const { method, fallbackReason, greedyNodes, solver } = res.details;
    return {
      seconds: res.details.seconds,
      bound: res,
      solver: { method, fallbackReason, greedyNodes, ...solver },
    };
  }
  const t0 = performance.now();
  if (policy === 'ffd') placeFirstFitDecreasing(index, requests);
  else placeInOrder(index, requests, policy);
  const seconds = (performance.now() - t0) / 1000;
  const none = { lowerBound: null, lowerBoundMethod: null };
  return {
    seconds,
    bound: o.lowerBound === false ? none : await lowerBoundOf(requests, nodes, allocations, limit),
  };
}

/** Runs one simulation; deterministic per seed except for timings (and milp under its time limit). */
export async function simulate(options: SimulateOptions = {}): Promise<SimulationReport> {
  const policy = options.policy ?? 'binpack';
  if (!POLICIES.includes(policy)) {
    throw new TandemError('invalid_argument', `unknown policy "${policy}": use ${POLICIES.join(', ')}`);
  }
  const input = await inputs(options);
  const index = new ClusterIndex(input.nodes, input.allocations);
  const before = index.count.reduce((a, c) => a + c, 0);
  const { seconds, bound, solver } = await run(index, input, policy, options);
  const placed = index.count.reduce((a, c) => a + c, 0) - before;
  const nodesUsed = index.count.reduce((a, c) => a + (c > 0 ? 1 : 0), 0);
  const unplaced = input.requests.length - placed;
  const lb = bound.lowerBound;
  return {
    policy,
    seed: input.seed,
    workload: options.workloadFile ? 'file' : (options.workload ?? 'heterogeneous'),
    cluster: options.clusterFile ? 'file' : 'generated',
    nodes: input.nodes.length,
    instances: input.requests.length,
    placed,
    unplaced,
    nodesUsed,
    lowerBound: lb,
    lowerBoundMethod: bound.lowerBoundMethod,
    gap: lb !== null && lb > 0 && unplaced === 0 ? (nodesUsed - lb) / lb : null,
    placementsPerSecond: seconds > 0 ? input.requests.length / seconds : 0,
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
