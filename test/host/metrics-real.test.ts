/**
 * Stats and /metrics against real containers (issue 8 acceptance): a busy loop shows CPU near one
 * core and a 32 MiB tmpfs file shows in memory, in `tandem stats --json`, in the `stats` table
 * and in /metrics, each agreeing with the container's own cgroup files (cpuacct.usage and
 * memory.usage_in_bytes) within 10%. Figures go to the test diagnostics.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { type Family, parsePrometheusText } from '../../src/monitoring/prom-text-parse.js';
import { TestDaemon } from '../helpers/daemon.js';

const MiB = 1 << 20;
const BUSY = 'dd if=/dev/zero of=/dev/shm/x bs=1M count=32 2>/dev/null; while :; do :; done';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The cgroup v1 directory of `pid` for `controller` (as /proc/PID/cgroup names it). */
function cgroupDir(pid: number, controller: string): string {
  const line = readFileSync(`/proc/${pid}/cgroup`, 'utf8')
    .split('\n')
    .find((l) => l.split(':')[1]?.split(',').includes(controller));
  assert.ok(line, `pid ${pid} has a ${controller} cgroup`);
  return `/sys/fs/cgroup/${controller}${line.split(':')[2]}`;
}

const readNumber = (file: string) => Number(readFileSync(file, 'utf8').trim());
const within = (got: number, want: number, tol = 0.1) => Math.abs(got - want) <= tol * want;

describe('stats and /metrics on real containers', () => {
  const d = new TestDaemon({ drivers: 'real', tcp: true });
  let cpuacct = '';
  let memory = '';
  const ok = (args: string[]) => d.ok(args);
  const cgCpu = () => ({ s: readNumber(`${cpuacct}/cpuacct.usage`) / 1e9, t: performance.now() / 1000 });
  const scrape = () =>
    new Promise<Map<string, Family>>((resolve, reject) => {
      const headers = { authorization: `Bearer ${d.token}` };
      const req = request({ host: '127.0.0.1', port: d.port, path: '/metrics', headers }, (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => (res.statusCode === 200 ? resolve(parsePrometheusText(text)) : reject(text)));
      });
      req.on('error', reject);
      req.end();
    });
  const series = (f: Map<string, Family>, name: string) =>
    f.get(name)?.samples.find((s) => s.labels.name === 'mx-busy')?.value;

  before(async () => {
    await d.start();
    await ok(['image', 'build', 'busybox', '--from', 'busybox']);
    await ok(['launch', 'busybox', 'mx-busy', '--', 'sh', '-c', BUSY]);
    const pid = JSON.parse(await ok(['info', 'mx-busy', '--json'])).pid as number;
    cpuacct = cgroupDir(pid, 'cpuacct');
    memory = cgroupDir(pid, 'memory');
    const end = Date.now() + 10_000;
    while (readNumber(`${memory}/memory.usage_in_bytes`) < 32 * MiB && Date.now() < end) await sleep(100);
  });
  after(async () => {
    const all = JSON.parse((await d.cli(['ls', '--json'])).stdout || '[]') as { name: string }[];
    if (all.length) await d.cli(['rm', '-f', ...all.map((i) => i.name)]);
    await d.cleanup();
  });

  it('stats --json: CPU near one core and 32 MiB, as the cgroup says', async (t) => {
    const json = async () => JSON.parse(await ok(['stats', 'mx-busy', '--json']));
    const c0 = cgCpu();
    const s0 = await json();
    await sleep(3000);
    const c1 = cgCpu();
    const s1 = await json();
    const memCg = readNumber(`${memory}/memory.usage_in_bytes`);
    const cgRate = (c1.s - c0.s) / (c1.t - c0.t);
    const rate = (s1.cpuSeconds - s0.cpuSeconds) / ((Date.parse(s1.time) - Date.parse(s0.time)) / 1000);
    t.diagnostic(`cpu: stats ${rate.toFixed(3)} cores, cgroup ${cgRate.toFixed(3)} cores`);
    t.diagnostic(
      `memory: stats ${(s1.memoryBytes / MiB).toFixed(2)} MiB, cgroup ${(memCg / MiB).toFixed(2)} MiB`,
    );
    assert.ok(cgRate > 0.5, `the busy loop runs (${cgRate.toFixed(2)} cores by the cgroup)`);
    assert.ok(within(rate, cgRate), `stats ${rate} vs cgroup ${cgRate}`);
    assert.ok(s1.memoryBytes >= 32 * MiB, `${s1.memoryBytes} bytes include the 32 MiB file`);
    assert.ok(within(s1.memoryBytes, memCg), `stats ${s1.memoryBytes} vs cgroup ${memCg}`);
  });

  it('the stats table shows CPU % over its interval and the memory', async (t) => {
    const c0 = cgCpu();
    const out = await ok(['stats', '--no-stream', '--interval', '2']);
    const c1 = cgCpu();
    const cgPct = ((c1.s - c0.s) / (c1.t - c0.t)) * 100;
    const [header, row] = out.trim().split('\n');
    assert.match(header!, /^NAME\s+CPU %\s+MEM USAGE \/ LIMIT/);
    const m = /^mx-busy\s+([\d.]+)%\s+([\d.]+)MiB \/ -/.exec(row ?? '');
    assert.ok(m, `a row with CPU % and memory: ${row}`);
    t.diagnostic(`table: ${m[1]}% and ${m[2]} MiB; cgroup over the command's life ${cgPct.toFixed(1)}%`);
    assert.ok(within(Number(m[1]), cgPct, 0.15), `table ${m[1]}% vs cgroup ${cgPct.toFixed(1)}%`);
    assert.ok(Number(m[2]) >= 32);
  });

  it('/metrics: CPU and memory series agree with the cgroup', async (t) => {
    await sleep(1100); // a fresh collection, not the cached one
    const f0 = await scrape();
    const c0 = cgCpu();
    await sleep(3000);
    const f1 = await scrape();
    const c1 = cgCpu();
    const memCg = readNumber(`${memory}/memory.usage_in_bytes`);
    const cpu0 = series(f0, 'tandem_instance_cpu_seconds_total')!;
    const cpu1 = series(f1, 'tandem_instance_cpu_seconds_total')!;
    const rate = (cpu1 - cpu0) / (c1.t - c0.t);
    const cgRate = (c1.s - c0.s) / (c1.t - c0.t);
    const mem = series(f1, 'tandem_instance_memory_bytes')!;
    t.diagnostic(`cpu: /metrics ${rate.toFixed(3)} cores, cgroup ${cgRate.toFixed(3)} cores`);
    t.diagnostic(`memory: /metrics ${(mem / MiB).toFixed(2)} MiB, cgroup ${(memCg / MiB).toFixed(2)} MiB`);
    assert.ok(within(rate, cgRate), `/metrics ${rate} vs cgroup ${cgRate}`);
    assert.ok(mem >= 32 * MiB && within(mem, memCg), `/metrics ${mem} vs cgroup ${memCg}`);
    assert.ok(
      within(cpu1, readNumber(`${cpuacct}/cpuacct.usage`) / 1e9, 0.1),
      'the counter is the cgroup total',
    );
    const labels = f1.get('tandem_instance_memory_bytes')!.samples.find((s) => s.labels.name === 'mx-busy')!;
    assert.deepEqual(labels.labels, { name: 'mx-busy', type: 'container', node: 'local' });
    assert.ok(series(f1, 'tandem_instance_pids')! >= 2);
    assert.equal(series(f1, 'tandem_instance_memory_limit_bytes'), undefined, 'no limit set');
  });

  it('scrape cost with several real containers (figures in the diagnostics)', async (t) => {
    const names = Array.from({ length: 5 }, (_, i) => `mx-idle-${i}`);
    await Promise.all(
      names.map((n) => ok(['launch', 'busybox', n, '--memory', '32MiB', '--', 'sleep', '1000'])),
    );
    await sleep(1100);
    const t0 = performance.now();
    const f = await scrape();
    const fresh = performance.now() - t0;
    const t1 = performance.now();
    await scrape();
    const cached = performance.now() - t1;
    const collect = f.get('tandem_metrics_collection_duration_seconds')!.samples[0]!.value * 1000;
    const running = f.get('tandem_instance_cpu_seconds_total')!.samples.length;
    t.diagnostic(
      `${running} running containers: fresh scrape ${fresh.toFixed(1)} ms (collection ${collect.toFixed(1)} ms), cached ${cached.toFixed(1)} ms`,
    );
    assert.equal(running, 6);
    const limit = f
      .get('tandem_instance_memory_limit_bytes')!
      .samples.find((s) => s.labels.name === names[0]);
    assert.equal(limit?.value, 32 * MiB);
  });
});
