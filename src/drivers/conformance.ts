/**
 * The driver conformance suite: one set of node:test cases that every InstanceDriver (crun,
 * QEMU, sandbox, fake) must pass. A driver may declare a gap only with a reason; a gap shows
 * as a skipped test carrying that reason, never as a silent omission.
 *
 * Workloads are busybox shell command lines from WORKLOADS (the fake driver interprets the
 * same lines), so every backend runs the very same cases:
 * - lifecycle walk: create → start → pause → resume → stop → start → stop, with events;
 * - every illegal action from created/running/paused/stopped rejects with conflict and leaves
 *   the state unchanged; no-op actions succeed and change nothing;
 * - stop of a workload that honours SIGTERM ends well before the timeout; one that ignores it
 *   is killed at the timeout (exit 137);
 * - a workload's own exit is recorded with its code and reported as an `exited` event;
 * - exec: exit status, stdin to EOF, env and working directory;
 * - logs hold the workload's output; stats answer for a running workload;
 * - delete is idempotent and force-deletes a running workload;
 * - a second driver object on the same root sees and manages the running workload (restart).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isTandemError } from '../base/errors.js';
import { waitFor } from '../base/time.js';
import type { DriverSpec, ExecSession, InstanceDriver, RuntimeEvent, RuntimeState } from '../core/driver.js';
import { type Action, checkAction } from '../core/lifecycle.js';

/** The command lines the suite runs, as argv for busybox sh. */
export const WORKLOADS = {
  sleep: ['sh', '-c', 'sleep 1000'],
  honoursTerm: ['sh', '-c', 'trap "exit 0" TERM; echo ready; while true; do sleep 0.1; done'],
  ignoresTerm: ['sh', '-c', 'trap "" TERM; echo ready; while true; do sleep 0.1; done'],
  exit3: ['sh', '-c', 'echo conformance-output; sleep 0.3; exit 3'],
} as const;

export const CONFORMANCE_TESTS = [
  'probe',
  'lifecycle walk and events',
  'illegal actions conflict',
  'stop honours SIGTERM',
  'stop kills at timeout',
  'exit code recorded',
  'exec status stdin env',
  'logs and stats',
  'kill with signal',
  'delete idempotent and forced',
  'restart of the driver',
] as const;
export type ConformanceTest = (typeof CONFORMANCE_TESTS)[number];

export interface ConformanceTarget {
  /** Names the suite, e.g. 'fake' or 'container (crun)'. */
  name: string;
  /** Creates a driver on `root`; called again with the same root for the restart case. */
  makeDriver(root: string): Promise<InstanceDriver>;
  /** A spec with the given id whose workload runs `args`. */
  makeSpec(id: string, args: readonly string[]): Promise<DriverSpec> | DriverSpec;
  /** Tests this driver cannot pass yet, each with its reason. */
  gaps?: { test: ConformanceTest; reason: string }[];
  /** Grace period used by the stop tests (default 2000 ms). */
  stopTimeoutMs?: number;
  /** How long a start may take (default 10 s; VMs under TCG need more). */
  startTimeoutMs?: number;
  /** Runs once after the suite (remove fixtures). */
  cleanup?(): Promise<void>;
  /** What the backend shows of instance `id` under driver root `root` (e.g. a guest's console
   * log), added to the message when a wait for the workload's end fails. */
  diagnose?(root: string, id: string): Promise<string>;
}

/** Registers the conformance suite for `target` with node:test. */
export function runDriverConformance(target: ConformanceTarget): void {
  const stopMs = target.stopTimeoutMs ?? 2000;
  const startMs = target.startTimeoutMs ?? 10_000;
  const perTest = startMs * 3 + stopMs * 4 + 20_000;
  let root = '';
  let driver: InstanceDriver;
  const events: RuntimeEvent[] = [];
  let seq = 0;
  const made: string[] = [];

  const newId = (tag: string) => {
    const id = `cf${process.pid.toString(36)}${(seq++).toString(36)}${tag}`.slice(0, 20);
    made.push(id);
    return id;
  };
  const create = async (tag: string, args: readonly string[]) => {
    const id = newId(tag);
    await driver.create(await target.makeSpec(id, args));
    return id;
  };
  /** Why a wait for `id`'s end may have failed: its state, and what the target can tell. */
  const explain = async (what: string, id: string) => {
    const state = await driver.state(id).catch((e: Error) => ({ error: e.message }));
    const more = await target.diagnose?.(root, id).catch((e: Error) => `diagnose: ${e.message}`);
    return `${what}; state ${JSON.stringify(state)}${more ? `\n${more}` : ''}`;
  };
  const gap = (name: ConformanceTest) => target.gaps?.find((g) => g.test === name)?.reason;
  const test = (name: ConformanceTest, fn: () => Promise<void>) =>
    it(name, { skip: gap(name) ? `gap: ${gap(name)}` : false, timeout: perTest }, fn);

  describe(`driver conformance: ${target.name}`, () => {
    before(async () => {
      root = await mkdtemp(join(tmpdir(), 'tandem-conf-'));
      driver = await target.makeDriver(root);
      driver.onEvent((e) => events.push(e));
    });
    after(async () => {
      for (const id of made) await driver.delete(id, { force: true }).catch(() => {});
      await driver.close();
      await target.cleanup?.();
      await rm(root, { recursive: true, force: true });
    });

    test('probe', async () => {
      const info = await driver.probe();
      assert.equal(info.type, driver.type);
      assert.equal(info.available, true, `driver unavailable: ${info.reason}`);
    });

    test('lifecycle walk and events', async () => {
      const id = await create('walk', WORKLOADS.sleep);
      assert.equal((await driver.state(id)).status, 'created');
      assert.ok((await driver.list()).includes(id), 'list() includes a created instance');
      await driver.start(id);
      const running = await driver.state(id);
      assert.equal(running.status, 'running');
      assert.ok(running.pid && running.pid > 0, 'a running instance has a pid');
      await driver.pause(id);
      assert.equal((await driver.state(id)).status, 'paused');
      await driver.resume(id);
      assert.equal((await driver.state(id)).status, 'running');
      await driver.stop(id, { timeoutMs: stopMs });
      assert.equal((await driver.state(id)).status, 'stopped');
      await driver.start(id);
      assert.equal((await driver.state(id)).status, 'running');
      await driver.stop(id, { timeoutMs: stopMs, force: true });
      assert.equal((await driver.state(id)).status, 'stopped');
      const kinds = await waitFor(() => {
        const k = events.filter((e) => e.id === id).map((e) => e.kind);
        return k.filter((x) => x === 'exited').length >= 2 ? k : undefined;
      }, 5000);
      assert.deepEqual(kinds, ['started', 'paused', 'resumed', 'exited', 'started', 'exited']);
    });

    test('illegal actions conflict', async () => {
      const id = await create('ill', WORKLOADS.sleep);
      await expectActions(driver, id, 'created');
      await driver.start(id);
      await expectActions(driver, id, 'running');
      await driver.pause(id);
      await expectActions(driver, id, 'paused');
      await driver.resume(id);
      await driver.stop(id, { timeoutMs: stopMs, force: true });
      await expectActions(driver, id, 'stopped');
    });

    test('stop honours SIGTERM', async () => {
      const id = await create('term', WORKLOADS.honoursTerm);
      await driver.start(id);
      await waitForLog(driver, id, 'ready', startMs);
      const t0 = Date.now();
      await driver.stop(id, { timeoutMs: stopMs * 5 });
      const took = Date.now() - t0;
      assert.ok(took < stopMs * 2.5, `stop took ${took} ms; the workload honours SIGTERM`);
      const st = await driver.state(id);
      assert.equal(st.status, 'stopped');
      assert.equal(st.exitCode, 0);
    });

    test('stop kills at timeout', async () => {
      const id = await create('kill', WORKLOADS.ignoresTerm);
      await driver.start(id);
      await waitForLog(driver, id, 'ready', startMs);
      const t0 = Date.now();
      await driver.stop(id, { timeoutMs: stopMs });
      const took = Date.now() - t0;
      assert.ok(took >= stopMs * 0.9, `stop took ${took} ms; it must wait the ${stopMs} ms timeout`);
      assert.ok(took < stopMs + 5000, `stop took ${took} ms; it must kill at the ${stopMs} ms timeout`);
      const st = await driver.state(id);
      assert.equal(st.status, 'stopped');
      assert.equal(st.exitCode, 137);
    });

    test('exit code recorded', async () => {
      const id = await create('exit', WORKLOADS.exit3);
      await driver.start(id);
      const st = await waitFor(async () => {
        const s = await driver.state(id);
        return s.status === 'stopped' ? s : undefined;
      }, startMs + 5000);
      if (!st) assert.fail(await explain('the workload exited on its own', id));
      assert.equal(st.exitCode, 3);
      const ev = await waitFor(() => events.find((e) => e.id === id && e.kind === 'exited'), 3000);
      assert.ok(ev, 'an exited event is emitted');
      assert.equal(ev.exitCode, 3);
    });

    test('exec status stdin env', async () => {
      const id = await create('exec', WORKLOADS.sleep);
      await driver.start(id);
      const s1 = await driver.exec(id, { args: ['sh', '-c', 'exit 5'], env: [], tty: false, stdin: false });
      assert.equal(await s1.exit, 5);
      const s2 = await driver.exec(id, { args: ['cat'], env: [], tty: false, stdin: true });
      const out2 = collect(s2);
      s2.stdin?.end('hello through stdin\n');
      assert.equal(await s2.exit, 0);
      assert.equal((await out2).stdout, 'hello through stdin\n');
      const s3 = await driver.exec(id, {
        args: ['sh', '-c', 'echo "$CONF_VAR"; pwd; echo err >&2'],
        env: ['CONF_VAR=conformance'],
        cwd: '/tmp',
        tty: false,
        stdin: false,
      });
      const out3 = await collect(s3);
      assert.equal(await s3.exit, 0);
      assert.equal(out3.stdout, 'conformance\n/tmp\n');
      assert.equal(out3.stderr, 'err\n');
      await driver.stop(id, { timeoutMs: stopMs, force: true });
    });

    test('logs and stats', async () => {
      const id = await create('logs', WORKLOADS.honoursTerm);
      await driver.start(id);
      await waitForLog(driver, id, 'ready', startMs);
      const usage = await driver.stats(id);
      assert.ok(usage.cpuSeconds >= 0 && usage.memoryBytes > 0, 'stats report cpu and memory');
      await driver.stop(id, { timeoutMs: stopMs });
      await assert.rejects(driver.stats(id), (e) => isTandemError(e, 'conflict'));
    });

    test('kill with signal', async () => {
      const id = await create('sig', WORKLOADS.sleep);
      await driver.start(id);
      await driver.kill(id, 'SIGKILL');
      const st = await waitFor(async () => {
        const s = await driver.state(id);
        return s.status === 'stopped' ? s : undefined;
      }, 10_000);
      if (!st) assert.fail(await explain('SIGKILL stops the workload', id));
      assert.equal(st.exitCode, 137);
    });

    test('delete idempotent and forced', async () => {
      const id = await create('del', WORKLOADS.sleep);
      await driver.start(id);
      await assert.rejects(driver.delete(id, {}), (e) => isTandemError(e, 'conflict'));
      await driver.delete(id, { force: true });
      assert.equal((await driver.state(id)).status, 'missing');
      assert.ok(!(await driver.list()).includes(id));
      await driver.delete(id, {});
      await driver.delete(id, { force: true });
    });

    test('restart of the driver', async () => {
      const id = await create('rst', WORKLOADS.honoursTerm);
      await driver.start(id);
      const pid = (await driver.state(id)).pid;
      const second = await target.makeDriver(root);
      try {
        assert.ok((await second.list()).includes(id), 'a new driver lists the instance');
        const st = await second.state(id);
        assert.equal(st.status, 'running');
        assert.equal(st.pid, pid);
        await second.pause(id);
        await second.resume(id);
        await second.stop(id, { timeoutMs: stopMs * 5 });
        assert.equal((await second.state(id)).status, 'stopped');
        assert.equal((await driver.state(id)).status, 'stopped');
      } finally {
        await second.close();
      }
    });
  });
}

/** Tries every action from `status` that the state machine forbids or makes a no-op. */
async function expectActions(
  driver: InstanceDriver,
  id: string,
  status: RuntimeState['status'],
): Promise<void> {
  const tries: Record<Exclude<Action, 'restart'>, () => Promise<unknown>> = {
    start: () => driver.start(id),
    stop: () => driver.stop(id, { timeoutMs: 1000 }),
    pause: () => driver.pause(id),
    resume: () => driver.resume(id),
    kill: () => driver.kill(id, 'SIGTERM'),
    delete: () => driver.delete(id, {}),
    exec: () => driver.exec(id, { args: ['true'], env: [], tty: false, stdin: false }).then((s) => s.exit),
    update: () => Promise.resolve(),
  };
  for (const [action, attempt] of Object.entries(tries) as [
    Exclude<Action, 'restart'>,
    () => Promise<unknown>,
  ][]) {
    if (status === 'missing') return;
    let verdict: 'run' | 'noop' | 'conflict';
    try {
      verdict = checkAction(id, action, status);
    } catch {
      verdict = 'conflict';
    }
    if (verdict === 'run') continue;
    if (verdict === 'noop') await attempt();
    else {
      await assert.rejects(
        attempt(),
        (e) => isTandemError(e, 'conflict'),
        `${action} from ${status} is a conflict`,
      );
    }
    assert.equal(
      (await driver.state(id)).status,
      status,
      `${action} from ${status} leaves the status unchanged`,
    );
  }
}

/** Resolves once the instance's logs contain `text`. */
export async function waitForLog(
  driver: InstanceDriver,
  id: string,
  text: string,
  timeoutMs: number,
): Promise<void> {
  const found = await waitFor(
    async () => {
      let all = '';
      for await (const chunk of driver.logs(id, {})) all += chunk.toString();
      return all.includes(text) ? true : undefined;
    },
    timeoutMs,
    50,
  );
  assert.ok(found, `logs of ${id} show "${text}" within ${timeoutMs} ms`);
}

/** Collects an exec session's stdout and stderr until both end. */
export async function collect(s: ExecSession): Promise<{ stdout: string; stderr: string }> {
  const read = async (r: NodeJS.ReadableStream) => {
    let out = '';
    for await (const c of r) out += c.toString();
    return out;
  };
  const [stdout, stderr] = await Promise.all([read(s.stdout), read(s.stderr)]);
  return { stdout, stderr };
}
