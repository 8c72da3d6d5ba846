/** Wire schemas shared by every endpoint: errors, names, operations. */
import Type, { type Static } from 'typebox';
import type { ErrorKind } from '../base/errors.js';
import { NAME_PATTERN } from '../base/ids.js';

export const Name = Type.String({
  pattern: NAME_PATTERN,
  minLength: 1,
  maxLength: 63,
  description: 'instance name',
});

export const ErrorBody = Type.Object({
  error: Type.Object({
    code: Type.Union([
      Type.Literal('invalid_argument'),
      Type.Literal('unauthorized'),
      Type.Literal('not_found'),
      Type.Literal('already_exists'),
      Type.Literal('conflict'),
      Type.Literal('insufficient_resources'),
      Type.Literal('not_supported'),
      Type.Literal('unavailable'),
      Type.Literal('internal'),
    ]),
    message: Type.String(),
  }),
});
export type ErrorBody = Static<typeof ErrorBody>;

export const Operation = Type.Object({
  id: Type.String(),
  kind: Type.String({ description: "what it does, e.g. 'instance.create'" }),
  status: Type.Union([Type.Literal('running'), Type.Literal('success'), Type.Literal('failure')]),
  target: Type.Optional(Type.String()),
  progress: Type.Optional(
    Type.Object({
      step: Type.String(),
      done: Type.Number(),
      total: Type.Optional(Type.Number()),
      unit: Type.String(),
    }),
  ),
  error: Type.Optional(ErrorBody.properties.error),
  result: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  createdAt: Type.String(),
  updatedAt: Type.String(),
});
export type Operation = Static<typeof Operation>;

export const NameParams = Type.Object({ name: Type.String() });
export const IdParams = Type.Object({ id: Type.String() });

export const WaitQuery = Type.Object({
  timeout: Type.Optional(Type.Number({ minimum: 0, description: 'seconds to wait at most (default 60)' })),
});

export const ForceQuery = Type.Object({
  force: Type.Optional(Type.Boolean()),
});

/** Compile-time check that the wire's error codes are exactly the kinds of base/errors.ts. */
type SameKinds = [ErrorKind] extends [Static<typeof ErrorBody>['error']['code']]
  ? [Static<typeof ErrorBody>['error']['code']] extends [ErrorKind]
    ? true
    : never
  : never;
export const errorKindsMatch: SameKinds = true;
