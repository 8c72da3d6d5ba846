/**
 * One daemon per state directory. The lock is an exclusive SQLite transaction held open on
 * `<state-dir>/daemon.lock` for the daemon's life: the kernel's fcntl lock behind it is released
 * when the process dies (even by kill -9), so a stale lock never blocks a restart, and a second
 * daemon fails at once instead of corrupting state.
 */

import { join } from 'node:path';
import Database from 'better-sqlite3';
import { TandemError } from '../base/errors.js';

export class StateLock {
  private constructor(private readonly db: Database.Database) {}

  /** Takes the lock of `stateDir`; unavailable when another daemon holds it. */
  static acquire(stateDir: string): StateLock {
    const db = new Database(join(stateDir, 'daemon.lock'));
    try {
      db.pragma('busy_timeout = 0');
      db.pragma('locking_mode = EXCLUSIVE');
      db.exec('CREATE TABLE IF NOT EXISTS holder (pid INTEGER)');
      db.exec('BEGIN EXCLUSIVE');
      db.prepare('DELETE FROM holder').run();
      db.prepare('INSERT INTO holder VALUES (?)').run(process.pid);
    } catch (err) {
      db.close();
      throw new TandemError(
        'unavailable',
        `state directory "${stateDir}" is in use by another tandem daemon`,
        {
          cause: err,
        },
      );
    }
    return new StateLock(db);
  }

  release(): void {
    try {
      this.db.exec('ROLLBACK');
    } finally {
      this.db.close();
    }
  }
}
