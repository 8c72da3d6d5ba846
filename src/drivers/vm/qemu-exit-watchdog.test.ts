import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { endIfHung, type QemuExitProbe } from './qemu-exit-watchdog.js';
import { processActivity } from './qemu-process.js';

/**
 * A fake QEMU on a fake clock: `exitAt` (ms after SHUTDOWN, or never), `cpuPerSecond` ticks and
 * `ioPerSecond` bytes of activity while `busyUntil`.
 */
function fakeQemu(o: { exitAt?: number; busyUntil?: number; cpuPerSecond?: number; ioPerSecond?: number }) {
  let now = 0;
  let killedAt: number | undefined;
  const gone = () => killedAt !== undefined || (o.exitAt !== undefined && now >= o.exitAt);
  const busyMs = () => Math.min(now, o.busyUntil ?? 0);
  const probe: QemuExitProbe = {
    alive: async () => !gone(),
    activity: async () => ({
      cpuTicks: 100 + Math.floor((busyMs() / 1000) * (o.cpuPerSecond ?? 0)) + Math.floor(now / 1000),
      ioBytes: Math.floor((busyMs() / 1000) * (o.ioPerSecond ?? 0)),
    }),
    kill: async () => {
      killedAt = now;
    },
    sleep: async (ms) => {
      now += ms;
    },
  };
  return { probe, killedAt: () => killedAt };
}

describe('QEMU exit watchdog', () => {
  it('leaves a QEMU that exits within the grace period alone', async () => {
    const q = fakeQemu({ exitAt: 800 });
    assert.equal(await endIfHung(q.probe), 'exited');
    assert.equal(q.killedAt(), undefined);
  });

  it('kills one that sits idle after the grace period (one tick a second is idle)', async () => {
    const q = fakeQemu({});
    assert.equal(await endIfHung(q.probe), 'killed');
    assert.equal(q.killedAt(), 4000, 'grace 3 s, then one idle second');
  });

  it('waits while it still works (a disk flush), then lets it exit', async () => {
    const q = fakeQemu({ busyUntil: 9000, exitAt: 9500, ioPerSecond: 4096 });
    assert.equal(await endIfHung(q.probe), 'exited');
    assert.equal(q.killedAt(), undefined);
  });

  it('counts CPU work as work, and kills once it stops', async () => {
    const q = fakeQemu({ busyUntil: 6000, cpuPerSecond: 50 });
    assert.equal(await endIfHung(q.probe), 'killed');
    assert.equal(q.killedAt(), 7000);
  });

  it('kills a QEMU busy past the limit', async () => {
    const q = fakeQemu({ busyUntil: 1e9, ioPerSecond: 1 });
    assert.equal(await endIfHung(q.probe, { maxMs: 10_000 }), 'killed');
    assert.equal(q.killedAt(), 10_000);
  });

  it('stops when cancelled', async () => {
    const q = fakeQemu({});
    assert.equal(await endIfHung({ ...q.probe, cancelled: () => true }), 'cancelled');
    assert.equal(q.killedAt(), undefined);
  });

  it('reads a real process: CPU ticks and disk bytes', async () => {
    const a = await processActivity(process.pid);
    let x = 0;
    for (let i = 0; i < 3e7; i++) x += i;
    const b = await processActivity(process.pid);
    assert.ok(x > 0 && b.cpuTicks > a.cpuTicks, `${a.cpuTicks} -> ${b.cpuTicks}`);
    assert.ok(Number.isInteger(b.ioBytes) && b.ioBytes >= a.ioBytes);
  });
});
