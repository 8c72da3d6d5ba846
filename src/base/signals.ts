/** Signal names as users type them (`TERM`, `SIGTERM`, `15`) and exit statuses from signals. */
import { constants } from 'node:os';
import { TandemError } from './errors.js';

const NUMBERS = constants.signals as Record<string, number>;

/** 'TERM', 'SIGTERM' or '15' → 'SIGTERM'; invalid_argument for an unknown signal. */
export function normalizeSignal(sig: string): NodeJS.Signals {
  const upper = sig.trim().toUpperCase();
  const name = /^\d+$/.test(upper)
    ? Object.keys(NUMBERS).find((k) => NUMBERS[k] === Number(upper))
    : upper.startsWith('SIG')
      ? upper
      : `SIG${upper}`;
  if (!name || NUMBERS[name] === undefined)
    throw new TandemError('invalid_argument', `invalid signal "${sig}"`);
  return name as NodeJS.Signals;
}

/** The number of a signal name, e.g. SIGKILL → 9. */
export function signalNumber(sig: NodeJS.Signals): number {
  return NUMBERS[sig] ?? 0;
}
