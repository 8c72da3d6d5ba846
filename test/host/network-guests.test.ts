/**
 * VMs and sandboxes on the managed bridge with containers (issue 9), through a real daemon in a
 * test network namespace (network-fixture.ts; real QEMU under TCG): two containers, a sandbox
 * and a VM reach each other by address and by name in both directions (busybox httpd in each,
 * wget from each other; the second container starts after the guests, so its name reaches them
 * through the hosts file they share, not their boot config); a port forward to the VM and to the
 * sandbox answers on 127.0.0.1:HOSTPORT; `isolate` of a bridge instance container → sandbox →
 * vm → container keeps its address, name and published port, and a refused move re-attaches the
 * old instance; create/delete cycles of a VM with a published port leak no tap, lease, forward,
 * hosts file or mount.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { NetFixture } from './network-fixture.js';

const WEB = ['--', 'sh', '-c', 'hostname > /www/index.html; exec httpd -f -p 80 -h /www'];
const ROOT = join(import.meta.dirname, '../..');

describe('VMs and sandboxes on the bridge with containers', { timeout: 420_000 }, () => {
  const fx = new NetFixture();
  const info = async (name: string) => JSON.parse(await fx.ok(['info', name, '--json']));
  const addr = async (name: string) => (await info(name)).addresses[0] as string;
  const get = async (from: string, url: string) => {
    const r = await fx.daemon.cli(['exec', from, '--', 'timeout', '15', 'wget', '-qO-', url]);
    assert.equal(r.code, 0, `wget ${url} from ${from}: ${r.stdout}${r.stderr}`);
    return r.stdout.trim();
  };
  const local = async (port: number) => {
    const r = await fx.inDaemonNs([
      'busybox',
      'timeout',
      '15',
      'busybox',
      'wget',
      '-qO-',
      `http://127.0.0.1:${port}/`,
    ]);
    return r.stdout.trim() || r.stderr;
  };
  const snapshot = async () => {
    const objs = await fx.hostObjects();
    const hostsDir = `/run/tandem-net-${fx.tag}/hosts`;
    const hosts = existsSync(hostsDir) ? readdirSync(hostsDir).sort() : [];
    const nets = (await fx.daemon.api('GET', '/v1/networks')).body as { instances: number }[];
    return { ...objs, hosts, leases: nets.map((n) => n.instances) };
  };

  before(async () => {
    execFileSync(join(ROOT, 'helpers/monitor/build.sh'), { stdio: 'inherit' });
    execFileSync(join(ROOT, 'guest/build.sh'), { stdio: 'inherit' });
    await fx.setup();
    await fx.ok(['launch', 'bb', 'c1', ...WEB]);
    await Promise.all([
      fx.ok(['launch', 'bb', 'vm1', '--vm', '--memory', '128MiB', '-p', '8081:80', ...WEB]),
      fx.ok(['launch', 'bb', 'sb1', '--sandbox', '-p', '8082:80', ...WEB]),
    ]);
    await fx.ok(['launch', 'bb', 'c2', ...WEB]); // after the guests booted
  });
  after(async () => {
    assert.deepEqual(await fx.cleanup(), [], 'every netns of the daemon was removed by the daemon');
  });

  it('gives the VM and the sandbox addresses on the bridge and a configured eth0', async () => {
    const all = await Promise.all(['c1', 'c2', 'vm1', 'sb1'].map(addr));
    for (const a of all) assert.match(a, /^10\.88\.\d+\.\d+$/);
    assert.equal(new Set(all).size, 4);
    const vm = await info('vm1');
    assert.deepEqual(vm.ports, [{ hostPort: 8081, port: 80, protocol: 'tcp' }]);
    const route = await fx.daemon.cli(['exec', 'vm1', '--', 'ip', 'route']);
    assert.match(route.stdout, /default via 10\.88\.0\.1 dev eth0/);
    const ip = await fx.daemon.cli(['exec', 'sb1', '--', 'ip', '-o', '-4', 'addr']);
    assert.match(ip.stdout, new RegExp(`eth0\\s+inet ${all[3]!.replace(/\./g, '\\.')}/16`));
    assert.match(ip.stdout, /lo\s+inet 127\.0\.0\.1/);
  });

  it('reach each other by address and by name, both directions', async () => {
    const names = ['c1', 'c2', 'vm1', 'sb1'];
    const addrs = new Map(await Promise.all(names.map(async (n) => [n, await addr(n)] as const)));
    // one source at a time per guest (each exec goes through its agent), sources in parallel
    await Promise.all(
      names.map(async (from) => {
        for (const to of names.filter((n) => n !== from)) {
          assert.equal(await get(from, `http://${addrs.get(to)}/`), to, `${from} → ${to} by address`);
          assert.equal(await get(from, `http://${to}/`), to, `${from} → ${to} by name`);
        }
      }),
    );
  });

  it('forwards a host port to the VM and to the sandbox (127.0.0.1:HOSTPORT in the daemon’s netns)', async () => {
    assert.equal(await local(8081), 'vm1');
    assert.equal(await local(8082), 'sb1');
  });

  it('isolates a bridge instance container → sandbox → vm → container keeping address, name and port', async () => {
    await fx.ok(['launch', 'bb', 'iso', '-p', '8083:80', ...WEB]);
    const address = await addr('iso');
    for (const to of ['sandbox', 'vm', 'container']) {
      await fx.ok(['isolate', 'iso', '--to', to]);
      const i = await info('iso');
      assert.equal(i.type, to);
      assert.equal(i.status, 'running');
      assert.deepEqual(i.addresses, [address], `${to}: the address is kept`);
      assert.equal(await get('c1', 'http://iso/'), 'iso', `${to}: reached by name`);
      assert.equal(await get('vm1', `http://${address}/`), 'iso', `${to}: reached by address`);
      assert.equal(await local(8083), 'iso', `${to}: the published port follows`);
    }
    const objs = await fx.hostObjects();
    assert.equal(objs.forwards.filter((f) => f.includes('8083')).length, 1, 'one forward, no stale one');
  });

  it('a refused isolate re-attaches the old instance: address, name and port as before', async () => {
    await fx.ok(['launch', 'bb', 'small', '--memory', '32MiB', '-p', '8084:80', ...WEB]);
    const address = await addr('small');
    const before = await snapshot();
    const r = await fx.daemon.cli(['isolate', 'small', '--to', 'vm']);
    assert.equal(r.code, 2, 'invalid_argument: a vm needs at least 128MiB');
    assert.match(r.stderr, /128MiB/);
    const i = await info('small');
    assert.equal(i.type, 'container');
    assert.equal(i.status, 'running');
    assert.deepEqual(i.addresses, [address]);
    assert.equal(await get('vm1', 'http://small/'), 'small');
    assert.equal(await local(8084), 'small');
    assert.deepEqual(await snapshot(), before, 'the same links, netns, forwards and hosts files');
  });

  it('create/delete cycles of a VM with a published port leak no tap, lease, forward or hosts file', async () => {
    const before = await snapshot();
    for (let i = 0; i < 3; i++) {
      await fx.ok([
        'launch',
        'bb',
        `cyc${i}`,
        '--vm',
        '--memory',
        '128MiB',
        '-p',
        '9100:80',
        '--',
        'sleep',
        '1000',
      ]);
      if (i === 0) {
        const mid = await snapshot();
        assert.equal(mid.links.length, before.links.length + 1, 'a tap');
        assert.equal(mid.forwards.length, before.forwards.length + 1);
        assert.equal(mid.hosts.length, before.hosts.length + 1);
      }
      await fx.ok(['rm', '-f', `cyc${i}`]);
    }
    assert.deepEqual(await snapshot(), before);
  });

  it('removes every tap and forward with the instances', async () => {
    await fx.ok(['rm', '-f', 'c1', 'c2', 'vm1', 'sb1', 'iso', 'small']);
    const objs = await fx.hostObjects();
    assert.deepEqual(objs.forwards, []);
    assert.deepEqual(objs.netns, []);
    assert.deepEqual(
      objs.links.map((l) => l.split('=')[0]),
      ['tandem0'],
    );
    assert.deepEqual(objs.mounts, []);
  });
});
