/**
 * The MILP batch placer against brute force on small cases (same optimum; the lower bound never
 * above it), the lower bound against the exact LP relaxation, and the fallback paths.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import fc from 'fast-check';
import type { Highs } from 'highs';
import { DEFAULT_OVERCOMMIT, type NodeInfo, type PlacementRequest } from '../core/scheduling.js';
import { placeBatch } from './batch-placer.js';
import { buildBatchProblem } from './batch-problem.js';
import { ClusterIndex } from './cluster-index.js';
import { generateCluster, generateWorkload } from './generate.js';
import { placeFirstFitDecreasing } from './greedy.js';
import { loadHighs } from './highs-load.js';
import { evacuate, improveByLns } from './lns.js';
import { solveLowerBound } from './lp-bound-master.js';
import { solveBatch } from './milp-batch.js';
import { solvePacking } from './packing-model.js';
import { PackingState } from './packing-state.js';
import { admissible, assertValid } from './rules-reference.js';

const GiB = 1024 ** 3;
let highs: Highs;
before(async () => {
  highs = await loadHighs();
});

const arbSmall = fc
  .record({
    nodes: fc.array(
      fc.record({
        mem: fc.integer({ min: 2, max: 10 }),
        cpus: fc.integer({ min: 1, max: 3 }),
        qemu: fc.constantFrom(true, true, false),
        max: fc.integer({ min: 2, max: 4 }),
      }),
      { minLength: 1, maxLength: 4 },
    ),
    items: fc.array(
      fc.record({
        mem: fc.integer({ min: 0, max: 5 }),
        cpus: fc.constantFrom(0, 1, 2, 4),
        vm: fc.constantFrom(false, false, true),
        group: fc.option(fc.constantFrom('a', 'b'), { nil: undefined }),
      }),
      { minLength: 1, maxLength: 7 },
    ),
  })
  .map(({ nodes, items }) => ({
    nodes: nodes.map(
      (n, i): NodeInfo => ({
        name: `n${i}`,
        capacity: { cpus: n.cpus, memoryBytes: n.mem * GiB, diskBytes: 0, instances: n.max },
        capabilities: { qemu: n.qemu, kvm: false },
        labels: {},
        overcommit: { ...DEFAULT_OVERCOMMIT },
      }),
    ),
    requests: items.map((it, k): PlacementRequest => {
      const r: PlacementRequest = {
        name: `r${k}`,
        type: it.vm ? 'vm' : 'container',
        memoryBytes: it.mem * GiB,
        cpus: it.cpus,
      };
      if (it.group) r.antiAffinity = [it.group];
      return r;
    }),
  }));

/** Fewest nodes that hold every request, by exhaustive search; null when no full placement exists. */
function bruteForce(nodes: NodeInfo[], requests: PlacementRequest[]): number | null {
  const on: PlacementRequest[][] = nodes.map(() => []);
  let best: number | null = null;
  const visit = (k: number, used: number) => {
    if (best !== null && used >= best) return;
    if (k === requests.length) {
      best = used;
      return;
    }
    nodes.forEach((node, j) => {
      if (!admissible(node, on[j]!, requests[k]!)) return;
      on[j]!.push(requests[k]!);
      visit(k + 1, used + (on[j]!.length === 1 ? 1 : 0));
      on[j]!.pop();
    });
  };
  visit(0, 0);
  return best;
}

function solveInProcess(nodes: NodeInfo[], requests: PlacementRequest[]) {
  const index = new ClusterIndex(nodes);
  const problem = buildBatchProblem(index, requests);
  const greedy = placeFirstFitDecreasing(new ClusterIndex(nodes), requests);
  const res = solveBatch(highs, problem, greedy, { deadlineEpochMs: Date.now() + 20_000, seed: 1 });
  const nodeOf = Array.from(res.assignment, (j) => (j < 0 ? null : index.node(j).name));
  return { res, nodeOf, used: new Set(nodeOf.filter((n) => n !== null)).size };
}

describe('milp batch placer', () => {
  it('finds the brute-force optimum on small cases; the lower bound never exceeds it', () => {
    let checked = 0;
    fc.assert(
      fc.property(arbSmall, ({ nodes, requests }) => {
        const optimum = bruteForce(nodes, requests);
        const { res, nodeOf, used } = solveInProcess(nodes, requests);
        assertValid(nodes, requests, nodeOf);
        if (optimum === null) return;
        checked++;
        assert.equal(res.search, 'full-model');
        assert.equal(
          nodeOf.filter((n) => n === null).length,
          0,
          'a full placement exists but the milp left some out',
        );
        assert.equal(used, optimum);
        assert.ok(
          res.lowerBound !== null && res.lowerBound <= optimum,
          `bound ${res.lowerBound} > optimum ${optimum}`,
        );
        assert.equal(res.timeLimited, false);
      }),
      { numRuns: 120, seed: 7 },
    );
    assert.ok(checked >= 60, `only ${checked} cases had a full placement`);
  });

  it('the Lagrangian bound matches the exact LP relaxation of the model without anti-affinity', () => {
    const nodes = generateCluster(30, 3);
    const requests = generateWorkload(300, 3, 'uniform');
    const problem = buildBatchProblem(new ClusterIndex(nodes), requests);
    const bound = solveLowerBound(highs, problem, {
      timeLimitSeconds: 20,
      tolerance: 1e-6,
      wantPrimal: true,
    });
    assert.ok(bound.converged);
    const exact = exactLp(problem);
    assert.ok(bound.dual! <= exact + 1e-6, `dual ${bound.dual} above the LP optimum ${exact}`);
    assert.ok(bound.dual! >= exact - 1e-3 * exact, `dual ${bound.dual} far below the LP optimum ${exact}`);
  });

  it('a neighbourhood MILP frees a node that greedy evacuation cannot (it needs a swap)', () => {
    const nodes = ['a', 'b', 'c'].map(
      (name): NodeInfo => ({
        name,
        capacity: { cpus: 0, memoryBytes: 10 * GiB, diskBytes: 0, instances: 10 },
        capabilities: { qemu: false, kvm: false },
        labels: {},
        overcommit: { ...DEFAULT_OVERCOMMIT },
      }),
    );
    const sizes = [6, 1, 6, 1, 4];
    const requests = sizes.map(
      (mem, k): PlacementRequest => ({ name: `r${k}`, type: 'container', memoryBytes: mem * GiB }),
    );
    const problem = buildBatchProblem(new ClusterIndex(nodes), requests);
    const state = new PackingState(problem);
    [0, 0, 1, 1, 2].forEach((j, k) => {
      state.add(k, j);
    });
    assert.equal(evacuate(state, 2), false, 'the 4 fits on neither a nor b as they are');
    // The neighbourhood of c: its item plus the small items of a and b, on a and b only.
    const res = solvePacking(
      highs,
      state,
      { items: [4, 1, 3], nodes: [0, 1], allowUnplaced: false },
      { timeLimitSeconds: 5, seed: 1 },
    );
    assert.ok(res.assignment, res.status);
    for (const [k, j] of res.assignment) {
      state.remove(k);
      state.add(k, j);
    }
    assert.equal(state.countOn(2), 0);
    assertValid(
      nodes,
      requests,
      Array.from(state.assign, (j) => nodes[j]!.name),
    );
    const stats = improveByLns(highs, state, {
      deadline: performance.now() + 5000,
      maxRounds: 5,
      maxItems: 50,
      partners: 4,
      stepSeconds: 5,
      maxFailures: 2,
      seed: 1,
      lowerBound: 2,
    });
    assert.equal(stats.rounds, 0, 'already at the lower bound');
  });

  it('falls back to first-fit-decreasing when the solver cannot answer in time', async () => {
    const nodes = generateCluster(20, 1);
    const requests = generateWorkload(200, 1);
    const res = await placeBatch(requests, nodes, [], {
      policy: 'milp',
      timeLimitSeconds: 0.001,
      graceMs: 0,
    });
    assertValid(nodes, requests, res.nodeOf);
    assert.equal(res.details.method, 'ffd-fallback');
    assert.match(res.details.fallbackReason ?? '', /no answer within/);
    assert.equal(res.nodesUsed, res.details.greedyNodes);
    assert.equal(res.placed, 200);
  });

  it('beats first-fit-decreasing on a generated heterogeneous case and reports its gap', async () => {
    const nodes = generateCluster(60, 2);
    const requests = generateWorkload(600, 2);
    const res = await placeBatch(requests, nodes, [], { policy: 'milp', timeLimitSeconds: 8, seed: 1 });
    assertValid(nodes, requests, res.nodeOf);
    assert.equal(res.unplaced, 0);
    assert.ok(res.nodesUsed < res.details.greedyNodes, `${res.nodesUsed} vs ffd ${res.details.greedyNodes}`);
    assert.ok(res.lowerBound !== null && res.nodesUsed >= res.lowerBound);
    assert.equal(res.gap, (res.nodesUsed - res.lowerBound!) / res.lowerBound!);
  });
});

/** The LP relaxation of the compact model (x, y continuous, no anti-affinity), solved directly. */
function exactLp(p: ReturnType<typeof buildBatchProblem>): number {
  const R = 4;
  const cols: { cost: number; ub: number }[] = [];
  const rows: { idx: number[]; val: number[]; lo: number; hi: number }[] = [];
  const y = Array.from({ length: p.nodeCount }, () => cols.push({ cost: 1, ub: 1 }) - 1);
  const capRows = Array.from({ length: p.nodeCount * R }, (_, q) => ({
    idx: [y[Math.floor(q / R)]!],
    val: [-1],
    lo: -Infinity,
    hi: 0,
  }));
  for (let k = 0; k < p.itemCount; k++) {
    const assign = { idx: [] as number[], val: [] as number[], lo: 1, hi: 1 };
    for (let j = 0; j < p.nodeCount; j++) {
      if (!p.compatMask[p.compat[k]!]![j]) continue;
      let fits = true;
      for (let r = 0; r < R; r++) if (p.demand[k * R + r]! > p.free[j * R + r]!) fits = false;
      if (!fits) continue;
      const c = cols.push({ cost: 0, ub: 1 }) - 1;
      assign.idx.push(c);
      assign.val.push(1);
      for (let r = 0; r < R; r++) {
        const d = p.demand[k * R + r]!;
        if (d <= 0) continue;
        capRows[j * R + r]!.idx.push(c);
        capRows[j * R + r]!.val.push(d / p.free[j * R + r]!);
      }
    }
    rows.push(assign);
  }
  rows.push(...capRows.filter((r) => r.idx.length > 1));
  const starts = [0];
  const indices: number[] = [];
  const values: number[] = [];
  for (const r of rows) {
    indices.push(...r.idx);
    values.push(...r.val);
    starts.push(indices.length);
  }
  const inf = highs.infinity;
  const model = highs.createModel({
    numCols: cols.length,
    numRows: rows.length,
    colCost: cols.map((c) => c.cost),
    colLower: cols.map(() => 0),
    colUpper: cols.map((c) => c.ub),
    rowLower: rows.map((r) => (r.lo === -Infinity ? -inf : r.lo)),
    rowUpper: rows.map((r) => r.hi),
    matrix: { format: 'csr', numRows: rows.length, numCols: cols.length, starts, indices, values },
  });
  try {
    model.options.set({ output_flag: false });
    model.run();
    assert.equal(model.getModelStatus(), highs.constants.modelStatus.optimal);
    return model.getObjectiveValue();
  } finally {
    model.dispose();
  }
}
