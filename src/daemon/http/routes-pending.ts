/**
 * Endpoints whose capability has not landed: they exist (so clients get a clear answer) and
 * refuse with not_supported, never pretending to work. Each moves to its own routes file when
 * its issue lands.
 */
import { TandemError } from '../../base/errors.js';
import type { App } from './app.js';

const refuse = (what: string) => async () => {
  throw new TandemError('not_supported', `${what} is not supported yet`);
};

export function registerPendingRoutes(app: App): void {
  app.post('/v1/instances/:name/isolate', refuse('changing isolation (isolate)'));
}
