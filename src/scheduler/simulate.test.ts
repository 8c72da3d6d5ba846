import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isTandemError } from '../base/errors.js';
import { generateCluster, generateWorkload } from './generate.js';
import { formatSimulationReport, type SimulationReport, simulate } from './simulate.js';

const GiB = 1024 ** 3;

function outcome(r: SimulationReport) {
  const { seconds: _s, placementsPerSecond: _p, solver: _x, ...rest } = r;
  return rest;
}

describe('generator', () => {
  it('is deterministic per seed and differs across seeds', () => {
    assert.deepEqual(generateCluster(50, 4), generateCluster(50, 4));
    assert.deepEqual(generateWorkload(500, 4), generateWorkload(500, 4));
    assert.notDeepEqual(generateWorkload(500, 4), generateWorkload(500, 5));
    assert.deepEqual(generateCluster(50, 4), generateCluster(50, 4));
  });

  it('draws the documented shares (docs/scheduler.md)', () => {
    const w = generateWorkload(40_000, 11);
    const share = (f: (r: (typeof w)[number]) => boolean, of = w) => of.filter(f).length / of.length;
    assert.ok(Math.abs(share((r) => r.type === 'container') - 0.7) < 0.02);
    assert.ok(Math.abs(share((r) => r.type === 'vm') - 0.2) < 0.02);
    assert.ok(Math.abs(share((r) => r.antiAffinity !== undefined) - 0.3) < 0.03);
    const containers = w.filter((r) => r.type === 'container');
    assert.ok(Math.abs(share((r) => r.cpus === undefined, containers) - 0.1) < 0.02);
    assert.ok(Math.abs(share((r) => r.nodeSelector !== undefined, containers) - 0.1) < 0.02);
    const vms = w.filter((r) => r.type === 'vm');
    assert.ok(
      vms.every((r) => r.cpus !== undefined && r.memoryBytes !== undefined && r.diskBytes !== undefined),
    );
    const meanMem = w.reduce((a, r) => a + (r.memoryBytes ?? 0), 0) / w.length / GiB;
    assert.ok(Math.abs(meanMem - 4.7) < 0.3, `mean memory ${meanMem}`);
    const u = generateWorkload(20_000, 11, 'uniform');
    assert.ok(
      u.every(
        (r) =>
          r.antiAffinity === undefined && r.nodeSelector === undefined && r.cpus! >= 0.25 && r.cpus! <= 4,
      ),
    );
    const nodes = generateCluster(20_000, 11);
    const ns = (f: (n: (typeof nodes)[number]) => boolean) => nodes.filter(f).length / nodes.length;
    assert.ok(Math.abs(ns((n) => n.capabilities.kvm) - 0.5) < 0.02);
    assert.ok(Math.abs(ns((n) => !n.capabilities.qemu) - 0.2) < 0.02);
    assert.ok(Math.abs(ns((n) => n.capacity.memoryBytes === 256 * GiB) - 0.1) < 0.02);
  });
});

describe('simulate', () => {
  for (const policy of ['binpack', 'spread', 'ffd', 'milp'] as const) {
    it(`${policy} is deterministic for a seed`, async () => {
      const options = { nodes: 25, instances: 200, policy, seed: 3, lowerBound: policy === 'milp' };
      const a = await simulate(options);
      const b = await simulate(options);
      assert.deepEqual(outcome(a), outcome(b));
      assert.equal(a.placed + a.unplaced, 200);
      assert.ok(a.nodesUsed > 0 && a.nodesUsed <= 25);
      if (policy === 'milp') assert.equal(a.solver?.timeLimited, false);
    });
  }

  it('reports the documented keys, and the bound for a greedy policy', async () => {
    const r = await simulate({ nodes: 20, instances: 150, policy: 'binpack', seed: 2, workload: 'uniform' });
    for (const key of [
      'placed',
      'unplaced',
      'nodesUsed',
      'lowerBound',
      'gap',
      'placementsPerSecond',
      'seconds',
    ]) {
      assert.ok(key in r, key);
    }
    assert.ok(r.lowerBound !== null && r.lowerBound <= r.nodesUsed);
    assert.equal(r.gap, (r.nodesUsed - r.lowerBound) / r.lowerBound);
    assert.ok(r.utilisation.memory > 0 && r.utilisation.memory <= 1);
    assert.ok(r.clusterUtilisation.memory <= r.utilisation.memory);
    const text = formatSimulationReport(r);
    assert.match(text, /^policy +binpack$/m);
    assert.match(text, /^nodes used +\d+$/m);
    assert.match(text, /^lower bound +\d+ \(lp-relaxation\)$/m);
    assert.match(text, /^placements\/s +[\d,]+$/m);
  });

  it('rejects an unknown policy and bad counts', async () => {
    await assert.rejects(simulate({ policy: 'best' as 'ffd' }), (err) =>
      isTandemError(err, 'invalid_argument'),
    );
    await assert.rejects(simulate({ nodes: -1 }), (err) => isTandemError(err, 'invalid_argument'));
  });
});

describe('simulate with files', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'scheduler-sim-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads the documented cluster and workload formats', async () => {
    const cluster = path.join(dir, 'cluster.json');
    const workload = path.join(dir, 'workload.json');
    await writeFile(
      cluster,
      JSON.stringify({
        nodes: [
          { name: 'n1', cpus: 4, memory: '8GiB', disk: '100GiB', qemu: true, labels: { zone: 'a' } },
          { name: 'n2', cpus: 4, memory: 8 * GiB, disk: '100GiB', kvm: true, overcommit: { memory: 1.5 } },
        ],
        allocations: [{ node: 'n1', name: 'db', type: 'vm', cpus: 2, memory: '6GiB' }],
      }),
    );
    await writeFile(
      workload,
      JSON.stringify([
        { name: 'web-1', cpus: 0.5, memory: '512MiB', antiAffinity: ['web'] },
        { name: 'web-2', cpus: 0.5, memory: '512MiB', antiAffinity: ['web'] },
        { name: 'big', type: 'vm', memory: '11GiB' },
        { name: 'pinned', node: 'n1' },
        { name: 'zoned', nodeSelector: { zone: 'a' } },
      ]),
    );
    const r = await simulate({
      clusterFile: cluster,
      workloadFile: workload,
      policy: 'binpack',
      lowerBound: false,
    });
    assert.equal(r.cluster, 'file');
    assert.equal(r.workload, 'file');
    assert.equal(r.nodes, 2);
    assert.equal(r.instances, 5);
    assert.equal(r.placed, 5, 'big fits only thanks to n2 memory overcommit 1.5');
    assert.equal(r.nodesUsed, 2);
  });

  it('names the file and the entry on errors', async () => {
    const bad = path.join(dir, 'bad.json');
    await writeFile(bad, JSON.stringify({ instances: [{ name: 'x', memory: 'lots' }] }));
    await assert.rejects(simulate({ workloadFile: bad }), /bad\.json" instance 0/);
    await writeFile(bad, '{');
    await assert.rejects(simulate({ clusterFile: bad }), (err) => isTandemError(err, 'invalid_argument'));
  });
});
