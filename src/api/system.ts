/** Wire schemas of nodes, events and the daemon's own information. */
import Type, { type Static } from 'typebox';

export const Node = Type.Object({
  name: Type.String(),
  capacity: Type.Object({
    cpus: Type.Number(),
    memoryBytes: Type.Number(),
    diskBytes: Type.Number(),
    instances: Type.Number(),
  }),
  allocated: Type.Object({
    cpus: Type.Number(),
    memoryBytes: Type.Number(),
    diskBytes: Type.Number(),
    instances: Type.Number(),
  }),
  overcommit: Type.Object({ cpu: Type.Number(), memory: Type.Number(), disk: Type.Number() }),
  capabilities: Type.Object({ qemu: Type.Boolean(), kvm: Type.Boolean() }),
  labels: Type.Record(Type.String(), Type.String()),
});
export type Node = Static<typeof Node>;

export const Event = Type.Object({
  seq: Type.Integer(),
  time: Type.String(),
  type: Type.String(),
  action: Type.String(),
  instance: Type.Optional(Type.String()),
  instanceType: Type.Optional(Type.String()),
  operation: Type.Optional(Type.String()),
  message: Type.Optional(Type.String()),
  data: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
});
export type Event = Static<typeof Event>;

export const EventsQuery = Type.Object({
  since: Type.Optional(Type.Integer({ minimum: 0, description: 'replay buffered events after this seq' })),
  type: Type.Optional(
    Type.String({
      pattern: '^(lifecycle|operation|image)(,(lifecycle|operation|image))*$',
      description: 'only these event types (comma-separated: lifecycle, operation, image)',
    }),
  ),
  instance: Type.Optional(Type.String({ minLength: 1, description: "only this instance's events" })),
});

export const DaemonInfo = Type.Object({
  version: Type.String(),
  node: Type.String(),
  store: Type.String(),
  drivers: Type.Array(
    Type.Object({
      type: Type.String(),
      available: Type.Boolean(),
      reason: Type.Optional(Type.String()),
      version: Type.Optional(Type.String()),
      features: Type.Array(Type.String()),
    }),
  ),
});
export type DaemonInfo = Static<typeof DaemonInfo>;
