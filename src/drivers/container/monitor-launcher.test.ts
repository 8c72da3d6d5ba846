/**
 * The monitor launcher against the real helper (build/helpers/tandem-monitor, built by `make
 * build`), with a shell script in crun's place: like crun, it writes its pid to the monitor's
 * FIFO once "the container runs". No root, mounts or crun needed.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { MonitorLauncher } from './monitor-launcher.js';

const MONITOR = fileURLToPath(new URL('../../../build/helpers/tandem-monitor', import.meta.url));

describe('monitor launcher (real helper, a script as crun)', () => {
  let dir: string;
  let n = 0;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tandem-launcher-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** `run` arguments for a fake crun running `script` (which may use $FIFO). */
  function runArgs(script: string): { args: string[]; run: string } {
    const run = join(dir, `r${++n}`);
    mkdirSync(run);
    const fake = `FIFO=${run}/pid.fifo; ${script}`;
    return {
      run,
      args: ['--dir', run, '--run-id', `id${n}`, '--log', join(run, 'log'), '--', '/bin/sh', '-c', fake],
    };
  }

  /** Runs `fn` with a new launcher, closed afterwards. */
  async function withLauncher(fn: (l: MonitorLauncher) => Promise<void>): Promise<void> {
    const l = new MonitorLauncher(MONITOR);
    try {
      await fn(l);
    } finally {
      await l.close();
    }
  }

  async function exitRecord(run: string): Promise<{ exitCode: number; pid: number }> {
    for (let i = 0; i < 200; i++) {
      try {
        return JSON.parse(readFileSync(join(run, 'exit'), 'utf8'));
      } catch {
        await new Promise((r) => setTimeout(r, 25));
      }
    }
    throw new Error(`no exit record in ${run}`);
  }

  test('concurrent launches each resolve with their own pid; the monitors record the exits', () =>
    withLauncher(async (l) => {
      const runs = [1, 2, 3].map((i) => runArgs(`echo $$ > $FIFO; echo out${i}; exit ${i}`));
      const pids = await Promise.all(runs.map((r, i) => l.launch(r.args, `instance "c${i}"`)));
      assert.equal(new Set(pids).size, 3);
      for (const [i, r] of runs.entries()) {
        const rec = await exitRecord(r.run);
        assert.equal(rec.pid, pids[i]);
        assert.equal(rec.exitCode, i + 1);
        assert.equal(readFileSync(join(r.run, 'log'), 'utf8'), `out${i + 1}\n`);
      }
    }));

  test('with primeCgroup, each request writes "0" to that file (the cgroup lock priming)', async () => {
    const l = new MonitorLauncher(MONITOR);
    const file = join(dir, 'prime-procs');
    l.primeCgroup = file;
    try {
      const r = runArgs('echo $$ > $FIFO');
      assert.ok((await l.launch(r.args, 'instance "p"')) > 0);
      for (let i = 0; i < 100 && !existsSync(file); i++) await new Promise((res) => setTimeout(res, 20));
      // O_WRONLY without O_CREAT: the launcher writes only a file that exists (cgroup.procs does)
      assert.equal(existsSync(file), false, 'the launcher never creates the file');
    } finally {
      await l.close();
    }
    const l2 = new MonitorLauncher(MONITOR);
    l2.primeCgroup = file;
    try {
      writeFileSync(file, '');
      const r = runArgs('echo $$ > $FIFO');
      assert.ok((await l2.launch(r.args, 'instance "p2"')) > 0);
      for (let i = 0; i < 100 && readFileSync(file, 'utf8') === ''; i++)
        await new Promise((res) => setTimeout(res, 20));
      assert.equal(readFileSync(file, 'utf8'), '0');
      assert.match(readFileSync(`/proc/${l2.pid}/cmdline`, 'utf8'), /--prime-cgroup\0/);
    } finally {
      await l2.close();
    }
  });

  test('a start that fails says why (the last lines crun wrote) and the next one works', () =>
    withLauncher(async (l) => {
      const bad = runArgs('echo first >&2; echo "no such image" >&2; exit 3');
      await assert.rejects(l.launch(bad.args, 'instance "bad"'), (err: Error) => {
        assert.match(err.message, /^starting instance "bad": crun exited with status 3: .*no such image/);
        assert.doesNotMatch(err.message, /\x1e|\n/);
        return true;
      });
      const good = runArgs('echo $$ > $FIFO');
      assert.ok((await l.launch(good.args, 'instance "good"')) > 0);
    }));

  test('a usage error of the helper rejects with its message, not a hang', () =>
    withLauncher(async (l) => {
      await assert.rejects(
        l.launch(['--no-such-option'], 'instance "u"'),
        /starting instance "u": the monitor ended with status 125/,
      );
      const good = runArgs('echo $$ > $FIFO');
      assert.ok((await l.launch(good.args, 'instance "good"')) > 0);
    }));

  test('a launcher that dies fails the starts in flight, and the next start gets a new one', () =>
    withLauncher(async (l) => {
      const slow = runArgs('sleep 2; echo $$ > $FIFO');
      const inFlight = l.launch(slow.args, 'instance "slow"');
      const first = l.pid;
      assert.ok(first);
      // once its monitor runs (its first act is the monitor file), the launcher dies
      for (let i = 0; i < 400 && !existsSync(join(slow.run, 'monitor')); i++)
        await new Promise((r) => setTimeout(r, 10));
      assert.ok(existsSync(join(slow.run, 'monitor')), 'the monitor started');
      const monitor = readFileSync(join(slow.run, 'monitor'), 'utf8').split(' ')[0];
      const title = readFileSync(`/proc/${monitor}/cmdline`, 'utf8').replace(/\0+$/, '');
      assert.equal(title, `tandem-monitor run ${slow.run}`, 'ps shows which run a monitor is for');
      process.kill(first, 'SIGKILL');
      await assert.rejects(inFlight, /starting instance "slow": the monitor launcher ended \(SIGKILL\)/);
      const good = runArgs('echo $$ > $FIFO');
      assert.ok((await l.launch(good.args, 'instance "good"')) > 0);
      assert.ok(l.pid && l.pid !== first);
      // the monitor outlived its launcher: it still runs its container to the end
      assert.equal((await exitRecord(slow.run)).exitCode, 0);
    }));

  test('an aborted start rejects at once; close() ends the launcher', async () => {
    const l = new MonitorLauncher(MONITOR);
    const ac = new AbortController();
    const slow = runArgs('sleep 0.5; echo $$ > $FIFO');
    const p = l.launch(slow.args, 'instance "a"', ac.signal);
    ac.abort(new Error('cancelled'));
    await assert.rejects(p, /cancelled/);
    const pid = l.pid!;
    await l.close();
    assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' });
    await assert.rejects(l.launch(runArgs('true').args, 'instance "x"'), /the driver is closed/);
    assert.equal((await exitRecord(slow.run)).exitCode, 0); // started all the same, and ended
  });

  test('an idle launcher does not keep its process alive', () => {
    const { args } = runArgs('echo $$ > $FIFO');
    const script = `
      import { MonitorLauncher } from ${JSON.stringify(fileURLToPath(new URL('./monitor-launcher.ts', import.meta.url)))};
      const l = new MonitorLauncher(${JSON.stringify(MONITOR)});
      console.log(await l.launch(${JSON.stringify(args)}, 'instance "i"'));`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    assert.equal(r.signal, null, 'the process had to be killed: the launcher kept it alive');
    assert.equal(r.status, 0, r.stderr);
    assert.ok(Number(r.stdout) > 0);
  });
});
