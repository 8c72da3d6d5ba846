import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EventBus, type TandemEvent } from './events.js';

describe('event bus', () => {
  it('stamps increasing sequence numbers and delivers in order', () => {
    const bus = new EventBus();
    const got: TandemEvent[] = [];
    const off = bus.subscribe((e) => got.push(e));
    bus.publish({ type: 'lifecycle', action: 'created', instance: 'a' });
    bus.publish({ type: 'lifecycle', action: 'started', instance: 'a' });
    off();
    bus.publish({ type: 'lifecycle', action: 'stopped', instance: 'a' });
    assert.deepEqual(
      got.map((e) => [e.seq, e.action]),
      [
        [1, 'created'],
        [2, 'started'],
      ],
    );
    assert.equal(bus.subscriberCount, 0);
  });

  it('replays from a sequence number within its ring and drops a throwing subscriber', () => {
    const bus = new EventBus(3);
    for (let i = 0; i < 5; i++) bus.publish({ type: 'operation', action: `a${i}` });
    assert.deepEqual(
      bus.since(0).map((e) => e.seq),
      [3, 4, 5],
    );
    assert.deepEqual(
      bus.since(4).map((e) => e.seq),
      [5],
    );
    bus.subscribe(() => {
      throw new Error('bad subscriber');
    });
    assert.equal(bus.subscriberCount, 1);
    bus.publish({ type: 'operation', action: 'x' });
    assert.equal(bus.subscriberCount, 0);
  });
});
