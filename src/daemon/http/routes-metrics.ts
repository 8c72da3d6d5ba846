/**
 * GET /metrics: the Prometheus exposition of ctx.metrics (guarded like every route: the token
 * or a session on TCP). `metricsSource` is what the daemon shows monitoring: every stored
 * instance with its driver's usage while it runs (read in parallel; a failed read only drops
 * that instance's usage), the nodes as placement sees them, and the operation and event counts.
 */
import type { EventBus } from '../../core/events.js';
import type { InstanceSample, MetricsSource, NodeSample } from '../../core/monitoring.js';
import type { DaemonContext } from '../context.js';
import type { InstanceService } from '../instance-service.js';
import type { Operations } from '../operations.js';
import type { App } from './app.js';

export function registerMetricsRoutes(app: App, ctx: DaemonContext): void {
  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
    const { contentType, text } = await ctx.metrics.expose();
    return reply.header('content-type', contentType).header('cache-control', 'no-store').send(text);
  });
}

/** The daemon's side of monitoring, read on each collection. */
export function metricsSource(parts: {
  svc: InstanceService;
  ops: Operations;
  events: EventBus;
  nodes: () => Promise<NodeSample[]>;
}): MetricsSource {
  return {
    instances: () => instanceSamples(parts.svc),
    nodes: parts.nodes,
    operations: () => parts.ops.counts,
    eventSubscribers: () => parts.events.subscriberCount,
  };
}

async function instanceSamples(svc: InstanceService): Promise<InstanceSample[]> {
  const all = await svc.deps.records.list();
  return Promise.all(
    all.map(async (i): Promise<InstanceSample> => {
      const sample: InstanceSample = { name: i.name, type: i.type, node: i.node, status: i.status };
      if (i.status !== 'running' && i.status !== 'paused') return sample;
      try {
        return { ...sample, usage: await svc.driverFor(i.type).stats(i.id) };
      } catch {
        return sample; // stopped meanwhile, or its driver is unavailable
      }
    }),
  );
}
