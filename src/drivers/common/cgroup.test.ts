import assert from 'node:assert/strict';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  type CgroupLayout,
  hybridCgroupProblem,
  openCgroup,
  parseCgroupMounts,
  parseOwnCgroups,
  primeCgroupFile,
} from './cgroup.js';

const HYBRID = `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
24 1 8:1 / / rw - ext4 /dev/sda1 rw`;

const UNIFIED = `24 1 8:1 / / rw - ext4 /dev/sda1 rw
30 24 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot`;

const read = async (p: string) => (await readFile(p, 'utf8')).trim();

describe('cgroup layout', () => {
  it('parses a hybrid v1 host', () => {
    const l = parseCgroupMounts(HYBRID);
    assert.equal(l.version, 1);
    assert.equal(l.v1.memory, '/sys/fs/cgroup/memory');
    assert.equal(l.v1.cpuacct, '/sys/fs/cgroup/cpu,cpuacct');
    assert.equal(l.v1['name=systemd'], '/sys/fs/cgroup/systemd');
    assert.equal(l.v1.xattr, undefined);
    assert.equal(l.unified, '/sys/fs/cgroup/unified');
    assert.equal(l.all.length, 5);
  });

  it('parses a unified v2 host', () => {
    const l = parseCgroupMounts(UNIFIED);
    assert.equal(l.version, 2);
    assert.deepEqual(l.v1, {});
    assert.equal(l.unified, '/sys/fs/cgroup');
  });

  it("finds a process's own cgroup.procs for the launcher's priming writes", () => {
    const ownV1 = parseOwnCgroups(
      '10:hugetlb:/\n9:name=systemd:/user.slice\n4:memory:/svc/x\n2:cpu,cpuacct:/svc\n0::/svc\n',
    );
    assert.equal(ownV1.get('cpuacct'), '/svc');
    assert.equal(ownV1.get('name=systemd'), '/user.slice');
    assert.equal(ownV1.get(''), '/svc');
    // no pids or freezer hierarchy in HYBRID: cpu comes next
    const hybrid = primeCgroupFile(parseCgroupMounts(HYBRID), ownV1);
    assert.equal(hybrid, '/sys/fs/cgroup/cpu,cpuacct/svc/cgroup.procs');
    const v2 = parseCgroupMounts(UNIFIED);
    assert.equal(
      primeCgroupFile(v2, parseOwnCgroups('0::/system.slice/tandem.service\n')),
      '/sys/fs/cgroup/system.slice/tandem.service/cgroup.procs',
    );
    assert.equal(primeCgroupFile(v2, parseOwnCgroups('')), undefined);
    // only a name= hierarchy: nothing to prime (systemd's tree is not written to)
    const named: CgroupLayout = { version: 1, v1: { 'name=systemd': '/s' }, all: ['/s'] };
    assert.equal(primeCgroupFile(named, ownV1), undefined);
  });

  it('names the hybrid hugetlb trap and its fix', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tandem-cg-'));
    try {
      await writeFile(join(dir, 'cgroup.controllers'), 'hugetlb\n');
      const layout: CgroupLayout = { version: 1, v1: { memory: '/m' }, unified: dir, all: [] };
      const msg = await hybridCgroupProblem(layout);
      assert.match(msg ?? '', /hugetlb.*scripts\/setup-host\.sh/);
      layout.v1.hugetlb = '/h';
      assert.equal(await hybridCgroupProblem(layout), undefined);
      await writeFile(join(dir, 'cgroup.controllers'), '\n');
      delete layout.v1.hugetlb;
      assert.equal(await hybridCgroupProblem(layout), undefined);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('cgroup v1 on a fixture tree', () => {
  let root = '';
  let layout: CgroupLayout;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'tandem-cg1-'));
    const controllers = ['cpu', 'cpuacct', 'memory', 'pids', 'freezer', 'blkio', 'devices'];
    layout = { version: 1, v1: {}, all: [] };
    for (const c of controllers) {
      await mkdir(join(root, c));
      layout.v1[c] = join(root, c);
      layout.all.push(join(root, c));
    }
  });
  after(() => rm(root, { recursive: true, force: true }));

  it('creates, limits, reads usage, freezes and removes', async () => {
    const cg = openCgroup(layout, 'tandem-x/inst1/');
    assert.equal(cg.path, '/tandem-x/inst1');
    assert.equal(await cg.exists(), false);
    await cg.create();
    assert.ok(existsSync(join(root, 'memory/tandem-x/inst1')));
    assert.ok(!existsSync(join(root, 'devices/tandem-x/inst1')), 'only the controllers it uses');
    await cg.setLimits({ cpus: 0.5, memoryBytes: 64 * 1024 * 1024, pids: 32 });
    assert.equal(await read(join(root, 'cpu/tandem-x/inst1/cpu.cfs_quota_us')), '50000');
    assert.equal(await read(join(root, 'cpu/tandem-x/inst1/cpu.cfs_period_us')), '100000');
    assert.equal(
      await read(join(root, 'memory/tandem-x/inst1/memory.limit_in_bytes')),
      String(64 * 1024 * 1024),
    );
    assert.equal(await read(join(root, 'pids/tandem-x/inst1/pids.max')), '32');
    assert.deepEqual(await cg.readLimits(), { cpus: 0.5, memoryBytes: 64 * 1024 * 1024, pids: 32 });
    await cg.setLimits({});
    assert.equal(await read(join(root, 'cpu/tandem-x/inst1/cpu.cfs_quota_us')), '-1');
    assert.equal(await read(join(root, 'pids/tandem-x/inst1/pids.max')), 'max');

    const mem = join(root, 'memory/tandem-x/inst1');
    await writeFile(join(mem, 'memory.limit_in_bytes'), '9223372036854771712');
    await writeFile(join(mem, 'memory.usage_in_bytes'), '5000000');
    await writeFile(join(mem, 'memory.max_usage_in_bytes'), '7000000');
    await writeFile(join(mem, 'memory.stat'), 'cache 100\ntotal_inactive_file 1000000\n');
    await writeFile(join(root, 'cpuacct/tandem-x/inst1/cpuacct.usage'), '2500000000');
    await writeFile(join(root, 'pids/tandem-x/inst1/pids.current'), '3');
    await writeFile(
      join(root, 'blkio/tandem-x/inst1/blkio.throttle.io_service_bytes_recursive'),
      '8:0 Read 4096\n8:0 Write 8192\n8:0 Total 12288\n8:16 Read 1\nTotal 12289\n',
    );
    assert.deepEqual(await cg.usage(), {
      cpuSeconds: 2.5,
      memoryBytes: 4_000_000,
      memoryPeakBytes: 7_000_000,
      memoryLimitBytes: undefined,
      pids: 3,
      blockReadBytes: 4097,
      blockWriteBytes: 8192,
    });

    await cg.freeze();
    assert.equal(await cg.freezeState(), 'frozen');
    await cg.thaw();
    assert.equal(await cg.freezeState(), 'thawed');

    await mkdir(join(root, 'devices/tandem-x/inst1/ctr'), { recursive: true });
    await mkdir(join(root, 'memory/tandem-x/inst1/ctr'));
    // a fixture directory holds files; the kernel's do not count: empty them for rmdir
    for (const c of ['cpu', 'cpuacct', 'memory', 'pids', 'freezer', 'blkio']) {
      await rm(join(root, c, 'tandem-x/inst1'), { recursive: true });
      await mkdir(join(root, c, 'tandem-x/inst1/ctr'), { recursive: true });
    }
    await cg.remove();
    for (const c of Object.keys(layout.v1)) assert.ok(!existsSync(join(root, c, 'tandem-x/inst1')), c);
    assert.ok(existsSync(join(root, 'memory/tandem-x')), 'the parent stays');
    await cg.remove();
  });

  it('orders memory and memory+swap writes', async () => {
    const cg = openCgroup(layout, '/tandem-x/inst2');
    await cg.create();
    const mem = join(root, 'memory/tandem-x/inst2');
    await writeFile(join(mem, 'memory.memsw.limit_in_bytes'), '9223372036854771712');
    await cg.setLimits({ memoryBytes: 1 << 20 });
    assert.equal(await read(join(mem, 'memory.memsw.limit_in_bytes')), String(1 << 20));
    await cg.setLimits({});
    assert.equal(await read(join(mem, 'memory.memsw.limit_in_bytes')), '-1');
    assert.equal(await read(join(mem, 'memory.limit_in_bytes')), '-1');
  });
});

describe('cgroup v2 on a fixture tree', () => {
  let root = '';
  let layout: CgroupLayout;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'tandem-cg2-'));
    await writeFile(join(root, 'cgroup.controllers'), 'cpuset cpu io memory hugetlb pids rdma misc\n');
    await writeFile(join(root, 'cgroup.subtree_control'), 'memory\n');
    layout = { version: 2, v1: {}, unified: root, all: [root] };
  });
  after(() => rm(root, { recursive: true, force: true }));

  it('enables controllers in the ancestors, limits, reads usage, freezes and removes', async () => {
    const cg = openCgroup(layout, '/tandem-y/inst1');
    await cg.create();
    assert.equal(await read(join(root, 'cgroup.subtree_control')), '+cpu +pids +io');
    const d = join(root, 'tandem-y/inst1');
    await writeFile(join(d, 'memory.swap.max'), 'max');
    await cg.setLimits({ cpus: 1.5, memoryBytes: 32 * 1024 * 1024, pids: 10 });
    assert.equal(await read(join(d, 'cpu.max')), '150000 100000');
    assert.equal(await read(join(d, 'memory.max')), String(32 * 1024 * 1024));
    assert.equal(await read(join(d, 'memory.swap.max')), '0');
    assert.equal(await read(join(d, 'pids.max')), '10');
    assert.deepEqual(await cg.readLimits(), { cpus: 1.5, memoryBytes: 32 * 1024 * 1024, pids: 10 });
    await cg.setLimits({});
    assert.equal(await read(join(d, 'cpu.max')), 'max 100000');
    assert.deepEqual(await cg.readLimits(), { cpus: undefined, memoryBytes: undefined, pids: undefined });

    await writeFile(join(d, 'cpu.stat'), 'usage_usec 1500000\nuser_usec 1000000\n');
    await writeFile(join(d, 'memory.current'), '3000000');
    await writeFile(join(d, 'memory.peak'), '4000000');
    await writeFile(join(d, 'memory.stat'), 'anon 1\ninactive_file 500000\n');
    await writeFile(join(d, 'pids.current'), '2');
    await writeFile(join(d, 'io.stat'), '8:0 rbytes=100 wbytes=200 rios=1 wios=2\n8:16 rbytes=1 wbytes=2\n');
    assert.deepEqual(await cg.usage(), {
      cpuSeconds: 1.5,
      memoryBytes: 2_500_000,
      memoryPeakBytes: 4_000_000,
      memoryLimitBytes: undefined,
      pids: 2,
      blockReadBytes: 101,
      blockWriteBytes: 202,
    });

    // the kernel reports the freezer's progress in cgroup.events: play its part
    // (atomically, as the kernel does: a reader never sees a half-written file)
    const kernel = setInterval(() => {
      const v = readFileSync(join(d, 'cgroup.freeze'), 'utf8').trim();
      writeFileSync(join(d, 'events.tmp'), `populated 1\nfrozen ${v}\n`);
      renameSync(join(d, 'events.tmp'), join(d, 'cgroup.events'));
    }, 5);
    try {
      await cg.freeze();
      assert.equal(await cg.freezeState(), 'frozen');
      await cg.thaw();
      assert.equal(await cg.freezeState(), 'thawed');
    } finally {
      clearInterval(kernel);
    }

    await rm(d, { recursive: true });
    await mkdir(join(d, 'ctr'), { recursive: true });
    await cg.remove();
    assert.ok(!existsSync(d));
    await cg.remove();
  });
});
