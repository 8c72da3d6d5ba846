/**
 * The simulator's generators, exactly as docs/scheduler.md ("Simulator workload generator")
 * describes them: a heterogeneous cluster, a heterogeneous workload with correlated sizes,
 * replicated services in anti-affinity groups, best-effort requests and selectors, and a
 * uniform-random workload with none of that structure. Pure functions of the seed.
 */
import type { InstanceType } from '../core/instance.js';
import { DEFAULT_OVERCOMMIT, type NodeInfo, type PlacementRequest } from '../core/scheduling.js';
import { mixSeed, Prng } from './prng.js';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

/** The workload kinds the generator knows. */
export type WorkloadKind = 'heterogeneous' | 'uniform';

const SHAPES: readonly (readonly [[number, number, number, number], number])[] = [
  [[8, 32, 256, 110], 30],
  [[16, 64, 512, 110], 30],
  [[32, 128, 1024, 250], 20],
  [[32, 64, 512, 250], 10],
  [[16, 256, 1024, 250], 10],
];

/** `n` nodes drawn from the documented shapes, capabilities and zones. */
export function generateCluster(n: number, seed: number): NodeInfo[] {
  const rng = new Prng(mixSeed(seed, 1));
  const width = Math.max(5, String(n).length);
  const nodes: NodeInfo[] = [];
  for (let i = 1; i <= n; i++) {
    const [cpus, mem, disk, instances] = rng.weighted(SHAPES);
    const caps = rng.weighted<[boolean, boolean]>([
      [[true, true], 50],
      [[true, false], 30],
      [[false, false], 20],
    ]);
    nodes.push({
      name: `node-${String(i).padStart(width, '0')}`,
      capacity: { cpus, memoryBytes: mem * GiB, diskBytes: disk * GiB, instances },
      capabilities: { qemu: caps[0], kvm: caps[1] },
      labels: { zone: rng.pick(['a', 'b', 'c']) },
      overcommit: { ...DEFAULT_OVERCOMMIT },
    });
  }
  return nodes;
}

interface Shape {
  type: InstanceType;
  cpus?: number;
  memoryBytes?: number;
  diskBytes?: number;
  nodeSelector?: Record<string, string>;
}

type Weighted = readonly (readonly [number, number])[];
const SIZES: Record<InstanceType, { cpus: Weighted; ratio: Weighted; disk: readonly number[] }> = {
  container: {
    cpus: [
      [0.25, 20],
      [0.5, 30],
      [1, 25],
      [2, 15],
      [4, 10],
    ],
    ratio: [
      [1, 20],
      [2, 40],
      [4, 30],
      [8, 10],
    ],
    disk: [1, 2, 5, 10, 20],
  },
  vm: {
    cpus: [
      [1, 30],
      [2, 35],
      [4, 25],
      [8, 10],
    ],
    ratio: [
      [2, 30],
      [4, 50],
      [8, 20],
    ],
    disk: [10, 20, 40, 80],
  },
  sandbox: {
    cpus: [
      [0.5, 40],
      [1, 40],
      [2, 20],
    ],
    ratio: [
      [1, 30],
      [2, 50],
      [4, 20],
    ],
    disk: [5, 10, 20],
  },
};

function heterogeneousShape(rng: Prng): Shape {
  const type = rng.weighted<InstanceType>([
    ['container', 70],
    ['vm', 20],
    ['sandbox', 10],
  ]);
  const sizes = SIZES[type];
  const shape: Shape = { type };
  if (type !== 'container' || rng.next() >= 0.1) {
    const cpus = rng.weighted(sizes.cpus);
    const raw = cpus * rng.weighted(sizes.ratio) * rng.uniform(0.75, 1.25) * GiB;
    shape.cpus = cpus;
    shape.memoryBytes = Math.max(64 * MiB, Math.round(raw / (64 * MiB)) * 64 * MiB);
  }
  if (type !== 'container' || rng.next() >= 0.2) shape.diskBytes = rng.pick(sizes.disk) * GiB;
  if (type === 'container' && rng.next() < 0.1) shape.nodeSelector = { zone: rng.pick(['a', 'b', 'c']) };
  return shape;
}

function uniformShape(rng: Prng): Shape {
  return {
    type: rng.pick<InstanceType>(['container', 'vm', 'sandbox']),
    cpus: (1 + rng.int(16)) * 0.25,
    memoryBytes: (1 + rng.int(32)) * 256 * MiB,
    diskBytes: (1 + rng.int(50)) * GiB,
  };
}

/** `m` requests of the given kind, in arrival order. */
export function generateWorkload(
  m: number,
  seed: number,
  kind: WorkloadKind = 'heterogeneous',
): PlacementRequest[] {
  const rng = new Prng(mixSeed(seed, 2));
  const out: PlacementRequest[] = [];
  let services = 0;
  const name = () => `i-${String(out.length + 1).padStart(Math.max(6, String(m).length), '0')}`;
  while (out.length < m) {
    if (kind === 'uniform') {
      out.push({ name: name(), ...uniformShape(rng) });
      continue;
    }
    const replicas = rng.next() < 0.115 ? rng.pick([2, 3, 5]) : 1;
    const shape = heterogeneousShape(rng);
    const group = replicas > 1 ? `svc-${++services}` : undefined;
    for (let k = 0; k < replicas && out.length < m; k++) {
      const req: PlacementRequest = { name: name(), ...shape };
      if (shape.nodeSelector) req.nodeSelector = { ...shape.nodeSelector };
      if (group) req.antiAffinity = [group];
      out.push(req);
    }
  }
  return out;
}
