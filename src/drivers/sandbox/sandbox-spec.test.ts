import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isTandemError } from '../../base/errors.js';
import type { DriverSpec } from '../../core/driver.js';
import { defaultSecurity } from '../../core/instance.js';
import { encodeConfig } from '../vm/guest-config.js';
import {
  capabilityMaskOf,
  checkSandboxLimits,
  checkSandboxSpec,
  DEFAULT_GUEST_MEMORY_BYTES,
  GUEST_OVERHEAD_BYTES,
  guestMemoryBytes,
  sandboxGuestConfig,
  sandboxShares,
} from './sandbox-spec.js';

const MiB = 1024 * 1024;
const ATTACHMENT = {
  network: 'tandem0',
  bridge: 'tandem0',
  address: '10.88.0.5',
  prefixLength: 16,
  gateway: '10.88.0.1',
  mac: '0a:58:0a:58:00:05',
  dns: [],
  hostsFile: '/run/h/abc',
  tap: 'tt0123',
};

function spec(over: Partial<DriverSpec> = {}): DriverSpec {
  return {
    id: 'abc',
    name: 'web',
    type: 'sandbox',
    hostname: 'web',
    process: { args: ['sh'], env: ['A=1'], cwd: '/srv', user: '1000', terminal: false },
    image: {
      name: 'busybox',
      digest: 'sha256:x',
      layers: ['/l/0', '/l/1'],
      config: { env: [], exposedPorts: [], labels: {} },
    },
    limits: { memoryBytes: 64 * MiB, pids: 32 },
    security: defaultSecurity(),
    network: 'none',
    ports: [],
    volumes: [],
    ...over,
  };
}

describe('sandbox spec', () => {
  it('guest RAM is the limit plus the measured overhead, rounded to MiB', () => {
    assert.equal(guestMemoryBytes(undefined), DEFAULT_GUEST_MEMORY_BYTES);
    const ram = guestMemoryBytes(64 * MiB);
    assert.equal(ram % MiB, 0);
    assert.ok(ram >= 64 * MiB + GUEST_OVERHEAD_BYTES && ram < 64 * MiB + GUEST_OVERHEAD_BYTES + 3 * MiB);
  });

  it('limits: disk is not supported, tiny memory and bad pids are invalid', () => {
    const name = 'web';
    assert.throws(
      () => checkSandboxLimits(name, { diskBytes: MiB }),
      (e) => isTandemError(e, 'not_supported'),
    );
    assert.throws(
      () => checkSandboxLimits(name, { memoryBytes: MiB }),
      (e) => isTandemError(e, 'invalid_argument'),
    );
    assert.throws(
      () => checkSandboxLimits(name, { pids: 0 }),
      (e) => isTandemError(e, 'invalid_argument'),
    );
    assert.throws(
      () => checkSandboxLimits(name, { memoryBytes: 2 ** 50 }),
      (e) => isTandemError(e, 'insufficient_resources'),
    );
    checkSandboxLimits(name, { cpus: 1.5, memoryBytes: 6 * MiB, pids: 1 });
  });

  it('refuses host networking, userns and --init system; checks networks, layer paths and volumes', () => {
    const refused: Partial<DriverSpec>[] = [
      { network: 'host' },
      { security: { ...defaultSecurity(), userns: 'auto' } },
      { init: 'system' },
    ];
    for (const over of refused)
      assert.throws(
        () => checkSandboxSpec(spec(over)),
        (e) => isTandemError(e, 'not_supported'),
        JSON.stringify(over),
      );
    const invalid: Partial<DriverSpec>[] = [
      { network: 'bridge' }, // no tap from the daemon
      { ports: [{ hostPort: 80, port: 80, protocol: 'tcp' }] }, // ports without a bridge
      { image: { ...spec().image, layers: ['/a:b'] } },
      { volumes: [{ source: 'named', target: '/data', readOnly: false }] },
    ];
    for (const over of invalid)
      assert.throws(
        () => checkSandboxSpec(spec(over)),
        (e) => isTandemError(e, 'invalid_argument'),
        JSON.stringify(over),
      );
    checkSandboxSpec(spec());
    checkSandboxSpec(
      spec({
        network: 'bridge',
        attachment: ATTACHMENT,
        ports: [{ hostPort: 8080, port: 80, protocol: 'tcp' }],
      }),
    );
  });
  it("capabilities: Podman's defaults, drops and adds, all with --privileged", () => {
    assert.equal(capabilityMaskOf(spec()).toString(16), '800405fb');
    const none = spec({ security: { ...defaultSecurity(), capDrop: ['ALL'] } });
    assert.equal(capabilityMaskOf(none), 0n);
    const raw = spec({ security: { ...defaultSecurity(), capAdd: ['net_raw'], capDrop: ['CHOWN'] } });
    assert.equal(capabilityMaskOf(raw), 0x800405fbn - 1n + (1n << 13n));
    const priv = spec({ security: { ...defaultSecurity(), privileged: true } });
    assert.equal(capabilityMaskOf(priv), (1n << 41n) - 1n);
  });

  it('the guest config: the rootfs share as root, the process and the confinement', () => {
    const s = spec({ volumes: [{ source: '/host/v', target: '/data', readOnly: true }] });
    assert.deepEqual(sandboxShares(s, '/i/rootfs'), [
      { tag: 'rootfs', path: '/i/rootfs' },
      { tag: 'vol0', path: '/host/v', readOnly: true },
    ]);
    const text = encodeConfig(sandboxGuestConfig(s));
    for (const line of [
      'root=9p:rootfs',
      'hostname=web',
      'pids=32',
      'mount=vol0:/data:ro',
      'sandbox=1',
      `memory=${64 * MiB}`,
      'nnp=1',
      'caps=800405fb',
      'ro_root=0',
      'hosts=127.0.0.1\tlocalhost\\n::1\tlocalhost ip6-localhost ip6-loopback\\n127.0.1.1\tweb\\n',
      'arg=sh',
      'cwd=/srv',
      'user=1000',
    ])
      assert.ok(text.split('\n').includes(line), `missing ${JSON.stringify(line)} in\n${text}`);
  });
});
