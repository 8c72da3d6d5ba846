/**
 * The monitoring contract between the daemon and a metrics implementation (issue 8). The daemon
 * supplies a `MetricsSource` (instances with their drivers' usage, nodes, operation and event
 * counters) and reports each finished API request; the implementation turns both into an
 * exposition (Prometheus text today). Collection from the source is the expensive part (one
 * driver `stats` per running instance), so an implementation caches it briefly: scrape cost
 * must not grow with scrape frequency.
 */
import type { ResourceUsage } from './driver.js';
import type { InstanceStatus, InstanceType } from './instance.js';
import type { NodeCapacity } from './scheduling.js';

/** One instance as monitoring sees it; `usage` only while the workload runs (or is paused). */
export interface InstanceSample {
  name: string;
  type: InstanceType;
  node: string;
  status: InstanceStatus;
  usage?: ResourceUsage;
}

/** A node's capacity and what instances on it request. */
export interface NodeSample {
  name: string;
  capacity: NodeCapacity;
  allocated: NodeCapacity;
}

/** What the daemon exposes to monitoring; every call reads the current state. */
export interface MetricsSource {
  /** Every instance; usage is read from its driver (a failed read leaves `usage` absent). */
  instances(): Promise<InstanceSample[]>;
  nodes(): Promise<NodeSample[]>;
  operations(): { inFlight: number; failed: number };
  eventSubscribers(): number;
}

/** One finished API request, labelled by its route pattern (never the raw URL). */
export interface RequestObservation {
  method: string;
  /** The route pattern, e.g. `/v1/instances/:name`; `unmatched` when no route matched. */
  route: string;
  status: number;
  seconds: number;
}

export interface Exposition {
  contentType: string;
  text: string;
}

export interface Metrics {
  /** Records a finished API request; cheap, called on every response. */
  observeRequest(r: RequestObservation): void;
  /** The current exposition; source data younger than the cache age is reused, never re-read. */
  expose(): Promise<Exposition>;
}

/** Builds the metrics of one daemon over its source (picked in daemon/compose.ts). */
export type MetricsFactory = (source: MetricsSource) => Metrics;
