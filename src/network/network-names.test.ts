import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isInterfaceName, networkNames, networkTag } from './network-names.js';

describe('network names', () => {
  const a = networkNames('/var/lib/tandem/network');
  const b = networkNames('/tmp/other/network');

  it('derives every host name from the network root', () => {
    assert.equal(a.tag, networkTag('/var/lib/tandem/network'));
    assert.notEqual(a.tag, b.tag);
    assert.equal(a.table, `tandem-${a.tag}`);
    assert.equal(a.netnsPath('0123456789ab'), `/run/netns/tandem-${a.tag}-0123456789ab`);
    assert.notEqual(a.veth('0123456789ab'), b.veth('0123456789ab'), 'same id, two daemons');
    for (const n of [a.veth('0123456789ab'), a.tap('0123456789ab'), a.bridge('some-long-network-name')])
      assert.ok(isInterfaceName(n) && n.length === 15, n);
    assert.equal(a.hostsFile('x'), `/run/tandem-net-${a.tag}/hosts/x`);
  });

  it('recognises only its own aliases and netns names', () => {
    assert.deepEqual(a.parseAlias(a.alias('veth', 'abc')), { kind: 'veth', subject: 'abc' });
    assert.equal(b.parseAlias(a.alias('veth', 'abc')), undefined);
    assert.equal(a.parseAlias(undefined), undefined);
    assert.equal(a.parseAlias(`tandem-${a.tag}:weird:x`), undefined);
    assert.equal(a.netnsId(a.netnsName('abc')), 'abc');
    assert.equal(b.netnsId(a.netnsName('abc')), undefined);
  });

  it('tells interface names', () => {
    assert.ok(isInterfaceName('tandem0'));
    assert.ok(!isInterfaceName('a-name-that-is-too-long'));
    assert.ok(!isInterfaceName('bad/name'));
  });
});
