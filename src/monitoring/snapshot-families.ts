/**
 * The metric families built from one collection of the source: per-instance usage and status,
 * labelled `{name, type, node}`, and per-node capacity and allocation, labelled `{node}`. Each
 * collection fills a fresh prom-client registry and renders it once, so an instance that was
 * deleted disappears and every scrape until the next collection reuses the same text.
 * Counters come from the backend's cumulative figures (cgroup, QEMU); they are set, not summed.
 */
import { Counter, Gauge, Registry } from 'prom-client';
import type { ResourceUsage } from '../core/driver.js';
import { INSTANCE_STATUSES } from '../core/instance.js';
import type { InstanceSample, NodeSample } from '../core/monitoring.js';
import type { NodeCapacity } from '../core/scheduling.js';

const INSTANCE_LABELS = ['name', 'type', 'node'] as const;
type InstanceLabel = (typeof INSTANCE_LABELS)[number];

interface UsageFamily {
  name: string;
  help: string;
  kind: 'counter' | 'gauge';
  value: (u: ResourceUsage) => number | undefined;
}

/** Per-instance usage families; a value the driver does not report leaves no series. */
const USAGE: UsageFamily[] = [
  {
    name: 'tandem_instance_cpu_seconds_total',
    help: 'CPU time used by the instance (container: its cgroup; vm, sandbox: the QEMU process).',
    kind: 'counter',
    value: (u) => u.cpuSeconds,
  },
  {
    name: 'tandem_instance_memory_bytes',
    help: 'Memory in use (container: cgroup usage less inactive file cache; vm, sandbox: QEMU resident memory).',
    kind: 'gauge',
    value: (u) => u.memoryBytes,
  },
  {
    name: 'tandem_instance_memory_peak_bytes',
    help: 'Highest memory use seen by the backend.',
    kind: 'gauge',
    value: (u) => u.memoryPeakBytes,
  },
  {
    name: 'tandem_instance_memory_limit_bytes',
    help: 'Memory limit of the instance (absent when unlimited).',
    kind: 'gauge',
    value: (u) => u.memoryLimitBytes,
  },
  {
    name: 'tandem_instance_pids',
    help: 'Processes in the instance (containers: its pids cgroup).',
    kind: 'gauge',
    value: (u) => u.pids,
  },
  {
    name: 'tandem_instance_block_read_bytes_total',
    help: 'Bytes read from block devices.',
    kind: 'counter',
    value: (u) => u.blockReadBytes,
  },
  {
    name: 'tandem_instance_block_write_bytes_total',
    help: 'Bytes written to block devices.',
    kind: 'counter',
    value: (u) => u.blockWriteBytes,
  },
  {
    name: 'tandem_instance_network_receive_bytes_total',
    help: 'Bytes received on the instance network interfaces (loopback excluded).',
    kind: 'counter',
    value: (u) => u.netRxBytes,
  },
  {
    name: 'tandem_instance_network_transmit_bytes_total',
    help: 'Bytes sent on the instance network interfaces (loopback excluded).',
    kind: 'counter',
    value: (u) => u.netTxBytes,
  },
];

const NODE_FIELDS: { key: keyof NodeCapacity; suffix: string; what: string }[] = [
  { key: 'cpus', suffix: 'cpus', what: 'CPUs' },
  { key: 'memoryBytes', suffix: 'memory_bytes', what: 'memory in bytes' },
  { key: 'diskBytes', suffix: 'disk_bytes', what: 'disk in bytes' },
  { key: 'instances', suffix: 'instances', what: 'instances' },
];

/** Renders the Prometheus text of one collection. */
export async function renderSnapshot(instances: InstanceSample[], nodes: NodeSample[]): Promise<string> {
  const registry = new Registry();
  addInstanceUsage(registry, instances);
  addInstanceStatus(registry, instances);
  addNodes(registry, nodes);
  return registry.metrics();
}

function addInstanceUsage(registry: Registry, instances: InstanceSample[]): void {
  for (const f of USAGE) {
    const opts = { name: f.name, help: f.help, labelNames: INSTANCE_LABELS, registers: [registry] };
    const metric = f.kind === 'counter' ? new Counter<InstanceLabel>(opts) : new Gauge<InstanceLabel>(opts);
    for (const i of instances) {
      const v = i.usage ? f.value(i.usage) : undefined;
      if (v === undefined || !Number.isFinite(v)) continue;
      const labels = { name: i.name, type: i.type, node: i.node };
      if (metric instanceof Counter) metric.inc(labels, Math.max(0, v));
      else metric.set(labels, v);
    }
  }
}

function addInstanceStatus(registry: Registry, instances: InstanceSample[]): void {
  const status = new Gauge({
    name: 'tandem_instance_status',
    help: 'Lifecycle status of the instance: 1 for its current status, 0 for the others.',
    labelNames: [...INSTANCE_LABELS, 'status'],
    registers: [registry],
  });
  for (const i of instances) {
    for (const s of INSTANCE_STATUSES) {
      status.set({ name: i.name, type: i.type, node: i.node, status: s }, i.status === s ? 1 : 0);
    }
  }
}

function addNodes(registry: Registry, nodes: NodeSample[]): void {
  for (const f of NODE_FIELDS) {
    for (const side of ['capacity', 'allocated'] as const) {
      const g = new Gauge({
        name: `tandem_node_${side}_${f.suffix}`,
        help:
          side === 'capacity'
            ? `Node capacity: ${f.what} (before overcommit).`
            : `Allocated on the node: ${f.what} requested by its instances.`,
        labelNames: ['node'],
        registers: [registry],
      });
      for (const n of nodes) g.set({ node: n.name }, n[side][f.key]);
    }
  }
}
