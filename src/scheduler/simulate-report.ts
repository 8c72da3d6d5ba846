/** The simulation report's shape and its plain-text rendering (no terminal libraries). */
import type { SchedulingPolicy } from '../core/scheduling.js';
import type { WorkloadKind } from './generate.js';

/** Utilisation per resource, 0..1. */
export interface Utilisation {
  cpu: number;
  memory: number;
  disk: number;
  instances: number;
}

/** The simulator's report; `--json` prints it as is. */
export interface SimulationReport {
  policy: SchedulingPolicy;
  seed: number;
  workload: WorkloadKind | 'file';
  cluster: 'generated' | 'file';
  nodes: number;
  instances: number;
  placed: number;
  unplaced: number;
  nodesUsed: number;
  lowerBound: number | null;
  lowerBoundMethod: string | null;
  gap: number | null;
  placementsPerSecond: number;
  seconds: number;
  /** Allocated / capacity after overcommit, over the nodes used. */
  utilisation: Utilisation;
  /** The same over every node of the cluster. */
  clusterUtilisation: Utilisation;
  /** milp only: how the batch placer got its result. */
  solver?: Record<string, unknown>;
}

function pct(v: number): string {
  return `${(v * 100).toFixed(1)}%`;
}

function util(u: Utilisation): string {
  return `cpu ${pct(u.cpu)}  memory ${pct(u.memory)}  disk ${pct(u.disk)}  instances ${pct(u.instances)}`;
}

function int(v: number): string {
  return Math.round(v).toLocaleString('en-US');
}

/** A two-column table: one line per figure, aligned. */
export function formatSimulationReport(r: SimulationReport): string {
  const bound = r.lowerBound === null ? 'n/a' : `${r.lowerBound} (${r.lowerBoundMethod})`;
  const rows: [string, string][] = [
    ['policy', r.policy],
    ['seed', String(r.seed)],
    ['cluster', `${r.nodes} nodes (${r.cluster})`],
    ['workload', `${r.instances} instances (${r.workload})`],
    ['placed', int(r.placed)],
    ['unplaced', int(r.unplaced)],
    ['nodes used', int(r.nodesUsed)],
    ['lower bound', bound],
    ['gap', r.gap === null ? 'n/a' : pct(r.gap)],
    ['utilisation', `${util(r.utilisation)}  (nodes used)`],
    ['', `${util(r.clusterUtilisation)}  (whole cluster)`],
    ['placements/s', int(r.placementsPerSecond)],
    ['wall time', `${r.seconds.toFixed(3)} s`],
  ];
  if (r.solver) {
    const s = r.solver;
    const parts = [
      `method ${s.method}`,
      `start ${s.start ?? 'greedy'} (${s.startNodes ?? s.greedyNodes} nodes)`,
      `search ${s.search ?? 'none'}`,
    ];
    if (s.timeLimited) parts.push('time limit reached');
    if (s.fallbackReason) parts.push(`fallback: ${s.fallbackReason}`);
    rows.push(['solver', parts.join(', ')]);
  }
  const width = Math.max(...rows.map(([k]) => k.length));
  return `${rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n')}\n`;
}
