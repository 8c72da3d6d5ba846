import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isTandemError } from '../../base/errors.js';
import type { DriverSpec } from '../../core/driver.js';
import { defaultSecurity } from '../../core/instance.js';
import type { NetworkAttachment } from '../../core/network.js';
import { encodeConfig } from './guest-config.js';
import { checkGuestNetwork, NET_SHARE_TAG, NET_SHARE_TARGET, withNetwork } from './guest-network.js';
import { checkVolumes, volumeShares } from './guest-volumes.js';
import { qemuArgs } from './qemu-args.js';
import { launchScript } from './qemu-process.js';
import { guestConfigFor } from './vm-guest.js';

const ATTACHMENT: NetworkAttachment = {
  network: 'tandem0',
  bridge: 'tandem0',
  address: '10.88.0.7',
  prefixLength: 16,
  gateway: '10.88.0.1',
  mac: '0a:58:0a:58:00:07',
  dns: ['192.0.2.53', '192.0.2.54'],
  hostsFile: '/run/tandem-net-x/hosts/vm1',
  tap: 'tt0123456789abc',
};

function spec(over: Partial<DriverSpec> = {}): DriverSpec {
  return {
    id: 'vm1',
    name: 'vm1',
    type: 'vm',
    hostname: 'vm1',
    process: { args: ['httpd'], env: [], cwd: '/', user: '0:0', terminal: false },
    image: {
      name: 'bb',
      digest: 'sha256:x',
      layers: ['/l'],
      config: { env: [], exposedPorts: [], labels: {} },
    },
    limits: {},
    security: defaultSecurity(),
    network: 'bridge',
    attachment: ATTACHMENT,
    ports: [{ hostPort: 8080, port: 80, protocol: 'tcp' }],
    volumes: [{ source: '/var/lib/v/data', target: '/data', readOnly: true }],
    ...over,
  };
}

describe('guests on a bridge network', () => {
  it('refuses host networking, a bridge without a tap and ports without a bridge', () => {
    checkGuestNetwork(spec());
    checkGuestNetwork(spec({ network: 'none', attachment: undefined, ports: [] }));
    assert.throws(
      () => checkGuestNetwork(spec({ network: 'host', attachment: undefined, ports: [] })),
      (e) => isTandemError(e, 'not_supported'),
    );
    assert.throws(
      () => checkGuestNetwork(spec({ attachment: undefined })),
      (e) => isTandemError(e, 'invalid_argument'),
    );
    assert.throws(
      () => checkGuestNetwork(spec({ network: 'none', attachment: undefined })),
      (e) => isTandemError(e, 'invalid_argument'),
    );
    assert.throws(
      () => checkVolumes(spec({ volumes: [{ source: 'data', target: '/data', readOnly: false }] })),
      (e) => isTandemError(e, 'invalid_argument'),
    );
  });

  it('adds the NIC, the read-only hosts share (a bind of the hosts file) and the guest config', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'guest-net-'));
    try {
      const s = spec();
      const plan = await withNetwork({ config: guestConfigFor(s), shares: volumeShares(s) }, s, dir);
      assert.deepEqual(plan.nics, [{ tap: ATTACHMENT.tap, mac: ATTACHMENT.mac }]);
      assert.deepEqual(plan.binds, [{ source: ATTACHMENT.hostsFile, target: join(dir, 'net/hosts') }]);
      assert.equal(await readFile(join(dir, 'net/hosts'), 'utf8'), '', 'the mount point exists');
      assert.deepEqual(plan.shares, [
        { tag: 'vol0', path: '/var/lib/v/data', readOnly: true },
        { tag: NET_SHARE_TAG, path: join(dir, 'net'), readOnly: true, multidevs: true },
      ]);
      const lines = encodeConfig(plan.config!).split('\n');
      for (const l of [
        'modules=net',
        'mount=vol0:/data:ro',
        `mount=${NET_SHARE_TAG}:${NET_SHARE_TARGET}:ro`,
        'net=10.88.0.7/16',
        'gateway=10.88.0.1',
        'dns=192.0.2.53,192.0.2.54',
        `hosts_file=${NET_SHARE_TARGET}/hosts`,
      ])
        assert.ok(lines.includes(l), `missing ${l}`);
      const args = qemuArgs({
        dir,
        name: 'vm1',
        machine: 'microvm',
        accel: 'tcg',
        cpus: 1,
        memoryMiB: 256,
        kernel: 'k',
        initrd: 'i',
        cmdline: 'c',
        disks: [],
        shares: plan.shares!,
        nics: plan.nics!,
      });
      const joined = args.join(' ');
      assert.ok(joined.includes(`-netdev tap,id=n0,ifname=${ATTACHMENT.tap},script=no,downscript=no`));
      assert.ok(joined.includes(`-device virtio-net-device,netdev=n0,mac=${ATTACHMENT.mac}`));
      assert.ok(joined.includes(`path=${join(dir, 'net')},security_model=none,readonly=on,multidevs=remap`));
      const none = spec({ network: 'none', attachment: undefined, ports: [] });
      const plain = { config: guestConfigFor(none) };
      assert.equal(await withNetwork(plain, none, dir), plain, 'no attachment: the plan as it was');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a sandbox on the bridge reads the shared hosts file, not a fixed one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'guest-net-'));
    try {
      const s = spec({ type: 'sandbox' });
      const config = {
        ...guestConfigFor(s),
        sandbox: { noNewPrivileges: true, readOnlyRoot: false, hosts: 'x' },
      };
      const plan = await withNetwork({ config }, s, dir);
      assert.equal(plan.config?.sandbox?.hosts, undefined);
      assert.ok(!encodeConfig(plan.config!).includes('\nhosts='));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('binds files in QEMU’s own mount namespace before it starts', () => {
    const [script, ...pre] = launchScript('qemu', [], undefined, [
      { source: '/run/h', target: '/d/net/hosts' },
    ]);
    assert.match(script!, /exec unshare -m --propagation slave -- sh -c .*mount --bind "\$1" "\$2"/);
    assert.deepEqual(pre, ['/run/h', '/d/net/hosts']);
    assert.deepEqual(launchScript('qemu', []).length, 1, 'nothing to mount: no namespace');
  });
});
