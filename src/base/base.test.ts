import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isTandemError, TandemError, wrapError } from './errors.js';
import { isValidName } from './ids.js';
import { Rollback } from './rollback.js';
import { normalizeSignal } from './signals.js';
import { formatSize, parseSize } from './units.js';

describe('base', () => {
  it('parses the sizes DESIGN.md allows and refuses the rest', () => {
    assert.equal(parseSize('64MiB'), 64 * 1024 * 1024);
    assert.equal(parseSize('1GiB'), 1024 ** 3);
    assert.equal(parseSize('512KiB'), 512 * 1024);
    assert.equal(parseSize('4096'), 4096);
    for (const bad of ['', 'abc', '64XB', '-5MiB', '0', 'MiB', '1.5.2GiB']) {
      assert.throws(
        () => parseSize(bad),
        (e) => isTandemError(e, 'invalid_argument'),
        bad,
      );
    }
    assert.equal(formatSize(64 * 1024 * 1024), '64MiB');
    assert.equal(formatSize(1.5 * 1024 ** 3, ' '), '1.5 GiB');
  });

  it('accepts only DESIGN.md names', () => {
    for (const ok of ['a', 'web', 'web-1', '0abc', 'a'.repeat(63)]) assert.ok(isValidName(ok), ok);
    for (const bad of ['', 'Web', '-a', 'a-', 'a_b', 'a.b', 'a'.repeat(64)])
      assert.ok(!isValidName(bad), bad);
  });

  it('rolls back in reverse order, once, collecting failures', async () => {
    const done: string[] = [];
    const rb = new Rollback();
    rb.add('one', () => {
      done.push('one');
    });
    rb.add('two', () => {
      throw new Error('boom');
    });
    rb.add('three', async () => {
      done.push('three');
    });
    const failures = await rb.undo();
    assert.deepEqual(done, ['three', 'one']);
    assert.equal(failures.length, 1);
    assert.match(failures[0]!.message, /undo two: boom/);
    assert.deepEqual(await rb.undo(), []);
  });

  it('keeps the kind when adding context, and reads signals as users type them', () => {
    const e = wrapError(wrapError(new Error('disk full'), 'writing bundle'), 'creating instance "web"');
    assert.equal(e.message, 'creating instance "web": writing bundle: disk full');
    assert.equal(e.kind, 'internal');
    const twice = wrapError(wrapError(e, 'creating instance "web"'), 'creating instance "web"');
    assert.equal(twice.message, e.message, 'the same context is not repeated');
    const subject = wrapError(
      new TandemError('invalid_argument', 'instance "web": too small'),
      'creating instance "web"',
    );
    assert.equal(subject.message, 'creating instance "web": too small', 'nor the subject it ends with');
    assert.equal(subject.kind, 'invalid_argument');
    assert.equal(wrapError(new TandemError('internal', 'x: y'), 'reading x').message, 'reading x: x: y');
    assert.equal(normalizeSignal('TERM'), 'SIGTERM');
    assert.equal(normalizeSignal('sigint'), 'SIGINT');
    assert.equal(normalizeSignal('9'), 'SIGKILL');
    assert.throws(
      () => normalizeSignal('NOPE'),
      (err) => isTandemError(err, 'invalid_argument'),
    );
  });
});
