/** The full lifecycle through the real CLI against a real daemon on the fake driver (issue 2). */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TestDaemon } from '../helpers/daemon.js';

const FIELDS = [
  'name',
  'type',
  'status',
  'statusReason',
  'image',
  'node',
  'accel',
  'pid',
  'exitCode',
  'createdAt',
  'startedAt',
  'finishedAt',
  'limits',
  'addresses',
  'ports',
  'volumes',
  'security',
];

describe('lifecycle through the CLI (fake driver)', () => {
  const d = new TestDaemon();
  before(() => d.start());
  after(() => d.cleanup());

  const ok = async (args: string[], input?: string) => {
    const r = await d.cli(args, { input });
    assert.equal(r.code, 0, `tandem ${args.join(' ')} failed: ${r.stderr}`);
    return r.stdout;
  };
  const info = async (name: string) => JSON.parse(await ok(['info', name, '--json']));

  it('create, start, pause, resume, stop, restart, exec, logs, rm', async () => {
    await ok([
      'create',
      'busybox',
      'web',
      '--cpus',
      '0.5',
      '--memory',
      '64MiB',
      '--pids',
      '32',
      '-e',
      'GREETING=hi',
      '--',
      'sh',
      '-c',
      'echo "$GREETING from web"; sleep 1000',
    ]);
    assert.equal((await info('web')).status, 'created');
    await ok(['start', 'web']);
    const running = await info('web');
    assert.equal(running.status, 'running');
    assert.ok(running.pid > 0);
    await ok(['pause', 'web']);
    assert.equal((await info('web')).status, 'paused');
    await ok(['resume', 'web']);
    assert.equal((await info('web')).status, 'running');
    const exec = await d.cli(['exec', 'web', '--', 'sh', '-c', 'echo from exec; exit 7']);
    assert.equal(exec.code, 7);
    assert.equal(exec.stdout, 'from exec\n');
    const stdin = await d.cli(['exec', '-i', 'web', '--', 'cat'], { input: 'piped input\n' });
    assert.equal(stdin.code, 0);
    assert.equal(stdin.stdout, 'piped input\n');
    assert.match(await ok(['logs', 'web']), /hi from web/);
    await ok(['stop', 'web', '--timeout', '2']);
    const stopped = await info('web');
    assert.equal(stopped.status, 'stopped');
    assert.equal(stopped.pid, null);
    await ok(['restart', 'web']);
    assert.equal((await info('web')).status, 'running');
    await ok(['rm', '--force', 'web']);
    const gone = await d.cli(['info', 'web']);
    assert.equal(gone.code, 1);
    assert.equal(gone.stderr, 'error: instance "web" not found\n');
  });

  it('ls --json and info --json carry every field of DESIGN.md', async () => {
    await ok([
      'launch',
      'busybox',
      'fields',
      '--cpus',
      '1.5',
      '--memory',
      '128MiB',
      '--pids',
      '64',
      '--',
      'sh',
      '-c',
      'sleep 1000',
    ]);
    const one = await info('fields');
    for (const f of FIELDS) assert.ok(f in one, `info --json has ${f}`);
    assert.deepEqual(one.limits, { cpus: 1.5, memoryBytes: 128 * 1024 * 1024, pids: 64, diskBytes: null });
    assert.deepEqual(Object.keys(one.security).sort(), [
      'capAdd',
      'capDrop',
      'privileged',
      'readOnly',
      'userns',
    ]);
    assert.equal(one.type, 'container');
    assert.equal(one.node, 'local');
    const all = JSON.parse(await ok(['ls', '--json']));
    const listed = all.find((i: { name: string }) => i.name === 'fields');
    for (const f of FIELDS) assert.ok(f in listed, `ls --json has ${f}`);
    assert.match(await ok(['ls']), /^NAME\s+TYPE\s+STATUS/);
    await ok(['rm', '-f', 'fields']);
  });

  it('update changes limits and the foreground run returns the workload status', async () => {
    await ok(['launch', 'busybox', 'upd', '--memory', '64MiB', '--', 'sh', '-c', 'sleep 1000']);
    await ok(['update', 'upd', '--memory', '32MiB', '--cpus', '2']);
    const u = await info('upd');
    assert.equal(u.limits.memoryBytes, 32 * 1024 * 1024);
    assert.equal(u.limits.cpus, 2);
    await ok(['rm', '-f', 'upd']);
    const run = await d.cli(['run', '--rm', 'busybox', '--', 'sh', '-c', 'echo out; exit 3']);
    assert.equal(run.code, 3, run.stderr);
    assert.equal(run.stdout, 'out\n');
    assert.deepEqual(JSON.parse(await ok(['ls', '--json'])), [], 'run --rm leaves no instance');
  });

  it('verbs whose backend has not landed answer not_supported with exit 1', async () => {
    for (const args of [
      ['network', 'create', 'n1'], // the fake world has no managed networks
      ['isolate', 'x', '--to', 'vm'],
    ]) {
      const r = await d.cli(args);
      assert.equal(r.code, 1, args.join(' '));
      assert.match(r.stderr, /not supported/);
    }
  });
});
