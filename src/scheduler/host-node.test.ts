import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { isTandemError } from '../base/errors.js';
import { type HostProbes, hostNodeInfo, memTotalBytes, nodeNameFromHost } from './host-node.js';

const fake = (over: Partial<HostProbes> = {}): Partial<HostProbes> => ({
  cpus: () => 6,
  meminfo: async () => 'MemTotal:       16384000 kB\nMemFree:         1000 kB\n',
  totalmem: () => 1,
  diskBytes: async () => 500e9,
  pathEnv: () => '/nope:/opt/qemu/bin',
  isExecutable: async (file) => file === '/opt/qemu/bin/qemu-system-x86_64',
  kvmUsable: async () => true,
  hostname: () => 'Build_Box.example.org',
  ...over,
});

describe('host node', () => {
  it('reads capacity and capabilities from the probes', async () => {
    const node = await hostNodeInfo({ stateDir: '/state', probes: fake() });
    assert.deepEqual(node, {
      name: 'build-box-example-org',
      capacity: { cpus: 6, memoryBytes: 16384000 * 1024, diskBytes: 500e9, instances: 1024 },
      capabilities: { qemu: true, kvm: true },
      labels: {},
      overcommit: { cpu: 4, memory: 1, disk: 1 },
    });
  });

  it('has no qemu (and so no kvm) when qemu-system-x86_64 is not on PATH', async () => {
    const node = await hostNodeInfo({ stateDir: '/state', probes: fake({ pathEnv: () => '/usr/bin' }) });
    assert.deepEqual(node.capabilities, { qemu: false, kvm: false });
  });

  it('has qemu without kvm when /dev/kvm is not usable', async () => {
    const node = await hostNodeInfo({ stateDir: '/state', probes: fake({ kvmUsable: async () => false }) });
    assert.deepEqual(node.capabilities, { qemu: true, kvm: false });
  });

  it('falls back to os.totalmem without /proc/meminfo; applies options', async () => {
    const node = await hostNodeInfo({
      stateDir: '/state',
      name: 'local',
      maxInstances: 7,
      overcommit: { cpu: 2 },
      labels: { zone: 'a' },
      probes: fake({ meminfo: async () => null, totalmem: () => 4096 }),
    });
    assert.equal(node.capacity.memoryBytes, 4096);
    assert.equal(node.capacity.instances, 7);
    assert.equal(node.name, 'local');
    assert.deepEqual(node.overcommit, { cpu: 2, memory: 1, disk: 1 });
    assert.deepEqual(node.labels, { zone: 'a' });
  });

  it('rejects with unavailable when the state directory cannot be measured', async () => {
    const probes = fake({
      diskBytes: async () => {
        throw new Error('ENOENT');
      },
    });
    await assert.rejects(hostNodeInfo({ stateDir: '/missing', probes }), (err) =>
      isTandemError(err, 'unavailable'),
    );
  });

  it('parses MemTotal and makes valid names', () => {
    assert.equal(memTotalBytes('MemFree: 1 kB\nMemTotal:  2048 kB\n'), 2048 * 1024);
    assert.equal(memTotalBytes('nothing'), null);
    assert.equal(nodeNameFromHost('--'), 'local');
    assert.equal(nodeNameFromHost('a'.repeat(70)), 'a'.repeat(63));
  });

  it('measures this host', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'scheduler-host-'));
    try {
      const node = await hostNodeInfo({ stateDir: dir });
      assert.ok(node.capacity.cpus >= 1);
      assert.ok(node.capacity.memoryBytes > 64 * 1024 ** 2);
      assert.ok(node.capacity.diskBytes > 0);
      assert.match(node.name, /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
