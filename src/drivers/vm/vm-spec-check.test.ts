import assert from 'node:assert/strict';
import { totalmem } from 'node:os';
import { describe, it } from 'node:test';
import { isTandemError } from '../../base/errors.js';
import { MIN_VM_MEMORY_BYTES, validateLimits } from './vm-spec-check.js';

const MiB = 1024 * 1024;

describe('vm limits', () => {
  it('refuses less guest RAM than a VM boots with, saying how much it needs', () => {
    assert.equal(MIN_VM_MEMORY_BYTES, 128 * MiB);
    assert.throws(
      () => validateLimits('v', { memoryBytes: 96 * MiB }),
      (e) => isTandemError(e, 'invalid_argument') && /at least 128MiB .* not 96MiB/.test(e.message),
    );
    validateLimits('v', { memoryBytes: 128 * MiB });
  });

  it('refuses more memory than the host has, and bad cpus, pids and disk sizes', () => {
    const no = (limits: Parameters<typeof validateLimits>[1], kind: string) =>
      assert.throws(
        () => validateLimits('v', limits),
        (e) => isTandemError(e) && e.kind === kind,
      );
    no({ memoryBytes: totalmem() + MiB }, 'insufficient_resources');
    no({ cpus: 0 }, 'invalid_argument');
    no({ pids: 0 }, 'invalid_argument');
    no({ diskBytes: -1 }, 'invalid_argument');
  });
});
