/**
 * The host side of a VM or sandbox on the bridge, without QEMU: a tap on the bridge (up, aliased
 * as this daemon's), its forward and hosts file, all gone after detach, and a stale tap removed
 * by reconcile. The manager runs in a child process inside a test network namespace
 * (network-tap-run.ts), so nothing lands in the host's namespace.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { networkNames } from '../../src/network/network-names.js';

describe('taps for VMs and sandboxes', { timeout: 60_000 }, () => {
  const ns = `tn-tap-${process.pid}`;
  const dir = mkdtempSync(join(tmpdir(), 'tandem-tap-'));
  after(() => {
    execFileSync('ip', ['netns', 'del', ns]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('attaches a tap on the bridge, detaches it, and reconcile drops a stale one', () => {
    execFileSync('ip', ['netns', 'add', ns]);
    const root = join(dir, 'network');
    const out = execFileSync('nsenter', [
      `--net=/run/netns/${ns}`,
      '--',
      process.execPath,
      '--import',
      'tsx',
      join(import.meta.dirname, 'network-tap-run.ts'),
      root,
    ]).toString();
    const steps = Object.fromEntries(
      out
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l))
        .map((s) => [s.step, s.data]),
    );
    const names = networkNames(root);
    const tap = names.tap('0123456789ab');
    const { a, links, hosts, forwards } = steps.attached;
    assert.equal(a.tap, tap);
    assert.equal(a.netns, undefined);
    assert.equal(a.address, '10.88.0.2');
    assert.equal(a.gateway, '10.88.0.1');
    assert.equal(a.mac, '0a:58:0a:58:00:02');
    const link = links.find((l: { name: string }) => l.name === tap);
    assert.deepEqual(link, {
      name: tap,
      alias: names.alias('tap', '0123456789ab'),
      master: 'tandem0',
      up: true,
    });
    assert.match(hosts, /10\.88\.0\.2\tvm1\n/);
    assert.deepEqual(forwards, [['tcp/9400', '10.88.0.2:22']]);
    assert.ok(!steps.detached.links.some((l: { name: string }) => l.name === tap));
    assert.equal(steps.detached.hosts, false);
    assert.deepEqual(steps.detached.forwards, []);
    assert.deepEqual(steps.reconciled.result, { kept: 0, dropped: 1 });
    const names2 = steps.reconciled.links.map((l: { name: string }) => l.name);
    assert.ok(!names2.includes(names.tap('ba9876543210')), 'the stale tap is gone');
    assert.ok(!names2.includes('tandem0'), 'and the bridge without instances');
    assert.deepEqual(
      steps.closed.links.map((l: { name: string }) => l.name),
      ['lo'],
    );
    assert.equal(steps.closed.table, false);
  });
});
