/**
 * Recent usage per instance, from successive stats samples: CPU % over each interval between
 * two samples (the backend's cumulative CPU seconds over the samples' own timestamps, so a late
 * poll does not distort it) and memory in use. Keeps the last `keep` points per instance.
 */
import type { ResourceUsage } from '../api/instances.js';

export interface UsagePoint {
  /** Sample time, ms since the epoch. */
  t: number;
  /** CPU % of one core over the interval ending at `t`; undefined for the first sample. */
  cpu?: number;
  memoryBytes: number;
  memoryLimitBytes?: number;
}

export class UsageHistory {
  private readonly last = new Map<string, ResourceUsage>();
  private readonly series = new Map<string, UsagePoint[]>();

  constructor(private readonly keep = 60) {}

  /** Adds one sample of `u.name`; a sample no newer than the previous one is ignored. */
  add(u: ResourceUsage): void {
    const t = Date.parse(u.time);
    const prev = this.last.get(u.name);
    const pt = prev ? Date.parse(prev.time) : Number.NaN;
    if (prev && !(t > pt)) return;
    const cpu = prev ? Math.max(0, ((u.cpuSeconds - prev.cpuSeconds) / ((t - pt) / 1000)) * 100) : undefined;
    const points = this.series.get(u.name) ?? [];
    points.push({ t, cpu, memoryBytes: u.memoryBytes, memoryLimitBytes: u.memoryLimitBytes });
    if (points.length > this.keep) points.shift();
    this.series.set(u.name, points);
    this.last.set(u.name, u);
  }

  /** Drops every instance not in `names` (deleted, or no longer running). */
  retain(names: Set<string>): void {
    for (const n of [...this.series.keys()]) {
      if (!names.has(n)) {
        this.series.delete(n);
        this.last.delete(n);
      }
    }
  }

  points(name: string): UsagePoint[] {
    return this.series.get(name) ?? [];
  }

  latest(name: string): UsagePoint | undefined {
    return this.series.get(name)?.at(-1);
  }
}
