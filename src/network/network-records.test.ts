import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryStore } from '../stores/memory/memory-store.js';
import { NetworkRecords } from './network-records.js';

const net = { name: 'n', bridge: 'br', subnet: '10.1.0.0/29', gateway: '10.1.0.1', createdAt: '' };
const req = (id: string, ports: { hostPort: number; port: number; protocol: 'tcp' | 'udp' }[] = []) => ({
  id,
  name: `i-${id}`,
  hostname: `i-${id}`,
  type: 'container' as const,
  ports,
});

describe('network records', () => {
  it('leases distinct addresses, persists them and refuses when full', async () => {
    const store = new MemoryStore();
    const r = new NetworkRecords(store);
    await r.addNetwork(net);
    const got = [];
    for (const id of ['a', 'b', 'c', 'd', 'e']) got.push((await r.lease(net, req(id))).address);
    assert.deepEqual(got, ['10.1.0.2', '10.1.0.3', '10.1.0.4', '10.1.0.5', '10.1.0.6']);
    await assert.rejects(r.lease(net, req('f')), { kind: 'insufficient_resources' });
    await assert.rejects(r.lease(net, req('a')), { kind: 'already_exists' });
    const again = new NetworkRecords(store);
    await again.load();
    assert.equal(again.leaseOf('c')?.address, '10.1.0.4');
    assert.equal(again.networks.get('n')?.subnet, '10.1.0.0/29');
    await again.release(['c', 'missing']);
    assert.equal((await store.list('leases')).length, 4);
    assert.equal((await again.lease(net, req('g'))).address, '10.1.0.4');
    await again.release(['b']);
    const kept = await again.lease(net, { ...req('h'), address: '10.1.0.3' });
    assert.equal(kept.address, '10.1.0.3', 'a free preferred address is kept');
    await again.release(['h', 'd']);
    const taken = await again.lease(net, { ...req('i'), address: '10.1.0.2' });
    assert.equal(taken.address, '10.1.0.5', 'a taken one is not (round robin goes on after .4)');
  });

  it('refuses a host port published twice or already taken', async () => {
    const r = new NetworkRecords(new MemoryStore());
    await r.addNetwork({ ...net, subnet: '10.2.0.0/24' });
    const n2 = { ...net, subnet: '10.2.0.0/24' };
    await r.lease(n2, req('a', [{ hostPort: 8080, port: 80, protocol: 'tcp' }]));
    await assert.rejects(r.lease(n2, req('b', [{ hostPort: 8080, port: 81, protocol: 'tcp' }])), {
      kind: 'conflict',
      message: /8080\/tcp is already published by instance "i-a"/,
    });
    await r.lease(n2, req('c', [{ hostPort: 8080, port: 80, protocol: 'udp' }]));
    await assert.rejects(
      r.lease(
        n2,
        req('d', [
          { hostPort: 9000, port: 1, protocol: 'tcp' },
          { hostPort: 9000, port: 2, protocol: 'tcp' },
        ]),
      ),
      { kind: 'invalid_argument' },
    );
    assert.equal(r.leaseOf('d'), undefined);
  });
});
