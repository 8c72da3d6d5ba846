/**
 * The scheduler benchmark (issue 7): greedy placement throughput, and batch placement quality
 * (MILP vs first-fit-decreasing vs binpack vs the lower bound). Prints markdown tables and
 * writes the raw reports to build/bench-scheduler/results.json. Run through run.sh.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { ClusterIndex } from '../../src/scheduler/cluster-index.js';
import { generateCluster, generateWorkload, type WorkloadKind } from '../../src/scheduler/generate.js';
import { placeInOrder } from '../../src/scheduler/greedy.js';
import { createPlacer } from '../../src/scheduler/online-placer.js';
import { type SimulationReport, simulate } from '../../src/scheduler/simulate.js';

const REPEATS = 3;
const MILP_SECONDS = Number(process.env.MILP_SECONDS ?? 10);
const fmt = (v: number) => Math.round(v).toLocaleString('en-US');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const pct = (v: number | null) => (v === null ? 'n/a' : `${(v * 100).toFixed(2)}%`);

async function throughput(raw: SimulationReport[]): Promise<string[]> {
  const lines = [
    '| nodes | instances | policy | placed | nodes used | placements/s (median of 3) | seconds |',
    '|---:|---:|---|---:|---:|---:|---:|',
  ];
  await simulate({ nodes: 500, instances: 5000, policy: 'binpack', lowerBound: false });
  for (const nodes of [1000, 5000]) {
    for (const instances of [10_000, 50_000]) {
      for (const policy of ['binpack', 'spread'] as const) {
        const runs: SimulationReport[] = [];
        for (let i = 0; i < REPEATS; i++)
          runs.push(await simulate({ nodes, instances, policy, seed: 1, lowerBound: false }));
        raw.push(...runs);
        const pps = median(runs.map((r) => r.placementsPerSecond));
        const r = runs[0]!;
        lines.push(
          `| ${fmt(nodes)} | ${fmt(instances)} | ${policy} | ${fmt(r.placed)} | ${fmt(r.nodesUsed)} | ${fmt(pps)} | ${median(runs.map((x) => x.seconds)).toFixed(3)} |`,
        );
      }
    }
  }
  return lines;
}

/** Cost of one stateless Placer.place (what a daemon create pays): index rebuilt from scratch. */
function statelessCost(): string {
  const nodes = generateCluster(5000, 1);
  const requests = generateWorkload(10_001, 1);
  const index = new ClusterIndex(nodes);
  const out = placeInOrder(index, requests.slice(0, 10_000), 'binpack');
  const allocations = requests
    .slice(0, 10_000)
    .flatMap((r, k) => (out[k]! >= 0 ? [{ node: index.node(out[k]!).name, request: r }] : []));
  const placer = createPlacer('binpack');
  const times: number[] = [];
  for (let i = 0; i < 15; i++) {
    const t0 = performance.now();
    placer.place(requests[10_000]!, nodes, allocations);
    times.push(performance.now() - t0);
  }
  return `Stateless \`Placer.place\` (index rebuilt per call, as the daemon's create path uses it) at 5,000 nodes with ${fmt(allocations.length)} existing allocations: median ${median(times).toFixed(1)} ms per call.`;
}

async function quality(raw: SimulationReport[]): Promise<string[]> {
  const lines = [
    '| nodes × instances | workload | lower bound | milp nodes | milp gap | milp s | ffd nodes | ffd gap | ffd s | binpack nodes | binpack gap | binpack s |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const [nodes, instances] of [
    [100, 1000],
    [1000, 10_000],
  ] as const) {
    for (const workload of ['heterogeneous', 'uniform'] as WorkloadKind[]) {
      const base = { nodes, instances, seed: 1, workload };
      const milp = await simulate({ ...base, policy: 'milp', timeLimitSeconds: MILP_SECONDS });
      const ffd = await simulate({ ...base, policy: 'ffd', lowerBound: false });
      const binpack = await simulate({ ...base, policy: 'binpack', lowerBound: false });
      raw.push(milp, ffd, binpack);
      const lb = milp.lowerBound;
      const gap = (r: SimulationReport) => (lb === null || r.unplaced > 0 ? null : (r.nodesUsed - lb) / lb);
      const cells = [milp, ffd, binpack].map(
        (r) => `${fmt(r.nodesUsed)} | ${pct(gap(r))} | ${r.seconds.toFixed(2)}`,
      );
      lines.push(
        `| ${fmt(nodes)} × ${fmt(instances)} | ${workload} | ${lb ?? 'n/a'} | ${cells.join(' | ')} |`,
      );
      if (milp.unplaced + ffd.unplaced + binpack.unplaced > 0)
        lines.push(
          `| | unplaced: milp ${milp.unplaced}, ffd ${ffd.unplaced}, binpack ${binpack.unplaced} | | | | | | | | | | |`,
        );
      process.stderr.write(`  milp solver: ${JSON.stringify(milp.solver)}\n`);
    }
  }
  return lines;
}

/** The large case over more seeds: how much the result depends on the draw. */
async function seeds(raw: SimulationReport[]): Promise<string[]> {
  const lines = [
    '| workload | seed | lower bound | milp nodes | milp gap | milp s | time limit hit | ffd nodes | ffd gap |',
    '|---|---:|---:|---:|---:|---:|---|---:|---:|',
  ];
  for (const workload of ['heterogeneous', 'uniform'] as WorkloadKind[]) {
    for (const seed of [2, 3, 4, 5]) {
      const base = { nodes: 1000, instances: 10_000, seed, workload };
      const milp = await simulate({ ...base, policy: 'milp', timeLimitSeconds: MILP_SECONDS });
      const ffd = await simulate({ ...base, policy: 'ffd', lowerBound: false });
      raw.push(milp, ffd);
      const lb = milp.lowerBound;
      const gap = (r: SimulationReport) => (lb === null || r.unplaced > 0 ? null : (r.nodesUsed - lb) / lb);
      const hit = milp.solver?.timeLimited ? 'yes' : 'no';
      lines.push(
        `| ${workload} | ${seed} | ${lb ?? 'n/a'} | ${fmt(milp.nodesUsed)} | ${pct(gap(milp))} | ${milp.seconds.toFixed(2)} | ${hit} | ${fmt(ffd.nodesUsed)} | ${pct(gap(ffd))} |`,
      );
    }
  }
  return lines;
}

const raw: SimulationReport[] = [];
const started = new Date().toISOString();
const out: string[] = [
  `Run ${started}, Node ${process.version}, seed 1, MILP time limit ${MILP_SECONDS} s.`,
  '',
];
out.push(
  '### Greedy placement throughput (heterogeneous workload)',
  '',
  ...(await throughput(raw)),
  '',
  statelessCost(),
  '',
);
out.push('### Batch placement quality (seed 1)', '', ...(await quality(raw)), '');
out.push('### 1,000 nodes × 10,000 instances, more seeds', '', ...(await seeds(raw)), '');
process.stdout.write(`${out.join('\n')}\n`);
await mkdir('build/bench-scheduler', { recursive: true });
await writeFile('build/bench-scheduler/results.json', JSON.stringify({ started, reports: raw }, null, 2));
