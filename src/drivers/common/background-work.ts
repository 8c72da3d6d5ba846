/**
 * Work a driver starts and does not wait for (removing a deleted instance's files, copying a
 * record to disk): failures are logged, and `settle()` (from the driver's close) waits for
 * whatever is still running.
 *
 * Directories are removed by one worker thread with `rmSync`, started at the first removal:
 * `fs/promises` `rm` walks the tree in JavaScript on the daemon's event loop, one callback per
 * entry (≈4 ms of the main thread for each deleted container, on the launch path of whatever
 * comes next), where the worker does the same off the loop and faster. A worker that fails to
 * start or dies falls back to `fs/promises` for what it had not done.
 */
import { rm } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import type { Logger } from '../../base/log.js';

const REMOVER = `
const { parentPort } = require('node:worker_threads');
const { rmSync } = require('node:fs');
parentPort.on('message', ({ id, path }) => {
  let error;
  try {
    rmSync(path, { recursive: true, force: true, maxRetries: 3 });
  } catch (err) {
    error = String((err && err.message) || err);
  }
  parentPort.postMessage({ id, error });
});
`;

interface Waiting {
  path: string;
  resolve: () => void;
  reject: (err: Error) => void;
}

/** One worker thread removing directory trees, one request at a time, in order. */
class TreeRemover {
  private worker: Worker | undefined;
  private readonly waiting = new Map<number, Waiting>();
  private seq = 0;

  remove(path: string): Promise<void> {
    const worker = this.start();
    if (!worker) return rm(path, { recursive: true, force: true });
    const id = ++this.seq;
    return new Promise<void>((resolve, reject) => {
      this.waiting.set(id, { path, resolve, reject });
      worker.postMessage({ id, path });
    });
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    await w?.terminate();
  }

  private start(): Worker | undefined {
    if (this.worker) return this.worker;
    let w: Worker;
    try {
      w = new Worker(REMOVER, { eval: true });
    } catch {
      return undefined;
    }
    w.unref(); // an idle remover never keeps the process alive
    w.on('message', ({ id, error }: { id: number; error?: string }) => {
      const wait = this.waiting.get(id);
      this.waiting.delete(id);
      if (error) wait?.reject(new Error(error));
      else wait?.resolve();
    });
    const fallBack = () => {
      if (this.worker === w) this.worker = undefined;
      const left = [...this.waiting.values()];
      this.waiting.clear();
      for (const wait of left)
        rm(wait.path, { recursive: true, force: true }).then(wait.resolve, wait.reject);
    };
    w.on('error', fallBack);
    w.on('exit', fallBack);
    this.worker = w;
    return w;
  }
}

export class BackgroundWork {
  private readonly pending = new Set<Promise<unknown>>();
  private readonly remover = new TreeRemover();

  constructor(private readonly log: Logger) {}

  /** Tracks `work`; a failure is logged with `what`. */
  add(what: string, work: Promise<unknown>): void {
    const p = work.catch((err) => this.log.warn({ err }, what));
    this.pending.add(p);
    p.finally(() => this.pending.delete(p)).catch(() => {});
  }

  /** Removes directories recursively in the background. */
  removeDirs(...dirs: string[]): void {
    for (const d of dirs) this.add(`removing ${d}`, this.remover.remove(d));
  }

  /** Resolves once everything started so far has finished. */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.pending]);
  }

  /** Settles, then stops the remover thread. */
  async close(): Promise<void> {
    await this.settle();
    await this.remover.close();
  }
}
