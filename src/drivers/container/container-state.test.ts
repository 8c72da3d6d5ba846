import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  deriveState,
  exitReason,
  parseExit,
  parseMonitor,
  processStartTime,
  type RunFiles,
} from './container-state.js';

const exit = { runId: 'r1', pid: 10, exitCode: 3, oomKilled: false, startedAt: 's', finishedAt: 'f' };
const mon = { pid: 5, startTime: 100, runId: 'r1' };
const base: RunFiles = {
  complete: true,
  runDirMissing: false,
  startedMark: true,
  monitorAlive: false,
  pidAlive: false,
  frozen: false,
};

describe('container state from the monitor files', () => {
  it('decides every case', () => {
    assert.deepEqual(deriveState({ ...base, complete: false }), {
      status: 'stopped',
      reason: 'failed: incomplete create',
    });
    assert.deepEqual(deriveState({ ...base, runDirMissing: true, startedMark: false }), {
      status: 'created',
    });
    assert.equal(deriveState({ ...base, runDirMissing: true, exitCopy: exit }).exitCode, 3);
    assert.match(deriveState({ ...base, runDirMissing: true }).reason ?? '', /host restarted/);
    assert.deepEqual(deriveState({ ...base, monitor: mon, exit }), {
      status: 'stopped',
      exitCode: 3,
      reason: 'exited',
      startedAt: 's',
      finishedAt: 'f',
    });
    const live = {
      ...base,
      monitor: { ...mon, runId: 'r2' },
      monitorAlive: true,
      pid: 10,
      pidAlive: true,
      exit,
    };
    assert.equal(deriveState(live).status, 'running', 'an older exit record does not count');
    assert.equal(deriveState({ ...live, frozen: true }).status, 'paused');
    assert.equal(
      deriveState({ ...live, pidAlive: false }).status,
      'running',
      'the monitor is recording the exit',
    );
    assert.equal(deriveState({ ...live, pid: undefined }).status, 'stopped', 'starting: the previous state');
    assert.equal(deriveState({ ...live, pid: undefined, exit: undefined }).status, 'created');
    assert.deepEqual(deriveState({ ...live, monitorAlive: false }).reason, 'monitor lost');
    assert.match(deriveState({ ...live, monitorAlive: false, pidAlive: false }).reason ?? '', /monitor died/);
  });

  it('names the reason of an end', () => {
    assert.equal(exitReason({ exitCode: 137, oomKilled: true }), 'oom-killed');
    assert.equal(exitReason({ exitCode: 143, oomKilled: false }), 'killed by SIGTERM');
    assert.equal(exitReason({ exitCode: 1, oomKilled: false }), 'exited');
    assert.equal(exitReason({ exitCode: 255, oomKilled: false }), 'exited');
  });

  it('parses records and tells live processes', () => {
    assert.deepEqual(parseMonitor('5 100 r1\n'), mon);
    assert.equal(parseMonitor('garbage'), undefined);
    assert.equal(parseExit('{"runId":"r1","exitCode":3}')?.exitCode, 3);
    assert.equal(parseExit('{"half'), undefined);
    assert.ok((processStartTime(process.pid) ?? 0) > 0);
    assert.equal(processStartTime(0), undefined);
  });
});
