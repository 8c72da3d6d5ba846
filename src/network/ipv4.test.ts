import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  formatAddress,
  formatSubnet,
  macFor,
  nextFree,
  overlaps,
  parseAddress,
  parseRouteTable,
  parseSubnet,
} from './ipv4.js';

describe('ipv4', () => {
  it('parses and formats addresses and subnets', () => {
    assert.equal(parseAddress('10.88.0.1'), 0x0a580001);
    assert.equal(formatAddress(0xc0a80101), '192.168.1.1');
    assert.equal(formatAddress(parseAddress('255.255.255.255')), '255.255.255.255');
    assert.deepEqual(parseSubnet('10.88.0.0/16'), { base: 0x0a580000, prefixLength: 16, size: 65536 });
    for (const bad of ['10.88.0.0', '10.88.0.0/7', '10.88.0.0/31', '10.88.0.1/16', '300.1.1.0/24', 'x/24'])
      assert.throws(() => parseSubnet(bad), { kind: 'invalid_argument' }, bad);
    assert.throws(() => parseSubnet('10.88.0.1/16'), /did you mean 10\.88\.0\.0\/16/);
    assert.equal(formatSubnet(parseSubnet('10.89.3.0/24')), '10.89.3.0/24');
  });

  it('tells overlapping subnets', () => {
    assert.ok(overlaps(parseSubnet('10.88.0.0/16'), parseSubnet('10.88.5.0/24')));
    assert.ok(!overlaps(parseSubnet('10.88.0.0/16'), parseSubnet('10.89.0.0/24')));
  });

  it('hands out host addresses round robin, never the network, gateway or broadcast', () => {
    const s = parseSubnet('10.0.0.0/29'); // .0 net, .1 gw, .2-.6 hosts, .7 broadcast
    const used = new Set<number>();
    const got: string[] = [];
    let last: number | undefined;
    for (let i = 0; i < 5; i++) {
      last = nextFree(s, used, last)!;
      used.add(last);
      got.push(formatAddress(last));
    }
    assert.deepEqual(got, ['10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.0.6']);
    assert.equal(nextFree(s, used, last), undefined, 'full');
    used.delete(parseAddress('10.0.0.3'));
    assert.equal(formatAddress(nextFree(s, used, last)!), '10.0.0.3', 'wraps around to the freed one');
    used.add(parseAddress('10.0.0.3'));
    used.delete(parseAddress('10.0.0.4'));
    used.delete(parseAddress('10.0.0.6'));
    assert.equal(
      formatAddress(nextFree(s, used, parseAddress('10.0.0.4'))!),
      '10.0.0.6',
      'after the hint first',
    );
  });

  it('derives a locally administered MAC from the address', () => {
    assert.equal(macFor('10.88.0.5'), '0a:58:0a:58:00:05');
  });

  it('reads /proc/net/route', () => {
    const text =
      'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n' +
      'eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n' +
      'eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n';
    const routes = parseRouteTable(text);
    assert.equal(routes.length, 1, 'the default route is left out');
    assert.equal(routes[0]!.dev, 'eth0');
    assert.equal(formatSubnet(routes[0]!.subnet), '192.0.2.0/24');
  });
});
