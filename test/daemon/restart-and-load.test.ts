/**
 * Resilience of the daemon process (issue 2): kill -9 during a burst of creates loses nothing
 * that was reported created and leaves nothing half-created; 20 parallel creates and deletes
 * finish without deadlock or loss; one daemon per state dir; a stale socket is replaced;
 * SIGTERM shuts down cleanly and the workloads keep running.
 */
import assert from 'node:assert/strict';
import { statSync, writeFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { TestDaemon, waitOp } from '../helpers/daemon.js';

const cleanups: TestDaemon[] = [];
after(async () => {
  for (const d of cleanups) await d.cleanup();
});

function daemon(dir?: string, args: string[] = []): TestDaemon {
  const d = new TestDaemon({ dir, args });
  cleanups.push(d);
  return d;
}

describe('daemon resilience (fake driver)', () => {
  it('kill -9 during a burst of creates: every reported create survives, nothing is half-created', async () => {
    const d = await daemon().start();
    const reported: string[] = [];
    let stop = false;
    const burst = async (worker: number) => {
      for (let i = 0; !stop; i++) {
        const name = `burst-${worker}-${i}`;
        try {
          const r = await d.api('POST', '/v1/instances', {
            name,
            image: 'busybox',
            start: true,
            command: ['sh', '-c', 'sleep 1000'],
          });
          if (r.status !== 202) continue;
          const op = await waitOp(d, r.body);
          if (op.status === 'success') reported.push(name);
        } catch {
          return; // the daemon is gone
        }
      }
    };
    const workers = [0, 1, 2, 3].map(burst);
    await new Promise((r) => setTimeout(r, 1500));
    d.proc!.kill('SIGKILL');
    stop = true;
    await Promise.all(workers);
    assert.ok(reported.length > 3, `some creates were reported (${reported.length})`);

    const again = await daemon(d.dir).start();
    const list = (await again.api('GET', '/v1/instances')).body as {
      name: string;
      status: string;
      createdAt: string;
    }[];
    const names = new Set(list.map((i) => i.name));
    for (const n of reported) assert.ok(names.has(n), `reported instance ${n} survived`);
    for (const i of list) {
      assert.ok(
        ['created', 'running', 'stopped'].includes(i.status),
        `${i.name} is ${i.status}, not half-created`,
      );
      const r = await again.api('DELETE', `/v1/instances/${i.name}?force=true`);
      assert.equal(r.status, 202);
      assert.equal((await waitOp(again, r.body)).status, 'success', `${i.name} is manageable`);
    }
    await again.stop();
  });

  it('20 parallel creates then 20 parallel deletes finish without deadlock or loss', async () => {
    const d = await daemon(undefined, []).start();
    const names = Array.from({ length: 20 }, (_, i) => `par-${i}`);
    const created = await Promise.all(
      names.map(async (name) => {
        const r = await d.api('POST', '/v1/instances', {
          name,
          image: 'busybox',
          start: true,
          command: ['sh', '-c', 'sleep 1000'],
        });
        assert.equal(r.status, 202);
        return waitOp(d, r.body);
      }),
    );
    assert.ok(
      created.every((o) => o.status === 'success'),
      JSON.stringify(created.filter((o) => o.status !== 'success')),
    );
    const list = (await d.api('GET', '/v1/instances')).body as { name: string; status: string }[];
    assert.deepEqual(list.map((i) => i.name).sort(), [...names].sort());
    assert.ok(list.every((i) => i.status === 'running'));
    const deleted = await Promise.all(
      names.map(async (name) => waitOp(d, (await d.api('DELETE', `/v1/instances/${name}?force=true`)).body)),
    );
    assert.ok(deleted.every((o) => o.status === 'success'));
    assert.deepEqual((await d.api('GET', '/v1/instances')).body, []);
    await d.stop();
  });

  it('refuses a second daemon on the same state dir; replaces a stale socket', async () => {
    const d = await daemon().start();
    const second = daemon(d.dir);
    await assert.rejects(second.start(), /in use by another tandem daemon/);
    d.proc!.kill('SIGKILL');
    await new Promise((r) => d.proc!.once('exit', r));
    assert.ok(statSync(d.socket).isSocket(), 'kill -9 leaves the socket file behind');
    const third = await daemon(d.dir).start();
    assert.equal(statSync(d.socket).mode & 0o777, 0o660);
    assert.equal((await third.api('GET', '/v1/instances')).status, 200);
    await third.stop();
    writeFileSync(`${d.dir}/not-a-socket`, '');
  });

  it('SIGTERM shuts down cleanly and the workload keeps running', async () => {
    const d = await daemon().start();
    const r = await d.cli(['launch', 'busybox', 'keeper', '--', 'sh', '-c', 'echo up; sleep 1000']);
    assert.equal(r.code, 0, r.stderr);
    const pid = JSON.parse((await d.cli(['info', 'keeper', '--json'])).stdout).pid;
    assert.equal(await d.stop('SIGTERM'), 0);
    const again = await daemon(d.dir).start();
    const info = JSON.parse((await again.cli(['info', 'keeper', '--json'])).stdout);
    assert.equal(info.status, 'running');
    assert.equal(info.pid, pid);
    const stop = await again.cli(['stop', 'keeper']);
    assert.equal(stop.code, 0, stop.stderr);
    await again.stop();
  });
});
