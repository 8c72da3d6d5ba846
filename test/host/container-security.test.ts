/**
 * Real containers: the security defaults (no mount, no module loading, read-only and masked
 * /proc paths, no raw sockets, no new user namespaces, Podman's capability set, no new
 * privileges, seccomp), and what the options change (cap-add, user, read-only rootfs, volumes),
 * plus the environment a container sees (hostname, /etc files, only lo).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { DriverSpec } from '../../src/core/driver.js';
import { defaultSecurity } from '../../src/core/instance.js';
import { collect } from '../../src/drivers/conformance.js';
import { busyboxSpec, prepareBusyboxRootfs } from '../../src/drivers/container/busybox-fixture.js';
import { ContainerDriver, removeDriverHostState } from '../../src/drivers/container/container-driver.js';
import { capabilityMask, DEFAULT_CAPABILITIES } from '../../src/drivers/container/oci-security.js';

describe('container security defaults', { timeout: 120_000 }, () => {
  let layer = '';
  let root = '';
  let driver: ContainerDriver;
  const ids: string[] = [];
  const launch = async (id: string, over: Partial<DriverSpec> = {}) => {
    ids.push(id);
    await driver.create(busyboxSpec(id, ['sleep', '1000'], layer, over));
    await driver.start(id);
  };
  const sh = async (id: string, script: string, user?: string) => {
    const s = await driver.exec(id, { args: ['sh', '-c', script], env: [], tty: false, stdin: false, user });
    const out = await collect(s);
    return { ...out, code: await s.exit, all: out.stdout + out.stderr };
  };

  before(async () => {
    execFileSync(join(import.meta.dirname, '../../helpers/monitor/build.sh'), { stdio: 'inherit' });
    layer = await mkdtemp(join(tmpdir(), 'tandem-ctr-layer-'));
    await prepareBusyboxRootfs(layer);
    root = await mkdtemp(join(tmpdir(), 'tandem-ctr-sec-'));
    driver = new ContainerDriver({ root });
    await launch('dflt');
  });
  after(async () => {
    for (const id of ids) await driver.delete(id, { force: true }).catch(() => {});
    await driver.close();
    await removeDriverHostState(root);
    await rm(root, { recursive: true, force: true });
    await rm(layer, { recursive: true, force: true });
  });

  it('has exactly the documented capability set, no new privileges and a seccomp filter', async () => {
    const status = (await sh('dflt', 'cat /proc/self/status')).stdout;
    const want = capabilityMask(DEFAULT_CAPABILITIES);
    assert.equal(want, '00000000800405fb', "Podman's default set");
    for (const set of ['CapEff', 'CapPrm', 'CapBnd'])
      assert.match(status, new RegExp(`${set}:\\s+${want}\\n`));
    assert.match(status, /CapInh:\s+0000000000000000\n/);
    assert.match(status, /NoNewPrivs:\s+1\n/);
    assert.match(status, /Seccomp:\s+2\n/);
  });

  it('cannot mount, load a kernel module, or create a user namespace', async () => {
    const mount = await sh('dflt', 'mkdir -p /mnt && mount -t tmpfs none /mnt');
    assert.notEqual(mount.code, 0);
    assert.match(mount.all, /permission denied|not permitted/i);
    const mod = await sh('dflt', 'echo garbage > /tmp/x.ko; insmod /tmp/x.ko');
    assert.notEqual(mod.code, 0);
    assert.match(mod.all, /Operation not permitted/, 'init_module is denied, not parsed');
    const userns = await sh('dflt', 'unshare -U -r id');
    assert.notEqual(userns.code, 0);
    assert.match(userns.all, /not permitted/);
  });

  it('cannot write /proc/sysrq-trigger or /proc/sys, and masked paths are empty', async () => {
    const sysrq = await sh('dflt', 'echo h > /proc/sysrq-trigger');
    assert.notEqual(sysrq.code, 0, sysrq.all);
    const procSys = await sh('dflt', 'echo 1 > /proc/sys/vm/drop_caches');
    assert.notEqual(procSys.code, 0);
    assert.match(procSys.all, /Read-only file system/);
    const masked = await sh('dflt', 'wc -c < /proc/keys; wc -c < /proc/timer_list; ls /proc/acpi | wc -l');
    assert.equal(masked.stdout, '0\n0\n0\n');
  });

  it('cannot open a raw socket; --cap-add NET_RAW can', async () => {
    const raw = await sh('dflt', 'arping -c1 -w1 -I lo 127.0.0.1');
    assert.notEqual(raw.code, 0);
    assert.match(raw.all, /socket: Operation not permitted/);
    await launch('netraw', { security: { ...defaultSecurity(), capAdd: ['net_raw'], capDrop: ['CHOWN'] } });
    const eff = (await sh('netraw', 'grep CapEff /proc/self/status')).stdout;
    assert.match(eff, new RegExp(`0000000080${'0425fa'}`), 'NET_RAW (bit 13) added, CHOWN (bit 0) dropped');
    const arping = await sh('netraw', 'arping -c1 -w1 -I lo 127.0.0.1');
    assert.doesNotMatch(arping.all, /socket: Operation not permitted/);
  });

  it('sees its hostname, /etc files and only lo', async () => {
    const out = await sh(
      'dflt',
      'hostname; cat /etc/hostname; grep -c dflt /etc/hosts; ls /sys/class/net; cat /dev/init >/dev/null && echo init-ok',
    );
    assert.equal(out.stdout, 'dflt\ndflt\n1\nlo\ninit-ok\n');
    const ps = await sh('dflt', 'cat /proc/1/cmdline | tr "\\0" " "');
    assert.equal(ps.stdout, '/dev/init -- sleep 1000 ', 'catatonit is PID 1');
  });

  it('runs as a named user without capabilities', async () => {
    await launch('usr', {
      process: { args: ['sleep', '1000'], env: [], cwd: '/tmp', user: 'nobody', terminal: false },
    });
    const out = await sh('usr', 'id -u; id -g; id -G; pwd; echo $HOME; grep CapEff /proc/self/status');
    assert.equal(out.stdout, '65534\n65534\n65534 100\n/tmp\n/nonexistent\nCapEff:\t0000000000000000\n');
    const asRoot = await sh('usr', 'id -u', '0');
    assert.equal(asRoot.stdout, '0\n');
  });

  it('honours a read-only rootfs and bind volumes', async () => {
    const host = await mkdtemp(join(tmpdir(), 'tandem-ctr-vol-'));
    try {
      await writeFile(join(host, 'in.txt'), 'from the host\n');
      await launch('ro', {
        security: { ...defaultSecurity(), readOnly: true },
        volumes: [
          { source: host, target: '/data', readOnly: false },
          { source: host, target: '/rodata', readOnly: true },
        ],
      });
      const out = await sh(
        'ro',
        'touch /x 2>&1; touch /tmp/ok && echo tmp-ok; cat /data/in.txt; echo hi > /data/out.txt; echo no > /rodata/no.txt',
      );
      assert.match(out.all, /touch: \/x: Read-only file system/);
      assert.match(out.all, /tmp-ok\nfrom the host\n/);
      assert.match(out.all, /\/rodata\/no.txt: Read-only file system/);
      assert.equal(execFileSync('cat', [join(host, 'out.txt')]).toString(), 'hi\n');
    } finally {
      await driver.delete('ro', { force: true });
      await rm(host, { recursive: true, force: true });
    }
  });
});
