/**
 * The embedded default Store: one SQLite file (`<state-dir>/state.db`) in WAL mode through
 * better-sqlite3. Every `commit` is one IMMEDIATE transaction, so a crash (even kill -9) leaves
 * each batch either applied or not. Calls are synchronous underneath; the async signatures are
 * the Store contract shared with etcd.
 */
import Database from 'better-sqlite3';
import { TandemError } from '../../base/errors.js';
import type { Collection, Mutation, Store } from '../../core/store.js';
import { migrate } from './migrations.js';

type Db = Database.Database;

export class SqliteStore implements Store {
  private db: Db | undefined;
  private readonly stmts;

  /** Opens (creating if needed) and migrates the database at `file`. */
  constructor(file: string) {
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('busy_timeout = 5000');
    db.pragma('foreign_keys = ON');
    migrate(db);
    this.db = db;
    this.stmts = {
      get: db.prepare('SELECT value FROM objects WHERE collection = ? AND key = ?').pluck(),
      list: db.prepare('SELECT value FROM objects WHERE collection = ? ORDER BY key').pluck(),
      exists: db.prepare('SELECT 1 FROM objects WHERE collection = ? AND key = ?').pluck(),
      insert: db.prepare(
        'INSERT INTO objects (collection, key, value, revision, updated_at) VALUES (?, ?, ?, 1, ?)',
      ),
      upsert:
        db.prepare(`INSERT INTO objects (collection, key, value, revision, updated_at) VALUES (?, ?, ?, 1, ?)
        ON CONFLICT (collection, key) DO UPDATE SET value = excluded.value, revision = revision + 1,
        updated_at = excluded.updated_at`),
      update: db.prepare(
        'UPDATE objects SET value = ?, revision = revision + 1, updated_at = ? WHERE collection = ? AND key = ?',
      ),
      delete: db.prepare('DELETE FROM objects WHERE collection = ? AND key = ?'),
    };
  }

  private open(): Db {
    if (!this.db) throw new TandemError('unavailable', 'state store is closed');
    return this.db;
  }

  async get<T>(collection: Collection, key: string): Promise<T | undefined> {
    this.open();
    const v = this.stmts.get.get(collection, key) as string | undefined;
    return v === undefined ? undefined : (JSON.parse(v) as T);
  }

  async list<T>(collection: Collection): Promise<T[]> {
    this.open();
    return (this.stmts.list.all(collection) as string[]).map((v) => JSON.parse(v) as T);
  }

  async commit(mutations: readonly Mutation[]): Promise<void> {
    const db = this.open();
    const now = new Date().toISOString();
    db.transaction(() => {
      for (const m of mutations) this.apply(m, now);
    }).immediate();
  }

  private apply(m: Mutation, now: string): void {
    switch (m.op) {
      case 'create':
        if (this.stmts.exists.get(m.collection, m.key)) {
          throw new TandemError('already_exists', `${singular(m.collection)} "${m.key}" already exists`);
        }
        this.stmts.insert.run(m.collection, m.key, JSON.stringify(m.value), now);
        return;
      case 'put':
        this.stmts.upsert.run(m.collection, m.key, JSON.stringify(m.value), now);
        return;
      case 'update':
        if (this.stmts.update.run(JSON.stringify(m.value), now, m.collection, m.key).changes === 0) {
          throw new TandemError('not_found', `${singular(m.collection)} "${m.key}" not found`);
        }
        return;
      case 'delete':
        this.stmts.delete.run(m.collection, m.key);
        return;
    }
  }

  async close(): Promise<void> {
    this.db?.close();
    this.db = undefined;
  }
}

function singular(c: Collection): string {
  return c.endsWith('s') ? c.slice(0, -1) : c;
}
