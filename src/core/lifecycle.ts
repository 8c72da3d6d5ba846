/**
 * The lifecycle state machine. For every action: the statuses it is legal from, the
 * statuses where it is a no-op (Podman: stop of a stopped instance succeeds and does nothing),
 * the transient status while it runs and the status it ends in. Any other status is a
 * `conflict`. The daemon consults `checkAction` before calling a driver; drivers never decide
 * legality.
 */
import { TandemError } from '../base/errors.js';
import type { InstanceStatus } from './instance.js';

export const ACTIONS = [
  'start',
  'stop',
  'restart',
  'pause',
  'resume',
  'kill',
  'delete',
  'exec',
  'update',
] as const;
export type Action = (typeof ACTIONS)[number];

export interface Transition {
  /** Statuses the action is legal from. */
  from: readonly InstanceStatus[];
  /** Statuses where the action succeeds without doing anything. */
  noop: readonly InstanceStatus[];
  /** Status while the action runs (undefined: unchanged). */
  during?: InstanceStatus;
  /** Status after success (undefined: unchanged, or gone for delete). */
  to?: InstanceStatus;
}

export const TRANSITIONS: Record<Action, Transition> = {
  start: { from: ['created', 'stopped', 'error'], noop: ['running'], during: 'starting', to: 'running' },
  stop: { from: ['running', 'paused'], noop: ['stopped', 'created'], during: 'stopping', to: 'stopped' },
  restart: {
    from: ['running', 'paused', 'stopped', 'created', 'error'],
    noop: [],
    during: 'stopping',
    to: 'running',
  },
  pause: { from: ['running'], noop: [], to: 'paused' },
  resume: { from: ['paused'], noop: [], to: 'running' },
  kill: { from: ['running', 'paused'], noop: [], to: undefined },
  delete: { from: ['created', 'stopped', 'error'], noop: [], to: undefined },
  exec: { from: ['running'], noop: [], to: undefined },
  update: { from: ['created', 'running', 'paused', 'stopped', 'error'], noop: [], to: undefined },
};

/** Statuses from which `delete` is legal only with force. */
export const FORCE_DELETE_FROM: readonly InstanceStatus[] = ['running', 'paused', 'starting', 'stopping'];

export type Check = 'run' | 'noop';

/**
 * Decides whether `action` may run on an instance in `status`: 'run', 'noop', or throws
 * conflict with a message naming the instance, the action and the status.
 */
export function checkAction(
  name: string,
  action: Action,
  status: InstanceStatus,
  opts: { force?: boolean } = {},
): Check {
  const t = TRANSITIONS[action];
  if (t.from.includes(status)) return 'run';
  if (t.noop.includes(status)) return 'noop';
  if (action === 'delete' && opts.force && FORCE_DELETE_FROM.includes(status)) return 'run';
  if (action === 'delete' && FORCE_DELETE_FROM.includes(status)) {
    throw new TandemError('conflict', `instance "${name}" is ${status}: stop it first or delete with force`);
  }
  throw new TandemError('conflict', `cannot ${action} instance "${name}": it is ${status}`);
}
