/**
 * Real containers: attach (the foreground `run`): stdin to the workload and its EOF, stdout and
 * stderr apart, replay of the run's output so far, a terminal with resize, signals, and the
 * workload's exit status; a workload created for a foreground run (`attach`) keeps its output
 * and status for a client that comes after it ended, and its monitor goes once served, at the
 * linger's end, or when the instance is started again or deleted.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isTandemError } from '../../src/base/errors.js';
import { sleep } from '../../src/base/time.js';
import { collect } from '../../src/drivers/conformance.js';
import { busyboxSpec, prepareBusyboxRootfs } from '../../src/drivers/container/busybox-fixture.js';
import { ContainerDriver, removeDriverHostState } from '../../src/drivers/container/container-driver.js';

describe('container attach', { timeout: 120_000 }, () => {
  let layer = '';
  let root = '';
  let driver: ContainerDriver;
  const exited = new Map<string, () => void>();
  const whenExited = (id: string) => new Promise<void>((r) => exited.set(id, r));
  /** The monitor's pid, from its file (pid starttime run-id). */
  const monitorPid = (id: string) =>
    Number(readFileSync(join(driver.paths.runRoot, id, 'monitor'), 'utf8').split(' ')[0]);
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
    } catch {
      return false;
    }
  };
  const launch = async (
    id: string,
    args: string[],
    opts: { stdin?: boolean; terminal?: boolean; attach?: boolean } = {},
  ) => {
    const spec = busyboxSpec(id, args, layer);
    spec.process = {
      ...spec.process,
      stdin: opts.stdin,
      terminal: opts.terminal ?? false,
      attach: opts.attach,
    };
    await driver.create(spec);
    await driver.start(id);
  };

  before(async () => {
    execFileSync(join(import.meta.dirname, '../../helpers/monitor/build.sh'), { stdio: 'inherit' });
    layer = await mkdtemp(join(tmpdir(), 'tandem-ctr-layer-'));
    await prepareBusyboxRootfs(layer);
    root = await mkdtemp(join(tmpdir(), 'tandem-ctr-attach-'));
    driver = new ContainerDriver({ root, attachLingerMs: 1500 });
    driver.onEvent((e) => {
      if (e.kind === 'exited') exited.get(e.id)?.();
    });
  });
  after(async () => {
    for (const id of await driver.list()) await driver.delete(id, { force: true }).catch(() => {});
    await driver.close();
    await removeDriverHostState(root);
    await rm(root, { recursive: true, force: true });
    await rm(layer, { recursive: true, force: true });
  });

  it('passes stdin with its EOF, keeps stdout and stderr apart, and ends with the status', async () => {
    await launch('io', ['sh', '-c', 'read x; echo "got $x"; cat; echo err >&2; exit 3'], { stdin: true });
    const s = await driver.attach('io', { replay: true });
    const out = collect(s);
    s.stdin?.write('hello\n');
    s.stdin?.end('rest\n');
    assert.equal(await s.exit, 3);
    assert.deepEqual(await out, { stdout: 'got hello\nrest\n', stderr: 'err\n' });
    assert.equal((await driver.state('io')).exitCode, 3);
  });

  it('replays the output so far only when asked', async () => {
    await launch('rp', ['sh', '-c', 'echo early; sleep 0.6; echo late']);
    await sleep(300);
    const replayed = await driver.attach('rp', { replay: true });
    const live = await driver.attach('rp');
    assert.equal(live.stdin, null, 'no stdin unless the spec keeps it open');
    const [a, b] = await Promise.all([collect(replayed), collect(live)]);
    assert.equal(a.stdout, 'early\nlate\n');
    assert.equal(b.stdout, 'late\n');
    assert.equal(await replayed.exit, 0);
  });

  it('drives a terminal: input, resize, output', async () => {
    await launch('tt', ['sh', '-c', 'read x; stty size; echo "got $x"'], { stdin: true, terminal: true });
    const s = await driver.attach('tt', { replay: true });
    const out = collect(s);
    s.resize(100, 30);
    await sleep(100);
    s.stdin?.write('hi\n');
    assert.equal(await s.exit, 0);
    assert.match((await out).stdout, /30 100\r\ngot hi\r\n/);
  });

  it('forwards signals, and refuses a workload that does not run', async () => {
    await launch('sg', ['sh', '-c', 'trap "echo bye; exit 9" TERM; while true; do sleep 0.1; done']);
    const s = await driver.attach('sg');
    const out = collect(s);
    await sleep(200);
    s.signal('SIGTERM');
    assert.equal(await s.exit, 9);
    assert.equal((await out).stdout, 'bye\n');
    await assert.rejects(driver.attach('sg'), (e) => isTandemError(e, 'conflict'));
  });

  it('attach: a client that comes after the workload ended gets its output, streams apart, and its status', async () => {
    const done = whenExited('late');
    await launch('late', ['sh', '-c', 'echo out; echo err >&2; exit 5'], { attach: true });
    await done;
    const mon = monitorPid('late');
    assert.ok(alive(mon), 'the monitor waits for the late client');
    const s = await driver.attach('late', { replay: true });
    assert.deepEqual(await collect(s), { stdout: 'out\n', stderr: 'err\n' });
    assert.equal(await s.exit, 5);
    for (let i = 0; i < 100 && alive(mon); i++) await sleep(10);
    assert.ok(!alive(mon), 'the monitor is gone once the client was served');
    await driver.delete('late', {});
  });

  it('attach: unserved, the monitor goes at the linger end, when started again, or deleted', async () => {
    let done = whenExited('lg');
    await launch('lg', ['sh', '-c', 'echo one'], { attach: true });
    await done;
    const first = monitorPid('lg');
    await sleep(2500); // past the 1.5 s linger
    assert.ok(!alive(first), 'gone at the end of the linger');
    done = whenExited('lg');
    await driver.start('lg');
    await done;
    const second = monitorPid('lg');
    assert.ok(alive(second));
    done = whenExited('lg');
    await driver.start('lg'); // ends the lingering monitor first: its overlay is in the way
    await done;
    assert.ok(!alive(second), 'a new start ended the lingering monitor');
    const third = monitorPid('lg');
    assert.ok(third !== second && alive(third));
    await driver.delete('lg', {});
    assert.ok(!alive(third), 'delete ended the lingering monitor');
    await assert.rejects(driver.attach('nope', { replay: true }));
  });
});
