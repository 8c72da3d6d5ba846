/** Names and identifiers (DESIGN.md: names match `^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`). */
import { randomBytes } from 'node:crypto';
import { TandemError } from './errors.js';

export const NAME_PATTERN = '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$';
const NAME_RE = new RegExp(NAME_PATTERN);

/** True when `name` is a valid instance, image, network or volume name. */
export function isValidName(name: string): boolean {
  return NAME_RE.test(name);
}

/** Throws invalid_argument unless `name` is valid; `what` names the subject in the message. */
export function assertValidName(name: string, what = 'name'): void {
  if (!isValidName(name)) {
    throw new TandemError(
      'invalid_argument',
      `invalid ${what} "${name}": use lowercase letters, digits and inner dashes, at most 63 characters`,
    );
  }
}

/** A fresh random identifier: 12 lowercase hex characters, sortable prefix-free enough for host names. */
export function newId(): string {
  return randomBytes(6).toString('hex');
}
