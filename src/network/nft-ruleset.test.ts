import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { forwardsScript, fullRuleset } from './nft-ruleset.js';

describe('nft ruleset', () => {
  const nets = [
    { bridge: 'tandem0', subnet: '10.88.0.0/16' },
    { bridge: 'tb123', subnet: '10.89.0.0/24' },
  ];
  const fwd = [
    { protocol: 'tcp' as const, hostPort: 8080, address: '10.88.0.2', port: 80 },
    { protocol: 'udp' as const, hostPort: 5353, address: '10.88.0.3', port: 53 },
  ];

  it('replaces the whole table atomically, with forwards as map elements', () => {
    const text = fullRuleset('tandem-abc', nets, fwd);
    assert.ok(text.startsWith('table ip tandem-abc\ndelete table ip tandem-abc\n'), text);
    assert.match(text, /map fwd_tcp \{[^}]*elements = \{ 8080 : 10\.88\.0\.2 \. 80 \}/);
    assert.match(text, /map fwd_udp \{[^}]*elements = \{ 5353 : 10\.88\.0\.3 \. 53 \}/);
    assert.match(
      text,
      /hook output priority -100;[\s\S]*fib daddr type local dnat ip to tcp dport map @fwd_tcp/,
    );
    assert.match(text, /ip saddr 10\.88\.0\.0\/16 ip daddr != 10\.88\.0\.0\/16 masquerade/);
    assert.match(text, /oifname "tandem0" ip saddr 127\.0\.0\.0\/8 masquerade/);
    assert.match(text, /oifname "tb123" ip saddr 10\.89\.0\.0\/24 ct status dnat masquerade/);
    assert.match(text, /iifname "tandem0" oifname \{ "tb123" \} drop/);
    assert.match(text, /iifname "tb123" oifname \{ "tandem0" \} drop/);
  });

  it('deletes the table when no network is left', () => {
    assert.equal(fullRuleset('t', [], fwd), 'table ip t\ndelete table ip t\n');
  });

  it('adds and deletes one instance’s forwards', () => {
    assert.equal(
      forwardsScript('t', 'add', fwd),
      'add element ip t fwd_tcp { 8080 : 10.88.0.2 . 80 }\nadd element ip t fwd_udp { 5353 : 10.88.0.3 . 53 }\n',
    );
    assert.equal(forwardsScript('t', 'delete', fwd.slice(0, 1)), 'delete element ip t fwd_tcp { 8080 }\n');
    assert.equal(forwardsScript('t', 'add', []), '');
  });
});
