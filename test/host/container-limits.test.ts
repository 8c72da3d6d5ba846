/**
 * Real containers: limits in the cgroup files and live update, OOM kill, pause of a busy loop,
 * stats, and exec with a terminal.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sleep, waitFor } from '../../src/base/time.js';
import type { RuntimeEvent } from '../../src/core/driver.js';
import { collect } from '../../src/drivers/conformance.js';
import { busyboxSpec, prepareBusyboxRootfs } from '../../src/drivers/container/busybox-fixture.js';
import { ContainerDriver, removeDriverHostState } from '../../src/drivers/container/container-driver.js';

const MiB = 1024 * 1024;

describe('container limits, OOM, pause, exec -t', { timeout: 120_000 }, () => {
  let layer = '';
  let root = '';
  let driver: ContainerDriver;
  const events: RuntimeEvent[] = [];
  const ids: string[] = [];
  const cg = (controller: string, id: string, file: string) =>
    join('/sys/fs/cgroup', controller, driver.paths.cgroupParent, id, file);
  const readCg = async (controller: string, id: string, file: string) =>
    (await readFile(cg(controller, id, file), 'utf8')).trim();
  const launch = async (id: string, args: string[], over = {}) => {
    ids.push(id);
    await driver.create(busyboxSpec(id, args, layer, over));
    await driver.start(id);
  };

  before(async () => {
    execFileSync(join(import.meta.dirname, '../../helpers/monitor/build.sh'), { stdio: 'inherit' });
    layer = await mkdtemp(join(tmpdir(), 'tandem-ctr-layer-'));
    await prepareBusyboxRootfs(layer);
    root = await mkdtemp(join(tmpdir(), 'tandem-ctr-limits-'));
    driver = new ContainerDriver({ root });
    driver.onEvent((e) => events.push(e));
  });
  after(async () => {
    for (const id of ids) await driver.delete(id, { force: true }).catch(() => {});
    await driver.close();
    await removeDriverHostState(root);
    await rm(root, { recursive: true, force: true });
    await rm(layer, { recursive: true, force: true });
  });

  it('writes cpu, memory and pids limits to the cgroup and updates them live', async () => {
    await launch('lim', ['sleep', '1000'], { limits: { memoryBytes: 64 * MiB, pids: 32, cpus: 0.5 } });
    assert.equal((await driver.state('lim')).status, 'running');
    assert.equal(await readCg('memory', 'lim', 'memory.limit_in_bytes'), String(64 * MiB));
    assert.equal(await readCg('pids', 'lim', 'pids.max'), '32');
    assert.equal(await readCg('cpu', 'lim', 'cpu.cfs_quota_us'), '50000');
    assert.equal(await readCg('cpu', 'lim', 'cpu.cfs_period_us'), '100000');
    const pid = (await driver.state('lim')).pid!;
    const procCgroup = await readFile(`/proc/${pid}/cgroup`, 'utf8');
    assert.match(
      procCgroup,
      new RegExp(`memory:/${driver.paths.cgroupParent}/lim/ctr\\n`),
      'the workload is below the limits',
    );
    await driver.update('lim', { memoryBytes: 32 * MiB, pids: 32, cpus: 0.5 });
    assert.equal(await readCg('memory', 'lim', 'memory.limit_in_bytes'), String(32 * MiB));
    assert.equal((await driver.state('lim')).status, 'running');
    const usage = await waitFor(async () => {
      const u = await driver.stats('lim');
      return (u.pids ?? 0) >= 2 ? u : undefined;
    }, 3000);
    assert.ok(usage, 'stats count catatonit and sleep');
    assert.equal(usage.memoryLimitBytes, 32 * MiB);
    assert.ok(usage.memoryBytes > 0);
  });

  it('enforces the pids limit', async () => {
    await launch('pids', ['sleep', '1000'], { limits: { pids: 8 } });
    const s = await driver.exec('pids', {
      args: [
        'sh',
        '-c',
        'for i in 1 2 3 4 5 6 7 8 9 10; do sleep 30 & done; sleep 0.2; cat /sys/fs/cgroup/pids/pids.current 2>/dev/null; true',
      ],
      env: [],
      tty: false,
      stdin: false,
    });
    const out = await collect(s);
    assert.match(out.stderr, /can't fork|Resource temporarily unavailable/);
    assert.ok(Number(await readCg('pids', 'pids', 'pids.current')) <= 8);
  });

  it('records an OOM kill: stopped, reason oom-killed, an oom-killed event', async () => {
    await launch('oom', ['sh', '-c', 'echo hog; a=$(yes | head -c 100000000); echo survived'], {
      limits: { memoryBytes: 16 * MiB },
    });
    const st = await waitFor(async () => {
      const s = await driver.state('oom');
      return s.status === 'stopped' ? s : undefined;
    }, 20_000);
    assert.ok(st, 'the hog is stopped');
    assert.equal(st.reason, 'oom-killed');
    assert.equal(st.exitCode, 137);
    const kinds = await waitFor(() => {
      const k = events.filter((e) => e.id === 'oom').map((e) => e.kind);
      return k.includes('exited') ? k : undefined;
    }, 3000);
    assert.deepEqual(kinds, ['started', 'oom-killed', 'exited']);
    assert.equal(events.find((e) => e.id === 'oom' && e.kind === 'exited')?.reason, 'oom-killed');
  });

  it('pauses a busy loop: FROZEN, cpu time stands still; resumes: it advances', async () => {
    await launch('busy', ['sh', '-c', 'while :; do :; done']);
    const cpu = async () => Number(await readCg('cpuacct', 'busy', 'cpuacct.usage'));
    await sleep(300);
    await driver.pause('busy');
    assert.equal(await readCg('freezer', 'busy', 'freezer.state'), 'FROZEN');
    assert.equal((await driver.state('busy')).status, 'paused');
    const t0 = await cpu();
    await sleep(1000);
    assert.equal(await cpu(), t0, 'no cpu time while frozen');
    await driver.resume('busy');
    assert.equal(await readCg('freezer', 'busy', 'freezer.state'), 'THAWED');
    await sleep(500);
    assert.ok((await cpu()) > t0 + 50e6, 'cpu time advances after resume');
    const usage = await driver.stats('busy');
    assert.ok(usage.cpuSeconds > 0.1, `cpuSeconds ${usage.cpuSeconds}`);
    await driver.stop('busy', { timeoutMs: 2000 });
    assert.equal((await driver.state('busy')).exitCode, 143, 'sh dies of SIGTERM');
  });

  it('exec -t gets a terminal of the requested size, resizes, and takes input', async () => {
    await launch('tty', ['sleep', '1000']);
    // the size lands as the command starts (crun applies it from its parent, racing the exec:
    // docs/container-driver.md), so it is read a moment later
    const s = await driver.exec('tty', {
      args: ['sh', '-c', 'tty; sleep 0.3; stty size'],
      env: [],
      tty: true,
      stdin: false,
      cols: 100,
      rows: 40,
    });
    const out = await collect(s);
    assert.equal(await s.exit, 0);
    assert.match(out.stdout, /^\/dev\/pts\/\d+\r\n40 100\r\n$/);
    assert.equal(out.stderr, '');

    const r = await driver.exec('tty', {
      args: ['sh', '-c', 'read line; echo "got $line"; stty size; exit 4'],
      env: [],
      tty: true,
      stdin: true,
      cols: 80,
      rows: 24,
    });
    const out2 = collect(r);
    r.resize(132, 50);
    await sleep(200);
    r.stdin?.write('hello\n');
    assert.equal(await r.exit, 4);
    const text = (await out2).stdout;
    assert.match(text, /got hello\r\n50 132\r\n/);
  });

  it('exec forwards signals and reports 128+N', async () => {
    await launch('sig', ['sleep', '1000']);
    const s = await driver.exec('sig', { args: ['sleep', '100'], env: [], tty: false, stdin: false });
    await sleep(300);
    s.signal('SIGTERM');
    assert.equal(await s.exit, 143);
  });
});
