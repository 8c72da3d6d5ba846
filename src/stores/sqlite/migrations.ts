/**
 * Versioned schema migrations for the SQLite store. `PRAGMA user_version` holds the version;
 * each migration runs in its own transaction together with the version bump, so a crash in the
 * middle leaves the previous version intact. Append new migrations; never edit old ones.
 */
import type { Database } from 'better-sqlite3';

export interface Migration {
  version: number;
  description: string;
  up(db: Database): void;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'documents by collection and key',
    up: (db) => {
      db.exec(`CREATE TABLE objects (
        collection TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (collection, key)
      ) WITHOUT ROWID`);
    },
  },
  {
    version: 2,
    description: 'revision and update time per document',
    up: (db) => {
      db.exec(`ALTER TABLE objects ADD COLUMN revision INTEGER NOT NULL DEFAULT 1`);
      db.exec(`ALTER TABLE objects ADD COLUMN updated_at TEXT NOT NULL DEFAULT ''`);
      db.exec(`UPDATE objects SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE updated_at = ''`);
    },
  },
];

export const SCHEMA_VERSION = MIGRATIONS.at(-1)!.version;

/** Brings `db` up to SCHEMA_VERSION; refuses a database newer than this code knows. */
export function migrate(db: Database): { from: number; to: number } {
  const from = db.pragma('user_version', { simple: true }) as number;
  if (from > SCHEMA_VERSION) {
    throw new Error(`state database has schema version ${from}, newer than this tandem (${SCHEMA_VERSION})`);
  }
  for (const m of MIGRATIONS) {
    if (m.version <= from) continue;
    db.transaction(() => {
      m.up(db);
      db.pragma(`user_version = ${m.version}`);
    }).immediate();
  }
  return { from, to: SCHEMA_VERSION };
}
