/** Readable names for HiGHS status codes. */
import type { Highs } from 'highs';

/** The name of a HiGHS model status code (`optimal`, `timeLimit`, …). */
export function statusName(highs: Highs, code: number): string {
  for (const [name, value] of Object.entries(highs.constants.modelStatus)) if (value === code) return name;
  return `status-${code}`;
}
