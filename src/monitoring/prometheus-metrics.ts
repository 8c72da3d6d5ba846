/**
 * The Prometheus implementation of core/monitoring.ts (prom-client). Two parts:
 * - the snapshot: instances and nodes read from the source (one driver `stats` per running
 *   instance), rendered once per collection and reused for `cacheMs` (default 1 s), so a
 *   scraper polling ten times a second costs the drivers no more than one polling once a second;
 * - the live registry: the API latency histogram (fed on every response), operation and event
 *   subscriber counters (read from memory at each scrape), collection bookkeeping, and the
 *   standard `process_*`/`nodejs_*` series of the daemon process.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Exposition, Metrics, MetricsSource, RequestObservation } from '../core/monitoring.js';
import { CachedValue } from './cached-value.js';
import { renderSnapshot } from './snapshot-families.js';

export interface PrometheusOptions {
  /** How long one collection of the source is reused; default 1000 ms. */
  cacheMs?: number;
  /** Include the daemon process's own series (CPU, memory, event loop); default true. */
  processMetrics?: boolean;
}

/** Latency buckets in seconds: a cgroup read answers in under a millisecond, an image build in minutes. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Builds the metrics of one daemon over `source`. */
export function createPrometheusMetrics(source: MetricsSource, opts: PrometheusOptions = {}): Metrics {
  return new PrometheusMetrics(source, opts);
}

class PrometheusMetrics implements Metrics {
  private readonly live = new Registry();
  private readonly snapshot: CachedValue<string>;
  private readonly requests: Histogram<'method' | 'route' | 'status'>;
  private lastCollectionSeconds = 0;

  constructor(
    private readonly source: MetricsSource,
    opts: PrometheusOptions,
  ) {
    this.snapshot = new CachedValue(() => this.collect(), opts.cacheMs ?? 1000);
    this.requests = new Histogram({
      name: 'tandem_api_request_duration_seconds',
      help: 'API request latency by method, route pattern and HTTP status (streams excluded).',
      labelNames: ['method', 'route', 'status'],
      buckets: LATENCY_BUCKETS,
      registers: [this.live],
    });
    this.addDaemonFamilies();
    if (opts.processMetrics !== false) collectDefaultMetrics({ register: this.live });
  }

  observeRequest(r: RequestObservation): void {
    this.requests.observe({ method: r.method, route: r.route, status: String(r.status) }, r.seconds);
  }

  async expose(): Promise<Exposition> {
    const snapshot = await this.snapshot.get();
    const live = await this.live.metrics();
    return { contentType: this.live.contentType, text: `${snapshot}\n${live}` };
  }

  private async collect(): Promise<string> {
    const t0 = performance.now();
    const [instances, nodes] = await Promise.all([this.source.instances(), this.source.nodes()]);
    const text = await renderSnapshot(instances, nodes);
    this.lastCollectionSeconds = (performance.now() - t0) / 1000;
    return text;
  }

  private addDaemonFamilies(): void {
    const { source, live } = this;
    const snapshot = this.snapshot;
    const self = this;
    new Gauge({
      name: 'tandem_operations_in_flight',
      help: 'Operations (creates, state changes, deletes, image imports and builds) running now.',
      registers: [live],
      collect() {
        this.set(source.operations().inFlight);
      },
    });
    settableCounter(
      live,
      'tandem_operations_failed_total',
      'Operations that ended in failure.',
      () => source.operations().failed,
    );
    new Gauge({
      name: 'tandem_event_subscribers',
      help: 'Clients following the event stream.',
      registers: [live],
      collect() {
        this.set(source.eventSubscribers());
      },
    });
    settableCounter(
      live,
      'tandem_metrics_collections_total',
      'Collections of instance and node data (at most one per cache period, whatever the scrape rate).',
      () => snapshot.loadCount,
    );
    new Gauge({
      name: 'tandem_metrics_collection_duration_seconds',
      help: 'Time the last collection of instance and node data took.',
      registers: [live],
      collect() {
        this.set(self.lastCollectionSeconds);
      },
    });
  }
}

/** A counter whose value is read from a cumulative figure at each scrape. */
function settableCounter(registry: Registry, name: string, help: string, read: () => number): void {
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}
