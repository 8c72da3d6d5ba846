/**
 * `tandem schedule simulate` as a user runs it (bin/tandem, the bundled CLI): the milp policy
 * really solves in its worker thread and the lower bound is computed, rather than falling back
 * to first-fit because the bundle lacks the worker (as it once did, silently).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ROOT } from '../helpers/daemon.js';

describe('tandem schedule simulate (bundled CLI)', () => {
  it('--policy milp solves with MILP and reports the LP lower bound', () => {
    const r = spawnSync(
      join(ROOT, 'bin/tandem'),
      [
        'schedule',
        'simulate',
        '--nodes',
        '10',
        '--instances',
        '50',
        '--policy',
        'milp',
        '--time-limit',
        '5',
        '--json',
      ],
      { encoding: 'utf8', timeout: 60_000 },
    );
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.solver.method, 'milp', JSON.stringify(report.solver));
    assert.equal(report.lowerBoundMethod, 'lp-relaxation');
    assert.ok(report.lowerBound >= 1 && report.nodesUsed >= report.lowerBound);
    assert.equal(report.placed, 50);
  });
});
