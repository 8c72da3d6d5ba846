/**
 * Volumes and security settings of real containers through the daemon (host namespace, no
 * networking: `--bridge none`): a named volume written by one container is read by another and
 * outlives both; `volume rm` while mounted is a conflict; bind mounts rw and ro; `--read-only`;
 * `--userns auto` with a volume (files land owned by the host's root through the idmapped
 * mount); `--privileged`, `--cap-drop`; every setting shown by `info`.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { prepareBusyboxRootfs } from '../../src/drivers/container/busybox-fixture.js';
import {
  capabilityMask,
  DEFAULT_CAPABILITIES,
  hostCapabilities,
} from '../../src/drivers/container/oci-security.js';
import { TestDaemon } from '../helpers/daemon.js';

const SLEEP = ['--', 'sleep', '1000'];

describe('volumes and security settings through the daemon', { timeout: 180_000 }, () => {
  const d = new TestDaemon({ drivers: 'real' });
  const dir = mkdtempSync(join(tmpdir(), 'tandem-vol-test-'));
  const ok = (args: string[]) => d.ok(args);
  const sh = (name: string, script: string) => d.cli(['exec', name, '--', 'sh', '-c', script]);
  const info = async (name: string) => JSON.parse(await ok(['info', name, '--json']));

  before(async () => {
    execFileSync(join(import.meta.dirname, '../../helpers/monitor/build.sh'), { stdio: 'inherit' });
    await d.start();
    const layer = join(dir, 'layer');
    await prepareBusyboxRootfs(layer);
    await promisify(execFile)('tar', ['-C', layer, '-cf', join(dir, 'bb.tar'), '.']);
    await ok(['image', 'import', 'bb', join(dir, 'bb.tar')]);
  });
  after(async () => {
    await d.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('shares a named volume between containers, refuses its removal while used, and keeps it after them', async () => {
    await ok(['volume', 'create', 'data']);
    await ok(['launch', 'bb', 'writer', '-v', 'data:/data', ...SLEEP]);
    assert.equal((await sh('writer', 'echo written-by-writer > /data/f')).code, 0);
    await ok(['launch', 'bb', 'reader', '-v', 'data:/data:ro', ...SLEEP]);
    assert.equal((await sh('reader', 'cat /data/f')).stdout, 'written-by-writer\n');
    const ro = await sh('reader', 'echo x > /data/g');
    assert.notEqual(ro.code, 0);
    assert.match(ro.stderr, /Read-only file system/);
    assert.deepEqual((await info('reader')).volumes, [{ source: 'data', target: '/data', readOnly: true }]);
    const busy = await d.cli(['volume', 'rm', 'data']);
    assert.equal(busy.code, 1);
    assert.match(busy.stderr, /volume "data" is in use by instance "reader", "writer"|"writer", "reader"/);
    await ok(['rm', '-f', 'writer', 'reader']);
    const vols = JSON.parse(await ok(['volume', 'ls', '--json']));
    assert.deepEqual(
      vols.map((v: { name: string }) => v.name),
      ['data'],
    );
    await ok(['launch', 'bb', 'later', '-v', 'data:/data', ...SLEEP]);
    assert.equal((await sh('later', 'cat /data/f')).stdout, 'written-by-writer\n', 'the data survived');
    await ok(['rm', '-f', 'later']);
    await ok(['volume', 'rm', 'data']);
    assert.deepEqual(JSON.parse(await ok(['volume', 'ls', '--json'])), []);
  });

  it('creates a named volume on first use', async () => {
    await ok(['launch', 'bb', 'auto', '-v', 'fresh:/x', ...SLEEP]);
    assert.equal((await sh('auto', 'touch /x/y && ls /x')).stdout, 'y\n');
    await ok(['rm', '-f', 'auto']);
    await ok(['volume', 'rm', 'fresh']);
  });

  it('binds host directories read-write and read-only', async () => {
    const host = join(dir, 'bind');
    mkdirSync(host);
    writeFileSync(join(host, 'in'), 'from-host\n');
    await ok(['launch', 'bb', 'binder', '-v', `${host}:/rw`, '-v', `${host}:/ro:ro`, ...SLEEP]);
    assert.equal((await sh('binder', 'cat /ro/in && echo from-ctr > /rw/out')).stdout, 'from-host\n');
    assert.equal(readFileSync(join(host, 'out'), 'utf8'), 'from-ctr\n');
    assert.notEqual((await sh('binder', 'echo x > /ro/nope')).code, 0);
    await ok(['rm', '-f', 'binder']);
  });

  it('refuses writes to the rootfs with --read-only (tmpfs /tmp still writable)', async () => {
    await ok(['launch', 'bb', 'ro', '--read-only', ...SLEEP]);
    const w = await sh('ro', 'echo x > /etc/nope');
    assert.notEqual(w.code, 0);
    assert.match(w.stderr, /Read-only file system/);
    assert.equal((await sh('ro', 'echo ok > /tmp/t && cat /tmp/t')).stdout, 'ok\n');
    assert.equal((await info('ro')).security.readOnly, true);
    await ok(['rm', '-f', 'ro']);
  });

  it('maps root to an unprivileged host uid with --userns auto; volume files stay host-root owned', async () => {
    await ok(['launch', 'bb', 'mapped', '--userns', 'auto', '-v', 'shared:/s', ...SLEEP]);
    const i = await info('mapped');
    assert.equal(i.security.userns, 'auto');
    const [inside, host] = readFileSync(`/proc/${i.pid}/uid_map`, 'utf8').trim().split(/\s+/).map(Number);
    assert.equal(inside, 0);
    assert.ok(host! >= 1 << 20);
    assert.match(readFileSync(`/proc/${i.pid}/status`, 'utf8'), new RegExp(`Uid:\\s+${host}\\s`));
    assert.equal((await sh('mapped', 'id -u && touch /root/mine && echo v > /s/f')).stdout, '0\n');
    const vol = JSON.parse(await ok(['volume', 'ls', '--json']))[0].path as string;
    assert.equal(statSync(join(vol, 'f')).uid, 0, 'idmapped: container root writes as host root');
    await ok(['launch', 'bb', 'plain', '-v', 'shared:/s', ...SLEEP]);
    assert.equal((await sh('plain', 'cat /s/f && echo w >> /s/f')).stdout, 'v\n');
    await ok(['rm', '-f', 'mapped', 'plain']);
    await ok(['volume', 'rm', 'shared']);
  });

  it('shows --privileged, --cap-add and --cap-drop in info and applies them', async () => {
    await ok(['launch', 'bb', 'priv', '--privileged', ...SLEEP]);
    const all = capabilityMask(hostCapabilities());
    assert.match((await sh('priv', 'grep CapEff /proc/self/status')).stdout, new RegExp(`CapEff:\\s+${all}`));
    assert.equal((await info('priv')).security.privileged, true);
    await ok(['launch', 'bb', 'dropped', '--cap-drop', 'ALL', '--cap-add', 'CHOWN', ...SLEEP]);
    const s = await info('dropped');
    assert.deepEqual([s.security.capDrop, s.security.capAdd], [['ALL'], ['CHOWN']]);
    const mask = capabilityMask(['CAP_CHOWN']);
    assert.match((await sh('dropped', 'grep CapEff /proc/self/status')).stdout, new RegExp(mask));
    assert.notEqual(mask, capabilityMask(DEFAULT_CAPABILITIES));
    await ok(['rm', '-f', 'priv', 'dropped']);
  });
});
