/**
 * Keeps the store in step with what the backends report on their own: a workload that exits,
 * is OOM-killed or fails while no operation holds the instance's lock. Applies the exit
 * policies (`--rm` deletes, `--restart always|on-failure` starts again with a capped backoff)
 * and reconciles everything when the daemon starts: records take the backend's truth, and
 * instances a driver holds that the store does not know (a create cut short by a crash) are
 * deleted — only on this daemon's own driver roots, so another daemon's instances are never seen.
 */
import type { Logger } from '../base/log.js';
import { nowIso } from '../base/time.js';
import type { RuntimeEvent, RuntimeState } from '../core/driver.js';
import type { Instance, InstanceStatus } from '../core/instance.js';
import type { InstanceService } from './instance-service.js';

const MAX_BACKOFF_MS = 5000;

export class InstanceRuntime {
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;

  constructor(
    private readonly svc: InstanceService,
    private readonly logger: Logger,
  ) {}

  /** Subscribes to every driver's events; returns the unsubscribe function. */
  watch(): () => void {
    const offs = [...this.svc.deps.drivers.values()].map(({ driver }) =>
      driver.onEvent((e) => this.onEvent(e)),
    );
    return () => {
      for (const off of offs) off();
    };
  }

  private onEvent(ev: RuntimeEvent): void {
    const name = this.svc.deps.records.nameOf(ev.id);
    if (!name || this.closed) return;
    // Queued behind an operation in flight (which records its own outcome): runs as soon as it ends.
    void this.svc.lock
      .run(name, () => this.sync(name, ev))
      .catch((err) => this.logger.warn({ err, name }, 'sync failed'));
  }

  /** Records the backend's truth for `name` and applies exit policies. Lock held. */
  async sync(name: string, ev?: RuntimeEvent): Promise<void> {
    const inst = await this.svc.deps.records.find(name);
    if (!inst) return;
    const st = await this.svc
      .driverFor(inst.type)
      .state(inst.id)
      .catch(() => undefined);
    if (!st) return;
    const status = toStatus(st);
    if (status === inst.status) return;
    const next = await this.svc.deps.records.patch(name, {
      status,
      statusReason: st.status === 'missing' ? 'the backend lost this instance' : (st.reason ?? ''),
      pid: st.pid,
      exitCode: st.exitCode,
      startedAt: st.startedAt ?? inst.startedAt,
      finishedAt: status === 'stopped' ? (st.finishedAt ?? nowIso()) : inst.finishedAt,
    });
    if (status === 'stopped') {
      if (st.reason === 'oom-killed' || ev?.kind === 'oom-killed') this.svc.publish(next, 'oom-killed');
      this.svc.publish(next, 'exited', { exitCode: st.exitCode, reason: st.reason });
      this.svc.publish(next, 'stopped', { exitCode: st.exitCode, reason: st.reason });
      await this.afterExit(next);
    } else if (status === 'running' && inst.status !== 'paused') this.svc.publish(next, 'started');
  }

  /** `--rm` deletes at once; restart policies start again after a backoff. Lock held. */
  private async afterExit(inst: Instance): Promise<void> {
    if (inst.config.autoRemove) {
      await this.svc.deleteNow(inst, true);
      return;
    }
    if (!wantsRestart(inst) || this.closed) return;
    const delay = Math.min(100 * 2 ** Math.min(inst.restartCount, 6), MAX_BACKOFF_MS);
    this.later(delay, () =>
      this.svc.lock.run(inst.name, async () => {
        const cur = await this.svc.deps.records.find(inst.name);
        if (cur?.status !== 'stopped' || !wantsRestart(cur) || this.closed) return;
        await this.svc.deps.records.patch(inst.name, { restartCount: cur.restartCount + 1 });
        await this.svc
          .startNow(inst.name)
          .catch((err) => this.logger.warn({ err, name: inst.name }, 'restart failed'));
      }),
    );
  }

  /** Brings the store in line with every driver after a daemon start. */
  async reconcile(): Promise<{ synced: number; removed: number }> {
    const known = await this.svc.deps.records.load();
    const ids = new Set(known.map((i) => i.id));
    let removed = 0;
    for (const [type, { driver, info }] of this.svc.deps.drivers) {
      if (!info.available) continue;
      for (const id of await driver.list()) {
        if (ids.has(id)) continue;
        this.logger.info({ id, type }, 'removing a leftover of an instance the store does not know');
        await driver
          .delete(id, { force: true })
          .catch((err) => this.logger.warn({ err, id }, 'leftover not removed'));
        removed++;
      }
    }
    for (const inst of known) {
      if (!this.svc.deps.drivers.get(inst.type)?.info.available) continue;
      await this.svc.lock.run(inst.name, async () => {
        const before = inst.status;
        await this.sync(inst.name);
        const now = await this.svc.deps.records.find(inst.name);
        // An instance that was stopped before the daemon went down gets its restart policy too.
        if (now && before === 'stopped' && now.status === 'stopped' && now.config.restart === 'always') {
          await this.afterExit(now);
        }
      });
    }
    return { synced: known.length, removed };
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
  }

  private later(ms: number, fn: () => Promise<unknown>): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      void fn();
    }, ms);
    this.timers.add(t);
  }
}

function toStatus(st: RuntimeState): InstanceStatus {
  return st.status === 'missing' ? 'error' : st.status;
}

function wantsRestart(inst: Instance): boolean {
  const p = inst.config.restart;
  return p === 'always' || (p === 'on-failure' && (inst.exitCode ?? 0) !== 0);
}
