/**
 * Operations: long-running requests (instance create, state changes, delete; image import and
 * build) answered with 202 and tracked until they end. Pure data; the daemon runs them.
 */
import type { ErrorKind } from '../base/errors.js';

export type OperationStatus = 'running' | 'success' | 'failure';

export interface Operation {
  id: string;
  /** What it does, e.g. 'instance.create', 'instance.stop', 'image.import'. */
  kind: string;
  status: OperationStatus;
  /** The instance or image it acts on. */
  target?: string;
  progress?: { step: string; done: number; total?: number; unit: string };
  error?: { code: ErrorKind; message: string };
  result?: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
}
