/**
 * Real containers: rootfs persistence, complete cleanup on delete and on failed creates,
 * isolation between two driver roots, workloads outliving the driver (and a daemon killed
 * with -9), and logs (rotation, follow, terminal output).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync as readdirSyncFs, readFileSync, renameSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isTandemError } from '../../src/base/errors.js';
import { sleep, waitFor } from '../../src/base/time.js';
import type { DriverSpec } from '../../src/core/driver.js';
import { collect } from '../../src/drivers/conformance.js';
import { busyboxSpec, prepareBusyboxRootfs } from '../../src/drivers/container/busybox-fixture.js';
import { ContainerDriver, removeDriverHostState } from '../../src/drivers/container/container-driver.js';
import { instancePaths } from '../../src/drivers/container/container-paths.js';
import { processStartTime } from '../../src/drivers/container/container-state.js';

const read = async (it: AsyncIterable<Buffer>) => {
  let s = '';
  for await (const c of it) s += c.toString();
  return s;
};

/** Whether any process on the host still has a mount at `path` (mounts live in monitors' namespaces). */
async function mountedAnywhere(path: string): Promise<boolean> {
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const info = await readFile(`/proc/${pid}/mountinfo`, 'utf8').catch(() => '');
    if (info.includes(` ${path} `)) return true;
  }
  return false;
}

describe('container lifecycle on the host', { timeout: 180_000 }, () => {
  let layer = '';
  const roots: string[] = [];
  let driver: ContainerDriver;
  const newRoot = async () => {
    const r = await mkdtemp(join(tmpdir(), 'tandem-ctr-life-'));
    roots.push(r);
    return r;
  };
  const spec = (id: string, args: string[], over: Partial<DriverSpec> = {}) =>
    busyboxSpec(id, args, layer, over);
  const sh = async (d: ContainerDriver, id: string, script: string) => {
    const s = await d.exec(id, { args: ['sh', '-c', script], env: [], tty: false, stdin: false });
    return (await collect(s)).stdout;
  };
  const cgroupDirs = (d: ContainerDriver, id: string) =>
    ['memory', 'cpu', 'pids', 'freezer', 'devices', 'cpuset', 'systemd', 'unified'].filter((h) =>
      existsSync(join('/sys/fs/cgroup', h, d.paths.cgroupParent, id)),
    );

  before(async () => {
    execFileSync(join(import.meta.dirname, '../../helpers/monitor/build.sh'), { stdio: 'inherit' });
    layer = await mkdtemp(join(tmpdir(), 'tandem-ctr-layer-'));
    await prepareBusyboxRootfs(layer);
    driver = new ContainerDriver({ root: await newRoot() });
  });
  after(async () => {
    for (const root of roots) {
      const d = new ContainerDriver({ root });
      for (const id of await d.list()) await d.delete(id, { force: true }).catch(() => {});
      await d.close();
      await removeDriverHostState(root);
      await rm(root, { recursive: true, force: true });
    }
    await driver.close();
    await rm(layer, { recursive: true, force: true });
  });

  it('keeps rootfs changes across stop and start', async () => {
    await driver.create(spec('keep', ['sleep', '1000']));
    await driver.start('keep');
    await sh(driver, 'keep', 'echo kept > /root/file');
    await driver.stop('keep', { timeoutMs: 2000 });
    await driver.start('keep');
    assert.equal(await sh(driver, 'keep', 'cat /root/file'), 'kept\n');
    assert.ok(!existsSync(join(layer, 'root/file')), 'the image layer is untouched');
    assert.ok(
      existsSync(join(instancePaths(driver.paths, 'keep').upper, 'root/file')),
      'the change is in the upper dir',
    );
  });

  it('delete leaves no mount, cgroup, bundle, crun state or monitor', async () => {
    await driver.create(spec('gone', ['sleep', '1000']));
    await driver.start('gone');
    const p = instancePaths(driver.paths, 'gone');
    const monitorPid = Number((await readFile(p.monitor, 'utf8')).split(' ')[0]);
    assert.ok(await mountedAnywhere(p.rootfs), 'the overlay is mounted in the monitor namespace');
    assert.doesNotMatch(
      await readFile('/proc/self/mountinfo', 'utf8'),
      new RegExp(p.rootfs),
      'not in the host namespace',
    );
    assert.ok(cgroupDirs(driver, 'gone').length > 0);
    await driver.delete('gone', { force: true });
    assert.equal((await driver.state('gone')).status, 'missing');
    assert.ok(!existsSync(p.dir), 'no instance directory');
    assert.deepEqual(cgroupDirs(driver, 'gone'), [], 'no cgroup in any hierarchy');
    assert.ok(!existsSync(join(driver.paths.crunRoot, 'gone')), 'no crun state');
    assert.equal(
      await processStartTime(monitorPid),
      undefined,
      'no monitor process (a zombie awaits init at most)',
    );
    assert.ok(!(await mountedAnywhere(p.rootfs)), 'no overlay mount anywhere');
  });

  it('a create that fails midway leaves nothing', async () => {
    const cases: [string, Partial<DriverSpec>, string][] = [
      [
        'f1',
        { process: { args: ['no-such-command'], env: [], cwd: '/', user: '', terminal: false } },
        'invalid_argument',
      ],
      [
        'f2',
        { process: { args: ['sh'], env: [], cwd: '/', user: 'nosuchuser', terminal: false } },
        'invalid_argument',
      ],
      ['f3', { limits: { memoryBytes: 1024 } }, 'invalid_argument'],
      ['f4', { ports: [{ hostPort: 8080, port: 80, protocol: 'tcp' }] }, 'invalid_argument'],
      [
        'f5',
        { image: { ...busyboxSpec('x', [], layer).image, layers: ['/nonexistent-layer'] } },
        'invalid_argument',
      ],
    ];
    for (const [id, over, kind] of cases) {
      await assert.rejects(
        driver.create(spec(id, ['sh', '-c', 'true'], over)),
        (e) => isTandemError(e, kind as never),
        id,
      );
    }
    await assert.rejects(driver.create(spec('f6', ['true']), AbortSignal.abort()));
    for (const id of ['f1', 'f2', 'f3', 'f4', 'f5', 'f6']) {
      assert.ok(!existsSync(instancePaths(driver.paths, id).dir), `${id}: no instance directory`);
      assert.deepEqual(cgroupDirs(driver, id), [], `${id}: no cgroup`);
      assert.ok(!(await driver.list()).includes(id));
    }
  });

  it('two driver roots never see or touch each other', async () => {
    const other = new ContainerDriver({ root: await newRoot() });
    try {
      assert.notEqual(other.paths.cgroupParent, driver.paths.cgroupParent);
      await driver.create(spec('twin', ['sleep', '1000']));
      await other.create(spec('twin', ['sleep', '1000']));
      await driver.start('twin');
      await other.start('twin');
      const a = await driver.state('twin');
      const b = await other.state('twin');
      assert.notEqual(a.pid, b.pid);
      await other.create(spec('solo', ['true']));
      assert.ok(!(await driver.list()).includes('solo'));
      assert.equal((await driver.state('solo')).status, 'missing');
      await driver.delete('twin', { force: true });
      assert.equal((await other.state('twin')).status, 'running', 'the other root keeps its container');
      assert.equal((await other.state('twin')).pid, b.pid);
    } finally {
      await other.close();
    }
  });

  it('workloads outlive a dropped driver; an exit meanwhile is recorded with its logs', async () => {
    const root = await newRoot();
    const first = new ContainerDriver({ root });
    await first.create(spec('lives', ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 0.1; done']));
    await first.create(spec('ends', ['sh', '-c', 'echo before; sleep 1; echo while-down; exit 7']));
    await first.start('lives');
    await first.start('ends');
    const pid = (await first.state('lives')).pid;
    await first.close();
    await sleep(1800);
    const second = new ContainerDriver({ root });
    try {
      assert.deepEqual((await second.list()).sort(), ['ends', 'lives']);
      const lives = await second.state('lives');
      assert.equal(lives.status, 'running');
      assert.equal(lives.pid, pid);
      const ends = await second.state('ends');
      assert.equal(ends.status, 'stopped');
      assert.equal(ends.exitCode, 7);
      assert.equal(await read(second.logs('ends', {})), 'before\nwhile-down\n');
      await second.stop('lives', { timeoutMs: 5000 });
      assert.equal((await second.state('lives')).exitCode, 0);
    } finally {
      await second.close();
    }
  });

  it('containers survive their daemon being killed with -9', async () => {
    const root = await newRoot();
    const script = `
      import { ContainerDriver } from './src/drivers/container/container-driver.js';
      import { busyboxSpec } from './src/drivers/container/busybox-fixture.js';
      const d = new ContainerDriver({ root: ${JSON.stringify(root)} });
      for (const [id, args] of [['k1', ['sleep', '1000']], ['k2', ['sh', '-c', 'sleep 1; echo late; exit 9']]]) {
        await d.create(busyboxSpec(id, args, ${JSON.stringify(layer)}));
        await d.start(id);
      }
      console.log('started');
      setInterval(() => {}, 1000);
    `;
    const daemon = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: join(import.meta.dirname, '../..'),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve, reject) => {
      daemon.stdout.on('data', (b: Buffer) => b.toString().includes('started') && resolve());
      daemon.on('exit', (code) => reject(new Error(`the daemon exited with ${code}`)));
    });
    daemon.kill('SIGKILL');
    await new Promise((r) => daemon.once('exit', r));
    const after = new ContainerDriver({ root });
    try {
      assert.equal((await after.state('k1')).status, 'running');
      const st = await waitFor(async () => {
        const s = await after.state('k2');
        return s.status === 'stopped' ? s : undefined;
      }, 10_000);
      assert.equal(st?.exitCode, 9);
      assert.equal(await read(after.logs('k2', {})), 'late\n');
      assert.equal(await sh(after, 'k1', 'echo manageable'), 'manageable\n');
    } finally {
      await after.close();
    }
  });

  it('logs rotate at the cap, tail, and follow until the workload ends', async () => {
    const d = new ContainerDriver({ root: await newRoot(), logMaxBytes: 4096 });
    try {
      const script = 'i=0; while [ $i -lt 1000 ]; do echo "line $i"; i=$((i+1)); done; sleep 0.5; echo last';
      await d.create(spec('chatty', ['sh', '-c', script]));
      await d.start('chatty');
      const followed = await read(d.logs('chatty', { follow: true }));
      assert.match(followed, /line 999\nlast\n$/);
      const p = instancePaths(d.paths, 'chatty');
      const { size } = await import('node:fs').then((fs) => fs.statSync(p.log));
      assert.ok(size <= 4096, `the live log holds ${size} bytes`);
      assert.ok(existsSync(`${p.log}.1`), 'a rotated log exists');
      const kept = await read(d.logs('chatty', {}));
      assert.ok(!kept.includes('line 0\n'), 'the oldest output was rotated away');
      assert.ok(kept.length <= 2 * 4096 && kept.endsWith('line 999\nlast\n'), `kept ${kept.length} bytes`);
      assert.ok(followed.endsWith(kept), 'following saw what is kept');
      assert.equal(await read(d.logs('chatty', { tail: 2 })), 'line 999\nlast\n');
    } finally {
      await d.close();
    }
  });

  it('logs the output of a container with a terminal', async () => {
    await driver.create(
      spec('term', ['sh', '-c', 'tty; echo done'], {
        process: { args: ['sh', '-c', 'tty; echo done'], env: [], cwd: '/', user: '', terminal: true },
      }),
    );
    await driver.start('term');
    await waitFor(async () => ((await driver.state('term')).status === 'stopped' ? true : undefined), 10_000);
    assert.match(await read(driver.logs('term', {})), /^\/dev\/pts\/0\r\ndone\r\n$/);
  });

  it('stops a paused container and kills with a chosen signal', async () => {
    await driver.create(spec('pz', ['sh', '-c', 'trap "exit 5" USR1; while true; do sleep 0.1; done']));
    await driver.start('pz');
    await driver.pause('pz');
    await driver.stop('pz', { timeoutMs: 3000 });
    assert.equal((await driver.state('pz')).status, 'stopped');
    await driver.start('pz');
    await sleep(200);
    await driver.kill('pz', 'SIGUSR1');
    const st = await waitFor(async () => {
      const s = await driver.state('pz');
      return s.status === 'stopped' ? s : undefined;
    }, 5000);
    assert.equal(st?.exitCode, 5);
  });

  it('a new driver removes what an interrupted delete left (and nothing of a live instance)', async () => {
    const root = await newRoot();
    const first = new ContainerDriver({ root });
    await first.create(spec('orphan', ['sleep', '1000']));
    await first.create(spec('kept', ['sleep', '1000']));
    await first.start('orphan');
    await first.start('kept');
    const p = instancePaths(first.paths, 'orphan');
    const monitorPid = Number(readFileSync(p.monitor, 'utf8').split(' ')[0]);
    await first.close();
    // a delete interrupted after the instance directory went to the trash
    renameSync(p.dir, join(first.paths.trash, 'orphan-crashed'));
    const second = new ContainerDriver({ root });
    try {
      assert.deepEqual(await second.list(), ['kept']);
      assert.equal((await second.state('kept')).status, 'running');
      assert.ok(!existsSync(p.run), 'the run dir is gone');
      assert.deepEqual(cgroupDirs(second, 'orphan'), [], 'the cgroup is gone');
      assert.ok(!existsSync(join(second.paths.crunRoot, 'orphan')), 'the crun state is gone');
      assert.ok(await waitFor(() => (processStartTime(monitorPid) === undefined ? true : undefined), 5000));
    } finally {
      await second.close();
    }
    assert.deepEqual(readdirSyncFs(second.paths.trash), [], 'the trash is emptied');
  });

  it('records the exit even when crun itself was killed', async () => {
    await driver.create(
      spec('nocrun', ['sh', '-c', 'trap "exit 4" TERM; echo up; while true; do sleep 0.1; done']),
    );
    await driver.start('nocrun');
    const p = instancePaths(driver.paths, 'nocrun');
    const monitorPid = readFileSync(p.monitor, 'utf8').split(' ')[0];
    const crunPid = Number(
      readFileSync(`/proc/${monitorPid}/task/${monitorPid}/children`, 'utf8').trim().split(' ')[0],
    );
    assert.match(readFileSync(`/proc/${crunPid}/cmdline`, 'utf8'), /crun/);
    process.kill(crunPid, 'SIGKILL');
    await sleep(300);
    assert.equal((await driver.state('nocrun')).status, 'running', 'the container outlives crun');
    await driver.stop('nocrun', { timeoutMs: 5000 });
    const st = await driver.state('nocrun');
    assert.equal(st.status, 'stopped');
    assert.equal(st.exitCode, 4, "the workload's own status, not crun's");
    await driver.start('nocrun'); // crun's leftover state does not block a new start
    assert.equal((await driver.state('nocrun')).status, 'running');
  });
});
