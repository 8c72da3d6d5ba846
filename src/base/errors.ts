/**
 * The fixed set of error kinds every layer speaks (DESIGN.md, "REST API").
 * Context is added as an error climbs (`starting instance "web": qemu exited with status 1`);
 * the kind never changes on the way up. The daemon maps kinds to HTTP in one file.
 */

export const ERROR_KINDS = [
  'invalid_argument',
  'unauthorized',
  'not_found',
  'already_exists',
  'conflict',
  'insufficient_resources',
  'not_supported',
  'unavailable',
  'internal',
] as const;

export type ErrorKind = (typeof ERROR_KINDS)[number];

/** An error with one of the fixed kinds; the message is lowercase and names its subject. */
export class TandemError extends Error {
  readonly kind: ErrorKind;
  constructor(kind: ErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.kind = kind;
    this.name = 'TandemError';
  }
}

/** True when `err` is a TandemError of `kind` (any kind when omitted). */
export function isTandemError(err: unknown, kind?: ErrorKind): err is TandemError {
  return err instanceof TandemError && (kind === undefined || err.kind === kind);
}

/** Returns a TandemError that prefixes `context` to the message; keeps the kind (internal for foreign errors). */
export function wrapError(err: unknown, context: string): TandemError {
  if (err instanceof TandemError) {
    // each layer may say what it was doing; the same words are not repeated: neither the whole
    // context, nor a subject the context ends with ('creating instance "web"' + 'instance
    // "web": ...' says 'creating instance "web": ...')
    if (err.message.startsWith(`${context}: `)) return err;
    const head = err.message.slice(0, err.message.indexOf(': '));
    if (head.length >= 3 && context.endsWith(` ${head}`))
      return new TandemError(err.kind, `${context}${err.message.slice(head.length)}`, { cause: err });
    return new TandemError(err.kind, `${context}: ${err.message}`, { cause: err });
  }
  const msg = err instanceof Error ? err.message : String(err);
  return new TandemError('internal', `${context}: ${msg}`, { cause: err });
}

/** Converts anything thrown into a TandemError without adding context. */
export function asTandemError(err: unknown): TandemError {
  if (err instanceof TandemError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  return new TandemError('internal', msg, { cause: err });
}

/** True when `value` names a known error kind. */
export function isErrorKind(value: unknown): value is ErrorKind {
  return typeof value === 'string' && (ERROR_KINDS as readonly string[]).includes(value);
}
