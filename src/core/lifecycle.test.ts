import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isTandemError } from '../base/errors.js';
import { INSTANCE_STATUSES } from './instance.js';
import { ACTIONS, checkAction, TRANSITIONS } from './lifecycle.js';

describe('lifecycle state machine', () => {
  it('answers run, noop or conflict for every action from every status', () => {
    for (const action of ACTIONS) {
      for (const status of INSTANCE_STATUSES) {
        const t = TRANSITIONS[action];
        let got: string;
        try {
          got = checkAction('web', action, status);
        } catch (err) {
          assert.ok(isTandemError(err, 'conflict'), `${action} from ${status} throws conflict`);
          assert.match((err as Error).message, /"web"/);
          got = 'conflict';
        }
        const want = t.from.includes(status) ? 'run' : t.noop.includes(status) ? 'noop' : 'conflict';
        assert.equal(got, want, `${action} from ${status}`);
      }
    }
  });

  it('follows Podman where it matters', () => {
    assert.equal(checkAction('a', 'stop', 'stopped'), 'noop');
    assert.equal(checkAction('a', 'start', 'running'), 'noop');
    assert.throws(() => checkAction('a', 'pause', 'stopped'), /cannot pause instance "a": it is stopped/);
    assert.throws(() => checkAction('a', 'delete', 'running'), /stop it first or delete with force/);
    assert.equal(checkAction('a', 'delete', 'running', { force: true }), 'run');
    assert.throws(() => checkAction('a', 'exec', 'paused'), /cannot exec/);
  });

  it('no status is both legal and a no-op for one action', () => {
    for (const action of ACTIONS) {
      const t = TRANSITIONS[action];
      assert.deepEqual(
        t.from.filter((s) => t.noop.includes(s)),
        [],
        action,
      );
    }
  });
});
