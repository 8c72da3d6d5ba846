/**
 * The state store: JSON documents in named collections, changed only through atomic batches.
 * One operation's state changes go in one `commit`, so a crash leaves either all or none of
 * them. Implementations: stores/sqlite (embedded default) and stores/etcd (cluster); one
 * conformance suite (stores/conformance.ts) runs against both.
 */

export const COLLECTIONS = [
  'instances',
  'images',
  'layers',
  'operations',
  'nodes',
  'networks',
  'volumes',
  'leases',
] as const;
export type Collection = (typeof COLLECTIONS)[number];

export type Mutation =
  /** Inserts; the whole batch fails with already_exists when the key exists. */
  | { op: 'create'; collection: Collection; key: string; value: unknown }
  /** Inserts or replaces. */
  | { op: 'put'; collection: Collection; key: string; value: unknown }
  /** Replaces; the whole batch fails with not_found when the key is missing. */
  | { op: 'update'; collection: Collection; key: string; value: unknown }
  /** Removes; a missing key is not an error. */
  | { op: 'delete'; collection: Collection; key: string };

export interface Store {
  /** The document under `key`, or undefined. */
  get<T>(collection: Collection, key: string): Promise<T | undefined>;
  /** Every document of the collection, ordered by key. */
  list<T>(collection: Collection): Promise<T[]>;
  /** Applies all mutations atomically, or none (rejecting with the first failure's kind). */
  commit(mutations: readonly Mutation[]): Promise<void>;
  /** Closes the store; further calls reject with unavailable. */
  close(): Promise<void>;
}
