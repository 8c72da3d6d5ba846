/**
 * Per-key mutual exclusion: one operation at a time per instance, any number of instances in
 * parallel. `run(key, fn)` queues `fn` behind earlier holders of the same key (FIFO) and never
 * blocks other keys.
 */

export class KeyedLock {
  private readonly tails = new Map<string, Promise<void>>();

  /** Runs `fn` once every earlier `run` on `key` has finished; resolves with its result. */
  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => {
      release = r;
    });
    const tail = prev.then(() => mine);
    this.tails.set(key, tail);
    await prev;
    try {
      return await fn();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }

  /** True while some `run` on `key` is queued or running. */
  busy(key: string): boolean {
    return this.tails.has(key);
  }
}
