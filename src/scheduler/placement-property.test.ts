/**
 * Property tests: for random clusters and workloads, no policy ever exceeds a capacity, breaks
 * anti-affinity or ignores a static filter; and the indexed online placer picks exactly what a
 * naive scan of every node (written from the documented rules) picks.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  effectiveCapacity,
  type NodeInfo,
  type PlacementRequest,
  requestedResources,
} from '../core/scheduling.js';
import { placeBatch } from './batch-placer.js';
import { ClusterIndex } from './cluster-index.js';
import { placeFirstFitDecreasing, placeInOrder } from './greedy.js';
import { admissible, assertValid } from './rules-reference.js';

const GiB = 1024 ** 3;

const arbNode = (i: number) =>
  fc
    .record({
      cpus: fc.integer({ min: 0, max: 8 }),
      mem: fc.integer({ min: 0, max: 16 }),
      disk: fc.integer({ min: 0, max: 50 }),
      max: fc.integer({ min: 0, max: 8 }),
      caps: fc.constantFrom([false, false], [true, false], [true, true]),
      zone: fc.constantFrom('a', 'b'),
      oc: fc.constantFrom(1, 2, 4),
    })
    .map(
      (n): NodeInfo => ({
        name: `n${String(i).padStart(2, '0')}`,
        capacity: { cpus: n.cpus, memoryBytes: n.mem * GiB, diskBytes: n.disk * GiB, instances: n.max },
        capabilities: { qemu: n.caps[0]!, kvm: n.caps[1]! },
        labels: { zone: n.zone },
        overcommit: { cpu: n.oc, memory: 1, disk: 1 },
      }),
    );

const arbCluster = fc
  .integer({ min: 1, max: 10 })
  .chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => arbNode(i))));

const arbRequest = (i: number, nodeCount: number) =>
  fc
    .record({
      type: fc.constantFrom('container', 'container', 'vm', 'sandbox'),
      cpus: fc.option(fc.constantFrom(0.25, 0.5, 1, 2, 3, 6), { nil: undefined }),
      mem: fc.option(fc.integer({ min: 0, max: 10 }), { nil: undefined }),
      disk: fc.option(fc.integer({ min: 0, max: 30 }), { nil: undefined }),
      group: fc.option(fc.constantFrom('g1', 'g2', 'g3'), { nil: undefined }),
      zone: fc.option(fc.constantFrom('a', 'b'), { freq: 4, nil: undefined }),
      pin: fc.option(fc.integer({ min: 0, max: nodeCount - 1 }), { freq: 8, nil: undefined }),
    })
    .map((r): PlacementRequest => {
      const req: PlacementRequest = { name: `r${i}`, type: r.type as PlacementRequest['type'] };
      if (r.cpus !== undefined) req.cpus = r.cpus;
      if (r.mem !== undefined) req.memoryBytes = r.mem * GiB;
      if (r.disk !== undefined) req.diskBytes = r.disk * GiB;
      if (r.group) req.antiAffinity = [r.group];
      if (r.zone) req.nodeSelector = { zone: r.zone };
      if (r.pin !== undefined) req.node = `n${String(r.pin).padStart(2, '0')}`;
      return req;
    });

const arbCase = arbCluster.chain((nodes) =>
  fc
    .integer({ min: 1, max: 30 })
    .chain((m) => fc.tuple(...Array.from({ length: m }, (_, i) => arbRequest(i, nodes.length))))
    .map((requests) => ({ nodes, requests })),
);

/** The naive online placer: scan every node, score by the documented formula. */
function naiveChoice(
  nodes: NodeInfo[],
  bound: Map<string, PlacementRequest[]>,
  r: PlacementRequest,
  policy: 'binpack' | 'spread',
) {
  const sorted = [...nodes].sort((a, b) => (a.name < b.name ? -1 : 1));
  const score = (n: NodeInfo) => {
    const cap = effectiveCapacity(n);
    const all = [...bound.get(n.name)!, r].map(requestedResources);
    const used = [
      Math.round(all.reduce((a, b) => a + b.cpus, 0) * 1000),
      all.reduce((a, b) => a + b.memoryBytes, 0),
      all.reduce((a, b) => a + b.diskBytes, 0),
      all.length,
    ];
    const caps = [Math.floor(cap.cpus * 1000), cap.memoryBytes, cap.diskBytes, cap.instances];
    const terms = caps.flatMap((c, i) => (c > 0 ? [used[i]! / c] : []));
    const mean = terms.reduce((a, b) => a + b, 0) / (terms.length || 1);
    return policy === 'binpack' ? mean : -mean;
  };
  const fits = sorted.filter((n) => admissible(n, bound.get(n.name)!, r));
  const kvm = r.type !== 'container' ? fits.filter((n) => n.capabilities.kvm) : [];
  const pool = kvm.length > 0 ? kvm : fits;
  return pool.map((n) => ({ n, s: score(n) }));
}

describe('placement properties', () => {
  for (const policy of ['binpack', 'spread'] as const) {
    it(`${policy}: picks a best node by the naive scan, and never breaks a rule`, () => {
      fc.assert(
        fc.property(arbCase, ({ nodes, requests }) => {
          const index = new ClusterIndex(nodes);
          const bound = new Map<string, PlacementRequest[]>(nodes.map((n) => [n.name, []]));
          for (const r of requests) {
            const i = index.find(r, policy);
            const options = naiveChoice(nodes, bound, r, policy);
            if (options.length === 0) {
              assert.equal(i, -1, `${r.name}: index placed what the scan cannot`);
              continue;
            }
            assert.ok(i >= 0, `${r.name}: index found nothing, the scan found ${options.length}`);
            const name = index.node(i).name;
            const best = Math.max(...options.map((o) => o.s));
            const mine = options.find((o) => o.n.name === name);
            assert.ok(mine, `${r.name}: ${name} is not among the scan's fitting nodes`);
            assert.ok(mine.s >= best - 1e-9, `${r.name}: score ${mine.s} < best ${best}`);
            const first = options.find((o) => o.s >= best - 1e-9)!;
            if (Math.abs(first.s - mine.s) < 1e-12)
              assert.equal(name, first.n.name, 'tie not broken by name');
            index.bind(i, r);
            bound.get(name)!.push(r);
          }
        }),
        { numRuns: 300 },
      );
    });
  }

  it('ffd never breaks a rule', () => {
    fc.assert(
      fc.property(arbCase, ({ nodes, requests }) => {
        const index = new ClusterIndex(nodes);
        const out = placeFirstFitDecreasing(index, requests);
        assertValid(
          nodes,
          requests,
          Array.from(out, (j) => (j < 0 ? null : index.node(j).name)),
        );
      }),
      { numRuns: 300 },
    );
  });

  it('online policies take existing allocations into account', () => {
    fc.assert(
      fc.property(arbCase, ({ nodes, requests }) => {
        const half = Math.floor(requests.length / 2);
        const first = new ClusterIndex(nodes);
        const pre = placeInOrder(first, requests.slice(0, half), 'spread');
        const allocations = requests
          .slice(0, half)
          .flatMap((r, k) => (pre[k]! >= 0 ? [{ node: first.node(pre[k]!).name, request: r }] : []));
        const index = new ClusterIndex(nodes, allocations);
        const rest = requests.slice(half);
        const out = placeInOrder(index, rest, 'binpack');
        assertValid(
          nodes,
          rest,
          Array.from(out, (j) => (j < 0 ? null : index.node(j).name)),
          allocations,
        );
      }),
      { numRuns: 200 },
    );
  });

  it('milp (through the worker) never breaks a rule and never places fewer than ffd', async () => {
    await fc.assert(
      fc.asyncProperty(arbCase, async ({ nodes, requests }) => {
        const res = await placeBatch(requests, nodes, [], { policy: 'milp', timeLimitSeconds: 5, seed: 1 });
        assert.notEqual(res.details.method, 'ffd-fallback', res.details.fallbackReason);
        assertValid(nodes, requests, res.nodeOf);
        const index = new ClusterIndex(nodes);
        const ffd = placeFirstFitDecreasing(index, requests);
        assert.ok(res.placed >= ffd.filter((j) => j >= 0).length);
        if (res.lowerBound !== null && res.unplaced === 0) assert.ok(res.nodesUsed >= res.lowerBound);
      }),
      { numRuns: 12 },
    );
  });
});
