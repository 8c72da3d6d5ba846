/**
 * 50 create/delete cycles of a container on the bridge with a port forward and a named volume
 * leak nothing: the test lists this daemon's links, netns, nftables forwards, mounts, hosts
 * files, address leases and monitor processes before and after (daemon in a test netns).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { waitOp } from '../helpers/daemon.js';
import { NetFixture } from './network-fixture.js';

const CYCLES = 50;

describe('create/delete cycles on the bridge', { timeout: 300_000 }, () => {
  const fx = new NetFixture();
  before(async () => {
    execFileSync(join(import.meta.dirname, '../../helpers/monitor/build.sh'), { stdio: 'inherit' });
    await fx.setup();
    await fx.ok(['launch', 'bb', 'keeper', '--', 'sleep', '1000']);
  });
  after(async () => {
    assert.deepEqual(await fx.cleanup(), []);
  });

  const snapshot = async () => {
    const objs = await fx.hostObjects();
    const hostsDir = `/run/tandem-net-${fx.tag}/hosts`;
    const hosts = existsSync(hostsDir) ? readdirSync(hostsDir).sort() : [];
    const nets = (await fx.daemon.api('GET', '/v1/networks')).body as { instances: number }[];
    const monitors = execFileSync('ps', ['-eo', 'args'])
      .toString()
      .split('\n')
      .filter((l) => l.includes('tandem-monitor') && l.includes(fx.daemon.dir)).length;
    return { ...objs, hosts, leases: nets.map((n) => n.instances), monitors };
  };

  it(`leaks no address, veth, netns, forward, mount or monitor over ${CYCLES} cycles`, async () => {
    const before = await snapshot();
    assert.equal(before.netns.length, 1, 'the keeper’s netns');
    const create = {
      image: 'bb',
      start: true,
      command: ['sleep', '1000'],
      ports: [{ hostPort: 9100, port: 80 }],
      volumes: [{ source: 'cycles', target: '/data' }],
    };
    const t0 = Date.now();
    for (let i = 0; i < CYCLES; i++) {
      const name = `c${i}`;
      const op = await fx.daemon.api('POST', '/v1/instances', { ...create, name });
      assert.equal(op.status, 202, JSON.stringify(op.body));
      const done = await waitOp(fx.daemon, op.body);
      assert.equal(done.status, 'success', JSON.stringify(done.error));
      if (i === 0) {
        const mid = await snapshot();
        assert.equal(mid.netns.length, 2);
        assert.equal(mid.forwards.length, 1);
        assert.deepEqual(mid.leases, [2]);
      }
      const del = await fx.daemon.api('DELETE', `/v1/instances/${name}?force=true`);
      assert.equal((await waitOp(fx.daemon, del.body)).status, 'success');
    }
    const perCycle = (Date.now() - t0) / CYCLES;
    const after = await snapshot();
    assert.deepEqual(after, before);
    process.stdout.write(
      `# ${CYCLES} cycles, ${perCycle.toFixed(0)} ms per launch + delete through the API\n`,
    );
    const vols = JSON.parse(await fx.ok(['volume', 'ls', '--json']));
    assert.deepEqual(
      vols.map((v: { name: string }) => v.name),
      ['cycles'],
      'the volume outlives its instances',
    );
  });
});
