import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FrameReader, frame } from './container-attach.js';

describe('attach frames', () => {
  it('round-trips frames split anywhere', () => {
    const bytes = Buffer.concat([frame(1, 'hello'), frame(2, ''), frame(3, '137')]);
    const r = new FrameReader();
    const got = [];
    for (let i = 0; i < bytes.length; i += 3) got.push(...r.push(bytes.subarray(i, i + 3)));
    assert.deepEqual(
      got.map((f) => [f.type, f.data.toString()]),
      [
        [1, 'hello'],
        [2, ''],
        [3, '137'],
      ],
    );
    assert.deepEqual([...frame(5, '80 24').subarray(0, 5)], [5, 0, 0, 0, 5]);
  });
});
