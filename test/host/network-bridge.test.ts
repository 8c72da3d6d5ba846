/**
 * Containers on the managed bridge, through a real daemon running inside a test network
 * namespace (network-fixture.ts): addresses in `ls`/`info`, reaching each other by address and
 * by name both ways, outbound NAT to an "outside" namespace, a port forward answering on
 * 127.0.0.1:HOSTPORT and on the daemon's outside address, `--network none` with only lo, ping
 * needing NET_RAW, a `--userns auto` container on the bridge, and a daemon restart that
 * rebuilds a deleted bridge and table and drops stale objects of its own.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TestDaemon } from '../helpers/daemon.js';
import { NetFixture, OUTSIDE, OUTSIDE_GATEWAY } from './network-fixture.js';

const WEB = ['--', 'sh', '-c', 'hostname > /www/index.html; exec httpd -f -p 80 -h /www'];

describe('containers on the bridge network', { timeout: 240_000 }, () => {
  const fx = new NetFixture();
  const info = async (name: string) => JSON.parse(await fx.ok(['info', name, '--json']));
  const exec = (name: string, cmd: string[]) => fx.daemon.cli(['exec', name, '--', ...cmd]);
  const get = async (from: string, url: string) => {
    const r = await exec(from, ['timeout', '10', 'wget', '-qO-', url]);
    assert.equal(r.code, 0, `wget ${url} from ${from}: ${r.stderr}`);
    return r.stdout.trim();
  };

  before(async () => {
    execFileSync(join(import.meta.dirname, '../../helpers/monitor/build.sh'), { stdio: 'inherit' });
    await fx.setup();
    await fx.ok(['launch', 'bb', 'web1', '-p', '8080:80', ...WEB]);
    await fx.ok(['launch', 'bb', 'web2', ...WEB]);
  });
  after(async () => {
    const leftovers = await fx.cleanup();
    assert.deepEqual(leftovers, [], 'every netns of the daemon was removed by the daemon');
  });

  it('gives each container an address on the default network, shown in ls and info', async () => {
    const [a, b] = [await info('web1'), await info('web2')];
    assert.match(a.addresses[0], /^10\.88\.\d+\.\d+$/);
    assert.match(b.addresses[0], /^10\.88\.\d+\.\d+$/);
    assert.notEqual(a.addresses[0], b.addresses[0]);
    assert.deepEqual(a.ports, [{ hostPort: 8080, port: 80, protocol: 'tcp' }]);
    assert.match(await fx.ok(['ls']), new RegExp(`web1 .*${a.addresses[0].replace(/\./g, '\\.')}`));
    const nets = JSON.parse(await fx.ok(['network', 'ls', '--json']));
    assert.deepEqual(
      nets.map((n: { name: string; instances: number; default: boolean }) => [
        n.name,
        n.instances,
        n.default,
      ]),
      [['tandem0', 2, true]],
    );
  });

  it('reaches each other by address and by name, both directions', async () => {
    const [a, b] = [(await info('web1')).addresses[0], (await info('web2')).addresses[0]];
    assert.equal(await get('web1', `http://${b}/`), 'web2');
    assert.equal(await get('web2', `http://${a}/`), 'web1');
    assert.equal(await get('web1', 'http://web2/'), 'web2');
    assert.equal(await get('web2', 'http://web1/'), 'web1');
  });

  it('reaches the outside through NAT (the outside sees the daemon host’s address)', async () => {
    assert.equal(await get('web1', `http://${OUTSIDE}/cgi-bin/addr`), OUTSIDE_GATEWAY);
  });

  it('forwards a host port: 127.0.0.1:HOSTPORT from the host itself, and the outside address', async () => {
    const local = await fx.inDaemonNs([
      'busybox',
      'timeout',
      '10',
      'busybox',
      'wget',
      '-qO-',
      'http://127.0.0.1:8080/',
    ]);
    assert.equal(local.stdout.trim(), 'web1', local.stderr);
    const viaOutside = await fx.inDaemonNs([
      'busybox',
      'timeout',
      '10',
      'busybox',
      'wget',
      '-qO-',
      `http://${OUTSIDE_GATEWAY}:8080/`,
    ]);
    assert.equal(viaOutside.stdout.trim(), 'web1', viaOutside.stderr);
    const hairpin = await get('web2', `http://${OUTSIDE_GATEWAY}:8080/`);
    assert.equal(hairpin, 'web1', 'a peer reaches the forward through the host address');
    assert.equal(
      await get('web1', `http://${OUTSIDE_GATEWAY}:8080/`),
      'web1',
      'and so does the instance itself',
    );
    const taken = await fx.daemon.cli(['launch', 'bb', 'web3', '-p', '8080:80', ...WEB]);
    assert.equal(taken.code, 1);
    assert.match(taken.stderr, /8080\/tcp is already published by instance "web1"/);
    assert.equal((await fx.daemon.cli(['info', 'web3'])).code, 1, 'the refused instance does not exist');
  });

  it('has only lo with --network none, and no address', async () => {
    await fx.ok(['launch', 'bb', 'alone', '--network', 'none', '--', 'sleep', '1000']);
    const dev = await exec('alone', ['cat', '/proc/net/dev']);
    const ifaces = dev.stdout
      .split('\n')
      .slice(2)
      .map((l) => l.split(':')[0]!.trim())
      .filter(Boolean);
    assert.deepEqual(ifaces, ['lo']);
    assert.deepEqual((await info('alone')).addresses, []);
    const p = await fx.daemon.cli([
      'launch',
      'bb',
      'nop',
      '--network',
      'none',
      '-p',
      '9000:80',
      '--',
      'true',
    ]);
    assert.equal(p.code, 2, p.stderr);
    assert.match(p.stderr, /needs --network bridge/);
  });

  it('cannot ping a peer by default, and can with --cap-add NET_RAW', async () => {
    const denied = await exec('web1', ['ping', '-c', '1', '-W', '2', 'web2']);
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, /permission denied/i);
    await fx.ok(['launch', 'bb', 'pinger', '--cap-add', 'NET_RAW', '--', 'sleep', '1000']);
    const ok = await exec('pinger', ['ping', '-c', '1', '-W', '2', 'web2']);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /1 packets received/);
    assert.deepEqual((await info('pinger')).security.capAdd, ['NET_RAW']);
  });

  it('runs a --userns auto container on the bridge: root maps to an unprivileged host uid', async () => {
    await fx.ok(['launch', 'bb', 'mapped', '--userns', 'auto', ...WEB]);
    const i = await info('mapped');
    assert.equal(i.security.userns, 'auto');
    const [inside, host, count] = readFileSync(`/proc/${i.pid}/uid_map`, 'utf8')
      .trim()
      .split(/\s+/)
      .map(Number);
    assert.equal(inside, 0);
    assert.ok(host! >= 1 << 20, `host uid ${host} is far above real users`);
    assert.equal(count, 65536);
    assert.match(readFileSync(`/proc/${i.pid}/status`, 'utf8'), new RegExp(`Uid:\\s+${host}\\s`));
    assert.equal(await get('web1', 'http://mapped/'), 'mapped', 'root in the userns binds :80');
    assert.equal((await exec('mapped', ['touch', '/etc/written'])).code, 0, 'root owns its rootfs');
  });

  it('creates, lists and removes networks; refuses overlapping subnets and removing one in use', async () => {
    const overlap = await fx.daemon.cli(['network', 'create', 'extra', '--subnet', '10.88.5.0/24']);
    assert.equal(overlap.code, 2);
    assert.match(overlap.stderr, /overlaps network "tandem0"/);
    const route = await fx.daemon.cli(['network', 'create', 'extra', '--subnet', '198.51.100.0/25']);
    assert.equal(route.code, 2);
    assert.match(route.stderr, /overlaps the host's route to 198\.51\.100\.0\/24/);
    await fx.ok(['network', 'create', 'extra', '--subnet', '10.90.0.0/24']);
    await fx.ok(['network', 'create', 'auto']);
    const nets = JSON.parse(await fx.ok(['network', 'ls', '--json'])) as { name: string; subnet: string }[];
    assert.deepEqual(
      nets.map((n) => `${n.name} ${n.subnet}`),
      ['auto 10.89.0.0/24', 'extra 10.90.0.0/24', 'tandem0 10.88.0.0/16'],
    );
    assert.equal((await fx.daemon.cli(['network', 'create', 'extra'])).code, 1, 'already exists');
    const busy = await fx.daemon.cli(['network', 'rm', 'tandem0']);
    assert.equal(busy.code, 1);
    assert.match(busy.stderr, /network "tandem0" is in use by instance/);
    await fx.ok(['network', 'rm', 'extra']);
    await fx.ok(['network', 'rm', 'auto']);
    assert.equal((await fx.daemon.cli(['network', 'rm', 'auto'])).code, 1, 'not found');
  });

  it('after a restart, rebuilds a deleted bridge and table and drops stale objects of its own', async () => {
    const tag = fx.tag;
    await fx.daemon.stop();
    await fx.inDaemonNs(['ip', 'link', 'del', 'tandem0']);
    await fx.inDaemonNs(['nft', 'delete', 'table', 'ip', `tandem-${tag}`]);
    await fx.inDaemonNs(['ip', 'link', 'add', 'tvstale0', 'type', 'veth', 'peer', 'name', 'tvstale1']);
    await fx.inDaemonNs(['ip', 'link', 'set', 'tvstale0', 'alias', `tandem-${tag}:veth:0123456789ab`]);
    await fx.inDaemonNs(['ip', 'link', 'add', 'tvforeign0', 'type', 'veth', 'peer', 'name', 'tvforeign1']);
    await fx.inDaemonNs(['ip', 'link', 'set', 'tvforeign0', 'alias', 'tandem-00000000:veth:0123456789ab']);
    execFileSync('ip', ['netns', 'add', `tandem-${tag}-0123456789ab`]);
    fx.daemon = new TestDaemon({ drivers: 'real', netns: fx.ns, dir: fx.daemon.dir });
    await fx.daemon.start();
    const objs = await fx.hostObjects();
    assert.ok(!objs.links.some((l) => l.startsWith('tvstale0')), 'our stale veth is gone');
    assert.ok(!objs.netns.includes(`tandem-${tag}-0123456789ab`), 'our stale netns is gone');
    assert.ok(
      objs.links.some((l) => l.startsWith('tandem0=')),
      'the bridge is back',
    );
    const foreign = await fx.inDaemonNs(['ip', 'link', 'show', 'tvforeign0']);
    assert.equal(foreign.code, 0, 'another daemon’s link is left alone');
    await fx.inDaemonNs(['ip', 'link', 'del', 'tvforeign0']);
    assert.equal(await get('web1', 'http://web2/'), 'web2');
    assert.equal(await get('web2', 'http://mapped/'), 'mapped');
    const local = await fx.inDaemonNs([
      'busybox',
      'timeout',
      '10',
      'busybox',
      'wget',
      '-qO-',
      'http://127.0.0.1:8080/',
    ]);
    assert.equal(local.stdout.trim(), 'web1', local.stderr);
    assert.equal(await get('web1', `http://${OUTSIDE}/cgi-bin/addr`), OUTSIDE_GATEWAY);
  });

  it('removes every instance’s address, veth, netns and forward on delete, and its own bridge when none is left', async () => {
    await fx.ok(['rm', '-f', 'web1', 'web2', 'alone', 'pinger', 'mapped']);
    const objs = await fx.hostObjects();
    assert.deepEqual(objs.netns, []);
    assert.deepEqual(objs.forwards, []);
    assert.deepEqual(
      objs.links.map((l) => l.split('=')[0]),
      ['tandem0'],
      'only the bridge, until the daemon stops',
    );
    assert.deepEqual(JSON.parse(await fx.ok(['network', 'ls', '--json']))[0].instances, 0);
    await fx.daemon.stop();
    const after = await fx.hostObjects();
    assert.deepEqual(after.links, [], 'a daemon without instances leaves no bridge behind');
    assert.equal((await fx.inDaemonNs(['nft', 'list', 'table', 'ip', `tandem-${fx.tag}`])).code, 1);
  });
});
