/**
 * The Store conformance suite: every Store (sqlite, etcd, memory) must pass it.
 * Covers get/list order, each mutation kind, all-or-nothing batches, durability across a
 * reopen (where the store has one) and the closed state.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isTandemError } from '../base/errors.js';
import type { Store } from '../core/store.js';

export interface StoreTarget {
  name: string;
  /** Opens a store on fresh or existing state named `key` (same key: same data when durable). */
  open(key: string): Promise<Store>;
  durable: boolean;
}

/** Registers the store conformance suite for `target` with node:test. */
export function runStoreConformance(target: StoreTarget): void {
  describe(`store conformance: ${target.name}`, () => {
    it('get, list in key order, put replaces', async () => {
      const s = await target.open('basic');
      await s.commit([
        { op: 'put', collection: 'instances', key: 'b', value: { n: 2 } },
        { op: 'put', collection: 'instances', key: 'a', value: { n: 1 } },
        { op: 'put', collection: 'images', key: 'a', value: { other: true } },
      ]);
      assert.deepEqual(await s.get('instances', 'a'), { n: 1 });
      assert.equal(await s.get('instances', 'zzz'), undefined);
      assert.deepEqual(await s.list('instances'), [{ n: 1 }, { n: 2 }]);
      await s.commit([{ op: 'put', collection: 'instances', key: 'a', value: { n: 10 } }]);
      assert.deepEqual(await s.get('instances', 'a'), { n: 10 });
      await s.close();
    });

    it('create refuses an existing key, update a missing one, delete is idempotent', async () => {
      const s = await target.open('kinds');
      await s.commit([{ op: 'create', collection: 'instances', key: 'x', value: 1 }]);
      await assert.rejects(s.commit([{ op: 'create', collection: 'instances', key: 'x', value: 2 }]), (e) =>
        isTandemError(e, 'already_exists'),
      );
      await assert.rejects(
        s.commit([{ op: 'update', collection: 'instances', key: 'nope', value: 2 }]),
        (e) => isTandemError(e, 'not_found'),
      );
      await s.commit([{ op: 'update', collection: 'instances', key: 'x', value: 3 }]);
      assert.equal(await s.get('instances', 'x'), 3);
      await s.commit([{ op: 'delete', collection: 'instances', key: 'x' }]);
      await s.commit([{ op: 'delete', collection: 'instances', key: 'x' }]);
      assert.equal(await s.get('instances', 'x'), undefined);
      await s.close();
    });

    it('a batch is all or nothing', async () => {
      const s = await target.open('atomic');
      await s.commit([{ op: 'create', collection: 'instances', key: 'taken', value: 0 }]);
      await assert.rejects(
        s.commit([
          { op: 'put', collection: 'operations', key: 'op1', value: 'would be lost' },
          { op: 'put', collection: 'instances', key: 'taken', value: 1 },
          { op: 'update', collection: 'instances', key: 'missing', value: 1 },
        ]),
      );
      assert.equal(await s.get('operations', 'op1'), undefined);
      assert.equal(await s.get('instances', 'taken'), 0);
      await s.close();
    });

    it('durable across reopen', {
      skip: !target.durable && 'the store keeps nothing across a reopen',
    }, async () => {
      const s = await target.open('durable');
      await s.commit([{ op: 'put', collection: 'nodes', key: 'n1', value: { cpus: 2 } }]);
      await s.close();
      const again = await target.open('durable');
      assert.deepEqual(await again.get('nodes', 'n1'), { cpus: 2 });
      await again.close();
    });

    it('a closed store is unavailable', async () => {
      const s = await target.open('closed');
      await s.close();
      await assert.rejects(s.get('instances', 'a'), (e) => isTandemError(e, 'unavailable'));
    });
  });
}
