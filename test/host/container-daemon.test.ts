/**
 * Real containers through the daemon and CLI (issue 3 acceptance at the daemon level): limits
 * and live update in the cgroup, OOM kill recorded with its reason and event, the foreground
 * run (output, exit status, Ctrl-C reaching the workload), kill -9 of the daemon with five
 * containers running (and one exiting while it is down), restart policies, and two daemons that
 * never see each other's containers.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CHANNEL, decodeStreamFrames } from '../../src/api/exec-frames.js';
import { isTandemError } from '../../src/base/errors.js';
import { Client } from '../../src/client/client.js';
import { driverPaths } from '../../src/drivers/container/container-paths.js';
import { BIN, TestDaemon } from '../helpers/daemon.js';

const SLEEP = ['--', 'sh', '-c', 'echo started; sleep 1000'];

/** The cgroup v1 directory of the instance whose workload is `pid` (its init sits in a child `ctr`). */
function cgroupDir(pid: number, controller: string): string {
  const line = readFileSync(`/proc/${pid}/cgroup`, 'utf8')
    .split('\n')
    .find((l) => l.split(':')[1]?.split(',').includes(controller));
  assert.ok(line, `pid ${pid} has a ${controller} cgroup`);
  return dirname(`/sys/fs/cgroup/${controller}${line.split(':')[2]}`);
}

async function until<T>(fn: () => Promise<T | undefined>, ms: number): Promise<T | undefined> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = await fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  return undefined;
}

describe('containers through the daemon (real crun)', () => {
  const d = new TestDaemon({ drivers: 'real' });
  const others: TestDaemon[] = [];
  const ok = (args: string[], daemon = d) => daemon.ok(args);
  const info = async (name: string, daemon = d) => JSON.parse(await ok(['info', name, '--json'], daemon));

  before(async () => {
    await d.start();
    await ok(['image', 'build', 'busybox', '--from', 'busybox']);
  });
  after(async () => {
    for (const o of others) await o.cleanup();
    await d.cleanup();
  });

  it('limits land in the cgroup and update changes them live', async () => {
    await ok([
      'launch',
      'busybox',
      'limited',
      '--memory',
      '64MiB',
      '--pids',
      '32',
      '--cpus',
      '0.5',
      ...SLEEP,
    ]);
    const i = await info('limited');
    assert.equal(i.status, 'running');
    const mem = cgroupDir(i.pid, 'memory');
    assert.equal(readFileSync(`${mem}/memory.limit_in_bytes`, 'utf8').trim(), String(64 * 1024 * 1024));
    assert.equal(readFileSync(`${cgroupDir(i.pid, 'pids')}/pids.max`, 'utf8').trim(), '32');
    const cpu = cgroupDir(i.pid, 'cpu');
    const quota = Number(readFileSync(`${cpu}/cpu.cfs_quota_us`, 'utf8'));
    const period = Number(readFileSync(`${cpu}/cpu.cfs_period_us`, 'utf8'));
    assert.equal(quota / period, 0.5);
    await ok(['update', 'limited', '--memory', '32MiB']);
    assert.equal(readFileSync(`${mem}/memory.limit_in_bytes`, 'utf8').trim(), String(32 * 1024 * 1024));
    assert.equal((await info('limited')).limits.memoryBytes, 32 * 1024 * 1024);
    await ok(['rm', '-f', 'limited']);
  });

  it('a memory hog is OOM-killed: stopped with the reason, an oom-killed event, the daemon unaffected', async () => {
    const events = spawn(process.execPath, [BIN, 'events', '--json'], {
      env: d.env,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let seen = '';
    events.stdout.on('data', (b: Buffer) => (seen += b));
    await new Promise((r) => setTimeout(r, 500));
    await ok([
      'launch',
      'busybox',
      'hog',
      '--memory',
      '16MiB',
      '--',
      'sh',
      '-c',
      'a=$(yes | head -c 100000000); echo survived',
    ]);
    const stopped = await until(async () => {
      const i = await info('hog');
      return i.status === 'stopped' ? i : undefined;
    }, 20_000);
    events.kill();
    assert.ok(stopped, 'the hog stopped');
    assert.match(stopped.statusReason, /oom/i);
    assert.equal(stopped.exitCode, 137);
    assert.ok(
      seen.split('\n').some((l) => l.includes('"oom-killed"') && l.includes('"hog"')),
      'an oom-killed event for hog',
    );
    assert.equal((await d.cli(['ls'])).code, 0, 'the daemon still answers');
    await ok(['rm', 'hog']);
  });

  it('run in the foreground: output, exit status, --rm, and Ctrl-C reaching the workload', async () => {
    const r = await d.cli(['run', '--rm', 'busybox', '--', 'sh', '-c', 'echo out; exit 3']);
    assert.equal(r.code, 3, r.stderr);
    assert.equal(r.stdout, 'out\n');
    assert.deepEqual(JSON.parse(await ok(['ls', '--json'])), []);
    const fg = spawn(
      process.execPath,
      [
        BIN,
        'run',
        '--rm',
        'busybox',
        'fg',
        '--',
        'sh',
        '-c',
        'trap "echo got-int; exit 42" INT; echo ready; while true; do sleep 0.1; done',
      ],
      {
        env: d.env,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    fg.stdout.on('data', (b: Buffer) => (out += b));
    await until(async () => (out.includes('ready') ? true : undefined), 15_000);
    fg.kill('SIGINT');
    const code = await new Promise<number | null>((r) => fg.once('exit', r));
    assert.equal(code, 42);
    assert.match(out, /got-int/);
  });

  it('a short foreground run keeps stdout and stderr apart and leaves no monitor behind', async () => {
    for (let i = 0; i < 3; i++) {
      const r = await d.cli(['run', '--rm', 'busybox', '--', 'sh', '-c', 'echo out; echo err >&2; exit 5']);
      assert.equal(r.code, 5, r.stderr);
      assert.equal(r.stdout, 'out\n');
      assert.equal(r.stderr, 'err\n');
    }
    assert.deepEqual(JSON.parse(await ok(['ls', '--json'])), []);
    const runRoot = driverPaths(join(d.dir, 'containers')).runRoot;
    const monitors = readdirSync('/proc')
      .filter((p) => /^\d+$/.test(p))
      .filter((p) => {
        try {
          return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(`${runRoot}/`);
        } catch {
          return false;
        }
      });
    assert.deepEqual(monitors, [], 'no monitor of this daemon is left');
  });

  it('attaching with replay to a workload that ended gives its log and status in frames; without replay, conflict', async () => {
    await ok(['launch', 'busybox', 'ended', '--', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
    assert.ok(
      await until(async () => ((await info('ended')).status === 'stopped' ? true : undefined), 10_000),
    );
    const client = new Client({ socket: d.socket });
    const res = await client.attachStream('ended', true);
    assert.equal(res.statusCode, 200);
    const parts: Buffer[] = [];
    for await (const c of res) parts.push(c as Buffer);
    const { frames, rest } = decodeStreamFrames(Buffer.concat(parts));
    assert.equal(rest.length, 0);
    const out = frames.filter((f) => f.channel === CHANNEL.stdout).map((f) => f.payload.toString());
    assert.equal(out.join(''), 'out\nerr\n'); // the log holds both streams
    assert.deepEqual(JSON.parse(frames.at(-1)!.payload.toString()), { exit: 3, complete: true });
    assert.equal(frames.at(-1)!.channel, CHANNEL.control);
    await assert.rejects(client.attachStream('ended', false), (e: Error) => isTandemError(e, 'conflict'));
    await ok(['rm', 'ended']);
  });

  it('kill -9 of the daemon with five containers: all still run and are managed; an exit while down is recorded', async () => {
    const names = ['k1', 'k2', 'k3', 'k4', 'k5'];
    for (const n of names) await ok(['launch', 'busybox', n, ...SLEEP]);
    await ok(['launch', 'busybox', 'k-exits', '--', 'sh', '-c', 'sleep 2; echo written-while-down; exit 7']);
    const pids = new Map<string, number>();
    for (const n of names) pids.set(n, (await info(n)).pid);
    await d.stop('SIGKILL');
    await new Promise((r) => setTimeout(r, 3500));
    await d.start();
    for (const n of names) {
      const i = await info(n);
      assert.equal(i.status, 'running', `${n} runs after the restart`);
      assert.equal(i.pid, pids.get(n));
    }
    const exited = await info('k-exits');
    assert.equal(exited.status, 'stopped');
    assert.equal(exited.exitCode, 7);
    assert.match(await ok(['logs', 'k-exits']), /written-while-down/);
    assert.equal((await d.cli(['exec', 'k1', '--', 'sh', '-c', 'exit 9'])).code, 9);
    await ok(['pause', 'k2']);
    await ok(['resume', 'k2']);
    await ok(['stop', '--timeout', '2', 'k3']);
    await ok(['rm', '-f', ...names, 'k-exits']);
  });

  it('restart policies: on-failure restarts a failing workload', async () => {
    await ok([
      'launch',
      'busybox',
      'flaky',
      '--restart',
      'on-failure',
      '--',
      'sh',
      '-c',
      'sleep 0.5; exit 1',
    ]);
    const restarted = await until(async () => {
      const i = await info('flaky');
      return i.restartCount >= 2 ? i : undefined;
    }, 20_000);
    assert.ok(restarted, 'restarted at least twice');
    await ok(['rm', '-f', 'flaky']);
  });

  it('two daemons with separate state dirs never see each other\u2019s containers', async () => {
    const other = new TestDaemon({ drivers: 'real' });
    others.push(other);
    await other.start();
    await ok(['image', 'build', 'busybox', '--from', 'busybox'], other);
    await ok(['launch', 'busybox', 'mine', ...SLEEP]);
    await ok(['launch', 'busybox', 'theirs', ...SLEEP], other);
    assert.deepEqual(
      JSON.parse(await ok(['ls', '--json'])).map((i: { name: string }) => i.name),
      ['mine'],
    );
    assert.deepEqual(
      JSON.parse(await ok(['ls', '--json'], other)).map((i: { name: string }) => i.name),
      ['theirs'],
    );
    await d.stop('SIGKILL');
    await d.start();
    assert.equal(
      (await info('theirs', other)).status,
      'running',
      'a restart and reconcile of one daemon leaves the other alone',
    );
    await ok(['rm', '-f', 'mine']);
    assert.equal((await info('theirs', other)).status, 'running');
  });
});
