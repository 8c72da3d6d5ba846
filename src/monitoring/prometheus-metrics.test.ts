import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { InstanceSample, MetricsSource, NodeSample } from '../core/monitoring.js';
import { CachedValue } from './cached-value.js';
import { type Family, parsePrometheusText } from './prom-text-parse.js';
import { createPrometheusMetrics } from './prometheus-metrics.js';

function fakeSource(instances: InstanceSample[]) {
  let reads = 0;
  const nodes: NodeSample[] = [
    {
      name: 'local',
      capacity: { cpus: 2, memoryBytes: 8 << 30, diskBytes: 100 << 30, instances: 250 },
      allocated: { cpus: 0.5, memoryBytes: 64 << 20, diskBytes: 0, instances: instances.length },
    },
  ];
  const source: MetricsSource = {
    instances: async () => {
      reads++;
      return structuredClone(instances);
    },
    nodes: async () => nodes,
    operations: () => ({ inFlight: 2, failed: 3 }),
    eventSubscribers: () => 4,
  };
  return { source, reads: () => reads, instances };
}

const usage = { time: new Date().toISOString(), cpuSeconds: 12.5, memoryBytes: 33554432, pids: 3 };

function value(
  f: Map<string, Family>,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const fam = f.get(name);
  const s = fam?.samples.find((x) => Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  return s?.value;
}

describe('Prometheus metrics', () => {
  it('exposes instances, nodes and daemon series, each family with HELP and TYPE', async () => {
    const { source } = fakeSource([
      { name: 'web', type: 'container', node: 'local', status: 'running', usage },
      { name: 'idle', type: 'vm', node: 'local', status: 'stopped' },
    ]);
    const m = createPrometheusMetrics(source);
    m.observeRequest({ method: 'GET', route: '/v1/instances', status: 200, seconds: 0.004 });
    const { text, contentType } = await m.expose();
    assert.match(contentType, /^text\/plain; version=0\.0\.4/);
    const f = parsePrometheusText(text);
    for (const fam of f.values()) {
      assert.ok(fam.help, `${fam.name} has HELP`);
      assert.ok(fam.type, `${fam.name} has TYPE`);
    }
    const web = { name: 'web', type: 'container', node: 'local' };
    assert.equal(value(f, 'tandem_instance_cpu_seconds_total', web), 12.5);
    assert.equal(f.get('tandem_instance_cpu_seconds_total')!.type, 'counter');
    assert.equal(value(f, 'tandem_instance_memory_bytes', web), 33554432);
    assert.equal(value(f, 'tandem_instance_pids', web), 3);
    assert.equal(value(f, 'tandem_instance_memory_limit_bytes', web), undefined, 'no limit, no series');
    assert.equal(value(f, 'tandem_instance_cpu_seconds_total', { name: 'idle' }), undefined);
    assert.equal(value(f, 'tandem_instance_status', { name: 'idle', status: 'stopped' }), 1);
    assert.equal(value(f, 'tandem_instance_status', { name: 'idle', status: 'running' }), 0);
    assert.equal(value(f, 'tandem_node_capacity_cpus', { node: 'local' }), 2);
    assert.equal(value(f, 'tandem_node_allocated_memory_bytes', { node: 'local' }), 64 << 20);
    assert.equal(value(f, 'tandem_operations_in_flight'), 2);
    assert.equal(value(f, 'tandem_operations_failed_total'), 3);
    assert.equal(value(f, 'tandem_event_subscribers'), 4);
    const lat = { route: '/v1/instances', method: 'GET', status: '200' };
    assert.equal(value(f, 'tandem_api_request_duration_seconds', { ...lat, le: '0.005' }), 1);
    assert.equal(value(f, 'tandem_api_request_duration_seconds', { ...lat, le: '0.0025' }), 0);
    assert.ok(f.has('process_cpu_user_seconds_total'), 'the daemon process series are there');
  });

  it('reads the source at most once per cache period, whatever the scrape rate', async () => {
    const src = fakeSource([{ name: 'a', type: 'container', node: 'local', status: 'running', usage }]);
    const m = createPrometheusMetrics(src.source, { cacheMs: 200, processMetrics: false });
    await Promise.all(Array.from({ length: 20 }, () => m.expose()));
    for (let i = 0; i < 10; i++) await m.expose();
    assert.equal(src.reads(), 1);
    src.instances.length = 0; // the instance is deleted
    await new Promise((r) => setTimeout(r, 250));
    const f = parsePrometheusText((await m.expose()).text);
    assert.equal(src.reads(), 2);
    assert.equal(value(f, 'tandem_metrics_collections_total'), 2);
    assert.equal(f.get('tandem_instance_cpu_seconds_total')!.samples.length, 0, 'deleted: series gone');
  });
});

describe('CachedValue', () => {
  it('shares a running load, keeps no failure, expires by age', async () => {
    let t = 0;
    let n = 0;
    let fail = true;
    const c = new CachedValue(
      async () => {
        n++;
        if (fail) throw new Error('boom');
        return n;
      },
      100,
      () => t,
    );
    await assert.rejects(Promise.all([c.get(), c.get()]), /boom/);
    assert.equal(n, 1, 'one shared load');
    fail = false;
    assert.equal(await c.get(), 2, 'a failure is not cached');
    t = 99;
    assert.equal(await c.get(), 2);
    t = 100;
    assert.equal(await c.get(), 3);
    assert.equal(c.loadCount, 3);
  });
});
