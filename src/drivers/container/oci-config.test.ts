import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultSecurity } from '../../core/instance.js';
import { busyboxSpec } from './busybox-fixture.js';
import { buildExecProcess, buildOciConfig, dedupeEnv } from './oci-config.js';
import {
  capabilityMask,
  capabilitySet,
  DEFAULT_CAPABILITIES,
  hostCapabilities,
  normalizeCapability,
} from './oci-security.js';
import { DENIED_SYSCALLS, defaultSeccompProfile } from './seccomp-profile.js';

const user = { uid: 0, gid: 0, additionalGids: [], home: '/root' };
const inputs = (over = {}) => ({
  spec: busyboxSpec('web', ['sh', '-c', 'true'], '/layer', over),
  user,
  rootfs: '/run/x/mnt/web',
  hostsFile: '/b/hosts',
  hostnameFile: '/b/hostname',
  resolvFile: '/b/resolv.conf',
  cgroupsPath: '/tandem-1/web/ctr',
  catatonit: '/usr/bin/catatonit',
});
type Config = {
  process: {
    args: string[];
    env: string[];
    capabilities: Record<string, string[]>;
    noNewPrivileges: boolean;
  };
  mounts: { destination: string; source: string; options?: string[] }[];
  linux: { namespaces: { type: string }[]; cgroupsPath: string; seccomp?: unknown; maskedPaths?: string[] };
  root: { readonly: boolean };
  hostname: string;
};

describe('OCI config', () => {
  it('runs the command under catatonit with the defaults Podman users expect', () => {
    const c = buildOciConfig(inputs()) as unknown as Config;
    assert.deepEqual(c.process.args, ['/dev/init', '--', 'sh', '-c', 'true']);
    assert.ok(c.mounts.some((m) => m.destination === '/dev/init' && m.source === '/usr/bin/catatonit'));
    const dests = c.mounts.map((m) => m.destination);
    assert.ok(dests.indexOf('/dev') < dests.indexOf('/dev/init'), '/dev is mounted before /dev/init');
    for (const f of ['/etc/hosts', '/etc/hostname', '/etc/resolv.conf']) assert.ok(dests.includes(f), f);
    assert.equal(c.hostname, 'web');
    assert.deepEqual(
      c.linux.namespaces.map((n) => n.type),
      ['pid', 'ipc', 'uts', 'mount', 'cgroup', 'network'],
    );
    assert.equal(c.linux.cgroupsPath, '/tandem-1/web/ctr');
    assert.deepEqual([...(c.process.capabilities.effective ?? [])].sort(), [...DEFAULT_CAPABILITIES].sort());
    assert.equal(c.process.noNewPrivileges, true);
    assert.ok(c.linux.seccomp && c.linux.maskedPaths?.includes('/proc/kcore'));
    assert.ok(c.process.env.includes('HOSTNAME=web') && c.process.env.some((e) => e.startsWith('PATH=')));
  });

  it('applies network host, read-only, volumes and privileged', () => {
    const c = buildOciConfig(
      inputs({
        network: 'host',
        security: { ...defaultSecurity(), readOnly: true, privileged: true },
        volumes: [{ source: '/srv/data', target: '/data', readOnly: true }],
      }),
    ) as unknown as Config;
    assert.ok(!c.linux.namespaces.some((n) => n.type === 'network'));
    assert.equal(c.root.readonly, true);
    assert.ok(c.mounts.some((m) => m.destination === '/tmp'));
    assert.deepEqual(c.mounts.find((m) => m.destination === '/data')?.options, ['rbind', 'rprivate', 'ro']);
    assert.equal(c.linux.seccomp, undefined);
    assert.equal(c.process.noNewPrivileges, false);
    assert.equal(c.process.capabilities.bounding?.length, hostCapabilities().length);
  });

  it('joins the prepared netns on a bridge, and maps ids with --userns auto', () => {
    const attachment = {
      network: 'tandem0',
      bridge: 'tandem0',
      address: '10.88.0.2',
      prefixLength: 16,
      gateway: '10.88.0.1',
      mac: '0a:58:0a:58:00:02',
      dns: [],
      hostsFile: '/run/n/hosts/web',
      netns: '/run/netns/tandem-x-web',
    };
    const c = buildOciConfig({
      ...inputs({
        network: 'bridge',
        attachment,
        security: { ...defaultSecurity(), userns: 'auto' },
        volumes: [{ source: '/v', target: '/data', readOnly: false }],
      }),
      idmap: { hostId: 1 << 20, size: 65536 },
    }) as unknown as Config & { linux: { uidMappings: unknown[]; gidMappings: unknown[] } };
    assert.deepEqual(c.linux.namespaces.at(-2), { type: 'network', path: '/run/netns/tandem-x-web' });
    assert.deepEqual(c.linux.namespaces.at(-1), { type: 'user' });
    const map = [{ containerID: 0, hostID: 1 << 20, size: 65536 }];
    assert.deepEqual(c.linux.uidMappings, map);
    assert.deepEqual(c.linux.gidMappings, map);
    assert.deepEqual(c.mounts.find((m) => m.destination === '/data')?.options, [
      'rbind',
      'rprivate',
      'rw',
      'idmap',
    ]);
    const plain = buildOciConfig(inputs()) as unknown as Config & { linux: { uidMappings?: unknown } };
    assert.equal(plain.linux.uidMappings, undefined);
  });

  it('gives non-root users only the bounding set, and exec the container identity', () => {
    const c = buildOciConfig({
      ...inputs(),
      user: { uid: 1000, gid: 1000, additionalGids: [], home: '/h' },
    }) as unknown as Config;
    assert.deepEqual(c.process.capabilities.effective, []);
    assert.equal(c.process.capabilities.bounding?.length, DEFAULT_CAPABILITIES.length);
    const p = buildExecProcess(
      inputs().spec,
      { args: ['ls'], env: ['A=1', 'PATH=/x'], tty: true, stdin: false, cols: 100, rows: 40 },
      user,
    );
    assert.deepEqual(p.consoleSize, { height: 40, width: 100 });
    assert.ok((p.env as string[]).includes('PATH=/x') && (p.env as string[]).includes('TERM=xterm'));
  });

  it('normalizes capabilities and computes the mask', () => {
    assert.equal(normalizeCapability('net_raw'), 'CAP_NET_RAW');
    assert.throws(() => normalizeCapability('CAP_FLY'), /unknown capability/);
    assert.equal(capabilityMask(DEFAULT_CAPABILITIES), '00000000800405fb');
    assert.deepEqual(capabilitySet({ ...defaultSecurity(), capDrop: ['ALL'], capAdd: ['kill'] }), [
      'CAP_KILL',
    ]);
    const held = ['CAP_CHOWN', 'CAP_KILL', 'CAP_NET_RAW'];
    assert.deepEqual(capabilitySet({ ...defaultSecurity(), privileged: true }, held), held);
    assert.deepEqual(capabilitySet({ ...defaultSecurity(), capAdd: ['ALL'] }, held), held);
    assert.throws(() => capabilitySet({ ...defaultSecurity(), capAdd: ['SYS_ADMIN'] }, held), {
      kind: 'invalid_argument',
      message: /CAP_SYS_ADMIN is not available/,
    });
    assert.deepEqual(dedupeEnv(['A=1', 'B=2', 'A=3']), ['A=3', 'B=2']);
  });

  it('denies mount, modules, kexec and namespace creation in the seccomp profile', () => {
    for (const s of ['mount', 'init_module', 'finit_module', 'kexec_load', 'unshare', 'bpf']) {
      assert.ok((DENIED_SYSCALLS as readonly string[]).includes(s), s);
    }
    const p = defaultSeccompProfile() as { defaultAction: string; syscalls: { names: string[] }[] };
    assert.equal(p.defaultAction, 'SCMP_ACT_ALLOW');
    assert.ok(p.syscalls.filter((r) => r.names.includes('clone')).length >= 7);
  });
});
