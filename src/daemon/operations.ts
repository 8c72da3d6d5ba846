/**
 * Operations: a long request runs in the background and is tracked by id until it ends
 * (DESIGN.md: create, state changes, delete, image import/build return 202 and an operation).
 * Finished operations are kept for a while (bounded) so clients can still ask about them.
 * Every status change is published as an `operation` event.
 */
import { asTandemError } from '../base/errors.js';
import { newId } from '../base/ids.js';
import { nowIso } from '../base/time.js';
import type { EventBus } from '../core/events.js';
import type { Operation } from '../core/operation.js';

export type Progress = NonNullable<Operation['progress']>;
export type OperationBody = (
  progress: (p: Progress) => void,
  signal: AbortSignal,
) => Promise<Record<string, unknown> | undefined>;

const KEEP_FINISHED = 1000;

export class Operations {
  private readonly ops = new Map<string, Operation>();
  private readonly done = new Map<string, Promise<void>>();
  private readonly aborts = new Map<string, AbortController>();
  private readonly finishedOrder: string[] = [];
  private inFlight = 0;
  private failed = 0;

  constructor(private readonly events: EventBus) {}

  /** Starts `body` in the background and returns its operation at once. */
  start(kind: string, target: string | undefined, body: OperationBody): Operation {
    const now = nowIso();
    const op: Operation = { id: newId(), kind, status: 'running', target, createdAt: now, updatedAt: now };
    this.ops.set(op.id, op);
    this.inFlight++;
    this.publish(op);
    const progress = (p: Progress) => {
      op.progress = p;
      op.updatedAt = nowIso();
    };
    const abort = new AbortController();
    this.aborts.set(op.id, abort);
    const finished = body(progress, abort.signal).then(
      (result) => {
        op.status = 'success';
        if (result) op.result = result;
      },
      (err) => {
        const e = asTandemError(err);
        op.status = 'failure';
        op.error = { code: e.kind, message: e.message };
        this.failed++;
      },
    );
    this.done.set(
      op.id,
      finished.then(() => {
        op.updatedAt = nowIso();
        this.inFlight--;
        this.publish(op);
        this.retire(op.id);
      }),
    );
    return op;
  }

  /** The operation, or undefined when unknown (never existed or long forgotten). */
  get(id: string): Operation | undefined {
    return this.ops.get(id);
  }

  list(): Operation[] {
    return [...this.ops.values()];
  }

  /** Resolves with the operation once it ends or `timeoutMs` passes, whichever is first. */
  async wait(id: string, timeoutMs: number): Promise<Operation | undefined> {
    const op = this.ops.get(id);
    const done = this.done.get(id);
    if (!op || !done) return op;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([done, new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
    return op;
  }

  /** Resolves once every running operation has ended. */
  async drain(): Promise<void> {
    await Promise.all([...this.done.values()]);
  }

  get counts(): { inFlight: number; failed: number } {
    return { inFlight: this.inFlight, failed: this.failed };
  }

  private publish(op: Operation): void {
    this.events.publish({
      type: 'operation',
      action: op.status,
      operation: op.id,
      message: op.error?.message,
      data: { kind: op.kind, target: op.target },
    });
  }

  /** Asks a running operation to stop (its body sees the abort signal); false when it is not running. */
  cancel(id: string): boolean {
    const abort = this.aborts.get(id);
    if (!abort) return false;
    abort.abort(new Error('cancelled'));
    return true;
  }

  /** Cancels every running operation (daemon shutdown). */
  cancelAll(): void {
    for (const a of this.aborts.values()) a.abort(new Error('cancelled'));
  }

  private retire(id: string): void {
    this.done.delete(id);
    this.aborts.delete(id);
    this.finishedOrder.push(id);
    while (this.finishedOrder.length > KEEP_FINISHED) this.ops.delete(this.finishedOrder.shift()!);
  }
}
