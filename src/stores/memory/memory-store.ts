/**
 * An in-memory Store for unit tests of logic that needs state (image store, scheduler wiring).
 * Same contract as the real stores (it runs the same conformance suite); nothing survives the
 * process.
 */
import { TandemError } from '../../base/errors.js';
import type { Collection, Mutation, Store } from '../../core/store.js';

export class MemoryStore implements Store {
  private readonly data = new Map<Collection, Map<string, string>>();
  private closed = false;

  private col(c: Collection): Map<string, string> {
    let m = this.data.get(c);
    if (!m) {
      m = new Map();
      this.data.set(c, m);
    }
    return m;
  }

  private check(): void {
    if (this.closed) throw new TandemError('unavailable', 'store is closed');
  }

  async get<T>(collection: Collection, key: string): Promise<T | undefined> {
    this.check();
    const v = this.col(collection).get(key);
    return v === undefined ? undefined : (JSON.parse(v) as T);
  }

  async list<T>(collection: Collection): Promise<T[]> {
    this.check();
    return [...this.col(collection).entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, v]) => JSON.parse(v) as T);
  }

  async commit(mutations: readonly Mutation[]): Promise<void> {
    this.check();
    // Validate against a staged view first so the batch is all-or-nothing.
    const staged = new Map<string, string | undefined>();
    const key = (m: Mutation) => `${m.collection}\u0000${m.key}`;
    const exists = (m: Mutation) =>
      staged.has(key(m)) ? staged.get(key(m)) !== undefined : this.col(m.collection).has(m.key);
    for (const m of mutations) {
      if (m.op === 'create' && exists(m))
        throw new TandemError('already_exists', `${m.collection} "${m.key}" already exists`);
      if (m.op === 'update' && !exists(m))
        throw new TandemError('not_found', `${m.collection} "${m.key}" not found`);
      staged.set(key(m), m.op === 'delete' ? undefined : JSON.stringify(m.value));
    }
    for (const m of mutations) {
      const v = staged.get(key(m));
      if (v === undefined) this.col(m.collection).delete(m.key);
      else this.col(m.collection).set(m.key, v);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
