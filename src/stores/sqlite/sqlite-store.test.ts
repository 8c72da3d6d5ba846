import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { runStoreConformance } from '../conformance.js';
import { MemoryStore } from '../memory/memory-store.js';
import { SCHEMA_VERSION } from './migrations.js';
import { SqliteStore } from './sqlite-store.js';

const dir = mkdtempSync(join(tmpdir(), 'tandem-sqlite-'));
after(() => rmSync(dir, { recursive: true, force: true }));

runStoreConformance({
  name: 'sqlite',
  durable: true,
  open: async (key) => new SqliteStore(join(dir, `${key}.db`)),
});
runStoreConformance({ name: 'memory', durable: false, open: async () => new MemoryStore() });

describe('sqlite migrations', () => {
  it('migrates a version-1 database and keeps its documents', async () => {
    const file = join(dir, 'old.db');
    const old = new Database(file);
    old.exec(`CREATE TABLE objects (collection TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
      PRIMARY KEY (collection, key)) WITHOUT ROWID`);
    old
      .prepare('INSERT INTO objects VALUES (?, ?, ?)')
      .run('instances', 'web', JSON.stringify({ name: 'web' }));
    old.pragma('user_version = 1');
    old.close();

    const store = new SqliteStore(file);
    assert.deepEqual(await store.get('instances', 'web'), { name: 'web' });
    await store.commit([{ op: 'put', collection: 'instances', key: 'web', value: { name: 'web', v: 2 } }]);
    await store.close();

    const check = new Database(file, { readonly: true });
    assert.equal(check.pragma('user_version', { simple: true }), SCHEMA_VERSION);
    assert.equal(check.pragma('journal_mode', { simple: true }), 'wal');
    const row = check.prepare('SELECT revision, updated_at FROM objects WHERE key = ?').get('web') as {
      revision: number;
      updated_at: string;
    };
    assert.equal(row.revision, 2);
    assert.match(row.updated_at, /^\d{4}-\d\d-\d\dT/);
    check.close();
  });

  it('refuses a database newer than the code', () => {
    const file = join(dir, 'future.db');
    const db = new Database(file);
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    assert.throws(() => new SqliteStore(file), /newer than this tandem/);
  });
});
