import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { percent, size, splitWords } from './format.js';

describe('ui format helpers', () => {
  it('splits command lines as a shell does', () => {
    assert.deepEqual(splitWords(`sh -c 'while :; do :; done'`), ['sh', '-c', 'while :; do :; done']);
    assert.deepEqual(splitWords(` echo  "a \\"b\\" c"  d\\ e '' `), ['echo', 'a "b" c', 'd e', '']);
    assert.deepEqual(splitWords(''), []);
    assert.throws(() => splitWords(`echo 'x`), /unterminated/);
    assert.throws(() => splitWords(`echo "x`), /unterminated/);
  });
  it('formats sizes and percentages', () => {
    assert.equal(size(512), '512 B');
    assert.equal(size(32 * 1024 * 1024), '32 MiB');
    assert.equal(size(undefined), '-');
    assert.equal(percent(99.94), '99.9%');
    assert.equal(percent(undefined), '--');
  });
});
