/** Structured logging: one pino logger per process, JSON lines to stderr or a file. */
import { type Logger, pino } from 'pino';

export type { Logger };

/** Creates the process logger; `level` defaults to TANDEM_LOG_LEVEL or info. */
export function createLogger(opts: { level?: string; destination?: string; name?: string } = {}): Logger {
  const level = opts.level ?? process.env.TANDEM_LOG_LEVEL ?? 'info';
  const dest = opts.destination
    ? pino.destination({ dest: opts.destination, sync: false, mkdir: true })
    : pino.destination(2);
  return pino({ level, name: opts.name ?? 'tandem', base: { pid: process.pid } }, dest);
}

/** A logger that discards everything (tests, library use). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
