/**
 * Work a driver starts and does not wait for (removing a deleted instance's files, copying a
 * record to disk): failures are logged, and `settle()` (from the driver's close) waits for
 * whatever is still running.
 */
import { rm } from 'node:fs/promises';
import type { Logger } from '../../base/log.js';

export class BackgroundWork {
  private readonly pending = new Set<Promise<unknown>>();

  constructor(private readonly log: Logger) {}

  /** Tracks `work`; a failure is logged with `what`. */
  add(what: string, work: Promise<unknown>): void {
    const p = work.catch((err) => this.log.warn({ err }, what));
    this.pending.add(p);
    p.finally(() => this.pending.delete(p)).catch(() => {});
  }

  /** Removes directories recursively in the background. */
  removeDirs(...dirs: string[]): void {
    for (const d of dirs) this.add(`removing ${d}`, rm(d, { recursive: true, force: true }));
  }

  /** Resolves once everything started so far has finished. */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.pending]);
  }
}
