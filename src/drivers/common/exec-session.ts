/**
 * An ExecSession over a spawned helper process (e.g. `crun exec`, or the monitor's tty relay):
 * its stdio are the session's streams, signals go to the helper (which forwards them), and a
 * TTY helper reads "COLS ROWS\n" resize lines on its fd 3. The exit status is the helper's
 * (128+N when it was killed by signal N).
 */
import type { ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import { TandemError } from '../../base/errors.js';
import type { ExecSession } from '../../core/driver.js';

/** Wraps `child`; `resize` is the helper's fd 3 (TTY mode) or null. `what` names it in errors. */
export function execSessionFromChild(
  child: ChildProcess,
  resize: Writable | null,
  what: string,
): ExecSession {
  const exit = new Promise<number>((resolve, reject) => {
    child.once('error', (e) => reject(new TandemError('internal', `${what}: ${e.message}`, { cause: e })));
    child.once('exit', (code, signal) => {
      resize?.destroy();
      resolve(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0));
    });
  });
  child.stdin?.on('error', () => {}); // the process may exit before reading all of its input
  resize?.on('error', () => {});
  return {
    stdin: child.stdin ?? null,
    stdout: child.stdout ?? emptyStream(),
    stderr: child.stderr ?? emptyStream(),
    resize(cols: number, rows: number) {
      if (resize && !resize.destroyed && cols > 0 && rows > 0)
        resize.write(`${Math.floor(cols)} ${Math.floor(rows)}\n`);
    },
    signal(sig: NodeJS.Signals) {
      if (child.exitCode === null && child.signalCode === null) child.kill(sig);
    },
    exit,
  };
}

/** A readable that ends at once. */
export function emptyStream(): Readable {
  const s = new PassThrough();
  s.end();
  return s;
}
