/**
 * GET /metrics on a real daemon process (fake drivers): the token on TCP, a strict parse of the
 * exposition with HELP and TYPE for every family and Prometheus naming, per-instance series
 * labelled {name, type, node}, node and daemon series, the latency histogram labelled by route
 * pattern, and the collection cache (scrape rate does not drive collections).
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { type Family, parsePrometheusText } from '../../src/monitoring/prom-text-parse.js';
import { TestDaemon, waitOp } from '../helpers/daemon.js';

function scrape(d: TestDaemon, where: 'socket' | 'tcp' = 'socket', token?: string) {
  return new Promise<{ status: number; type: string; text: string }>((resolve, reject) => {
    const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
    const target = where === 'socket' ? { socketPath: d.socket } : { host: '127.0.0.1', port: d.port };
    const req = request({ ...target, path: '/metrics', headers }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), text }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

async function families(d: TestDaemon): Promise<Map<string, Family>> {
  const r = await scrape(d);
  assert.equal(r.status, 200);
  return parsePrometheusText(r.text);
}

function value(f: Map<string, Family>, name: string, labels: Record<string, string> = {}) {
  return f
    .get(name)
    ?.samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    ?.value;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('GET /metrics', () => {
  const d = new TestDaemon({ tcp: true });
  before(async () => {
    await d.start();
    for (const [name, type] of [
      ['m-web', 'container'],
      ['m-vm', 'vm'],
      ['m-idle', 'container'],
    ]) {
      const r = await d.api('POST', '/v1/instances', {
        name,
        image: 'busybox',
        type,
        start: name !== 'm-idle',
        command: ['sh', '-c', 'sleep 1000'],
        limits: { memory: '64MiB', cpus: 0.5 },
      });
      assert.equal((await waitOp(d, r.body)).status, 'success');
    }
    await waitOp(d, (await d.api('PUT', '/v1/instances/m-vm/state', { action: 'pause' })).body);
    await sleep(1100); // past the collection cache
  });
  after(() => d.cleanup());

  it('needs the token on TCP, like every endpoint', async () => {
    assert.equal((await scrape(d, 'tcp')).status, 401);
    assert.equal((await scrape(d, 'tcp', 'wrong-token-0123456789abcdef')).status, 401);
    const ok = await scrape(d, 'tcp', d.token);
    assert.equal(ok.status, 200);
    assert.match(ok.type, /^text\/plain; version=0\.0\.4/);
  });

  it('parses strictly; every family has HELP and TYPE and follows Prometheus naming', async () => {
    const f = await families(d);
    assert.ok(f.size > 20, `${f.size} families`);
    for (const fam of f.values()) {
      assert.ok(fam.help, `${fam.name}: HELP`);
      assert.ok(fam.type && fam.type !== 'untyped', `${fam.name}: TYPE`);
      if (!fam.name.startsWith('tandem_')) continue;
      if (fam.type === 'counter') assert.match(fam.name, /_total$/, `${fam.name}: counters end in _total`);
      else assert.doesNotMatch(fam.name, /_total$/, `${fam.name}: only counters end in _total`);
      assert.doesNotMatch(fam.name, /_(ms|milliseconds|kb|mb|mib|percent)(_|$)/, `${fam.name}: base units`);
    }
  });

  it('has per-instance series labelled {name, type, node} and the status of each', async () => {
    const f = await families(d);
    const web = { name: 'm-web', type: 'container', node: 'local' };
    assert.ok(value(f, 'tandem_instance_cpu_seconds_total', web)! > 0);
    assert.equal(value(f, 'tandem_instance_memory_bytes', web), 1 << 20, 'the fake driver reports 1 MiB');
    assert.equal(value(f, 'tandem_instance_memory_limit_bytes', web), 64 << 20);
    assert.equal(value(f, 'tandem_instance_pids', web), 1);
    const vm = { name: 'm-vm', type: 'vm', node: 'local' };
    assert.ok(value(f, 'tandem_instance_cpu_seconds_total', vm)! > 0, 'a paused instance keeps its usage');
    assert.equal(value(f, 'tandem_instance_status', { ...vm, status: 'paused' }), 1);
    assert.equal(value(f, 'tandem_instance_status', { ...vm, status: 'running' }), 0);
    assert.equal(value(f, 'tandem_instance_status', { name: 'm-idle', status: 'created' }), 1);
    assert.equal(value(f, 'tandem_instance_cpu_seconds_total', { name: 'm-idle' }), undefined);
    const statuses = f.get('tandem_instance_status')!.samples.filter((s) => s.labels.name === 'm-web');
    assert.equal(statuses.length, 7, 'one series per status');
    assert.deepEqual(Object.keys(statuses[0]!.labels).sort(), ['name', 'node', 'status', 'type']);
  });

  it('has node capacity and allocation', async () => {
    const f = await families(d);
    const nodes = (await d.api('GET', '/v1/nodes')).body;
    const n = nodes[0];
    assert.equal(value(f, 'tandem_node_capacity_cpus', { node: n.name }), n.capacity.cpus);
    assert.equal(value(f, 'tandem_node_capacity_memory_bytes', { node: n.name }), n.capacity.memoryBytes);
    assert.equal(value(f, 'tandem_node_allocated_cpus', { node: n.name }), 1.5);
    assert.equal(value(f, 'tandem_node_allocated_memory_bytes', { node: n.name }), 3 * (64 << 20));
    assert.equal(value(f, 'tandem_node_allocated_instances', { node: n.name }), 3);
  });

  it('has daemon series: latency by route pattern, operations, event subscribers', async () => {
    await d.api('GET', '/v1/instances/m-web');
    await d.api('GET', '/v1/instances/nope');
    const bad = await d.api('PUT', '/v1/instances/m-idle/state', { action: 'pause' });
    assert.equal(bad.status, 409);
    const ac = new AbortController();
    const sse = await fetch(`http://127.0.0.1:${d.port}/v1/events`, {
      headers: { authorization: `Bearer ${d.token}` },
      signal: ac.signal,
    });
    assert.equal(sse.status, 200);
    try {
      const f = await families(d);
      const lat = 'tandem_api_request_duration_seconds';
      const count = (labels: Record<string, string>) =>
        f
          .get(lat)!
          .samples.find(
            (s) => s.name === `${lat}_count` && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
          )?.value;
      assert.ok(count({ method: 'GET', route: '/v1/instances/:name', status: '200' })! >= 1);
      assert.ok(count({ method: 'GET', route: '/v1/instances/:name', status: '404' })! >= 1);
      assert.ok(count({ method: 'PUT', route: '/v1/instances/:name/state', status: '409' })! >= 1);
      assert.ok(count({ method: 'POST', route: '/v1/instances', status: '202' })! >= 3);
      assert.ok(
        !f.get(lat)!.samples.some((s) => /m-web|nope/.test(s.labels.route ?? '')),
        'routes are patterns, never raw names',
      );
      assert.equal(value(f, 'tandem_event_subscribers'), 1);
      assert.equal(value(f, 'tandem_operations_in_flight'), 0);
      assert.equal(value(f, 'tandem_operations_failed_total'), 0);
      assert.ok(f.has('process_resident_memory_bytes'));
    } finally {
      ac.abort();
    }
  });

  it('collects at most once per second, whatever the scrape rate', async () => {
    await sleep(1100);
    const collections = async () => value(await families(d), 'tandem_metrics_collections_total')!;
    const first = await collections();
    const t0 = Date.now();
    await Promise.all(Array.from({ length: 20 }, () => scrape(d)));
    const burst = await collections();
    if (Date.now() - t0 < 900) assert.equal(burst, first, 'a burst of scrapes reuses one collection');
    await sleep(1100);
    const f = await families(d);
    assert.equal(value(f, 'tandem_metrics_collections_total'), burst + 1);
    const routes = f.get('tandem_api_request_duration_seconds')!.samples.map((s) => s.labels.route);
    assert.ok(
      !routes.includes('/v1/events'),
      'streams (an ended event stream) stay out of the latency histogram',
    );
    assert.ok(routes.includes('/metrics'));
  });

  it('keeps a scrape cheap with many instances (figures in the diagnostics)', async (t) => {
    const N = 50;
    const ops = await Promise.all(
      Array.from({ length: N }, (_, i) =>
        d.api('POST', '/v1/instances', {
          name: `m-many-${i}`,
          image: 'busybox',
          start: true,
          command: ['sh', '-c', 'sleep 1000'],
        }),
      ),
    );
    for (const r of ops) assert.equal((await waitOp(d, r.body)).status, 'success');
    await sleep(1100);
    const t0 = performance.now();
    const fresh = await scrape(d);
    const freshMs = performance.now() - t0;
    const t1 = performance.now();
    await scrape(d);
    const cachedMs = performance.now() - t1;
    const f = parsePrometheusText(fresh.text);
    const series = f.get('tandem_instance_cpu_seconds_total')!.samples.length;
    assert.equal(series, N + 2);
    const collect = value(f, 'tandem_metrics_collection_duration_seconds')!;
    t.diagnostic(
      `${series} running instances: fresh scrape ${freshMs.toFixed(1)} ms (collection ${(collect * 1000).toFixed(1)} ms), cached scrape ${cachedMs.toFixed(1)} ms, ${fresh.text.length} bytes`,
    );
    assert.ok(collect < 1, 'collection takes under a second');
  });
});
