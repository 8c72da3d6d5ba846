/**
 * A small inline SVG chart of an instance's recent CPU % and memory: two polylines over the
 * same time window, CPU scaled to max(100 %, its peak), memory to its limit (or its peak).
 */
import type { UsagePoint } from './usage-history.js';

const W = 140;
const H = 34;

export function UsageChart({ points }: { points: UsagePoint[] }) {
  if (points.length < 2) return <svg class="chart" width={W} height={H} aria-hidden="true" />;
  const t0 = points[0]!.t;
  const span = Math.max(1, points.at(-1)!.t - t0);
  const x = (t: number) => ((t - t0) / span) * (W - 2) + 1;
  const line = (v: (p: UsagePoint) => number | undefined, max: number) =>
    points
      .filter((p) => v(p) !== undefined)
      .map((p) => `${x(p.t).toFixed(1)},${(H - 1 - (v(p)! / max) * (H - 2)).toFixed(1)}`)
      .join(' ');
  const cpuMax = Math.max(100, ...points.map((p) => p.cpu ?? 0));
  const last = points.at(-1)!;
  const memMax = last.memoryLimitBytes ?? Math.max(1, ...points.map((p) => p.memoryBytes)) * 1.25;
  return (
    <svg class="chart" width={W} height={H} viewBox={`0 0 ${W} ${H}`} role="img">
      <title>
        CPU {last.cpu?.toFixed(1) ?? '--'}% (scale {cpuMax.toFixed(0)}%), memory scale{' '}
        {(memMax / 1048576).toFixed(0)} MiB
      </title>
      <polyline class="mem" points={line((p) => p.memoryBytes, memMax)} />
      <polyline class="cpu" points={line((p) => p.cpu, cpuMax)} />
    </svg>
  );
}
