import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UsageHistory } from './usage-history.js';

const at = (s: number, cpuSeconds: number, memoryBytes = 1000) => ({
  name: 'a',
  time: new Date(Date.UTC(2024, 0, 1, 0, 0, s)).toISOString(),
  cpuSeconds,
  memoryBytes,
});

describe('usage history', () => {
  it('computes CPU % over the samples own interval and keeps a bounded window', () => {
    const h = new UsageHistory(3);
    h.add(at(0, 10));
    assert.equal(h.latest('a')!.cpu, undefined);
    h.add(at(2, 11.5));
    assert.equal(h.latest('a')!.cpu, 75);
    h.add(at(2, 99)); // not newer: ignored
    assert.equal(h.points('a').length, 2);
    h.add(at(3, 12.5, 2000));
    h.add(at(4, 12.5));
    assert.deepEqual(
      h.points('a').map((p) => p.cpu),
      [75, 100, 0],
    );
    h.retain(new Set());
    assert.equal(h.points('a').length, 0);
  });
});
