import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EventBus } from '../core/events.js';
import { defaultSecurity, type Instance } from '../core/instance.js';
import { DEFAULT_OVERCOMMIT, type NodeInfo } from '../core/scheduling.js';
import { createPlacer } from '../scheduler/online-placer.js';
import { MemoryStore } from '../stores/memory/memory-store.js';
import { InstanceRecords } from './instance-records.js';
import { configFromRequest, driverSpec, workloadArgs } from './instance-spec.js';
import { KeyedLock } from './locks.js';
import { Operations } from './operations.js';
import { Placement } from './placement.js';

describe('daemon logic', () => {
  it('one holder per key at a time, keys independent', async () => {
    const lock = new KeyedLock();
    const log: string[] = [];
    const hold = (key: string, tag: string, ms: number) =>
      lock.run(key, async () => {
        log.push(`${tag}+`);
        await new Promise((r) => setTimeout(r, ms));
        log.push(`${tag}-`);
      });
    await Promise.all([hold('a', 'a1', 30), hold('a', 'a2', 1), hold('b', 'b1', 5)]);
    assert.ok(log.indexOf('a1-') < log.indexOf('a2+'), log.join(' '));
    assert.ok(log.indexOf('b1+') < log.indexOf('a1-'), 'b does not wait for a');
    assert.equal(lock.busy('a'), false);
  });

  it('operations record success, failure and progress, and can be waited on', async () => {
    const ops = new Operations(new EventBus());
    const ok = ops.start('t.ok', 'x', async (progress) => {
      progress({ step: 'half', done: 1, total: 2, unit: 'steps' });
      return { answer: 42 };
    });
    const bad = ops.start('t.bad', 'y', async () => {
      throw new Error('nope');
    });
    assert.equal((await ops.wait(ok.id, 1000))?.status, 'success');
    assert.deepEqual(ops.get(ok.id)?.result, { answer: 42 });
    assert.equal(ops.get(ok.id)?.progress?.step, 'half');
    const failed = await ops.wait(bad.id, 1000);
    assert.equal(failed?.status, 'failure');
    assert.deepEqual(failed?.error, { code: 'internal', message: 'nope' });
    assert.equal(ops.counts.inFlight, 0);
  });

  it('merges image defaults as Podman does', () => {
    const image = {
      entrypoint: ['/entry'],
      cmd: ['--serve'],
      env: ['A=1', 'PATH=/x'],
      workingDir: '/app',
      user: '1000',
      exposedPorts: [],
      labels: {},
    };
    const base = configFromRequest({ name: 'w', image: 'img' });
    assert.deepEqual(workloadArgs(base, image), ['/entry', '--serve']);
    assert.deepEqual(workloadArgs({ ...base, command: ['--other'] }, image), ['/entry', '--other']);
    assert.deepEqual(workloadArgs({ ...base, entrypoint: ['/bin/echo'] }, image), ['/bin/echo']);
    assert.deepEqual(workloadArgs(base, { env: [], exposedPorts: [], labels: {} }), ['/bin/sh']);
    const inst: Instance = {
      id: 'id1',
      name: 'w',
      type: 'container',
      config: { ...base, env: { A: '2', B: '3' } },
      status: 'created',
      statusReason: '',
      node: 'local',
      createdAt: '',
      addresses: [],
      restartCount: 0,
    };
    const spec = driverSpec(inst, { name: 'img', digest: 'd', layers: ['/l'], config: image });
    assert.deepEqual(spec.process.env, ['PATH=/x', 'A=2', 'HOSTNAME=w', 'B=3']);
    assert.equal(spec.process.cwd, '/app');
    assert.equal(spec.process.user, '1000');
    assert.equal(spec.hostname, 'w');
    assert.deepEqual(spec.security, defaultSecurity());
  });

  it('placement counts the memory a driver says an instance takes, else its limit', async () => {
    const MiB = 1024 * 1024;
    const node: NodeInfo = {
      name: 'n1',
      capacity: { cpus: 2, memoryBytes: 512 * MiB, diskBytes: 10 * 1024 * MiB, instances: 10 },
      capabilities: { qemu: true, kvm: false },
      labels: {},
      overcommit: { ...DEFAULT_OVERCOMMIT },
    };
    const records = new InstanceRecords(new MemoryStore());
    await records.load();
    // sandboxes take their limit + 112 MiB of guest RAM; containers their limit
    const footprint = (i: Instance) =>
      i.type === 'sandbox'
        ? { memoryBytes: (i.config.limits.memoryBytes ?? 144 * MiB) + 112 * MiB }
        : undefined;
    const placement = new Placement(createPlacer('binpack'), () => [node], records, footprint);
    const make = (name: string, type: Instance['type'], memoryBytes: number): Instance => ({
      id: name,
      name,
      type,
      config: { ...configFromRequest({ name, image: 'img' }), limits: { memoryBytes } },
      status: 'created',
      statusReason: '',
      node: '',
      createdAt: '',
      addresses: [],
      restartCount: 0,
    });
    for (const inst of [make('s1', 'sandbox', 64 * MiB), make('c1', 'container', 64 * MiB)]) {
      inst.node = await placement.place(inst);
      await records.create(inst);
      placement.release(inst.name);
    }
    assert.equal((await placement.view())[0]!.allocated.memoryBytes, (64 + 112 + 64) * MiB);
    // 272 MiB left: a 200 MiB sandbox (312 MiB of guest RAM) no longer fits, a 200 MiB container does
    await assert.rejects(placement.place(make('s2', 'sandbox', 200 * MiB)), /insufficient memory/);
    assert.equal(await placement.place(make('c2', 'container', 200 * MiB)), 'n1');
  });
});
