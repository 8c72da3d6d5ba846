/**
 * Loads the HiGHS WebAssembly runtime. The package ships ESM at run time but CommonJS-shaped
 * type declarations, so the default export is reached defensively here, in one place.
 */

import type { Highs } from 'highs';
import * as highsPackage from 'highs';

type Loader = () => Promise<Highs>;

/** Loads a fresh HiGHS runtime (about 50–100 ms). */
export function loadHighs(): Promise<Highs> {
  const mod = highsPackage as unknown as { default: Loader | { default: Loader } };
  const loader = typeof mod.default === 'function' ? mod.default : mod.default.default;
  return loader();
}
