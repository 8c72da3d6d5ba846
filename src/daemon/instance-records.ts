/**
 * Instance records in the store, by name, with an index from driver id to name for runtime
 * events. Every change is one atomic commit; the in-memory index follows the store.
 */
import { TandemError } from '../base/errors.js';
import type { Instance } from '../core/instance.js';
import type { Mutation, Store } from '../core/store.js';

export class InstanceRecords {
  private readonly byId = new Map<string, string>();

  constructor(private readonly store: Store) {}

  /** Loads the id index; call once at start. */
  async load(): Promise<Instance[]> {
    const all = await this.store.list<Instance>('instances');
    for (const i of all) this.byId.set(i.id, i.name);
    return all;
  }

  /** The instance named `name`; not_found when there is none. */
  async get(name: string): Promise<Instance> {
    const inst = await this.store.get<Instance>('instances', name);
    if (!inst) throw new TandemError('not_found', `instance "${name}" not found`);
    return inst;
  }

  async find(name: string): Promise<Instance | undefined> {
    return this.store.get<Instance>('instances', name);
  }

  async list(): Promise<Instance[]> {
    return this.store.list<Instance>('instances');
  }

  /** The name of the instance with driver id `id`, if it is known. */
  nameOf(id: string): string | undefined {
    return this.byId.get(id);
  }

  /** Stores a new instance; already_exists when the name is taken. */
  async create(inst: Instance, extra: Mutation[] = []): Promise<void> {
    await this.store.commit([
      { op: 'create', collection: 'instances', key: inst.name, value: inst },
      ...extra,
    ]);
    this.byId.set(inst.id, inst.name);
  }

  /** Applies `patch` to the stored instance and returns the result. */
  async patch(name: string, patch: Partial<Instance>): Promise<Instance> {
    const next = { ...(await this.get(name)), ...patch };
    await this.store.commit([{ op: 'update', collection: 'instances', key: name, value: next }]);
    return next;
  }

  async remove(inst: Instance): Promise<void> {
    await this.store.commit([{ op: 'delete', collection: 'instances', key: inst.name }]);
    this.byId.delete(inst.id);
  }
}
